"""Pure ASGI middleware: request-body limit (413) and read timeout (408), work stopped when the
client leaves, metrics, the request id and one access-log line per request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match

from app.api.security import TrustedProxies, app_settings
from app.core.logs import ACCESS
from app.core.metrics import UNMATCHED, Metrics, method_label

access_log = logging.getLogger(ACCESS)
CLIENT_CLOSED = 499  # the status logged and counted when the client left before any answer (nginx's code)
REQUEST_ID_HEADER = b"x-request-id"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id(headers) -> str:
    """The client's ``X-Request-ID`` when it is a sane token (at most 128 of ``A-Za-z0-9._:-``),
    else a new one (uuid4 hex): a client's id may go into logs, so nothing else is taken."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            if SANE_REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


async def _send_json(send, status: int, body: dict, headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class BodyTimeout(Exception):
    """No byte of the request body came within the body timeout."""


async def _receive_within(receive, timeout_s: float | None):
    """``receive()``, waited for at most ``timeout_s`` seconds (None: for ever); BodyTimeout after."""
    if timeout_s is None:
        return await receive()
    try:
        return await asyncio.wait_for(receive(), timeout_s)
    except TimeoutError:
        raise BodyTimeout from None


async def _drain(receive, limit: int, timeout_s: float | None = None) -> None:
    """Read and discard the rest of the request body, at most ``limit`` bytes of it, until it
    pauses for ``timeout_s``."""
    while limit >= 0:
        try:
            event = await _receive_within(receive, timeout_s)
        except BodyTimeout:
            return
        if event["type"] != "http.request" or not event.get("more_body", False):
            return
        limit -= len(event.get("body", b""))


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, by Content-Length up front or while reading
    (FastAPI itself has no such limit, and Starlette's setting does not apply to it).

    Before answering it reads and discards up to ``drain_bytes`` more of the body: a client that
    sends its whole body before it reads (urllib, http.client) would otherwise have the
    connection reset under it and never see the 413. A body longer than ``max_bytes +
    drain_bytes``, or one the client waits to send (``Expect: 100-continue``), is not read.

    A body that goes ``timeout_s`` seconds without a byte arriving (default: the app's
    ``body_timeout_s``) is answered 408 and its connection closed; draining one stops there too."""

    def __init__(
        self,
        app,
        max_bytes: int,
        drain_bytes: int = 0,
        limits: dict[str, tuple[int, str]] | None = None,
        timeout_s: float | None = None,
    ):
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = drain_bytes
        self.limits = limits or {}  # path -> (its own limit, the setting that holds it): uploads
        self.timeout_s = timeout_s
        self.timeout_known = timeout_s is not None  # else from the app's settings, at the first request

    async def _refuse(self, send, max_bytes: int, setting: str) -> None:
        message = {"message": f"request body over the {max_bytes} byte limit ({setting})"}
        await _send_json(send, 413, message, [(b"connection", b"close")])

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self.timeout_known:
            settings = app_settings(scope)
            self.timeout_s, self.timeout_known = (settings.body_timeout_s if settings else None), True
        try:
            body = await self._read(scope, receive, send)
        except BodyTimeout:
            message = {"message": f"no request body bytes for {self.timeout_s:g} s (ATTNSERVE_BODY_TIMEOUT_S)"}
            return await _send_json(send, 408, message, [(b"connection", b"close")])
        if body is None:
            return  # answered, or the client went away
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, scope, receive, send) -> bytes | None:
        """The whole body; None when it was refused (413) or the client went away."""
        max_bytes, setting = self.limits.get(scope["path"], (self.max_bytes, "ATTNSERVE_MAX_BODY_BYTES"))
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            waits = headers.get(b"expect", b"").lower() == b"100-continue"  # the body is not on its way
            if int(length) <= max_bytes + self.drain_bytes and not waits:
                await _drain(receive, int(length), self.timeout_s)
            await self._refuse(send, max_bytes, setting)
            return None
        # read the whole body first (at most max_bytes + one chunk), then replay it to the app
        chunks, seen = [], 0
        while True:
            event = await _receive_within(receive, self.timeout_s)
            if event["type"] != "http.request":
                return None  # the client went away
            chunks.append(event.get("body", b""))
            seen += len(chunks[-1])
            if seen > max_bytes:
                if event.get("more_body", False):
                    await _drain(receive, max_bytes + self.drain_bytes - seen, self.timeout_s)
                await self._refuse(send, max_bytes, setting)
                return None
            if not event.get("more_body", False):
                return b"".join(chunks)


class CancelOnDisconnectMiddleware:
    """Stops a request's work when its client goes away before the answer: once the body has been
    read, a watcher waits for ``http.disconnect``; if it comes before the response has started,
    the handler is cancelled, and with it the request's queued and running model work
    (``app.core.scheduler`` drops it between decoding steps). The handler runs in its own task, so
    the server sees a request that ended, not an error."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, gone = False, asyncio.Event()
        watcher: asyncio.Task | None = None

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()
            if not started:
                handler.cancel()

        async def handler_receive():
            nonlocal watcher
            if watcher is not None:  # the body is read: only a disconnect can come
                await gone.wait()
                return {"type": "http.disconnect"}
            event = await receive()
            if event["type"] == "http.request" and not event.get("more_body", False):
                watcher = asyncio.ensure_future(watch())
            return event

        async def tracked_send(event):
            nonlocal started
            started = started or event["type"] == "http.response.start"
            await send(event)

        handler = asyncio.ensure_future(self.app(scope, handler_receive, tracked_send))
        try:
            await handler
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not gone.is_set() or (current is not None and current.cancelling()):
                raise  # the server itself is cancelling this request
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher


def endpoint_label(scope, routes: Sequence[BaseRoute] = ()) -> str:
    """The route template of a request. One answered before routing (a 413) is matched against
    ``routes`` here; no route: "unmatched", one label for every unknown path."""
    route = scope.get("route")
    if route is None:
        matches = [(candidate.matches(scope)[0], candidate) for candidate in routes]
        route = next((r for m, r in matches if m is Match.FULL), None) or next(
            (r for m, r in matches if m is Match.PARTIAL), None
        )
    return getattr(route, "path", None) or UNMATCHED


class ObservabilityMiddleware:
    """Counts and times every request by route template, method and status; logs one JSON line
    each. ``routes``: the app's routes, to label requests answered before routing (413, 401, 429).
    Gives every request an id (``request_id``), put in ``scope["state"]["request_id"]``, in the
    ``X-Request-ID`` header of its answer, whatever the status, and in its log line.

    The client address (logged, and keyed on by the rate limits inside) is the socket's peer, or
    the one ``X-Forwarded-For`` names when the peer is one of the app's ``forwarded_allow_ips``:
    set in ``scope["client"]`` here, the outermost, for everything inside."""

    def __init__(self, app, metrics: Metrics, routes: Sequence[BaseRoute] = ()):
        self.app = app
        self.metrics = metrics
        self.routes = list(routes)
        self.proxies: TrustedProxies | None = None  # from the app's settings, at the first request

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.proxies is None:
            settings = app_settings(scope)
            self.proxies = TrustedProxies(settings.forwarded_allow_ips if settings else [])
        scope["client"] = self.proxies.client(scope)
        tick = time.perf_counter()
        status, started, disconnected = 500, False, False
        root_path = scope.get("root_path", "")  # a Mount (the docs' assets) extends it while routing
        rid = request_id(scope["headers"])
        scope.setdefault("state", {})["request_id"] = rid
        id_header = (REQUEST_ID_HEADER, rid.encode())

        async def tracked_receive():
            nonlocal disconnected
            event = await receive()
            disconnected = disconnected or event["type"] == "http.disconnect"
            return event

        async def tracked_send(event):
            nonlocal status, started
            if event["type"] == "http.response.start":
                status, started = event["status"], True
                headers = [h for h in event.get("headers", []) if h[0].lower() != REQUEST_ID_HEADER]
                event = {**event, "headers": [*headers, id_header]}
            await send(event)

        try:
            await self.app(scope, tracked_receive, tracked_send)
        finally:
            if disconnected and not started:
                status = CLIENT_CLOSED  # nobody to answer: not a server error
            elapsed = time.perf_counter() - tick
            endpoint = endpoint_label({**scope, "root_path": root_path}, self.routes)
            labels = (endpoint, method_label(scope["method"]), str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(elapsed)
            client = scope.get("client") or ("-", 0)
            access_log.info(
                json.dumps(
                    {
                        "method": scope["method"],
                        "path": scope["path"],
                        "endpoint": endpoint,
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                        "client": client[0],
                        "pid": os.getpid(),
                        "request_id": rid,
                    }
                )
            )
