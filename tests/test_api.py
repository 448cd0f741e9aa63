"""The HTTP contract, through TestClient with its lifespan, on the tiny trained translator."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from conftest import reverse_pairs, served_translator
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app


def client_for(checkpoint_dir: Path, models: list[str], **settings) -> TestClient:
    return TestClient(create_app(Settings(checkpoint_dir=checkpoint_dir, models=models, **settings)))


@pytest.fixture(scope="module")
def client(tiny_translator_dir):
    with client_for(tiny_translator_dir.parent, [tiny_translator_dir.name]) as c:
        yield c


def assert_translation(body: dict, copy_gate: bool = False) -> None:
    rows, cols = len(body["target_tokens"]), len(body["source_tokens"])
    assert len(body["attention"]) == rows and rows > 0
    for row in body["attention"]:
        assert len(row) == cols
        assert abs(sum(row) - 1.0) < 1e-4
        assert min(row) >= 0.0
    assert body["source_tokens"][-1] == "</s>"
    assert len(body["model"]["sha256"]) == 64
    if copy_gate:  # one gate value per target piece, a probability
        assert len(body["p_gen"]) == rows and all(0.0 <= p <= 1.0 for p in body["p_gen"])
    else:
        assert body["p_gen"] is None  # the tiny test translator has no copy gate


@pytest.mark.tiny_model
@pytest.mark.parametrize("beam_size", [1, 5, 16])
def test_translate_returns_matrix_matching_tokens(client, beam_size):
    source, reference = reverse_pairs(1, seed=123)[0]
    response = client.post("/translate", json={"text": source, "beam_size": beam_size})
    assert response.status_code == 200, response.text
    body = response.json()
    assert_translation(body)
    assert body["translation"] == reference
    assert body["target_tokens"][-1] == "</s>"
    assert body["score"] <= 0.0


def test_translate_explicit_pair_and_max_length(client):
    source, _ = reverse_pairs(1, seed=5)[0]
    body = client.post(
        "/translate", json={"text": source, "source_lang": "en", "target_lang": "fr", "max_length": 2}
    ).json()
    assert len(body["target_tokens"]) <= 2
    assert_translation(body)


def test_batch_keeps_order_and_matches_single(client):
    pairs = reverse_pairs(6, seed=77)
    texts = [s for s, _ in pairs]
    batch = client.post("/translate/batch", json={"texts": texts, "beam_size": 3})
    assert batch.status_code == 200, batch.text
    results = batch.json()["results"]
    assert len(results) == len(texts)
    for text, result in zip(texts, results):
        single = client.post("/translate", json={"text": text, "beam_size": 3}).json()
        assert result["translation"] == single["translation"]
        assert result["source_tokens"] == single["source_tokens"]
        assert_translation(result)


BAD_TRANSLATE = [
    ({"text": ""}, "text"),
    ({"text": "   \t\n"}, "text"),
    ({"text": "ab " * 1700}, "text"),  # 5100 characters > 5000
    ({"text": "ab", "beam_size": 0}, "beam_size"),
    ({"text": "ab", "beam_size": 17}, "beam_size"),
    ({"text": "ab", "beam_size": "5"}, "beam_size"),
    ({"text": "ab", "max_length": 0}, "max_length"),
    ({"text": "ab", "max_length": 257}, "max_length"),
    ({"text": "ab", "source_lang": "de"}, "source_lang"),
    ({"text": "ab", "source_lang": "en", "target_lang": "es"}, "source_lang"),
    ({"text": 42}, "text"),
    ({"text": None}, "text"),
    ({"text": ["ab"]}, "text"),
    ({}, "text"),
    ({"text": "ab", "colour": "red"}, "colour"),
]


@pytest.mark.parametrize("body,field", BAD_TRANSLATE)
def test_bad_translate_input_is_422_naming_the_field(client, body, field):
    response = client.post("/translate", json=body)
    assert response.status_code == 422, response.text
    payload = response.json()
    assert field in payload["message"]
    assert any(field in [str(p) for p in error["loc"]] for error in payload["detail"])


def test_unknown_pair_lists_served_pairs(client):
    message = client.post("/translate", json={"text": "ab", "target_lang": "de"}).json()["message"]
    assert "en->fr" in message


BAD_BATCH = [
    ({"texts": []}, "texts"),
    ({"texts": ["ab"] * 65}, "texts"),
    ({"texts": ["ab", "  "]}, "1"),
    ({"texts": ["ab", 3]}, "1"),
    ({"texts": "ab"}, "texts"),
    ({"texts": ["ab"], "beam_size": 17}, "beam_size"),
]


@pytest.mark.parametrize("body,field", BAD_BATCH)
def test_bad_batch_input_is_422(client, body, field):
    response = client.post("/translate/batch", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["message"]


def test_malformed_json_is_400_saying_where(client):
    response = client.post("/translate", content=b'{"text": ', headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["message"]
    assert "at character 9" in response.json()["message"]


def test_text_limit_is_configurable(tiny_translator_dir):
    with client_for(tiny_translator_dir.parent, [tiny_translator_dir.name], max_text_chars=5) as c:
        assert c.post("/translate", json={"text": "ab cd"}).status_code == 200
        response = c.post("/translate", json={"text": "ab cd ef"})
        assert response.status_code == 422 and "at most 5 characters" in response.json()["message"]


def test_models_health_and_readiness(client, tiny_translator_dir):
    assert client.get("/healthz").json() == {
        "status": "ok",
        "pid": os.getpid(),
        "torch_threads": Settings().threads_per_process,  # the share the settings give this process
    }
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    [info] = client.get("/models").json()
    config = json.loads((tiny_translator_dir / "config.json").read_text())
    assert info["task"] == "translation" and info["attention"] == "bahdanau" and info["cell"] == "gru"
    assert info["parameters"] == config["parameters"]
    assert info["sha256"] == client.post("/translate", json={"text": "ab"}).json()["model"]["sha256"]


def test_readyz_is_503_without_checkpoints(tmp_path):
    with client_for(tmp_path, ["translator-en-fr"]) as c:
        assert c.get("/healthz").status_code == 200
        ready = c.get("/readyz")
        assert ready.status_code == 503
        assert "translator-en-fr" in ready.json()["reasons"]
        assert c.post("/translate", json={"text": "Hello."}).status_code == 503


def test_readyz_is_503_with_tampered_checkpoint(tiny_translator_copy):
    weights = tiny_translator_copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with client_for(tiny_translator_copy.parent, [tiny_translator_copy.name]) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 503
        assert "model.safetensors" in ready.json()["reasons"][tiny_translator_copy.name]


def test_docs_and_openapi_examples(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/translate"]["post"]["requestBody"]["content"]["application/json"]
    assert body["examples"]
    error = spec["components"]["schemas"]["HTTPValidationError"]  # every 422 answer has a message
    assert "message" in error["required"] and error["properties"]["message"]["type"] == "string"
    refused = client.post("/translate", json={"text": "ab", "beam_size": 17}).json()
    assert set(refused) == set(error["properties"]) and isinstance(refused["message"], str)


def test_shipped_checkpoints_serve_with_default_settings():
    """`make serve`'s configuration: every default model loads and answers."""
    root = Path(__file__).resolve().parents[1] / "checkpoints"
    settings = Settings(checkpoint_dir=root)
    missing = [m for m in settings.models if not (root / m / "SHA256SUMS").exists()]
    if missing:
        pytest.skip(f"shipped checkpoints not present: {missing}")
    with TestClient(create_app(settings)) as c:
        assert c.get("/readyz").status_code == 200
        body = c.post("/translate", json={"text": "I am hungry.", "beam_size": 5}).json()
        assert_translation(body, copy_gate=True)  # the shipped translator copies
        assert body["translation"].strip()
        prices = [100 + (i % 7) * 0.5 for i in range(80)]
        forecast = c.post("/forecast", json={"prices": prices, "horizon": 5}).json()
        assert len(forecast["attention"]) == 5 and len(forecast["attention"][0]) == forecast["window"]


