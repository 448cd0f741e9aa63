"""Int8 weights for serving (models.translation.int8, ATTNSERVE_WEIGHTS): a copy, the same
translations on the tiny model whatever shares the batch, and the setting that picks them."""

from __future__ import annotations

import pytest
from conftest import reverse_pairs
from fastapi.testclient import TestClient
from torch import nn

from app.core.config import Settings
from app.main import create_app
from models.translation.int8 import AnchoredLinear, AnchoredRNN
from models.translation.translator import Translator


@pytest.fixture(scope="module")
def float32(tiny_translator_dir) -> Translator:
    return Translator.load(tiny_translator_dir)


def test_int8_is_a_copy_with_the_same_count_and_checkpoint(float32):
    int8 = float32.quantized()
    assert (float32.weights, int8.weights) == ("float32", "int8")
    assert int8.parameter_count == float32.parameter_count > 0
    assert int8.sha256 == float32.sha256 and int8.tokenizer is float32.tokenizer
    assert type(float32.model.decoder.output) is nn.Linear  # the float32 network is left as it was
    assert type(int8.model.decoder.output) is AnchoredLinear and type(int8.model.decoder.rnn) is AnchoredRNN


def test_int8_translates_as_float32_does_on_the_tiny_model(float32):
    """Greedy and beam 3 on 40 unseen sentences: the int8 copy writes what float32 writes, and its
    attention rows still sum to 1."""
    int8 = float32.quantized()
    sources = [s for s, _ in reverse_pairs(40, seed=404)]
    for beam in (1, 3):
        expected = [t.translation for t in float32.translate(sources, beam)]
        got = int8.translate(sources, beam)
        same = sum(a == b.translation for a, b in zip(expected, got))
        assert same >= 38, f"beam {beam}: {same} of 40 equal"
        assert all(abs(sum(row) - 1) < 1e-3 for t in got for row in t.attention)


def test_int8_answers_do_not_depend_on_the_batch(float32):
    """Each text decoded in one batch of 24 and alone: the same translation, score and attention
    (to float32's rounding).
    (Plain dynamic int8 scales each call by its largest value, so a text's neighbours moved it.)"""
    int8 = float32.quantized()
    sources = [s for s, _ in reverse_pairs(24, seed=808)]
    for beam in (1, 3):
        together = int8.translate(sources, beam)
        for source, batched in zip(sources, together):
            [alone] = int8.translate([source], beam)
            assert alone.translation == batched.translation and alone.score == pytest.approx(batched.score, abs=1e-4)
            flat = [w for row in batched.attention for w in row]  # float32 sums in another order: 1e-6 apart
            assert [w for row in alone.attention for w in row] == pytest.approx(flat, abs=1e-4)


def test_the_setting_picks_the_served_weights(tiny_translator_dir, float32):
    source = "ab cd ef gh"
    for weights in ("int8", "float32"):
        settings = Settings(
            checkpoint_dir=tiny_translator_dir.parent, models=[tiny_translator_dir.name], weights=weights
        )
        with TestClient(create_app(settings)) as client:
            [info] = client.get("/models").json()
            answer = client.post("/translate", json={"text": source, "beam_size": 1}).json()
        assert info["weights"] == weights and info["parameters"] == float32.parameter_count
        if weights == "float32":  # the checkpoint's own numbers
            [expected] = float32.translate([source], 1)
            flat = [w for row in answer["attention"] for w in row]
            assert flat == pytest.approx([w for row in expected.attention for w in row], abs=1e-6)
            assert answer["score"] == pytest.approx(expected.score, abs=1e-4)
