"""Server faults answered as server faults (issue 25): a translator that failed to load is a 503
naming it, a full temporary directory during an upload a 5xx with a log line; and the client
address the limits key on: the socket's peer unless a trusted proxy names another, with wrong API
keys throttled per address."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.serve import uvicorn_options
from tests.conftest import ROOT, free_port

SHIPPED = ROOT / "checkpoints"


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def broken_en_fr(tmp_path, untrained_forecaster_dir) -> Path:
    """A checkpoint folder: translator-en-fr with truncated weights, the untrained forecaster "fc"
    that loads, and the shipped translator-multi (fr-en, en-de, de-en, en-es, es-en; not en-fr)."""
    shutil.copytree(SHIPPED / "translator-en-fr", tmp_path / "translator-en-fr")
    truncate(tmp_path / "translator-en-fr" / "model.safetensors")
    (tmp_path / "fc").symlink_to(untrained_forecaster_dir / "fc")
    (tmp_path / "translator-multi").symlink_to(SHIPPED / "translator-multi")
    return tmp_path


def serve(checkpoints: Path, models: list[str]) -> TestClient:
    return TestClient(create_app(Settings(checkpoint_dir=checkpoints, models=models)))


def test_translator_with_truncated_weights_beside_a_forecaster_is_503_naming_it(broken_en_fr):
    with serve(broken_en_fr, ["translator-en-fr", "fc"]) as client:
        forecast = client.post("/forecast", json={"prices": [float(i % 7 + 1) for i in range(40)], "horizon": 2})
        assert forecast.status_code == 200, forecast.text
        response = client.post("/translate", json={"text": "I am hungry."})
        assert response.status_code == 503, response.text
        assert "translator-en-fr" in response.json()["message"] and "/readyz" in response.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"text": "I am hungry."},  # the default pair en->fr
        {"text": "I am hungry.", "source_lang": "en", "target_lang": "fr"},
        {"text": "I am hungry.", "source_lang": "en"},  # en into the default target, fr
        {"text": "I am hungry.", "source_lang": "auto", "target_lang": "fr"},  # detected en -> fr
    ],
)
def test_a_direction_only_a_failed_translator_serves_is_503_naming_it(broken_en_fr, body):
    with serve(broken_en_fr, ["translator-en-fr", "translator-multi", "fc"]) as client:
        response = client.post("/translate", json=body)
        message = response.json()["message"]
        assert response.status_code == 503, response.text
        assert "translator-en-fr" in message and "failed to load" in message and "/readyz" in message
        # a pair nobody configured is still the client's mistake
        refused = client.post("/translate", json={"text": "Bonjour.", "source_lang": "fr", "target_lang": "it"})
        assert refused.status_code == 422, refused.text
        assert "fr->it is not served" in refused.json()["message"]
        # and a pair the loaded models serve through English is served
        pivoted = client.post("/translate", json={"text": "Bonjour.", "source_lang": "fr", "target_lang": "de"})
        assert pivoted.status_code == 200 and pivoted.json()["pivot"]["language"] == "en", pivoted.text


def test_a_failed_translator_whose_config_cannot_be_read_makes_unserved_pairs_503(broken_en_fr):
    truncate(broken_en_fr / "translator-en-fr" / "config.json")
    with serve(broken_en_fr, ["translator-en-fr", "translator-multi", "fc"]) as client:
        response = client.post("/translate", json={"text": "Bonjour.", "source_lang": "fr", "target_lang": "it"})
        assert response.status_code == 503, response.text
        assert "translator-en-fr" in response.json()["message"]


# ---- a full temporary directory during an upload -------------------------------------------------


def test_full_temporary_directory_during_an_upload_is_5xx_and_logged(untrained_forecaster_dir, monkeypatch, caplog):
    def full(self):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    # Starlette spools an uploaded file in memory up to 1 MB, then to the temporary directory
    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", full)
    rows = "".join(f"2015-01-{1 + i % 28:02d},{10 + i % 5}.5\n" for i in range(120_000))
    csv = ("date,close\n" + rows).encode()
    assert len(csv) > 1 << 20
    with serve(untrained_forecaster_dir, ["fc"]) as client, caplog.at_level(logging.ERROR):
        response = client.post("/forecast/csv", files={"file": ("prices.csv", csv, "text/csv")})
    assert 500 <= response.status_code < 600, response.text
    assert "could not store the request body" in response.json()["message"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert errors and "No space left on device" in errors[0].getMessage()


# ---- the client address: the socket's peer unless a trusted proxy names another ------------------


def serve_flags() -> list[str]:
    """The flags of `make serve`'s `python -m app.serve` beside --host and --port."""
    recipe = re.search(r"-m app\.serve (.*)", (ROOT / "Makefile").read_text())
    assert recipe, "make serve does not run app.serve"
    words = shlex.split(recipe.group(1))
    bind = ("--host", "--port")
    return [w for i, w in enumerate(words) if w not in bind and (i == 0 or words[i - 1] not in bind)]