@pytest.fixture(scope="module")
def both_client(both_models_dir):
    names = sorted(p.name for p in both_models_dir.iterdir())
    with client_for(both_models_dir, names, batch_max_wait_ms=200) as c:
        yield c


def walk(n: int = 30, seed: int = 0) -> list[float]:
    steps = torch.randn(n, generator=torch.Generator().manual_seed(seed)) * 0.01
    return [round(100 * float(v), 4) for v in torch.exp(steps.cumsum(0))]


@pytest.mark.parametrize(
    "asked,served", [(0.9, 0.9), (0.9 + 5e-7, 0.9), (0.8 - 9e-7, 0.8), (0.9 + 2e-6, None), (0.85, None)]
)
def test_interval_is_matched_to_a_served_level_within_one_tolerance(both_client, asked, served):
    response = both_client.post("/forecast", json={"prices": walk(), "horizon": 2, "interval": asked})
    if served is None:
        assert response.status_code == 422 and "levels served: [0.8, 0.9]" in response.json()["message"]
    else:
        assert response.status_code == 200, response.text
        assert response.json()["interval"] == served  # the level served, not the number sent


def test_forecast_batch_is_grouped_by_the_batcher_one_call_per_key(both_client):
    """Six series, two (horizon, interval) keys interleaved: the results come back in request
    order, equal to single requests, from one model call per key."""
    keys = [(1, 0.8), (3, 0.9)]
    series = [{"prices": walk(30 + i, seed=i), "horizon": keys[i % 2][0], "interval": keys[i % 2][1]} for i in range(6)]
    singles = [both_client.post("/forecast", json=item).json() for item in series]
    before = both_client.get("/metrics").text
    batch = both_client.post("/forecast/batch", json={"series": series})
    after = both_client.get("/metrics").text
    assert batch.status_code == 200, batch.text
    for single, result in zip(singles, batch.json()["results"]):
        assert result["interval"] == single["interval"] and len(result["forecast"]) == len(single["forecast"])
        assert result["forecast"] == pytest.approx(single["forecast"], rel=1e-6)
        assert result["upper"] == pytest.approx(single["upper"], rel=1e-6)
    model = next(
        line.split('model="')[1].split('"')[0]
        for line in after.splitlines()
        if line.startswith("attnserve_batch_size_count") and "forecaster" in line
    )

    def batches(text: str, stat: str) -> float:
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(f"attnserve_batch_size_{stat}") and f'model="{model}"' in line
        )

    assert batches(after, "count") - batches(before, "count") == 2  # one call per key
    assert batches(after, "sum") - batches(before, "sum") == 6


