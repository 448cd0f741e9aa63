"""Uploaded price files (``POST /forecast/csv``) kept from starving the model scheduler (issue 25).

Reading a 30 MB Kaggle file is seconds of Python; in a thread of the server it held the interpreter
lock that the scheduler's worker thread needs between model steps, so every other request waited
behind it. Here:

- ``UploadParser``: the files are read in a pool of ``ATTNSERVE_UPLOAD_WORKERS`` processes of their
  own (spawned, at a lower CPU priority), so the server's interpreter only waits for the answer;
- ``UploadGate``: at most ``ATTNSERVE_MAX_CONCURRENT_UPLOADS`` upload requests at once (each holds
  its file in memory, up to ``ATTNSERVE_MAX_UPLOAD_BYTES``); one more is answered 503 with
  Retry-After before its body is read.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from models.forecasting.price_file import PriceFileError, PriceTable, read_price_csv

WORKER_NICE = 10  # a parse gets the CPU after the server's own threads
RETRY_AFTER_S = 2  # a big file takes seconds to read: retrying sooner meets the same gate


@dataclass(frozen=True)
class _Refused:
    """A PriceFileError as it crosses back from a worker (the exception itself does not unpickle)."""

    where: str
    message: str


def _lower_priority() -> None:
    os.nice(WORKER_NICE)


def _read(data: bytes, keep: int, min_rows: int, ticker: str | None, filename: str | None) -> PriceTable | _Refused:
    try:
        return read_price_csv(data, keep=keep, min_rows=min_rows, ticker=ticker, filename=filename)
    except PriceFileError as error:
        return _Refused(error.where, str(error))


class UploadUnavailable(Exception):
    """The parsing pool died under a file (a worker killed for memory, say); a new one serves the next."""


class UploadParser:
    """``read_price_csv`` in ``workers`` processes of their own; ``close()`` ends them."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawned, not forked: the server has threads (scheduler, torch) that a fork would copy mid-step
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(self.workers, mp_context=context, initializer=_lower_priority)

    async def read(self, data: bytes, keep: int, min_rows: int, ticker: str | None, filename: str | None) -> PriceTable:
        """``read_price_csv(data, ...)`` in a worker. Raises PriceFileError, UploadUnavailable."""
        pool = self._pool
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                pool, _read, data, keep, min_rows, ticker, filename
            )
        except BrokenProcessPool:
            if self._pool is pool:
                self._pool = self._start()
                pool.shutdown(wait=False, cancel_futures=True)
            raise UploadUnavailable("the price file reader stopped while reading this file; retry") from None
        if isinstance(result, _Refused):
            raise PriceFileError(result.where, result.message)
        return result

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class UploadGate:
    """Pure ASGI middleware: at most ``limit`` requests to ``path`` at once (one event loop: a plain
    count). One more is answered 503 + Retry-After at once, before its body is read (outside the
    body limit, which reads whole bodies first); up to ``drain_bytes`` of it are read and discarded
    first, as for a 413, so clients that send their whole body before reading see the answer."""

    def __init__(self, app: ASGIApp, path: str, limit: int, setting: str, drain_bytes: int = 0):
        self.app = app
        self.path = path
        self.limit = limit
        self.setting = setting
        self.drain_bytes = drain_bytes
        self.active = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            return await self.app(scope, receive, send)
        if self.active >= self.limit:
            return await self._refuse(scope, receive, send)
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"")
        waits = headers.get(b"expect", b"").lower() == b"100-continue"
        if not waits and not (length.isdigit() and int(length) > self.drain_bytes):
            left = self.drain_bytes
            while left >= 0:
                event = await receive()
                if event["type"] != "http.request" or not event.get("more_body", False):
                    break
                left -= len(event.get("body", b""))
        message = f"too many uploads at once: {self.active} in progress, the most {self.setting} allows; retry shortly"
        body = json.dumps({"message": message, "detail": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(RETRY_AFTER_S).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