def test_make_serve_and_the_container_run_uvicorn_alike():
    """Both run app.serve, which runs uvicorn without proxy headers (--no-proxy-headers)."""
    commands = [json.loads(c) for c in re.findall(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.M)]
    api = [c for c in commands if "app.serve" in c]
    assert len(api) == 1 and api[0][:3] == ["python", "-m", "app.serve"] and serve_flags() == []
    assert uvicorn_options(Settings(), "0.0.0.0", 8000)["proxy_headers"] is False


def test_rotating_x_forwarded_for_does_not_escape_the_rate_limit(untrained_forecaster_dir, tmp_path):
    """A real server run as `make serve` runs it, reached from 127.0.0.1 (uvicorn's default trusted
    proxy): 5 of 10 requests pass, whatever addresses X-Forwarded-For claims, and the log says 127.0.0.1."""
    port = free_port()
    env = {
        **os.environ,
        "ATTNSERVE_CHECKPOINT_DIR": str(untrained_forecaster_dir),
        "ATTNSERVE_MODELS": "fc",
        "ATTNSERVE_RATE_LIMIT": "0.01",
        "ATTNSERVE_RATE_BURST": "5",
    }
    command = [sys.executable, "-m", "app.serve", "--host", "127.0.0.1", "--port", str(port)]
    with (tmp_path / "server.log").open("w+b") as log:
        server = subprocess.Popen([*command, *serve_flags()], cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            statuses = [
                httpx.get(f"{base}/models", headers={"X-Forwarded-For": f"203.0.113.{n}"}, timeout=5).status_code
                for n in range(10)
            ]
        finally:
            server.terminate()
            server.wait(timeout=10)
        log.seek(0)
        lines = [json.loads(line) for line in log.read().decode().splitlines() if line.startswith("{")]
    assert statuses == [200] * 5 + [429] * 5
    assert {line["client"] for line in lines if line["path"] == "/models"} == {"127.0.0.1"}


def test_a_trusted_proxy_names_the_client_and_no_one_else_does(untrained_forecaster_dir, capsys):
    settings = Settings(
        checkpoint_dir=untrained_forecaster_dir,
        models=["fc"],
        rate_limit=0.01,
        rate_burst=1,
        forwarded_allow_ips=["10.0.0.0/8"],
    )
    app = create_app(settings)
    with TestClient(app, client=("10.1.2.3", 1)) as proxy, TestClient(app, client=("198.51.100.7", 1)) as direct:
        for n in range(3):  # behind the proxy: one client each, each within its own burst
            forwarded = {"X-Forwarded-For": f"203.0.113.{n}, 10.9.9.9"}
            assert proxy.get("/models", headers=forwarded).status_code == 200
        capsys.readouterr()
        assert direct.get("/models", headers={"X-Forwarded-For": "203.0.113.50"}).status_code == 200
        assert direct.get("/models", headers={"X-Forwarded-For": "203.0.113.51"}).status_code == 429
        clients = [json.loads(line)["client"] for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        assert clients == ["198.51.100.7", "198.51.100.7"]
    with pytest.raises(ValueError):
        Settings(forwarded_allow_ips="not-an-address")


# ---- wrong API keys -------------------------------------------------------------------------------


def test_wrong_api_keys_are_throttled_per_client_address(untrained_forecaster_dir):
    good = "right-key-0123456789"
    settings = Settings(
        checkpoint_dir=untrained_forecaster_dir, models=["fc"], api_keys=[good], auth_failures_per_minute=5
    )
    app = create_app(settings)
    with TestClient(app, client=("192.0.2.1", 1)) as guesser:
        answers = [guesser.get("/models", headers={"Authorization": f"Bearer guess-{n}"}) for n in range(30)]
        assert [a.status_code for a in answers] == [401] * 5 + [429] * 25
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert "ATTNSERVE_AUTH_FAILURES_PER_MINUTE" in answers[-1].json()["message"]
        # throttled, the right key is no different: guessing faster tells nothing
        assert guesser.get("/models", headers={"Authorization": f"Bearer {good}"}).status_code == 429
        other = TestClient(app, client=("192.0.2.2", 1))
        assert other.get("/models", headers={"Authorization": f"Bearer {good}"}).status_code == 200
        assert other.get("/models").status_code == 401  # a missing key is no guess