@pytest.mark.parametrize(
    "variant",
    [str.upper, lambda s: "  " + s.replace(" ", "   ") + "\t", lambda s: s.replace(" ", "\u00a0"), str.capitalize],
)
def test_typed_variants_translate_like_the_text_as_written(client, variant):
    """Capitals, extra or odd whitespace and a capitalised start reach the model as the same
    normalised text, so they get the same translation and the same source pieces (the spaces
    around the text come back around it: the layout is kept)."""
    source, _ = reverse_pairs(1, seed=321)[0]
    canonical = client.post("/translate", json={"text": source}).json()
    typed = client.post("/translate", json={"text": variant(source)}).json()
    assert typed["translation"].strip() == canonical["translation"]
    assert typed["source_tokens"] == canonical["source_tokens"]


def test_a_text_keeps_its_layout_and_each_sentence_is_a_segment(client):
    """Lines, list markers, indentation and blank lines come back as sent; each sentence is
    translated alone (a segment with its offsets, tokens and attention), in one model call; the
    top-level tokens and matrix, one sentence's until now, are empty for several."""
    first, second, third = (s for s, _ in reverse_pairs(3, seed=99))
    text = f"- {first}.\n\n  2. {second}. {third}?\nhttps://example.org/x\n"
    body = client.post("/translate", json={"text": text, "beam_size": 1}).json()
    sentences = [f"{first}.", f"{second}.", f"{third}?"]
    alone = [client.post("/translate", json={"text": s, "beam_size": 1}).json() for s in sentences]
    segments = body["segments"]
    assert [text[s["start"] : s["end"]] for s in segments] == sentences
    assert [s["source_tokens"] for s in segments] == [a["source_tokens"] for a in alone]
    t = [s["translation"] for s in segments]
    assert body["translation"] == f"- {t[0]}\n\n  2. {t[1]} {t[2]}\nhttps://example.org/x\n"
    assert (body["source_tokens"], body["target_tokens"], body["attention"], body["p_gen"]) == ([], [], [], None)
    assert body["score"] == pytest.approx(sum(s["score"] for s in segments))
    for s, a in zip(segments, alone):
        assert len(s["attention"]) == len(s["target_tokens"]) and all(
            len(r) == len(s["source_tokens"]) for r in s["attention"]
        )
        assert s["translation"] == a["translation"]  # a sentence translates as it does alone


