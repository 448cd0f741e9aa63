"""Process lifecycle: SIGTERM lets in-flight requests finish; broken checkpoints keep the
process alive (liveness 200) but not ready (503 with the reason) and say why in the log."""

from __future__ import annotations

import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import reverse_pairs, start_uvicorn
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app


def test_sigterm_lets_in_flight_requests_finish(tiny_translator_dir, tmp_path):
    env = {
        "ATTNSERVE_CHECKPOINT_DIR": str(tiny_translator_dir.parent),
        "ATTNSERVE_MODELS": tiny_translator_dir.name,
        "ATTNSERVE_BATCH_MAX_SIZE": "1",
        "ATTNSERVE_REQUEST_TIMEOUT_S": "300",
    }
    log = open(tmp_path / "server.log", "w+b")
    server, base = start_uvicorn(env, log)
    try:
        # long texts, beam 16, one at a time: several seconds of queued work
        texts = [" ".join([src] * 30)[:990] for src, _ in reverse_pairs(16, seed=5)]

        def call(text):
            response = httpx.post(f"{base}/translate", json={"text": text, "beam_size": 16}, timeout=300)
            return response.status_code, time.monotonic()

        with ThreadPoolExecutor(len(texts)) as pool:
            futures = [pool.submit(call, t) for t in texts]
            # signal only once every request has reached the server (queued behind the one
            # worker, running, or done) and some are demonstrably waiting: a client that has not
            # connected yet when the port closes would see "connection refused", not a drain
            for _ in range(1000):
                metrics = httpx.get(f"{base}/metrics", timeout=5).text
                depth = [
                    float(line.rsplit(" ", 1)[1])
                    for line in metrics.splitlines()
                    if line.startswith("attnserve_queue_depth{")
                ]
                done = sum(f.done() for f in futures)
                # every request accounted for: in the server (queued or running) or answered and
                # read; one answered but not yet read shows up at the next look
                if depth and depth[0] >= 2 and depth[0] + done >= len(texts):
                    break
                time.sleep(0.01)
            else:
                pytest.fail("the requests never queued up")
            server.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            results = [f.result() for f in futures]
        assert [status for status, _ in results] == [200] * len(texts)
        assert any(done > signalled for _, done in results), "nothing was in flight at SIGTERM"
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
    log.seek(0)
    output = log.read().decode()
    assert "Shutting down" in output or "Finished server process" in output


def damage(kind: str, folder: Path) -> None:
    if kind == "missing":
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    elif kind == "truncated":
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif kind == "tampered":  # still valid JSON, whatever the config holds: only the manifest can tell
        config = folder / "config.json"
        config.write_text(json.dumps({**json.loads(config.read_text()), "tampered": True}, indent=2))
    elif kind == "no-manifest":
        (folder / "SHA256SUMS").unlink()


def contents(folder: Path) -> dict[str, bytes] | None:
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else None


@pytest.mark.parametrize(
    "kind,reason",
    [
        ("missing", "checkpoint folder not found"),
        ("truncated", "model.safetensors does not match its sha256"),
        ("tampered", "config.json does not match its sha256"),
        ("no-manifest", "no SHA256SUMS"),
    ],
)
def test_broken_checkpoint_is_alive_not_ready(tiny_translator_copy, caplog, kind, reason):
    before = contents(tiny_translator_copy)
    damage(kind, tiny_translator_copy)
    assert contents(tiny_translator_copy) != before  # the damage really happened
    settings = Settings(checkpoint_dir=tiny_translator_copy.parent, models=[tiny_translator_copy.name])
    with caplog.at_level("ERROR", logger="attnserve.models"):
        with TestClient(create_app(settings)) as client:
            assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
            translate = client.post("/translate", json={"text": "ab cd"})
    assert ready.status_code == 503
    assert reason in ready.json()["reasons"][tiny_translator_copy.name]
    assert translate.status_code == 503 and "loaded" in translate.json()["message"]
    assert any(tiny_translator_copy.name in r.getMessage() and reason in r.getMessage() for r in caplog.records)
