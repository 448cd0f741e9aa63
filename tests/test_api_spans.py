"""/translate with spans that must come back exactly, and a glossary: the pipeline's side
(models.text.placeholders through app.api.translate_jobs and translate_answer), on a tiny
translator whose config says it carries placeholder marks. The tiny model never learnt to write
them, which is the harder case: whatever it writes, nothing the user sent may be lost."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from models.text.marks import PIECES


@pytest.fixture(scope="module")
def spans_dir(tiny_marks_dir):
    return tiny_marks_dir


def client_for(folder, **settings) -> TestClient:
    return TestClient(create_app(Settings(checkpoint_dir=folder.parent, models=[folder.name], **settings)))


@pytest.fixture(scope="module")
def client(spans_dir):
    with client_for(spans_dir) as c:
        yield c


def test_spans_are_read_as_marks_and_never_lost(client):
    text = "stone river to ann@example.com. It costs $1,299.99 at https://x.org/a?b=1, see AB-12."
    body = client.post("/translate", json={"text": text, "beam_size": 2, "target_lang": "fr"}).json()
    segments = body["segments"]
    found = [(p["kind"], p["text"], p["output"]) for s in segments for p in s["placeholders"]]
    assert found == [
        ("e-mail", "ann@example.com", "ann@example.com"),
        ("price", "$1,299.99", "$1\u202f299,99"),  # French separators
        ("url", "https://x.org/a?b=1", "https://x.org/a?b=1"),
        ("code", "AB-12", "AB-12"),
    ]
    for segment in segments:
        for k, p in enumerate(segment["placeholders"]):
            assert text[p["start"] : p["end"]] == p["text"]
            assert segment["source_tokens"].count(p["piece"]) == 1 and p["piece"] == PIECES[k]
            assert p["output"] in segment["translation"]  # in its place, or put at the end
            written = p["piece"] in segment["target_tokens"]
            assert p["dropped"] is not written
            assert any(p["text"] in w for w in body["warnings"]) is (not written)
    for _, _, output in found:
        assert output in body["translation"]


def test_number_format_source_keeps_the_typed_number(client):
    body = client.post("/translate", json={"text": "stone 1,299.99 river", "number_format": "source"}).json()
    assert body["segments"][0]["placeholders"][0]["output"] == "1,299.99"
    assert "1,299.99" in body["translation"]


def test_glossary_terms_are_carried_and_put_in(client):
    body = client.post("/translate", json={"text": "stone river moon", "glossary": {"River": "FLEUVE"}}).json()
    (p,) = body["segments"][0]["placeholders"]
    assert (p["kind"], p["text"], p["output"]) == ("glossary", "river", "FLEUVE")
    assert "FLEUVE" in body["translation"] and "RIVER" not in body["translation"]


@pytest.mark.parametrize(
    ("glossary", "rule"),
    [
        ({" ": "x"}, "term must not be blank"),
        ({"river": ""}, "target term must not be blank"),
        ({"river": "a", "RIVER": "b"}, "same term"),
        ({f"w{i}": "x" for i in range(101)}, "ATTNSERVE_MAX_GLOSSARY_TERMS"),
        ({"r" * 101: "x"}, "at most 100 characters"),
        ({"river": 3}, "glossary"),
    ],
)
def test_bad_glossary_is_422_naming_the_field_and_rule(client, glossary, rule):
    response = client.post("/translate", json={"text": "stone river", "glossary": glossary})
    assert response.status_code == 422, response.text
    assert "glossary" in response.json()["message"] and rule in response.json()["message"]


def test_glossary_limit_is_configurable_and_a_model_without_marks_refuses_it(spans_dir, tiny_translator_dir):
    with client_for(spans_dir, max_glossary_terms=1) as c:
        response = c.post("/translate", json={"text": "stone river", "glossary": {"a": "b", "c": "d"}})
        assert response.status_code == 422 and "over the 1 one request" in response.json()["message"]
    with client_for(tiny_translator_dir) as c:
        plain = c.post("/translate", json={"text": "stone river at https://x.org"}).json()
        assert plain["segments"][0]["placeholders"] == []  # a model not trained with marks reads the text
        response = c.post("/translate", json={"text": "stone river", "glossary": {"river": "x"}})
        assert response.status_code == 422 and "not trained to carry placeholders" in response.json()["message"]
