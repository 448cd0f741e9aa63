"""Attention between words (``models.translation.words``) and ``attention_level: "words"``."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from models.translation.words import group, spell, word_attention


def test_pieces_are_grouped_at_word_starts_specials_and_punctuation():
    pieces = ["<2de>", "▁Hi", "▁Sa", "ra", "h", ",", "▁thank", "s", ".", "</s>"]
    assert group(pieces) == [0, 1, 2, 2, 2, 3, 4, 4, 5, 6]
    assert group(["▁call", "▁<0x01>", "<0x02>", "!", "?"]) == [0, 1, 2, 3, 3]


def test_a_word_is_spelled_from_its_pieces_bytes_decoded():
    assert spell(["▁Sa", "ra", "h"]) == "Sarah"
    assert spell(["▁", "<0xE2>", "<0x82>", "<0xAC>"]) == "€"
    assert spell(["<0x01>"]) == "<0x01>"


def test_target_rows_are_averaged_and_source_columns_summed():
    source = ["▁Sa", "ra", "▁hi", "</s>"]  # words: Sara, hi, </s>
    target = ["▁Bon", "jour", "</s>"]  # words: Bonjour, </s>
    attention = [[0.5, 0.3, 0.1, 0.1], [0.1, 0.1, 0.6, 0.2], [0.0, 0.0, 0.0, 1.0]]
    words = word_attention(source, target, attention)
    assert (words.source, words.target) == (["Sara", "hi", "</s>"], ["Bonjour", "</s>"])
    # Bonjour = mean of its two rows; Sara's column = sum of its two pieces' columns
    assert words.attention[0] == pytest.approx([(0.8 + 0.2) / 2, (0.1 + 0.6) / 2, (0.1 + 0.2) / 2])
    assert words.attention[1] == pytest.approx([0.0, 0.0, 1.0])
    assert words.source_index == [0, 0, 1, 2] and words.target_index == [0, 0, 1]


def test_word_rows_sum_to_one_for_any_pieces():
    rng = np.random.default_rng(3)
    source = ["<2fr>", "▁The", "▁cat", "s", "▁sat", ".", "</s>"]
    target = ["▁Les", "▁ch", "at", "s", "▁étaient", "▁assis", ".", "</s>"]
    attention = rng.dirichlet(np.ones(len(source)), size=len(target)).tolist()
    words = word_attention(source, target, attention)
    assert np.allclose(np.sum(words.attention, axis=1), 1, atol=1e-9)
    assert len(words.attention) == len(words.target) == 6 and len(words.attention[0]) == len(words.source) == 6


def translate(client: TestClient, **body) -> dict:
    response = client.post("/translate", json={"source_lang": "en", "target_lang": "fr", **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_words_come_back_when_asked_for_everywhere_a_matrix_is(multi_client):
    body = translate(multi_client, text="ab cd ef", beam_size=3, alternatives=1, attention_level="words")
    pieces = translate(multi_client, text="ab cd ef", beam_size=3, alternatives=1)
    assert pieces["words"] is None and pieces["segments"][0]["words"] is None
    words = body["words"]
    expected = word_attention(body["source_tokens"], body["target_tokens"], body["attention"])
    assert words["source"] == expected.source and words["attention"] == expected.attention
    assert body["segments"][0]["words"] == words
    for alternative in body["alternatives"]:
        assert len(alternative["words"]["attention"]) == len(alternative["words"]["target"])
    # the pieces are unchanged by asking for words
    assert body["attention"] == pieces["attention"] and body["translation"] == pieces["translation"]


def test_several_sentences_carry_words_per_segment(multi_client):
    body = translate(multi_client, text="ab cd.\nef gh.", attention_level="words")
    assert body["words"] is None and all(s["words"]["target"] for s in body["segments"])


def test_an_unknown_attention_level_is_422_naming_the_field(multi_client):
    response = multi_client.post("/translate", json={"text": "ab", "attention_level": "letters"})
    assert response.status_code == 422 and "attention_level" in response.json()["message"]
