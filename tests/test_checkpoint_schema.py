"""Checkpoints that parse but do not fit: config.json checked against a schema, special ids
against the tokenizer; a bad checkpoint makes only that model not ready."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import HORIZON, LOOKBACK
from fastapi.testclient import TestClient

from app.core.checkpoints import read_config
from app.core.config import Settings
from app.main import create_app
from models.checkpoint import write_manifest
from models.forecasting.forecast_net import ForecastNetConfig
from models.translation.seq2seq import Seq2SeqConfig

PRICES = [100.0 + i % 5 for i in range(2 * LOOKBACK)]


# ---- checkpoints that parse but do not fit -------------------------------------------------------


def rewrite_config(folder: Path, change) -> None:
    """``config.json`` replaced by ``change(config)``, the manifest rewritten to match (so only the
    schema and the load checks can catch it)."""
    config = folder / "config.json"
    config.write_text(json.dumps(change(json.loads(config.read_text()))))
    write_manifest(folder)


def architecture(**values):
    return lambda config: {**config, "architecture": {**config["architecture"], **values}}


def serve_beside_forecaster(translator: Path, both_models_dir: Path) -> Settings:
    """Settings serving the (damaged) translator folder and the tiny forecaster, side by side."""
    forecaster = next(p for p in both_models_dir.iterdir() if p.name.startswith("forecaster"))
    (translator.parent / forecaster.name).symlink_to(forecaster.resolve())
    return Settings(checkpoint_dir=translator.parent, models=[translator.name, forecaster.name])


@pytest.mark.parametrize(
    "change,reason",
    [
        (lambda config: [], "(top level): Input should be an object"),
        (lambda config: {**config, "architecture": []}, "translation.architecture: Input should be an object"),
        (architecture(hidden_size="64"), "translation.architecture.hidden_size: Input should be a valid integer"),
        (architecture(embed_size=32.0), "translation.architecture.embed_size: Input should be a valid integer"),
        (architecture(hidden_size=-2), "hidden_size: Input should be greater than or equal to 1"),
        (architecture(bidirectional="yes"), "translation.architecture.bidirectional: Input should be a valid boolean"),
        (architecture(hidden_size=None), "hidden_size must not be null"),
        (architecture(pad_id=10**6), "pad_id 1000000 is not below vocab_size"),
        (
            lambda config: {**config, "vocabulary": {"file": ["spm.model"]}},
            "vocabulary.file: Input should be a valid string",
        ),
        (lambda config: {**config, "id": ["x"]}, "translation.id: Input should be a valid string"),
        (lambda config: {**config, "source_lang": 7}, "translation.source_lang: Input should be a valid string"),
        (lambda config: {**config, "task": "poetry"}, "Input tag 'poetry' found using 'task'"),
        (architecture(eos_id=5), "special ids do not match the tokenizer: eos_id 5 (the tokenizer's is 3)"),
        (architecture(unread_ids=[4, 10**6]), "unread_ids [4, 1000000] is not a range within the vocabulary"),
    ],
)
def test_bad_translator_config_makes_only_that_model_not_ready(
    tiny_translator_copy, both_models_dir, caplog, change, reason
):
    rewrite_config(tiny_translator_copy, change)
    settings = serve_beside_forecaster(tiny_translator_copy, both_models_dir)
    with caplog.at_level("ERROR", logger="attnserve.models"):
        with TestClient(create_app(settings)) as client:  # the process starts: no exit
            ready = client.get("/readyz")
            translate = client.post("/translate", json={"text": "ab cd"})
            forecast = client.post("/forecast", json={"prices": PRICES})
    assert ready.status_code == 503
    reasons = ready.json()["reasons"]
    assert list(reasons) == [tiny_translator_copy.name] and reason in reasons[tiny_translator_copy.name], reasons
    assert translate.status_code == 503
    assert forecast.status_code == 200, forecast.text[:300]  # the other model is served
    assert any(reason in r.getMessage() for r in caplog.records)


@pytest.fixture
def forecaster_copy(both_models_dir, tmp_path) -> Path:
    source = next(p for p in both_models_dir.iterdir() if p.name.startswith("forecaster")).resolve()
    target = tmp_path / "forecaster-copy"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".train"))
    return target


@pytest.mark.parametrize(
    "change,reason",
    [
        (architecture(lookback="20"), "forecast.architecture.lookback: Input should be a valid integer"),
        (architecture(quantiles=[0.1, 0.5, 1.5]), "forecast.architecture.quantiles.2: Input should be less than 1"),
        (architecture(scale=0), "forecast.architecture.scale: Input should be greater than 0"),
        (architecture(calibration=[[1.0, 1.0]]), f"calibration must be {HORIZON} rows (horizon)"),
        (architecture(median_shrink=[1.0]), f"median_shrink must hold {HORIZON} values"),
    ],
)
def test_bad_forecaster_config_is_not_ready(forecaster_copy, change, reason):
    rewrite_config(forecaster_copy, change)
    settings = Settings(checkpoint_dir=forecaster_copy.parent, models=[forecaster_copy.name])
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
        forecast = client.post("/forecast", json={"prices": PRICES})
    assert ready.status_code == 503 and reason in ready.json()["reasons"][forecaster_copy.name], ready.text
    assert forecast.status_code == 503


def test_schema_accepts_a_config_with_the_fields_left_to_their_defaults(tiny_translator_copy):
    """Older checkpoints lack newer architecture keys (copy, reverse_source, unread_ids): absent
    keys take the network's defaults and the model loads."""
    kept = ("vocab_size", "pad_id", "unk_id", "bos_id", "eos_id", "embed_size", "hidden_size", "attention_size")
    rewrite_config(
        tiny_translator_copy,
        lambda config: {**config, "architecture": {k: config["architecture"][k] for k in kept}},
    )
    settings = Settings(checkpoint_dir=tiny_translator_copy.parent, models=[tiny_translator_copy.name])
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        assert client.post("/translate", json={"text": "ab cd"}).status_code == 200


