"""bench.common: free ports, readiness, server processes, the client driver, the length filter,
the peer-venv probe. Small local servers only; nothing here builds a venv or runs a benchmark."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from bench import common
from bench.common import (
    BenchError,
    PeerVenv,
    ServerProcess,
    drive,
    free_port,
    length_filter,
    python_output,
    torch_pin,
    training_defaults,
    translate_call,
    wait_ready,
)

# POST /translate answers {"translation": text upper-cased}; GET /health answers 200 after --delay s
FAKE_SERVER = textwrap.dedent("""
    import json, sys, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    port, ready_at = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])

    class Handler(BaseHTTPRequestHandler):
        def reply(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self.reply(200 if self.path == "/health" and time.monotonic() >= ready_at else 503, {})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/translate":
                self.reply(200, {"translation": body["text"].upper()})
            else:
                self.reply(404, {"detail": "no such path"})

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
""")


def fake_server(tmp_path: Path, delay: float = 0.0) -> ServerProcess:
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    return ServerProcess(
        lambda port: [sys.executable, script, port, delay], "/health", log=tmp_path / "server.log", seconds=20
    )


def test_free_port_can_be_listened_on():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert s.getsockname()[1] == port


def test_wait_ready_names_the_exit_code_of_a_server_that_died():
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    url = f"http://127.0.0.1:{free_port()}/readyz"
    with pytest.raises(BenchError, match=r"exited with code 3") as info:
        wait_ready(url, proc, 20)
    assert url in str(info.value)


def test_wait_ready_gives_up_on_a_dead_port_after_its_seconds():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    url = f"http://127.0.0.1:{free_port()}/readyz"
    try:
        tick = time.monotonic()
        with pytest.raises(BenchError, match=r"did not answer 200 within 0.5 s"):
            wait_ready(url, proc, 0.5)
        assert 0.5 <= time.monotonic() - tick < 5
        assert proc.poll() is None  # it timed out; the process did not end
    finally:
        proc.kill()
        proc.wait()


def test_server_process_waits_for_health_and_stops_on_close(tmp_path):
    tick = time.monotonic()
    with fake_server(tmp_path, delay=0.5) as server:
        assert time.monotonic() - tick >= 0.5  # /health answered 503 until then
        assert server.proc.poll() is None
    assert server.proc.poll() is not None


def test_drive_collects_outputs_and_counts_errors(tmp_path):
    with fake_server(tmp_path) as server:
        good = drive(server.url, lambda rng: translate_call(rng.choice(["one", "two"]), 1), 2, 0.5)
        bad = drive(server.url, lambda rng: common.Call("x", "/missing", {}, lambda r: r["translation"]), 2, 0.3)
    assert good["outputs"] == {"one": "ONE", "two": "TWO"}
    assert good["errors"] == 0 and good["rps"] > 0 and good["p50"] <= good["p95"] <= good["p99"]
    assert bad["outputs"] == {} and bad["errors"] > 0 and "404" in bad["first_error"]


class SplitPieces:
    """A stand-in SentencePiece processor: a piece per word."""

    def encode(self, text: str, out_type=str) -> list[str]:
        return text.split()


def test_length_filter_keeps_what_training_keeps():
    limit = training_defaults().max_len - 1  # pieces a side, </s> not counted
    fits, over = " ".join(["w"] * limit), " ".join(["w"] * (limit + 1))
    kept = length_filter([(fits, fits), (over, "short"), ("short", over)], SplitPieces())
    assert kept == [(fits.split(), fits.split())]


def test_python_output_reports_the_failure_only_when_required(tmp_path):
    assert python_output(sys.executable, "print(' 2.13.0 ')") == "2.13.0"
    assert python_output(sys.executable, "raise SystemExit('boom')") is None
    with pytest.raises(BenchError, match="boom"):
        python_output(sys.executable, "raise SystemExit('boom')", required=True)
    with pytest.raises(BenchError, match="no such interpreter"):
        python_output(tmp_path / "missing" / "python", "pass", required=True)


def test_peer_venv_that_passes_its_check_is_not_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "PEERS", tmp_path)
    venv = PeerVenv("fake")
    venv.python.parent.mkdir(parents=True)
    venv.python.symlink_to(sys.executable)
    assert venv.ensure("print('found')", [["install", "--no-index", "attnserve-no-such-package"]]) == "found"
    assert not (tmp_path / "fake-pip.log").exists()  # no build was started


def test_torch_pin_is_the_installed_torch_and_the_dockerfile_default():
    """pyproject.toml is where torch's version is written; the Dockerfile's TORCH_SPEC default is
    the one copy that cannot read it (torch is installed before pyproject.toml is copied in)."""
    spec = torch_pin()
    assert re.fullmatch(r"torch==\d+\.\d+\.\d+", spec), spec
    assert torch.__version__.split("+")[0] == spec.removeprefix("torch==")
    dockerfile = (common.ROOT / "Dockerfile").read_text()
    assert f"ARG TORCH_SPEC={spec}\n" in dockerfile
