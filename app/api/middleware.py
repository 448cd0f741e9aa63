"""Pure ASGI middleware: request-body limit (413), metrics and one access-log line per request."""

from __future__ import annotations

import json
import logging
import os
import time

from app.core.logs import ACCESS
from app.core.metrics import Metrics

access_log = logging.getLogger(ACCESS)


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


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, by Content-Length up front or while reading
    (FastAPI itself has no such limit, and Starlette's setting does not apply to it)."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        message = {"message": f"request body over the {self.max_bytes} byte limit (ATTNSERVE_MAX_BODY_BYTES)"}
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await _send_json(send, 413, message)
        # read the whole body first (at most max_bytes + one chunk), then replay it to the app
        chunks, seen = [], 0
        while True:
            event = await receive()
            if event["type"] != "http.request":
                return  # the client went away
            chunks.append(event.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                return await _send_json(send, 413, message)
            if not event.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class ObservabilityMiddleware:
    """Counts and times every request by route template and status; logs one JSON line each."""

    def __init__(self, app, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        tick = time.perf_counter()
        status = 500

        async def tracked_send(event):
            nonlocal status
            if event["type"] == "http.response.start":
                status = event["status"]
            await send(event)

        try:
            await self.app(scope, receive, tracked_send)
        finally:
            elapsed = time.perf_counter() - tick
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            labels = (endpoint, scope["method"], str(status))
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
                    }
                )
            )
