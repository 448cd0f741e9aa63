"""Fair, cost-aware scheduling: every caller gets exactly its own result, concurrent callers share
model calls, a short request is not stuck behind a heavy one, and abandoned work stops."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from conftest import reverse_pairs, start_uvicorn
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.scheduler import Overloaded, Scheduler
from app.main import create_app


def instant(log: list | None = None):
    """A step function answering at once: (key, item, item * 2) per item; logs the call sizes."""

    def run(key, items, dropped):
        if log is not None:
            log.append(len(items))
        yield from ()
        return [(key, item, item * 2) for item in items]

    return run


def stepping(trace: list, seconds: float = 0.002):
    """A step function whose items are (name, steps): each step takes ``seconds`` (so requests
    arrive while others run) and is appended to ``trace`` as the names still decoding; an item
    leaves early once ``dropped`` says nobody waits for it."""

    def run(key, items, dropped):
        left = {i: steps for i, (_, steps) in enumerate(items)}
        while left:
            time.sleep(seconds)
            trace.append(sorted(items[i][0] for i in left))
            yield
            for i in list(left):
                left[i] -= 1
                if left[i] == 0 or dropped(i):
                    del left[i]
        return [name for name, _ in items]

    return run


def jobs(*items, key=0, rows=1, limit=1):
    return [(key, item, rows, limit) for item in items]


@pytest.mark.parametrize("max_size", [1, 4, 32])
def test_each_caller_gets_its_own_result_and_concurrent_callers_share_calls(max_size):
    sizes: list[int] = []
    scheduler = Scheduler("test", instant(sizes), max_size=max_size, max_wait_ms=20, max_rows=1000)

    async def run():
        return await asyncio.gather(*(scheduler.submit(jobs(i, key=i % 3)) for i in range(100)))

    try:
        results = asyncio.run(run())
    finally:
        scheduler.close()
    assert results == [[(i % 3, i, 2 * i)] for i in range(100)]
    assert sum(sizes) == 100 and max(sizes) <= max_size
    if max_size > 1:
        assert max(sizes) > 1  # concurrent callers really were merged


def test_one_request_is_split_by_key_and_into_chunks_of_at_most_max_rows():
    sizes: list[int] = []
    scheduler = Scheduler("chunks", instant(sizes), max_size=32, max_rows=12)
    request = [(i % 2, i, 4, 1) for i in range(10)]  # two keys, 4 rows each: 3 items fit in 12 rows
    try:
        results = asyncio.run(scheduler.submit(request))
    finally:
        scheduler.close()
    assert results == [(i % 2, i, 2 * i) for i in range(10)]
    assert sorted(sizes) == [2, 2, 3, 3]


def test_full_queue_refuses_instead_of_growing():
    release = threading.Event()

    def blocked(key, items, dropped):
        release.wait(5)
        yield from ()
        return items

    scheduler = Scheduler("slow", blocked, max_size=1, max_queue=4)

    async def flood():
        tasks = [asyncio.ensure_future(scheduler.submit(jobs(i, i))) for i in range(6)]
        await asyncio.sleep(0.2)
        release.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    try:
        outcomes = asyncio.run(flood())
    finally:
        scheduler.close()
    refused = [o for o in outcomes if isinstance(o, Overloaded)]
    served = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(refused) == 4 and len(served) == 2  # two requests of two items fill the queue of 4


def test_a_failing_call_reaches_its_callers_and_the_worker_survives():
    def flaky(key, items, dropped):
        yield
        if key == "bad":
            raise RuntimeError("boom")
        return items

    scheduler = Scheduler("flaky", flaky)

    async def run():
        bad = await asyncio.gather(scheduler.submit(jobs(1, key="bad")), return_exceptions=True)
        good = await scheduler.submit(jobs(2, key="good"))
        return bad, good

    try:
        (bad,), good = asyncio.run(run())
    finally:
        scheduler.close()
    assert isinstance(bad, RuntimeError) and good == [2]


def test_close_finishes_submitted_work_then_refuses():
    """Requests submitted before close() still get their own results, not errors."""
    started, release = threading.Event(), threading.Event()

    def slow(key, items, dropped):
        started.set()
        release.wait(5)
        yield
        return [(key, item * 10) for item in items]

    scheduler = Scheduler("closing", slow, max_size=2)

    async def run():
        tasks = [asyncio.ensure_future(scheduler.submit(jobs(i, key=i % 2))) for i in range(7)]
        await asyncio.sleep(0)  # every submit has queued its job
        assert await asyncio.to_thread(started.wait, 5)  # the worker is inside the first call
        closing = asyncio.ensure_future(asyncio.to_thread(scheduler.close))
        await asyncio.sleep(0.05)
        release.set()
        await closing
        late = await asyncio.gather(scheduler.submit(jobs(99)), return_exceptions=True)
        return await asyncio.gather(*tasks, return_exceptions=True), late

    results, [late] = asyncio.run(run())
    assert results == [[(i % 2, i * 10)] for i in range(7)]
    assert isinstance(late, Overloaded) and "shutting down" in str(late)


def run_flows(scheduler: Scheduler, flows: list[tuple[float, list]]) -> list:
    """Submit each (delay in s, jobs) flow after its delay; their results."""

    async def run():
        async def later(delay, request):
            await asyncio.sleep(delay)
            return await scheduler.submit(request)

        return await asyncio.gather(*(later(delay, request) for delay, request in flows))

    try:
        return asyncio.run(run())
    finally:
        scheduler.close()


def test_a_short_request_is_not_stuck_behind_a_heavy_one():
    """A heavy request (8 items x 200 steps, 16 rows each) is running when a short one (5 steps)
    arrives: the short one is stepped from the next round on and finishes within a few rounds,
    while the heavy one goes on in chunks."""
    trace: list[list[str]] = []
    heavy = [("heavy", (f"h{i}", 200), 16, 200) for i in range(8)]
    scheduler = Scheduler("fair", stepping(trace), max_rows=32, round_rows=40)
    run_flows(scheduler, [(0, heavy), (0.1, [("short", ("s", 5), 1, 5)])])
    short_steps = [t for t, names in enumerate(trace) if "s" in names]
    assert len(short_steps) == 5
    assert short_steps[-1] - short_steps[0] <= 2 * 5  # at most one heavy step between two of its own
    heavy_after = [names for names in trace[short_steps[-1] :] if names and names[0].startswith("h")]
    assert len(heavy_after) > 100  # the heavy request was far from done: the short one did not wait
    assert max(len(names) for names in trace) <= 2  # chunks of 32 rows: two heavy items at a time


def test_two_heavy_requests_take_turns():
    """Two equal heavy requests, the second arriving while the first runs: they share the
    model step for step, so the first is far from done when the second starts being served."""
    trace: list[list[str]] = []
    first = [("k1", (f"a{i}", 50), 16, 50) for i in range(4)]
    second = [("k2", (f"b{i}", 50), 16, 50) for i in range(4)]
    scheduler = Scheduler("turns", stepping(trace), max_rows=32, round_rows=32)
    run_flows(scheduler, [(0, first), (0.05, second)])
    owners = ["a" if names[0].startswith("a") else "b" for names in trace]
    b_start = owners.index("b")
    assert owners[:b_start].count("a") < 60  # the second came in early in the first's 100 steps...
    window = owners[b_start : b_start + 60]
    assert 25 <= window.count("b") <= 35  # ...and from then on each got about half the steps


def test_requests_arriving_during_a_short_call_wait_for_it_and_then_share_one():
    """Five requests arrive while a call with their key has at most 10 steps left: they wait for
    it (dynamic batching) and then run as one call, not five."""
    trace: list[list[str]] = []
    scheduler = Scheduler("join", stepping(trace, 0.005), join_steps=10)
    later = [(0.02, jobs((f"y{i}", 10), limit=10)) for i in range(5)]
    assert run_flows(scheduler, [(0, jobs(("x", 10), limit=10)), *later]) == [["x"]] + [[f"y{i}"] for i in range(5)]
    assert trace[:10] == [["x"]] * 10
    assert trace[10:] == [[f"y{i}" for i in range(5)]] * 10


def test_abandoned_work_leaves_the_queue_and_stops_decoding():
    """A request of six items (three chunks of two) gives up while its first chunk runs: that
    chunk stops between steps and the other chunks never start; a request sharing the model
    runs to its end."""
    trace: list[list[str]] = []
    abandoned: list[int] = []
    scheduler = Scheduler(
        "cancel", stepping(trace, 0.005), max_rows=2, on_abandoned=lambda name, n: abandoned.append(n)
    )

    async def run():
        heavy = asyncio.ensure_future(scheduler.submit(jobs(*[(f"a{i}", 1000) for i in range(6)], limit=1000)))
        other = asyncio.ensure_future(scheduler.submit(jobs(("b", 60), limit=60)))
        await asyncio.sleep(0.15)
        heavy.cancel()
        return await other

    try:
        assert asyncio.run(run()) == ["b"]
    finally:
        scheduler.close()
    ran = {name for names in trace for name in names}
    assert {"a0", "a1", "b"} <= ran and not ran & {"a2", "a3", "a4", "a5"}
    assert 0 < sum("a0" in names for names in trace) < 60  # stopped long before its 1000 steps
    assert sum(abandoned) == 6


def test_a_lone_call_is_stepped_in_bursts_yet_stops_soon_when_its_caller_leaves():
    """A request running alone is stepped without a round's bookkeeping, and still stops within a
    few steps of its caller giving up: its item leaves the call and the call is closed."""
    trace: list[list[str]] = []
    abandoned: list[int] = []
    scheduler = Scheduler("lone", stepping(trace, 0.005), on_abandoned=lambda name, n: abandoned.append(n))

    async def run():
        lone = asyncio.ensure_future(scheduler.submit(jobs(("a", 1000), limit=1000)))
        await asyncio.sleep(0.1)
        lone.cancel()
        stopped_at = len(trace)
        await asyncio.sleep(0.1)
        return stopped_at

    try:
        stopped_at = asyncio.run(run())
    finally:
        scheduler.close()
    assert len(trace) <= stopped_at + 3  # stopped within a step or two, not at the end of a burst
    assert abandoned == [1] and scheduler.depth == 0


def test_a_finished_call_answers_its_callers_with_one_hop_to_their_loop():
    """Ten callers sharing one call are answered by one callback on their event loop, not ten."""
    hops: list[int] = []

    async def run():
        loop = asyncio.get_running_loop()
        threadsafe = loop.call_soon_threadsafe

        def counted(callback, *args):
            hops.append(1)
            return threadsafe(callback, *args)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        scheduler = Scheduler("hops", instant(), max_wait_ms=50)
        try:
            return await asyncio.gather(*(scheduler.submit(jobs(i)) for i in range(10)))
        finally:
            scheduler.close()

    assert asyncio.run(run()) == [[(0, i, 2 * i)] for i in range(10)]
    assert len(hops) == 1


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
        for scheduler in client.app.state.registry.schedulers.values():
            scheduler.max_queue = 0
        response = client.post("/translate", json={"text": "ab cd"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1" and "busy" in response.json()["message"]


def test_timeout_is_503_with_message(settings_for):
    with TestClient(create_app(settings_for(request_timeout_s=1e-6))) as client:
        response = client.post("/translate", json={"text": "ab cd ef gh", "beam_size": 16})
    assert response.status_code == 503 and "ATTNSERVE_REQUEST_TIMEOUT_S" in response.json()["message"]


def test_a_request_over_the_cost_cap_is_422_naming_the_limit_and_the_setting(settings_for):
    text = "ab cd ef gh"
    with TestClient(create_app(settings_for(max_request_cost=120))) as client:
        at_cap = client.post("/translate/batch", json={"texts": [text], "beam_size": 2, "max_length": 50})
        over = client.post("/translate/batch", json={"texts": [text, text], "beam_size": 2, "max_length": 50})
        single = client.post("/translate", json={"text": text, "beam_size": 3, "max_length": 50})
        # over the cap after two of three texts: refused before the third is read
        early = client.post("/translate/batch", json={"texts": [text] * 3, "beam_size": 2, "max_length": 50})
    assert at_cap.status_code == 200, at_cap.text
    assert early.status_code == 422 and " or more " in early.json()["message"]
    assert " or more " not in over.json()["message"]  # every text read: the figure is the request's
    assert over.status_code == 422 and single.status_code == 422
    message = over.json()["message"]
    assert message.startswith("body.texts: costs ") and "over the 120 one request may cost" in message
    assert "ATTNSERVE_MAX_REQUEST_COST" in message
    assert single.json()["detail"][0]["loc"] == ["body", "text"]


def test_the_cost_grows_with_the_source(settings_for):
    """Equal beam and output limit: a text of many pieces costs more than a short one (the
    attention reads every source piece at every step), so a cap can pass one and refuse the other."""
    short, long = "ab cd", " ".join(["ab cd ef gh"] * 30)
    with TestClient(create_app(settings_for(max_request_cost=10**9))) as client:
        pieces = {}
        for name, text in (("short", short), ("long", long)):
            reply = client.post("/translate", json={"text": text, "beam_size": 2, "max_length": 20})
            assert reply.status_code == 200, reply.text
            pieces[name] = len(reply.json()["source_tokens"])
    assert pieces["short"] < 32 and pieces["long"] > 64  # twice the work of a very short source, and more
    with TestClient(create_app(settings_for(max_request_cost=2 * 20 * 2))) as client:
        assert client.post("/translate", json={"text": short, "beam_size": 2, "max_length": 20}).status_code == 200
        refused = client.post("/translate", json={"text": long, "beam_size": 2, "max_length": 20})
    assert refused.status_code == 422 and "source pieces" in refused.json()["message"]


def test_an_answer_over_the_weights_cap_is_422_naming_the_setting(settings_for):
    """The attention weights an answer may carry: each alternative brings its own matrix."""
    text = "ab cd ef gh"
    with TestClient(create_app(settings_for(max_answer_weights=10**9))) as client:
        pieces = len(client.post("/translate", json={"text": text}).json()["source_tokens"])
    body = {"text": text, "beam_size": 4, "max_length": 20}
    # one sentence: its matrix is answered twice (top level and its segment)
    with TestClient(create_app(settings_for(max_answer_weights=2 * 20 * pieces))) as client:
        one = client.post("/translate", json=body)
        three = client.post("/translate", json={**body, "alternatives": 2})
    assert one.status_code == 200, one.text
    assert three.status_code == 422 and three.json()["detail"][0]["loc"] == ["body", "text"]
    assert "attention weights" in three.json()["message"] and "ATTNSERVE_MAX_ANSWER_WEIGHTS" in three.json()["message"]


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_a_client_that_leaves_stops_its_work(tiny_translator_dir, tmp_path):
    """A heavy batch whose client disconnects after half a second: the server stops it (items
    dropped from the queue or mid-decoding are counted), counts the request as 499, and is idle
    again at once instead of decoding for nobody."""
    env = {
        "ATTNSERVE_CHECKPOINT_DIR": str(tiny_translator_dir.parent),
        "ATTNSERVE_MODELS": tiny_translator_dir.name,
        "ATTNSERVE_BATCH_MAX_ROWS": "16",  # one text of beam 16 per call: many calls in a row
        "ATTNSERVE_REQUEST_TIMEOUT_S": "300",
        "ATTNSERVE_MAX_REQUEST_COST": str(10**9),  # both caps out of the way: the work is the point
        "ATTNSERVE_MAX_ANSWER_WEIGHTS": str(10**9),
    }
    log = open(tmp_path / "server.log", "w+b")
    server, base = start_uvicorn(env, log)
    try:
        texts = [" ".join([src] * 30)[:990] for src, _ in reverse_pairs(64, seed=7)]
        body = json.dumps({"texts": texts, "beam_size": 16, "max_length": 256}).encode()
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as conn:
            head = "POST /translate/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            conn.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            time.sleep(0.5)
        for _ in range(100):
            metrics = httpx.get(f"{base}/metrics", timeout=5).text
            if metric(metrics, "attnserve_queue_depth{") == 0 and 'status="499"' in metrics:
                break
            time.sleep(0.05)
        assert metric(metrics, "attnserve_queue_depth{") == 0, "the abandoned batch is still queued or running"
        assert metric(metrics, "attnserve_abandoned_items_total{") >= 32  # most of the 64 never ran
        assert metric(metrics, 'attnserve_requests_total{endpoint="/translate/batch",method="POST",status="499"') == 1
    finally:
        server.terminate()
        server.wait(30)


def test_a_short_request_overtakes_a_heavy_batch_over_http(settings_for):
    """The starvation scenario, scaled down: a heavy batch (64 long texts, beam 16, max_length
    256) is being decoded when a short greedy request arrives; the short one is answered while
    the heavy batch is still running (a FIFO queue answered it only after the whole batch)."""
    heavy = {"texts": [" ".join([s] * 30)[:990] for s, _ in reverse_pairs(64, seed=11)], "beam_size": 16}
    settings = settings_for(max_request_cost=10**9, max_answer_weights=10**9, request_timeout_s=300)
    with TestClient(create_app(settings)) as client, ThreadPoolExecutor(2) as pool:
        done: dict[str, float] = {}

        def post(name, path, body):
            response = client.post(path, json=body)
            done[name] = time.monotonic()
            return response.status_code

        batch = pool.submit(post, "heavy", "/translate/batch", {**heavy, "max_length": 256})
        while "heavy" not in done and metric(client.get("/metrics").text, "attnserve_queue_depth{") < 64:
            time.sleep(0.01)  # the whole batch is in the scheduler
        short = pool.submit(post, "short", "/translate", {"text": "ab cd ef", "beam_size": 1})
        assert short.result() == 200 and batch.result() == 200
    assert done["short"] < done["heavy"]