def test_a_text_without_words_comes_back_as_sent(client):
    body = client.post("/translate", json={"text": "https://example.org/a\n42\n"}).json()
    assert body["translation"] == "https://example.org/a\n42\n" and body["segments"] == []
    assert "comes back as sent" in body["warnings"][0]


def normalised(answer: dict) -> float:
    """The score beam search ranks by at the default length penalty 1: score / ((5 + n) / 6)."""
    return answer["score"] / ((5 + len(answer["target_tokens"])) / 6)


@pytest.mark.parametrize("asked", [1, 4])
def test_alternatives_are_the_next_best_of_the_beam_each_with_its_attention(client, tiny_translator_dir, asked):
    source = "ab cd ef gh ij"
    body = client.post("/translate", json={"text": source, "beam_size": 5, "alternatives": asked}).json()
    expected = served_translator(tiny_translator_dir).translate([source], 5, alternatives=asked)[0]
    alternatives = body["alternatives"]
    assert [a["translation"] for a in alternatives] == [a.translation for a in expected.alternatives]
    assert 1 <= len(alternatives) <= asked
    texts = [body["translation"], *(a["translation"] for a in alternatives)]
    assert len(set(texts)) == len(texts)  # each differs from the best and from the others
    ranked = [normalised(body), *map(normalised, alternatives)]
    assert ranked == sorted(ranked, reverse=True)
    for alternative in alternatives:
        assert_translation({**alternative, "source_tokens": body["source_tokens"], "model": body["model"]})
        assert alternative["attention"] != body["attention"]


def test_no_alternatives_unless_asked(client):
    assert client.post("/translate", json={"text": "ab cd", "beam_size": 5}).json()["alternatives"] == []
    results = client.post("/translate/batch", json={"texts": ["ab cd", "ef gh ij"], "alternatives": 2}).json()
    assert [len(r["alternatives"]) > 0 for r in results["results"]] == [True, True]


@pytest.mark.parametrize(
    ("body", "rule"), [({"beam_size": 1, "alternatives": 1}, "1 >= 1"), ({"alternatives": 5}, "5 >= 5")]
)
def test_alternatives_must_be_below_the_beam_size(client, body, rule):
    for path, text in (("/translate", {"text": "ab"}), ("/translate/batch", {"texts": ["ab"]})):
        response = client.post(path, json={**text, **body})
        assert response.status_code == 422, response.text
        message = response.json()["message"]
        assert message.startswith(f"body.alternatives: must be less than beam_size ({rule})")
