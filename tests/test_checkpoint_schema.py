"""Checkpoints that parse but do not fit: config.json checked against a schema, special ids
against the tokenizer; a bad checkpoint makes only that model not ready."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import HORIZON, LOOKBACK
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from models.checkpoint import write_manifest
from models.forecasting.forecast_net import ForecastNetConfig
from models.forecasting.forecaster import ForecasterConfig
from models.schema import parse
from models.translation.seq2seq import Seq2SeqConfig
from models.translation.translator import TranslatorConfig

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
        (lambda config: [], "config.json must hold a JSON object, not list"),
        (lambda config: {**config, "architecture": []}, "architecture: must be an object, got []"),
        (architecture(hidden_size="64"), "architecture.hidden_size: must be an integer, got '64'"),
        (architecture(embed_size=32.0), "architecture.embed_size: must be an integer, got 32.0"),
        (architecture(hidden_size=-2), "architecture.hidden_size: must be >= 1, got -2"),
        (architecture(bidirectional="yes"), "architecture.bidirectional: must be true or false, got 'yes'"),
        (architecture(hidden_size=None), "architecture.hidden_size: must not be null"),
        (architecture(pad_id=10**6), "architecture: pad_id 1000000 is not below vocab_size"),
        (architecture(wide=True), "architecture.wide: is not a key of Seq2SeqConfig"),
        (
            lambda config: {**config, "vocabulary": {"file": ["spm.model"]}},
            "vocabulary.file: must be a non-empty string, got ['spm.model']",
        ),
        (lambda config: {**config, "vocabulary": {"file": "../spm.model"}}, "vocabulary.file: must match"),
        (lambda config: {**config, "id": ["x"]}, "id: must be a non-empty string, got ['x']"),
        (lambda config: {**config, "source_lang": 7}, "source_lang: must be a non-empty string, got 7"),
        (lambda config: {**config, "directions": ["en_fr"]}, "directions.0: must match"),
        (
            lambda config: {**config, "task": "poetry"},
            "task 'poetry' is not a kind served here (forecast, translation)",
        ),
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
        (architecture(lookback="20"), "architecture.lookback: must be an integer, got '20'"),
        (architecture(quantiles=[0.1, 0.5, 1.5]), "architecture.quantiles.2: must be < 1, got 1.5"),
        (architecture(scale=0), "architecture.scale: must be > 0, got 0"),
        (architecture(dropout=float("nan")), "architecture.dropout: must be a finite number, got nan"),
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
    for part, config in ((TranslatorConfig, configs["translator"]), (ForecasterConfig, configs["forecaster"])):
        assert parse(part, json.loads(json.dumps(config))).architecture.to_dict() == config["architecture"]


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