def test_schema_accepts_every_field_the_training_code_writes(tmp_path):
    """config.json as training writes it (the dataclasses' to_dict, through JSON), with every
    optional part set, fits the schema."""
    translator = Seq2SeqConfig(vocab_size=300, copy=True, reverse_source=True, unread_ids=(4, 260)).to_dict()
    forecaster = ForecastNetConfig(horizon=3, calibration=[[1.0] * 5] * 3, median_shrink=[0.5] * 3).to_dict()
    configs = {
        "translator": {
            "task": "translation",
            "id": "t",
            "source_lang": "en",
            "target_lang": "fr",
            "architecture": translator,
            "vocabulary": {"file": "spm.model"},
            "decoding": {"no_repeat_ngram": 3},
        },
        "forecaster": {"task": "forecast", "id": "f", "architecture": forecaster},
    }
    for name, config in configs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(config))
        assert read_config(tmp_path / name).task == config["task"]


# ---- trained checkpoints beside the shipped ones -------------------------------------------------


def test_a_trained_checkpoint_replaces_the_shipped_one_of_its_name_and_only_that_one(tiny_translator_copy, tmp_path):
    """trained_dir is searched first: its folder wins over checkpoint_dir's (here broken, so only
    the trained one can be ready); a name it lacks still comes from checkpoint_dir."""
    shipped, trained = tiny_translator_copy.parent, tmp_path / "trained"
    shutil.copytree(tiny_translator_copy, trained / tiny_translator_copy.name)
    shutil.copytree(tiny_translator_copy, shipped / "other")
    rewrite_config(tiny_translator_copy, architecture(hidden_size="wide"))
    settings = Settings(checkpoint_dir=shipped, trained_dir=trained, models=[tiny_translator_copy.name])
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200, client.get("/readyz").text
        assert client.post("/translate", json={"text": "ab cd"}).status_code == 200
    assert settings.checkpoint_path("other") == shipped / "other"
    without_trained = Settings(checkpoint_dir=shipped, models=[tiny_translator_copy.name])
    with TestClient(create_app(without_trained)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503 and "hidden_size" in ready.json()["reasons"][tiny_translator_copy.name], ready.text
