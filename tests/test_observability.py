"""Body limit (413), Prometheus metrics and the access log."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app


@pytest.fixture(scope="module")
def client(tiny_translator_dir):
    settings = Settings(
        checkpoint_dir=tiny_translator_dir.parent, models=[tiny_translator_dir.name], max_body_bytes=4096
    )
    with TestClient(create_app(settings)) as c:
        yield c


def test_body_over_limit_is_413_by_length(client):
    response = client.post("/translate", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "4096" in response.json()["message"]


def test_body_over_limit_is_413_when_streamed(client):
    def chunks():  # no Content-Length: the limit must hold while reading
        for _ in range(10):
            yield b"x" * 1000

    response = client.post("/translate", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_body_under_limit_passes(client):
    assert client.post("/translate", json={"text": "ab cd"}).status_code == 200


def sample(text: str, name: str, **labels) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_batches_and_load(client, tiny_translator_dir):
    before = client.get("/metrics").text
    client.post("/translate", json={"text": "ab cd"})
    client.post("/translate", json={"text": ""})
    after = client.get("/metrics").text
    ok = dict(endpoint="/translate", method="POST", status="200")
    bad = dict(endpoint="/translate", method="POST", status="422")
    assert sample(after, "attnserve_requests_total", **ok) == sample(before, "attnserve_requests_total", **ok) + 1
    assert sample(after, "attnserve_requests_total", **bad) == sample(before, "attnserve_requests_total", **bad) + 1
    assert sample(after, "attnserve_request_seconds_count", **ok) >= 1
    model = tiny_translator_dir.name
    assert sample(after, "attnserve_batch_size_count", model=model) > sample(
        before, "attnserve_batch_size_count", model=model
    )
    assert sample(after, "attnserve_model_load_seconds", model=model) > 0
    assert "attnserve_queue_depth{" in after


def test_access_log_is_one_json_object_per_stdout_line(client, capsys):
    capsys.readouterr()
    client.get("/healthz")
    client.post("/translate", json={"text": ""})
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]  # every line is JSON, alone
    assert [(e["method"], e["path"], e["endpoint"], e["status"]) for e in lines] == [
        ("GET", "/healthz", "/healthz", 200),
        ("POST", "/translate", "/translate", 422),
    ]
    assert all(e["ms"] >= 0 and e["pid"] > 0 and e["client"] for e in lines)
