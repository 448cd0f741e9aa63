"""The server's entry point: ``python -m app.serve --host H --port P`` runs uvicorn on
``app.main:app`` with its connection settings read from ``Settings`` (``ATTNSERVE_*``), in one place
for `make serve`, the container and compose:

* ``keep_alive_s`` -> ``timeout_keep_alive``; ``shutdown_timeout_s`` -> ``timeout_graceful_shutdown``;
* ``max_connections`` -> ``limit_concurrency`` (a request on one connection more is 503);
* ``header_timeout_s``: uvicorn has no header timeout (its keep-alive timer starts only after a first
  answer, and every byte stops it), so a connection that never finishes its headers, or never sends
  any, would be held forever; ``TimedH11Protocol`` closes it;
* proxy headers off: the app decides whose X-Forwarded-For to trust (``forwarded_allow_ips``);
* ``WEB_CONCURRENCY`` (``workers``): worker processes;
* SIGTERM, like Ctrl-C (SIGINT), ends in exit code 0 after the graceful shutdown (uvicorn re-raised
  it once done, so the process died of it: 143 in a shell, ``make: *** [serve] Error 143``).

The body-read timeout (``body_timeout_s``, 408) is the app's: ``BodyLimitMiddleware``."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import signal
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.core.config import Settings, get_settings


def _timeout_answer(seconds: float) -> bytes:
    body = json.dumps({"message": f"request headers not complete within {seconds:g} s (ATTNSERVE_HEADER_TIMEOUT_S)"})
    head = f"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    return (head + "connection: close\r\n\r\n" + body).encode()


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header timeout: a request's headers must be complete within
    ``header_timeout_s`` of its first byte (a connection's first request: of the connection's
    opening), else the connection is closed, with a 408 when part of them came."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = get_settings().header_timeout_s
        self.header_timer: asyncio.TimerHandle | None = None
        self.header_bytes = False  # some of the awaited headers came

    def _arm(self) -> None:
        self.header_bytes = False
        self.header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _headers_late(self) -> None:
        self.header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self.header_bytes:
                self.transport.write(_timeout_answer(self.header_timeout_s))
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the first bytes of a next request on a kept-alive connection
        self.header_bytes = True
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the headers are complete (or the request was refused)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """``uvicorn.run``'s arguments from the settings."""
    return {
        "host": host,
        "port": port,
        "workers": settings.workers,
        # the class as module app.serve holds it, also when this file runs as __main__: worker
        # processes find it by that name
        "http": importlib.import_module("app.serve").TimedH11Protocol,
        "proxy_headers": False,
        "timeout_keep_alive": settings.keep_alive_s,
        # uvicorn answers 503 when the connections, the asking one included, reach its limit
        "limit_concurrency": settings.max_connections + 1 if settings.max_connections else None,
        "timeout_graceful_shutdown": settings.shutdown_timeout_s,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    args = parser.parse_args(argv)
    # uvicorn answers SIGINT and SIGTERM with a graceful shutdown while it serves, then restores the
    # handlers it found and raises each signal it caught again. SIGTERM's default handler would kill
    # the process there; Python's SIGINT handler raises KeyboardInterrupt, which uvicorn.run takes as
    # a normal end. SIGTERM gets that handler too: a stop asked for by either is exit code 0.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    uvicorn.run("app.main:app", **uvicorn_options(get_settings(), args.host, args.port))


if __name__ == "__main__":
    main()
