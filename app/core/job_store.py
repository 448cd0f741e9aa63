"""Where document jobs live: SQLite (a file under the data directory; nothing to start) or
PostgreSQL (``ATTNSERVE_DATABASE_URL``: several replicas share one store).

A job row holds the uploaded file and its options; each block's translation is a row of its own,
written as its round finishes (``INSERT ... ON CONFLICT DO NOTHING``: a block is stored once), so a
job interrupted by a restart resumes with the blocks still missing. A worker claims a job with a
lease it renews between rounds; a job whose lease ran out (its worker died) is claimed again by any
worker. Every call is one short transaction on a connection of its own (call it from a thread).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, status TEXT NOT NULL, filename TEXT NOT NULL,
        format TEXT NOT NULL, options TEXT NOT NULL, source {blob} NOT NULL, total INTEGER NOT NULL,
        done INTEGER NOT NULL DEFAULT 0, created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL,
        started DOUBLE PRECISION, finished DOUBLE PRECISION, worker TEXT, lease_until DOUBLE PRECISION NOT NULL,
        error TEXT, result {blob})""",
    """CREATE TABLE IF NOT EXISTS job_blocks (
        job_id TEXT NOT NULL, idx INTEGER NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (job_id, idx))""",
)
COLUMNS = "id, owner, status, filename, format, options, total, done, created, updated, started, finished, error"
ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class JobRow:
    """A job as stored, without its file and result (``source`` and ``result`` read apart)."""

    id: str
    owner: str
    status: str  # queued, running, done, failed
    filename: str
    format: str
    options: dict[str, Any]
    total: int  # blocks
    done: int  # blocks translated and stored
    created: float
    updated: float
    started: float | None
    finished: float | None
    error: str | None

    @classmethod
    def of(cls, row: Sequence[Any]) -> JobRow:
        values = list(row)
        values[5] = json.loads(values[5])
        return cls(*values)


