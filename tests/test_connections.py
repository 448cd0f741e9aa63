"""Connections and shutdown (issue 25): a real server started as `make serve` starts it
(`python -m app.serve`), with small settings. A stalled body is 408 and closed after
ATTNSERVE_BODY_TIMEOUT_S; a connection that never finishes its headers, or never sends any, is
closed after ATTNSERVE_HEADER_TIMEOUT_S; an idle keep-alive connection after ATTNSERVE_KEEP_ALIVE_S;
beyond ATTNSERVE_MAX_CONNECTIONS new requests get 503; SIGTERM waits at most
ATTNSERVE_SHUTDOWN_TIMEOUT_S for a client holding a stalled body."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from conftest import ROOT, free_port

from app.core.config import Settings
from app.serve import uvicorn_options

MARGIN_S = 2.0  # scheduling slack on a shared machine


@contextlib.contextmanager
def serve(model_dir, log_path, **settings: str):
    """`python -m app.serve` on a free port with ``ATTNSERVE_<NAME>`` settings; yields (process, port)."""
    port = free_port()
    env = {**os.environ, "ATTNSERVE_CHECKPOINT_DIR": str(model_dir), "ATTNSERVE_MODELS": "fc"}
    env.update({f"ATTNSERVE_{name.upper()}": value for name, value in settings.items()})
    command = [sys.executable, "-m", "app.serve", "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "w+b") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None:
                    break
                time.sleep(0.1)
            else:
                server.poll()
            if server.returncode is not None:
                log.seek(0)
                pytest.fail(f"server did not start:\n{log.read().decode()[-2000:]}")
            yield server, port
        finally:
            if server.poll() is None:
                server.kill()
            server.wait()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, float | None]:
    """What the server sends, and the seconds until it closed the connection (None: still open
    after ``within`` seconds)."""
    start = time.monotonic()
    data = b""
    while True:
        left = within - (time.monotonic() - start)
        if left <= 0:
            return data, None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return data, None
        except ConnectionResetError:
            return data, time.monotonic() - start
        if not chunk:
            return data, time.monotonic() - start
        data += chunk


def head(path: str, length: int, content_type: str = "application/json") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


@pytest.fixture(scope="module")
def quick(untrained_forecaster_dir, tmp_path_factory):
    """A server whose every timeout is 1 s."""
    log = tmp_path_factory.mktemp("quick") / "server.log"
    timeouts = {"body_timeout_s": "1", "header_timeout_s": "1", "keep_alive_s": "1"}
    with serve(untrained_forecaster_dir, log, **timeouts) as (_, port):
        yield port


def test_a_stalled_body_is_408_and_closed(quick):
    with connect(quick) as sock:
        sock.sendall(head("/forecast", 100) + b'{"prices": [1')
        data, closed = read_until_closed(sock, 1 + MARGIN_S + 3)
    assert data.startswith(b"HTTP/1.1 408 "), data
    assert b"ATTNSERVE_BODY_TIMEOUT_S" in data
    assert closed is not None and closed < 1 + MARGIN_S


def test_a_promised_body_that_never_comes_is_408_and_closed(quick):
    """Content-Length: 5000000 (under the upload limit) and not one byte of it."""
    with connect(quick) as sock:
        sock.sendall(head("/forecast/csv", 5_000_000, "multipart/form-data; boundary=x"))
        data, closed = read_until_closed(sock, 1 + MARGIN_S + 3)
    assert data.startswith(b"HTTP/1.1 408 "), data
    assert closed is not None and closed < 1 + MARGIN_S


def test_an_over_limit_body_that_never_comes_is_413_and_closed(quick):
    """Over ATTNSERVE_MAX_BODY_BYTES the server would drain the body before its 413: not forever."""
    with connect(quick) as sock:
        sock.sendall(head("/forecast", 5_000_000))
        data, closed = read_until_closed(sock, 1 + MARGIN_S + 3)
    assert data.startswith(b"HTTP/1.1 413 "), data
    assert closed is not None and closed < 1 + MARGIN_S


def test_headers_that_never_end_are_closed(quick):
    """Slowloris: a header line every 0.2 s, never the blank line."""
    with connect(quick) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        start, closed = time.monotonic(), False
        while time.monotonic() - start < 1 + MARGIN_S + 3:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                closed = True
                break
            time.sleep(0.2)
        data, _ = read_until_closed(sock, 1)
    assert closed, "the server still took header lines"
    assert time.monotonic() - start < 1 + MARGIN_S + 1
    assert data.startswith(b"HTTP/1.1 408 "), data


def test_a_connection_that_sends_nothing_is_closed(quick):
    with connect(quick) as sock:
        data, closed = read_until_closed(sock, 1 + MARGIN_S + 3)
    assert closed is not None and closed < 1 + MARGIN_S
    assert data == b""


def test_an_idle_keep_alive_connection_is_closed(quick):
    with connect(quick) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        data, closed = read_until_closed(sock, 1 + MARGIN_S + 3)
    assert data.startswith(b"HTTP/1.1 200 "), data
    assert closed is not None and 0.5 < closed < 1 + MARGIN_S


def test_beyond_the_connection_limit_new_requests_are_503(untrained_forecaster_dir, tmp_path):
    with serve(untrained_forecaster_dir, tmp_path / "server.log", max_connections="4") as (_, port):
        base = f"http://127.0.0.1:{port}"
        idle = [connect(port) for _ in range(3)]
        try:
            time.sleep(0.3)  # accepted
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200  # the 4th: within the limit
            idle.append(connect(port))
            time.sleep(0.3)
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 503  # the 5th
            idle.pop().close()
            time.sleep(0.3)
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        finally:
            for sock in idle:
                sock.close()


def test_sigterm_waits_at_most_the_shutdown_timeout(untrained_forecaster_dir, tmp_path):
    """A client holding a stalled body (the body timeout far away) does not hold up the exit."""
    log = tmp_path / "server.log"
    with serve(untrained_forecaster_dir, log, body_timeout_s="120", shutdown_timeout_s="2") as (server, port):
        with connect(port) as sock:
            sock.sendall(head("/forecast", 100) + b'{"prices": [1')
            time.sleep(0.5)
            signalled = time.monotonic()
            server.send_signal(signal.SIGTERM)
            try:
                code = server.wait(timeout=2 + MARGIN_S + 5)
            except subprocess.TimeoutExpired:
                pytest.fail("SIGTERM: the server still waits for the stalled client")
            elapsed = time.monotonic() - signalled
    assert code in (0, -signal.SIGTERM)
    assert elapsed < 2 + MARGIN_S + 1, elapsed
    assert "timeout graceful shutdown exceeded" in log.read_text()


def test_the_settings_reach_uvicorn(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    options = uvicorn_options(Settings(keep_alive_s=3, max_connections=100, shutdown_timeout_s=7), "0.0.0.0", 8000)
    assert options["proxy_headers"] is False  # the app decides whose X-Forwarded-For to trust
    assert options["timeout_keep_alive"] == 3 and options["timeout_graceful_shutdown"] == 7
    assert options["limit_concurrency"] == 101  # uvicorn counts the connection asking among its limit
    assert options["workers"] == 2 and (options["host"], options["port"]) == ("0.0.0.0", 8000)
    assert uvicorn_options(Settings(max_connections=0), "127.0.0.1", 1)["limit_concurrency"] is None
