"""Document jobs: a file too costly for one request is stored (``app.core.job_store``) and translated
here, in the background of every server process, a round of blocks at a time between interactive
requests. Each round's blocks are stored as they finish; a job whose worker stopped (a restart, a
crash) is claimed again once its lease runs out and resumes with the blocks still missing."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Sequence

from app.api.errors import InvalidField, NotLoaded
from app.core.config import Settings
from app.core.job_store import JobRow, JobStore
from app.core.registry import ModelRegistry
from app.documents.document import Document, DocumentError, Limits, Tag, TranslatedBlock
from app.documents.formats import FORMATS
from app.documents.pipeline import plan_document, translate_blocks
from app.schemas.translate import DecodingOptions

log = logging.getLogger("app.documents.jobs")
EXPIRE_EVERY_S = 60.0  # how often a worker removes expired jobs


class JobGone(Exception):
    """The job was deleted (cancelled) or taken over by another worker while this one ran it."""


def encode(block: TranslatedBlock) -> str:
    return json.dumps({"text": block.text, "tags": [[t.start, t.end, t.ref, t.keep] for t in block.tags]})


def decode(payload: str) -> TranslatedBlock:
    data = json.loads(payload)
    return TranslatedBlock(data["text"], [Tag(s, e, r, bool(k)) for s, e, r, k in data["tags"]])


def limits_of(settings: Settings) -> Limits:
    return Limits(max_unpacked_bytes=settings.max_unpacked_bytes, max_blocks=settings.max_file_blocks)


def read_document(fmt: str, data: bytes, settings: Settings) -> Document:
    return FORMATS[fmt].read(data, limits_of(settings))


def eta_seconds(job: JobRow, now: float) -> float | None:
    """Seconds left at the rate so far (blocks stored since the job started); None before any."""
    if job.started is None or job.done <= 0 or job.status not in ("queued", "running"):
        return None
    rate = job.done / max(now - job.started, 1e-3)
    return round((job.total - job.done) / rate, 1)


class JobRunner:
    """Claims and translates jobs, one at a time per process, until cancelled."""

    def __init__(self, store: JobStore, registry: ModelRegistry, settings: Settings):
        self.store, self.registry, self.settings = store, registry, settings
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.stopping = asyncio.Event()  # set by a graceful shutdown: stop after the round in flight

    async def run(self) -> None:
        """Claim, translate, repeat; between jobs, at most once every ``EXPIRE_EVERY_S``, finished ones
        past ``job_expiry_s`` are removed (not a DELETE on every idle poll)."""
        expired = -math.inf
        while not self.stopping.is_set():
            if time.monotonic() - expired >= EXPIRE_EVERY_S:
                await asyncio.to_thread(self.store.expire, self.settings.job_expiry_s)
                expired = time.monotonic()
            job = await asyncio.to_thread(self.store.claim, self.worker, self.settings.job_lease_s)
            if job is None:
                await asyncio.sleep(self.settings.job_poll_s)
                continue
            await self.process(job)

    async def process(self, job: JobRow) -> None:
        """Translate what is missing of ``job``, render the file, store it; a job that cannot be done
        is stored as failed with the reason (its owner reads it from GET /jobs/{id})."""
        try:
            result = await self._translate(job)
        except JobGone:
            log.info("job %s: stopped (deleted, taken over, or this server is stopping)", job.id)
            return
        except (DocumentError, InvalidField, NotLoaded) as error:
            message = getattr(error, "message", None) or str(error)
            await asyncio.to_thread(self.store.finish, job.id, self.worker, None, message)
            return
        except Exception as error:  # noqa: BLE001  # the job fails with a reason; the runner goes on
            log.exception("job %s failed", job.id)
            await asyncio.to_thread(self.store.finish, job.id, self.worker, None, f"internal error: {error}")
            return
        await asyncio.to_thread(self.store.finish, job.id, self.worker, result)

    async def _translate(self, job: JobRow) -> bytes:
        data = await asyncio.to_thread(self.store.source, job.id)
        if data is None:
            raise JobGone(job.id)
        doc = await asyncio.to_thread(read_document, job.format, data, self.settings)
        options = DecodingOptions(**job.options)
        planned = plan_document(doc.blocks, options, self.registry, self.settings, ("body", "file"))
        stored = {i: decode(p) for i, p in (await asyncio.to_thread(self.store.blocks, job.id)).items()}
        todo = [i for i in range(len(doc.blocks)) if i not in stored]
        if stored:
            log.info("job %s: resuming with %d of %d blocks left", job.id, len(todo), len(doc.blocks))

        async def keep(results: Sequence[tuple[int, TranslatedBlock]]) -> None:
            payloads = [(i, encode(b)) for i, b in results]
            lease = self.settings.job_lease_s
            if not await asyncio.to_thread(self.store.store_blocks, job.id, self.worker, lease, payloads):
                raise JobGone(job.id)
            if self.stopping.is_set():  # this round is stored; the next start resumes from here
                raise JobGone(job.id)

        new = await translate_blocks(planned, doc.blocks, options, self.registry, todo, keep)
        everything = {**stored, **new}
        return await asyncio.to_thread(doc.render, [everything[i] for i in range(len(doc.blocks))])


class Jobs:
    """The process's side of the job store: the store (opened on first use: a server that never
    gets a file writes nothing) and its worker, a task of the server's own event loop started with
    it (``begin``) that waits until there may be jobs: at once when the store may hold some, else
    from the first job a request creates (``wake``, safe from any thread or loop)."""

    def __init__(self, registry: ModelRegistry, settings: Settings):
        self.registry, self.settings = registry, settings
        self._store: JobStore | None = None
        self._runner: JobRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken = asyncio.Event()

    @property
    def store(self) -> JobStore:
        if self._store is None:
            self._store = JobStore(self.settings.job_store_url)
        return self._store

    def may_hold_jobs(self) -> bool:
        """A shared (PostgreSQL) store, or a SQLite file an earlier run left: interrupted jobs to finish."""
        url = self.settings.job_store_url
        return not url.startswith("sqlite:///") or os.path.exists(url.removeprefix("sqlite:///"))

    def begin(self) -> None:
        """In the server's lifespan: the worker task, on this loop."""
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._work(), name="document-jobs")

    async def _work(self) -> None:
        if not self.may_hold_jobs():
            await self._woken.wait()
        self._runner = JobRunner(self.store, self.registry, self.settings)
        await self._runner.run()

    def wake(self) -> None:
        """A job was created: the worker starts if it was waiting."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._woken.set)

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop the worker: the round in flight is stored if it ends within ``grace_s``, then its
        job is released for the next start to resume at once."""
        if self._task is None or self._task.done():
            return
        if self._runner is not None:
            self._runner.stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_s if self._runner else 0)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._runner is not None:
            await asyncio.to_thread(self.store.release, self._runner.worker)