class JobStore:
    """Jobs in SQLite (``url`` "sqlite:///path/jobs.db") or PostgreSQL ("postgresql://...")."""

    def __init__(self, url: str):
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        if not self.postgres:
            if not url.startswith("sqlite:///"):
                raise ValueError(f"database URL must start with sqlite:/// or postgresql://, got {url.split(':')[0]!r}")
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            for statement in SCHEMA:
                self._run(db, statement.format(blob="BYTEA" if self.postgres else "BLOB"))

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        """A connection in one transaction: committed on success, rolled back on error, closed."""
        if self.postgres:
            try:
                import psycopg  # the postgres extra: only with a PostgreSQL URL
            except ImportError:
                raise RuntimeError(
                    "ATTNSERVE_DATABASE_URL names a PostgreSQL store but its driver is not installed: "
                    'pip install -e ".[postgres]"'
                ) from None

            with psycopg.connect(self.url) as pg:
                yield pg
            return
        db = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")  # one writer at a time across processes: claims never race
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def _run(self, db: Any, sql: str, args: Sequence[Any] = ()) -> Any:
        """``sql`` written with %s parameters, run on either backend; the cursor."""
        return db.execute(sql if self.postgres else sql.replace("%s", "?"), tuple(args))

    def create(self, owner: str, filename: str, fmt: str, options: dict[str, Any], source: bytes, total: int) -> str:
        """A queued job; its id."""
        job_id, now = uuid.uuid4().hex, time.time()
        with self._connect() as db:
            self._run(
                db,
                "INSERT INTO jobs (id, owner, status, filename, format, options, source, total, created, updated, "
                "lease_until) VALUES (%s, %s, 'queued', %s, %s, %s, %s, %s, %s, %s, 0)",
                (job_id, owner, filename, fmt, json.dumps(options), source, total, now, now),
            )
        return job_id

    def get(self, job_id: str, owner: str | None = None) -> JobRow | None:
        """The job, if it exists (and belongs to ``owner`` when one is given)."""
        with self._connect() as db:
            row = self._run(db, f"SELECT {COLUMNS} FROM jobs WHERE id = %s", (job_id,)).fetchone()
        job = JobRow.of(row) if row else None
        return job if job and (owner is None or job.owner == owner) else None

    def source(self, job_id: str) -> bytes | None:
        with self._connect() as db:
            row = self._run(db, "SELECT source FROM jobs WHERE id = %s", (job_id,)).fetchone()
        return bytes(row[0]) if row else None

    def result(self, job_id: str) -> bytes | None:
        with self._connect() as db:
            row = self._run(db, "SELECT result FROM jobs WHERE id = %s", (job_id,)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def delete(self, job_id: str) -> bool:
        """Remove the job and its blocks; whether it existed."""
        with self._connect() as db:
            self._run(db, "DELETE FROM job_blocks WHERE job_id = %s", (job_id,))
            return bool(self._run(db, "DELETE FROM jobs WHERE id = %s", (job_id,)).rowcount)

    def claim(self, worker: str, lease_s: float) -> JobRow | None:
        """The oldest queued job, or a running one whose lease ran out, now ``worker``'s for ``lease_s``."""
        now = time.time()
        lock = " FOR UPDATE SKIP LOCKED" if self.postgres else ""
        with self._connect() as db:
            row = self._run(
                db,
                f"SELECT id FROM jobs WHERE status IN ('queued', 'running') AND lease_until < %s "
                f"ORDER BY created LIMIT 1{lock}",
                (now,),
            ).fetchone()
            if row is None:
                return None
            self._run(
                db,
                "UPDATE jobs SET status = 'running', worker = %s, lease_until = %s, updated = %s, "
                "started = COALESCE(started, %s) WHERE id = %s",
                (worker, now + lease_s, now, now, row[0]),
            )
            claimed = self._run(db, f"SELECT {COLUMNS} FROM jobs WHERE id = %s", (row[0],)).fetchone()
        return JobRow.of(claimed)

    def store_blocks(self, job_id: str, worker: str, lease_s: float, results: Sequence[tuple[int, str]]) -> bool:
        """Store translated blocks (index, payload) once each, count them and renew the lease; False
        when the job is gone (deleted) or another worker holds it now."""
        now = time.time()
        with self._connect() as db:
            owner = self._run(db, "SELECT worker FROM jobs WHERE id = %s", (job_id,)).fetchone()
            if owner is None or owner[0] != worker:
                return False
            for idx, payload in results:
                self._run(
                    db,
                    "INSERT INTO job_blocks (job_id, idx, payload) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    (job_id, idx, payload),
                )
            done = self._run(db, "SELECT COUNT(*) FROM job_blocks WHERE job_id = %s", (job_id,)).fetchone()[0]
            self._run(
                db,
                "UPDATE jobs SET done = %s, lease_until = %s, updated = %s WHERE id = %s",
                (done, now + lease_s, now, job_id),
            )
        return True

    def release(self, worker: str) -> None:
        """Give up ``worker``'s running jobs now (a graceful shutdown): the next worker resumes them
        without waiting for the lease to run out, and a round ``worker`` still had in flight is not
        stored (``store_blocks`` answers False)."""
        with self._connect() as db:
            self._run(
                db,
                "UPDATE jobs SET lease_until = 0, worker = NULL WHERE worker = %s AND status IN ('queued', 'running')",
                (worker,),
            )

    def blocks(self, job_id: str) -> dict[int, str]:
        """The blocks stored so far: index -> payload."""
        with self._connect() as db:
            rows = self._run(db, "SELECT idx, payload FROM job_blocks WHERE job_id = %s", (job_id,)).fetchall()
        return {int(i): p for i, p in rows}

    def finish(self, job_id: str, worker: str, result: bytes | None, error: str | None = None) -> None:
        """Done with ``result`` (or failed with ``error``); the blocks are no longer needed."""
        now = time.time()
        status = "failed" if error else "done"
        with self._connect() as db:
            self._run(
                db,
                "UPDATE jobs SET status = %s, result = %s, error = %s, finished = %s, updated = %s, "
                "lease_until = 0 WHERE id = %s AND worker = %s",
                (status, result, error, now, now, job_id, worker),
            )
            self._run(db, "DELETE FROM job_blocks WHERE job_id = %s", (job_id,))

    def expire(self, older_than_s: float) -> int:
        """Remove finished jobs (done or failed) older than ``older_than_s``; how many."""
        cutoff = time.time() - older_than_s
        with self._connect() as db:
            ids = [
                r[0]
                for r in self._run(
                    db, "SELECT id FROM jobs WHERE status IN ('done', 'failed') AND finished < %s", (cutoff,)
                ).fetchall()
            ]
            for job_id in ids:
                self._run(db, "DELETE FROM job_blocks WHERE job_id = %s", (job_id,))
                self._run(db, "DELETE FROM jobs WHERE id = %s", (job_id,))
        return len(ids)
