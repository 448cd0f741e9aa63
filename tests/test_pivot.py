"""Pairs no model serves, translated through the pivot language (``models.translation.pivot``,
``app.api.language_plan``), on the tiny multilingual model (en->fr, fr->en, en->de): fr->de goes
fr->en, then en->de."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import served_translator
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from models.translation.pivot import bridge, compose


def post(client: TestClient, **body) -> dict:
    response = client.post("/translate", json={"beam_size": 1, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_pair_served_through_english_carries_both_legs_and_the_composed_attention(
    multi_client, tiny_multilingual_dir
):
    model = served_translator(tiny_multilingual_dir)
    body = post(multi_client, text="GH EF CD", source_lang="fr", target_lang="de")
    first = model.towards("fr", "en").translate(["GH EF CD"], 1)[0]
    second = model.towards("en", "de").translate([first.translation], 1)[0]
    assert body["pivot"]["language"] == "en" and body["pivot"]["translation"] == first.translation
    assert body["translation"] == second.translation and body["source_lang"] == "fr" and body["target_lang"] == "de"
    legs = body["segments"][0]["pivot"]["legs"]
    assert [legs[0]["target_tokens"], legs[1]["target_tokens"]] == [first.target_tokens, second.target_tokens]
    assert body["source_tokens"] == first.source_tokens and body["target_tokens"] == second.target_tokens
    # the second leg read the first's output, behind its language token
    assert legs[1]["source_tokens"] == second.source_tokens and second.source_tokens[0] == "<2de>"
    link = bridge(first.target_tokens, second.source_tokens)  # its own tests are below
    expected = np.array(second.attention) @ link @ np.array(first.attention)
    attention = np.array(body["attention"])
    assert attention.shape == (len(second.target_tokens), len(first.source_tokens))
    assert np.allclose(attention, expected, atol=2e-4) and np.allclose(attention.sum(axis=1), 1)


def test_pivot_pairs_are_listed_and_can_be_turned_off(multi_client, tiny_multilingual_dir):
    listed = {(d["source"], d["target"]): d for d in multi_client.get("/languages").json()["directions"]}
    assert listed[("fr", "de")]["via"] == "en" and listed[("fr", "de")]["models"] == ["tiny-multi"] * 2
    settings = Settings(checkpoint_dir=tiny_multilingual_dir.parent, models=["tiny-multi"], pivot_lang="")
    with TestClient(create_app(settings)) as client:
        response = client.post("/translate", json={"text": "GH EF", "source_lang": "fr", "target_lang": "de"})
        assert response.status_code == 422 and "fr->de is not served" in response.json()["message"]


def test_a_text_of_several_sentences_pivots_each_and_keeps_its_layout(multi_client):
    body = post(multi_client, text="GH EF.\nCD AB.", source_lang="fr", target_lang="de")
    assert len(body["segments"]) == 2 and all(s["pivot"] for s in body["segments"])
    assert body["pivot"]["translation"].count("\n") == 1 and body["translation"].count("\n") == 1


def test_bridge_links_pieces_that_spell_the_same_text_one_to_one():
    first = ["▁le", "▁chat", ".", "</s>"]
    matrix = bridge(first, ["<2de>", "▁le", "▁chat", ".", "</s>"])
    assert matrix.tolist() == [[0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]


def test_bridge_splits_a_piece_over_the_pieces_it_spells():
    matrix = bridge(["▁chat", "s", "</s>"], ["▁chats", "</s>"])
    assert matrix[0].tolist() == pytest.approx([0.8, 0.2, 0.0])  # 4 of its 5 letters are "▁chat"'s
    matrix = bridge(["▁chats", "</s>"], ["▁", "chat", "s", "</s>"])
    assert matrix[:3, 0].tolist() == [1, 1, 1]  # a lone "▁" goes to the piece it stands before


def test_bridge_without_an_end_spreads_special_pieces_evenly():
    matrix = bridge(["▁a", "▁b"], ["<2fr>", "▁a", "▁b", "</s>"])  # the first leg was cut before </s>
    assert matrix[0].tolist() == [0.5, 0.5] and matrix[3].tolist() == [0.5, 0.5]
    assert np.allclose(matrix.sum(axis=1), 1)


def test_composed_rows_sum_to_one_whatever_the_tokenizations():
    rng = np.random.default_rng(0)
    first_target, second_source = ["▁Gu", "ten", "▁Tag", "</s>"], ["<2fr>", "▁Guten", "▁T", "ag", "</s>"]
    a1 = rng.dirichlet(np.ones(3), size=4).tolist()
    a2 = rng.dirichlet(np.ones(5), size=6).tolist()
    composed = np.array(compose(a2, first_target, second_source, a1))
    assert composed.shape == (6, 3) and np.allclose(composed.sum(axis=1), 1, atol=1e-9)
