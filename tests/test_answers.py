"""What an answer carries for its work: attention weights rounded to 4 decimals with every row
still summing to 1, and a translation cut at its output limit says so."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from models.served import rounded_rows


@pytest.mark.parametrize("columns", [1, 3, 60, 1000, 5000])
def test_rounded_rows_keep_each_row_summing_to_one_and_move_only_the_largest_weight_beyond_rounding(columns):
    weights = np.random.default_rng(columns).dirichlet(np.full(columns, 0.1), size=20).astype(np.float32)
    rows = np.array(rounded_rows(weights))
    assert np.abs(rows.sum(axis=1) - 1).max() < 1e-6 and rows.min() >= 0
    moved = np.abs(rows - weights)
    top = np.round(weights.astype(np.float64), 4).argmax(axis=1)  # the weight that takes the remainder
    others = np.delete(moved, top + np.arange(len(top)) * columns)  # every weight but each row's largest
    assert others.size == 0 or others.max() <= 5e-5 + 1e-7  # plain rounding to 4 decimals
    assert all(len(repr(float(v)).split(".")[-1]) <= 4 for v in np.delete(rows, top + np.arange(len(top)) * columns))


@pytest.fixture(scope="module")
def client(tiny_translator_dir):
    settings = Settings(checkpoint_dir=tiny_translator_dir.parent, models=[tiny_translator_dir.name])
    with TestClient(create_app(settings)) as c:
        yield c


def test_answers_carry_weights_of_four_decimals(client):
    body = client.post("/translate", json={"text": "ab cd ef gh", "beam_size": 3}).json()
    decimals = [len(repr(w).split(".")[-1]) for row in body["attention"] for w in row if w != max(row)]
    assert decimals and max(decimals) <= 4
    assert all(abs(sum(row) - 1) < 1e-6 for row in body["attention"])


def test_a_translation_cut_at_max_length_says_so_and_a_whole_one_does_not(client):
    cut = client.post("/translate", json={"text": "ab cd ef gh ij kl", "beam_size": 1, "max_length": 2}).json()
    whole = client.post("/translate", json={"text": "ab cd ef gh ij kl", "beam_size": 1}).json()
    assert cut["target_tokens"][-1] != "</s>" and len(cut["target_tokens"]) == 2
    assert any("cut at the output limit of 2 pieces" in w for w in cut["warnings"]), cut["warnings"]
    assert whole["target_tokens"][-1] == "</s>" and not any("cut at" in w for w in whole["warnings"])
