"""Cross-request dynamic batching: every caller gets exactly its own result."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import reverse_pairs
from fastapi.testclient import TestClient

from app.core.batcher import Batcher, Overloaded
from app.core.config import Settings
from app.main import create_app


def recording_batcher(max_size: int, max_wait_ms: float = 20.0, **kw):
    sizes: list[int] = []

    def run(key, items):
        sizes.append(len(items))
        return [(key, item, item * 2) for item in items]

    return Batcher("test", run, max_size, max_wait_ms, **kw), sizes


async def submit_many(batcher: Batcher, n: int):
    return await asyncio.gather(*(batcher.submit(i % 3, i) for i in range(n)))


@pytest.mark.parametrize("max_size", [1, 4, 32])
def test_each_caller_gets_its_own_result(max_size):
    batcher, sizes = recording_batcher(max_size)
    try:
        results = asyncio.run(submit_many(batcher, 100))
    finally:
        batcher.close()
    assert results == [(i % 3, i, 2 * i) for i in range(100)]
    assert sum(sizes) == 100 and max(sizes) <= max_size
    if max_size == 1:
        assert set(sizes) == {1}
    else:
        assert max(sizes) > 1  # concurrent callers really were merged


def test_full_queue_refuses_instead_of_growing():
    release = threading.Event()

    def blocked(key, items):
        release.wait(5)
        return items

    batcher = Batcher("slow", blocked, max_size=1, max_wait_ms=0, max_queue=2)

    async def flood():
        tasks = [asyncio.ensure_future(batcher.submit(0, i)) for i in range(6)]
        await asyncio.sleep(0.2)
        release.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    try:
        outcomes = asyncio.run(flood())
    finally:
        batcher.close()
    refused = [o for o in outcomes if isinstance(o, Overloaded)]
    served = [o for o in outcomes if not isinstance(o, Exception)]
    assert refused and served and len(refused) + len(served) == 6


def test_a_failing_batch_reaches_its_callers_and_the_worker_survives():
    def flaky(key, items):
        if key == "bad":
            raise RuntimeError("boom")
        return items

    batcher = Batcher("flaky", flaky, max_size=8, max_wait_ms=1)

    async def run():
        bad = await asyncio.gather(batcher.submit("bad", 1), return_exceptions=True)
        good = await batcher.submit("good", 2)
        return bad, good

    try:
        (bad,), good = asyncio.run(run())
    finally:
        batcher.close()
    assert isinstance(bad, RuntimeError) and good == 2


def test_close_finishes_queued_work_then_refuses():
    """Requests queued when close() is called still get their own results, not errors."""
    started, release = threading.Event(), threading.Event()

    def slow(key, items):
        started.set()
        release.wait(5)
        return [(key, item * 10) for item in items]

    batcher = Batcher("closing", slow, max_size=2, max_wait_ms=0)

    async def run():
        tasks = [asyncio.ensure_future(batcher.submit(i % 2, i)) for i in range(7)]
        await asyncio.sleep(0)  # every submit has queued its job
        assert await asyncio.to_thread(started.wait, 5)  # the worker is inside the first batch
        queued = batcher.depth
        closing = asyncio.ensure_future(asyncio.to_thread(batcher.close))
        while batcher.depth == queued:  # close() has queued its stop behind the waiting jobs
            await asyncio.sleep(0.001)
        release.set()
        await closing
        late = await asyncio.gather(batcher.submit(0, 99), return_exceptions=True)
        return queued, await asyncio.gather(*tasks, return_exceptions=True), late

    queued, results, [late] = asyncio.run(run())
    assert queued >= 5  # most of the work was still waiting when close() came
    assert results == [(i % 2, i * 10) for i in range(7)]
    assert isinstance(late, Overloaded) and "shutting down" in str(late)


@pytest.fixture(scope="module")
def settings_for(tiny_translator_dir):
    def make(**kw) -> Settings:
        return Settings(checkpoint_dir=tiny_translator_dir.parent, models=[tiny_translator_dir.name], **kw)

    return make


def test_concurrent_http_requests_mixed_beam_and_greedy(settings_for):
    """32 concurrent distinct requests, beam sizes mixed, through the batching app, equal the
    same requests answered one by one with batching off."""
    jobs = [(src, [1, 3, 5][i % 3]) for i, (src, _) in enumerate(reverse_pairs(32, seed=2024))]

    def call(client, job):
        text, beam = job
        response = client.post("/translate", json={"text": text, "beam_size": beam})
        assert response.status_code == 200, response.text
        body = response.json()
        return body["translation"], body["target_tokens"], len(body["attention"])

    with TestClient(create_app(settings_for(batch_max_size=1))) as client:
        expected = [call(client, job) for job in jobs]
    with TestClient(create_app(settings_for(batch_max_size=32, batch_max_wait_ms=20))) as client:
        with ThreadPoolExecutor(16) as pool:
            got = list(pool.map(lambda job: call(client, job), jobs))
    assert got == expected


def test_overload_is_503_with_retry_after(settings_for):
    with TestClient(create_app(settings_for())) as client:
        for batcher in client.app.state.registry.batchers.values():
            batcher.max_queue = 0
        response = client.post("/translate", json={"text": "ab cd"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1" and "busy" in response.json()["message"]


def test_timeout_is_503_with_message(settings_for):
    with TestClient(create_app(settings_for(request_timeout_s=1e-6))) as client:
        response = client.post("/translate", json={"text": "ab cd ef gh", "beam_size": 16})
    assert response.status_code == 503 and "ATTNSERVE_REQUEST_TIMEOUT_S" in response.json()["message"]
