"""A table of hostile requests across the endpoints: each gets a 4xx with a message, never a 5xx."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app

JSON = {"content-type": "application/json"}
PRICES = [100.0 + i % 5 for i in range(40)]


@pytest.fixture(scope="module")
def client(both_models_dir):
    names = sorted(p.name for p in both_models_dir.iterdir())
    settings = Settings(checkpoint_dir=both_models_dir, models=names)
    with TestClient(create_app(settings)) as c:
        yield c


def raw(body: bytes, headers=JSON) -> dict:
    return {"content": body, "headers": headers}


def js(value) -> dict:
    return {"content": json.dumps(value).encode(), "headers": JSON}


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


HOSTILE = [
    # (method, path, request kwargs, expected status)
    ("POST", "/translate", raw(b""), 422),
    ("POST", "/translate", raw(b"not json"), 422),
    ("POST", "/translate", raw(b"{\"text\": \"abc"), 422),
    ("POST", "/translate", raw(b"\xff\xfe\xfa"), 400),  # invalid UTF-8: unparsable
    ("POST", "/translate", raw(b"{\"text\": \"\xff\xfe\"}"), 400),
    ("POST", "/translate", raw(b"x" * (10 << 20)), 413),
    ("POST", "/translate", raw(deep(100_000)), 400),  # nesting deeper than the JSON parser goes
    ("POST", "/translate", raw(b"{\"text\": \"ab\"}", {"content-type": "text/plain"}), 422),
    ("POST", "/translate", js(None), 422),
    ("POST", "/translate", js([]), 422),
    ("POST", "/translate", js("ab cd"), 422),
    ("POST", "/translate", js(12), 422),
    ("POST", "/translate", js({}), 422),
    ("POST", "/translate", js({"text": ""}), 422),
    ("POST", "/translate", js({"text": "\u200b \u00a0\t"}), 422),
    ("POST", "/translate", js({"text": "x" * 5000}), 422),
    ("POST", "/translate", js({"text": {"nested": ["junk", {"a": 1}]}}), 422),
    ("POST", "/translate", js({"text": ["ab"]}), 422),
    ("POST", "/translate", js({"text": True}), 422),
    ("POST", "/translate", js({"text": "ab", "beam_size": -1}), 422),
    ("POST", "/translate", js({"text": "ab", "beam_size": 10**30}), 422),
    ("POST", "/translate", js({"text": "ab", "beam_size": 2.5}), 422),
    ("POST", "/translate", js({"text": "ab", "beam_size": None}), 422),
    ("POST", "/translate", raw(b"{\"text\": \"ab\", \"beam_size\": NaN}"), 422),
    ("POST", "/translate", js({"text": "ab", "max_length": -5}), 422),
    ("POST", "/translate", js({"text": "ab", "source_lang": "xx", "target_lang": "yy"}), 422),
    ("POST", "/translate", js({"text": "ab", "__proto__": {"admin": True}}), 422),
    ("POST", "/translate/batch", js({"texts": None}), 422),
    ("POST", "/translate/batch", js({"texts": [None]}), 422),
    ("POST", "/translate/batch", js({"texts": ["ab"] * 1000}), 422),
    ("POST", "/translate/batch", js({"texts": [["ab"]]}), 422),
    ("POST", "/forecast", raw(b"{\"prices\": [1, 2, NaN]}"), 422),
    ("POST", "/forecast", raw(b"{\"prices\": [Infinity]}"), 422),
    ("POST", "/forecast", raw(b"{\"prices\": [-Infinity, 1]}"), 422),
    ("POST", "/forecast", js({"prices": [-1.0] * 40}), 422),
    ("POST", "/forecast", js({"prices": [0] * 40}), 422),
    ("POST", "/forecast", js({"prices": ["100"] * 40}), 422),
    ("POST", "/forecast", js({"prices": [None] * 40}), 422),
    ("POST", "/forecast", js({"prices": [[1.0]] * 40}), 422),
    ("POST", "/forecast", js({"prices": {"a": 1}}), 422),
    ("POST", "/forecast", js({"prices": PRICES[:3]}), 422),
    ("POST", "/forecast", js({"prices": [1.0] * 20_000}), 422),
    ("POST", "/forecast", js({"prices": PRICES, "horizon": 10**9}), 422),
    ("POST", "/forecast", js({"prices": PRICES, "horizon": "5"}), 422),
    ("POST", "/forecast", js({"prices": PRICES, "interval": 1.5}), 422),
    ("POST", "/forecast", js({"prices": PRICES, "interval": "0.8"}), 422),
    ("POST", "/forecast", js({"prices": PRICES, "dates": ["2024-02-30"] * 40}), 422),
    ("POST", "/forecast", js({"prices": PRICES, "dates": "2024-01-01"}), 422),
    ("POST", "/forecast", js({"prices": PRICES, "ticker": "AAPL"}), 422),
    ("POST", "/forecast/batch", js({"series": [{"prices": "junk"}]}), 422),
    ("POST", "/forecast/batch", js({"series": [{"prices": PRICES}] * 300}), 422),
    ("POST", "/forecast/batch", js({"series": {"prices": PRICES}}), 422),
    ("GET", "/translate", {}, 405),
    ("DELETE", "/forecast", {}, 405),
    ("GET", "/no/such/path", {}, 404),
    ("GET", "/models/../../etc/passwd", {}, 404),
]


@pytest.mark.parametrize("method,path,kwargs,status", HOSTILE,
                         ids=[f"{i}-{m} {p}" for i, (m, p, *_rest) in enumerate(HOSTILE)])
def test_hostile_input_gets_4xx_with_a_message(client, method, path, kwargs, status):
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert isinstance(body.get("message"), str) and body["message"]


def test_table_is_large_enough():
    assert len(HOSTILE) >= 40
