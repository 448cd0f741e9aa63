"""Scale-out on one machine: several uvicorn workers, one model copy each, and torch threads
shared out so the workers do not oversubscribe the cores."""

from __future__ import annotations

import json
import os
import signal

import httpx
from conftest import reverse_pairs, start_uvicorn

from app.core.config import Settings


def translating_pids(log_path) -> set[int]:
    """Process ids in the access log (one JSON object per line) of POST /translate."""
    lines = log_path.read_text(errors="replace").splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    return {e["pid"] for e in entries if (e["method"], e["path"]) == ("POST", "/translate")}


def test_threads_default_to_an_equal_share_of_the_cores_less_one(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    monkeypatch.delenv("ATTNSERVE_TORCH_THREADS", raising=False)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    assert Settings().threads_per_process == max(1, cores - 1)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert Settings().threads_per_process == 7  # one core left to the event loop
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    assert Settings().workers == 2 and Settings().threads_per_process == 3
    monkeypatch.setenv("WEB_CONCURRENCY", "32")
    assert Settings().threads_per_process == 1  # never 0
    monkeypatch.setenv("ATTNSERVE_TORCH_THREADS", "3")
    assert Settings().threads_per_process == 3  # an explicit setting wins


def test_two_workers_each_load_the_model_and_answer_alike(tiny_translator_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("ATTNSERVE_TORCH_THREADS", raising=False)  # the default share is under test
    cores = len(os.sched_getaffinity(0))
    env = {
        "ATTNSERVE_CHECKPOINT_DIR": str(tiny_translator_dir.parent),
        "ATTNSERVE_MODELS": tiny_translator_dir.name,
        "WEB_CONCURRENCY": "2",
    }
    log = open(tmp_path / "server.log", "w+b")
    server, base = start_uvicorn(env, log)
    try:
        workers: dict[int, int] = {}
        for _ in range(400):  # a new connection each time; the kernel spreads them over the workers
            health = httpx.get(f"{base}/healthz", timeout=5).json()
            workers[health["pid"]] = health["torch_threads"]
            if len(workers) == 2:
                break
        assert len(workers) == 2, f"only worker(s) {sorted(workers)} answered"
        assert server.pid not in workers  # the supervisor serves nothing itself
        assert set(workers.values()) == {max(1, cores // 2 - 1)}
        source = reverse_pairs(1, seed=11)[0][0]
        translations = set()
        for _ in range(400):  # until the access log shows both workers translating
            response = httpx.post(f"{base}/translate", json={"text": source, "beam_size": 3}, timeout=30)
            assert response.status_code == 200, response.text
            translations.add(response.json()["translation"])
            if translating_pids(tmp_path / "server.log") == set(workers):
                break
        assert translating_pids(tmp_path / "server.log") == set(workers)
        assert len(translations) == 1  # every model copy gives the same translation
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    log.seek(0)
    output = log.read().decode()
    # each worker process loaded its own copy at start-up
    assert output.count(f"model {tiny_translator_dir.name} loaded") == 2, output[-2000:]
    # the access log under real uvicorn: JSON objects alone on their lines, no plain-text twin
    access = [line for line in output.splitlines() if '"path": ' in line]
    assert access and all(json.loads(line)["status"] == 200 for line in access), access[:3]
    assert 'HTTP/1.1" 200' not in output
