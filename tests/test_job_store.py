"""The document job store on both backends: SQLite (a file) and a real PostgreSQL server."""

from __future__ import annotations

import time

import pytest
from postgres_server import postgres_url

from app.core.job_store import JobStore


@pytest.fixture(scope="module")
def pg_url():
    with postgres_url() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return JobStore(f"sqlite:///{tmp_path / 'data' / 'jobs.db'}")
    url = request.getfixturevalue("pg_url")
    store = JobStore(url)
    with store._connect() as db:  # each test from an empty store
        store._run(db, "DELETE FROM job_blocks")
        store._run(db, "DELETE FROM jobs")
    return store


def new_job(store: JobStore, owner: str = "") -> str:
    return store.create(owner, "a.txt", "txt", {"target_lang": "fr"}, b"\x00binary\xff", total=3)


def test_a_job_is_created_claimed_once_and_kept_with_its_file(store):
    job_id = new_job(store, owner="k1")
    job = store.get(job_id)
    assert (job.status, job.total, job.done, job.options) == ("queued", 3, 0, {"target_lang": "fr"})
    assert store.source(job_id) == b"\x00binary\xff"
    assert store.get(job_id, owner="k2") is None and store.get(job_id, owner="k1") is not None
    claimed = store.claim("w1", lease_s=60)
    assert claimed.id == job_id and claimed.status == "running" and claimed.started is not None
    assert store.claim("w2", lease_s=60) is None  # held by w1's lease


def test_blocks_are_stored_once_and_counted(store):
    job_id = new_job(store)
    store.claim("w1", lease_s=60)
    assert store.store_blocks(job_id, "w1", 60, [(0, "a"), (1, "b")])
    assert store.store_blocks(job_id, "w1", 60, [(1, "b again"), (2, "c")])
    assert store.blocks(job_id) == {0: "a", 1: "b", 2: "c"}  # block 1 kept its first translation
    assert store.get(job_id).done == 3
    store.finish(job_id, "w1", b"result")
    job = store.get(job_id)
    assert (job.status, job.finished is not None) == ("done", True)
    assert store.result(job_id) == b"result" and store.blocks(job_id) == {}


def test_a_lapsed_lease_passes_the_job_to_another_worker_and_the_first_is_told(store):
    job_id = new_job(store)
    store.claim("w1", lease_s=0.05)
    store.store_blocks(job_id, "w1", 0.05, [(0, "a")])
    time.sleep(0.1)
    taken = store.claim("w2", lease_s=60)
    assert taken is not None and taken.id == job_id and taken.done == 1
    assert not store.store_blocks(job_id, "w1", 60, [(1, "late")])  # w1 learns it lost the job
    assert store.blocks(job_id) == {0: "a"}


def test_release_lets_the_next_worker_resume_at_once(store):
    job_id = new_job(store)
    store.claim("w1", lease_s=600)
    store.release("w1")
    assert store.claim("w2", lease_s=60).id == job_id


def test_delete_and_expiry_remove_jobs(store):
    gone, kept, old = new_job(store), new_job(store), new_job(store)
    assert store.delete(gone) and not store.delete(gone) and store.get(gone) is None
    assert {store.claim("w", 60).id, store.claim("w", 60).id} == {old, kept}
    store.finish(old, "w", b"x")
    store.finish(kept, "w", None, "failed: reason")
    assert store.expire(older_than_s=3600) == 0
    time.sleep(0.05)
    assert store.expire(older_than_s=0.01) == 2
    assert store.get(old) is None and store.get(kept) is None


def test_a_bad_url_says_what_is_served(tmp_path):
    with pytest.raises(ValueError, match="sqlite:/// or postgresql://"):
        JobStore("mysql://x")
