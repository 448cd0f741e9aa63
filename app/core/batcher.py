"""Cross-request dynamic batching on a dedicated worker thread.

Concurrent callers ``submit`` one item each; the worker takes the first waiting item, then
waits up to ``max_wait_ms`` for more (never beyond ``max_size``), splits what it has by key
(items with different decoding options cannot share a model call), runs one call per key
and hands every caller exactly its own result. ``max_size=1`` turns batching off: each item
runs alone, in arrival order. The queue is bounded: a full queue refuses at once
(``Overloaded``) instead of growing memory. ``close`` lets everything already queued run and
answer, then stops the worker; later submissions are refused (``Overloaded``).

Keys are per task (``app.core.inference``: ``TranslateKey``, ``ForecastKey``); here they are
only compared for equality.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("attnserve.batcher")
RunBatch = Callable[[Hashable, list[Any]], list[Any]]


class Overloaded(Exception):
    """The queue is full; the caller should retry later."""


@dataclass
class _Job:
    key: Hashable
    item: Any
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class Batcher:
    def __init__(
        self,
        name: str,
        run_batch: RunBatch,
        max_size: int = 32,
        max_wait_ms: float = 5.0,
        max_queue: int = 1024,
        on_batch: Callable[[str, int], None] | None = None,
    ):
        self.name = name
        self.run_batch = run_batch
        self.max_size = max_size
        self.max_wait = max_wait_ms / 1000
        self.max_queue = max_queue
        self.on_batch = on_batch
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._lock = threading.Lock()  # a submission and close() never interleave
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def submit(self, key: Hashable, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        job = _Job(key, item, loop.create_future(), loop)
        with self._lock:
            if self._closed:
                raise Overloaded(f"{self.name}: shutting down")
            if self._queue.qsize() >= self.max_queue:
                raise Overloaded(f"{self.name}: {self.max_queue} requests already waiting")
            self._queue.put(job)
        return await job.future

    def close(self) -> None:
        """Finish what is queued (each caller gets its result), then stop the worker."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)  # behind every queued job
        self._thread.join()

    def _collect(self, first: _Job) -> tuple[list[_Job], bool]:
        jobs, deadline = [first], time.monotonic() + self.max_wait
        while len(jobs) < self.max_size:
            remaining = deadline - time.monotonic()
            try:
                job = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
        return jobs, False

    def _work(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            jobs, stop = self._collect(first)
            groups: dict[Hashable, list[_Job]] = {}
            for job in jobs:
                if not job.future.cancelled():
                    groups.setdefault(job.key, []).append(job)
            for key, group in groups.items():
                self._run(key, group)

    def _run(self, key: Hashable, group: list[_Job]) -> None:
        if self.on_batch:
            self.on_batch(self.name, len(group))
        try:
            results = self.run_batch(key, [job.item for job in group])
        except Exception as exc:  # the callers get the error; the worker lives on
            log.exception("%s: batch of %d failed", self.name, len(group))
            for job in group:
                job.loop.call_soon_threadsafe(_settle, job.future, None, exc)
            return
        for job, result in zip(group, results):
            job.loop.call_soon_threadsafe(_settle, job.future, result, None)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller gave up (timeout, disconnect)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
