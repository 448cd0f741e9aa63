"""Fair, cost-aware scheduling of one model's calls on a dedicated worker thread.

Terms:
- a **job** is one item (a text, a series) of one request, with the key its model call needs
  (items with different decoding options cannot share a call) and its ``rows``: the decoder rows
  it keeps busy at every step (its beam size; 1 for a series);
- a **flow** is the jobs of one request (one ``submit`` call);
- a **task** is a model call in progress: a step generator (``models.translation.search``) over a chunk of
  jobs that share a key, at most ``max_rows`` rows and ``max_size`` jobs.

The worker runs rounds. Each round it takes new submissions, gives every flow that has waiting
jobs and no task a new task (its jobs that share its first job's key, topped up with same-key
jobs of other idle flows), then advances the tasks **one decoding step each**, least-served flow
first, until ``round_rows`` rows have been stepped. A flow's service is the rows x steps it has
received; a new flow starts level with the least-served flow already waiting. So a short request
arriving behind a heavy batch is stepped from the next round on, the heavy batch goes on in
chunks that take turns, and two heavy flows share alike.

Dynamic batching: new jobs whose key a running task shares wait for that task when it will end
within ``join_steps`` steps (its longest job's step limit), and then start together in one call;
so concurrent short requests still share calls, and nobody waits long behind a long task.

Abandoned work stops: a job whose caller gave up (timeout, disconnect: its future is cancelled)
leaves the queue, and a running task stops decoding its rows between steps; a task nobody waits
for is closed. The number of unfinished jobs is bounded (``max_queue``: ``Overloaded`` at once
rather than unbounded memory). ``close`` lets everything submitted finish and answer, then stops
the worker; later submissions are refused (``Overloaded``).

Cheap rounds: the worker looks for abandoned work only after a caller gave up, starts tasks only
after an arrival or a task's end, keeps its running tasks in a list of their own, and answers a
finished task's callers with one hop to their event loop. While one task runs alone and nothing
arrives, it takes up to ``burst`` steps at a time without a round's bookkeeping: an arrival or a
caller giving up ends the burst at the next step, so a short request still starts a step later.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("attnserve.scheduler")
# (key, items, dropped) -> a generator yielding between decoding steps and returning the results
RunSteps = Callable[[Hashable, list[Any], Callable[[int], bool]], Generator[None, None, list[Any]]]


class Overloaded(Exception):
    """Too much unfinished work; the caller should retry later."""


@dataclass(eq=False)
class _Job:
    key: Hashable
    item: Any
    rows: int
    limit: int  # the most decoding steps it may take
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    flow: _Flow

    @property
    def abandoned(self) -> bool:
        return self.future.done()  # only the caller's cancellation settles it before we do


@dataclass(eq=False)
class _Flow:
    order: int  # arrival, the tie-break between equally served flows
    waiting: deque[_Job] = field(default_factory=deque)
    task: _Task | None = None
    served: float = 0.0  # rows x steps received


@dataclass(eq=False)
class _Task:
    jobs: list[_Job]
    steps: Generator[None, None, list[Any]] | None = None
    taken: int = 0  # decoding steps so far

    @property
    def steps_left(self) -> int:
        """The most steps it may still take."""
        return max(job.limit for job in self.jobs) - self.taken

    @property
    def rows(self) -> int:
        return sum(job.rows for job in self.jobs if not job.abandoned)

    def priority(self) -> tuple[float, int]:
        return min((job.flow.served, job.flow.order) for job in self.jobs)


class Scheduler:
    def __init__(
        self,
        name: str,
        run_steps: RunSteps,
        max_size: int = 32,
        max_wait_ms: float = 0.0,
        max_queue: int = 1024,
        max_rows: int = 64,
        round_rows: int = 128,
        join_steps: int = 32,
        burst: int = 16,
        on_batch: Callable[[str, int], None] | None = None,
        on_abandoned: Callable[[str, int], None] | None = None,
    ):
        self.name, self.run_steps = name, run_steps
        self.max_size, self.max_wait, self.max_queue = max_size, max_wait_ms / 1000, max_queue
        self.max_rows, self.round_rows, self.join_steps = max_rows, round_rows, join_steps
        self.burst = max(1, burst)
        self.on_batch, self.on_abandoned = on_batch, on_abandoned
        self._inbox: queue.Queue[list[_Job] | None] = queue.Queue()
        self._lock = threading.Lock()  # guards _unfinished and _closed
        self._unfinished = 0
        self._closed = False
        self._arrivals = itertools.count()
        self._flows: list[_Flow] = []  # flows with waiting jobs or a task (worker thread only)
        self._tasks: list[_Task] = []  # the running tasks (worker thread only)
        self._gave_up = 0  # callers that gave up: bumped by their event loop, read by the worker
        self._seen_gave_up = 0
        self._changed = False  # a flow arrived or a task ended since tasks were last started
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name=f"scheduler-{name}", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Jobs submitted and not yet answered."""
        return self._unfinished

    async def submit(self, jobs: list[tuple[Hashable, Any, int, int]]) -> list[Any]:
        """One request's (key, item, rows, most steps) jobs -> their results, in order."""
        loop = asyncio.get_running_loop()
        flow = _Flow(next(self._arrivals))
        queued = [_Job(key, item, rows, limit, loop.create_future(), loop, flow) for key, item, rows, limit in jobs]
        with self._lock:
            if self._closed:
                raise Overloaded(f"{self.name}: shutting down")
            if self._unfinished + len(queued) > self.max_queue:
                raise Overloaded(
                    f"{self.name}: {self._unfinished} items already waiting (queue holds {self.max_queue})"
                )
            self._unfinished += len(queued)
            self._inbox.put(queued)
        try:
            return list(await asyncio.gather(*(job.future for job in queued)))
        except BaseException:
            for job in queued:  # the caller gave up (timeout, disconnect) or one item failed
                job.future.cancel()
            self._gave_up += 1  # the worker looks for abandoned work at its next step
            raise

    def close(self) -> None:
        """Finish what was submitted (each caller gets its result), then stop the worker."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._inbox.put(None)
        self._thread.join()

    # --- worker thread ---

    def _work(self) -> None:
        while not (self._stopping and not self._flows):
            self._take(block=not self._flows)
            if self._gave_up != self._seen_gave_up:
                self._seen_gave_up = self._gave_up
                self._drop_abandoned()
            if self._changed:
                self._changed = False
                self._start_tasks()
            if len(self._tasks) == 1 and self._alone(self._tasks[0]):
                self._burst(self._tasks[0])
            else:
                self._step_round()

    def _alone(self, task: _Task) -> bool:
        """Whether no other flow could start a task before ``task`` ends: every flow without a
        task waits to join it."""
        key = task.jobs[0].key
        joining = task.steps_left <= self.join_steps
        return all(f.task is not None or (joining and f.waiting[0].key == key) for f in self._flows)

    def _burst(self, task: _Task) -> None:
        """Up to ``burst`` steps of the only running task, until it ends, something arrives or a
        caller gives up."""
        for _ in range(self.burst):
            if not self._step(task):
                return
            for job in task.jobs:
                job.flow.served += job.rows
            if self._gave_up != self._seen_gave_up or not self._inbox.empty():
                return

    def _take(self, block: bool) -> None:
        """Move submissions from the inbox into flows; ``block``: wait for the first one (and
        then up to ``max_wait`` for more, to fill a batch)."""
        deadline = None
        while not self._stopping:
            try:
                if block:
                    jobs = self._inbox.get()
                    block, deadline = False, time.monotonic() + self.max_wait
                elif deadline is not None and (left := deadline - time.monotonic()) > 0:
                    jobs = self._inbox.get(timeout=left)
                elif self._inbox.empty():  # no exception raised and caught every round
                    return
                else:
                    jobs = self._inbox.get_nowait()
            except queue.Empty:
                return
            if jobs is None:
                self._stopping = True
                return
            flow = jobs[0].flow if jobs else None
            if flow is None:
                continue
            self._changed = True
            busy = [f.served for f in self._flows]
            flow.served = min(busy) if busy else 0.0  # level with the least served, never ahead
            flow.waiting.extend(jobs)
            self._flows.append(flow)
            if deadline is not None and sum(len(f.waiting) for f in self._flows) >= self.max_size:
                deadline = None

    def _drop_abandoned(self) -> None:
        for flow in self._flows:
            gone = [job for job in flow.waiting if job.abandoned]
            if gone:
                flow.waiting = deque(job for job in flow.waiting if not job.abandoned)
                self._finished(gone)
        for task in list(self._tasks):
            if all(job.abandoned for job in task.jobs):
                if task.steps is not None:
                    task.steps.close()
                self._end(task)
        self._flows = [f for f in self._flows if f.waiting or f.task is not None]
        self._changed = True

    def _start_tasks(self) -> None:
        idle = sorted((f for f in self._flows if f.task is None and f.waiting), key=lambda f: (f.served, f.order))
        # keys whose running call ends within join_steps: their new items wait for it and then
        # share one call (dynamic batching), rather than each running a call of its own
        joining = {task.jobs[0].key for task in self._tasks if task.steps_left <= self.join_steps}
        gone: list[_Job] = []  # given up on since the last look: never started
        for flow in idle:
            if flow.task is not None or not flow.waiting or flow.waiting[0].key in joining:
                continue
            task = _Task([])
            key = flow.waiting[0].key
            for donor in [flow, *(f for f in idle if f.task is None and f is not flow)]:
                taken: set[int] = set()
                for job in donor.waiting:
                    if job.abandoned:
                        gone.append(job)
                        taken.add(id(job))
                    elif job.key == key and self._fits(task, job):
                        task.jobs.append(job)
                        taken.add(id(job))
                        donor.task = task
                if taken:
                    donor.waiting = deque(job for job in donor.waiting if id(job) not in taken)
            if task.jobs:
                self._tasks.append(task)
        if gone:
            self._finished(gone)
            self._flows = [f for f in self._flows if f.waiting or f.task is not None]

    def _fits(self, task: _Task, job: _Job) -> bool:
        if not task.jobs:
            return True
        return len(task.jobs) < self.max_size and task.rows + job.rows <= self.max_rows

    def _step_round(self) -> None:
        tasks = sorted(self._tasks, key=_Task.priority) if len(self._tasks) > 1 else list(self._tasks)
        stepped = 0
        for task in tasks:
            rows = task.rows
            if stepped and stepped + rows > self.round_rows:
                continue
            stepped += rows
            self._step(task)
            for job in task.jobs:
                job.flow.served += job.rows

    def _step(self, task: _Task) -> bool:
        """One step of ``task``; False when it ended (its callers answered)."""
        try:
            if task.steps is None:
                if self.on_batch:
                    self.on_batch(self.name, len(task.jobs))
                jobs = task.jobs
                task.steps = self.run_steps(jobs[0].key, [job.item for job in jobs], lambda i: jobs[i].abandoned)
            next(task.steps)
            task.taken += 1
            return True
        except StopIteration as done:
            self._end(task)  # before settling: a settled job would look abandoned
            _answer(task.jobs, done.value, None)
        except Exception as exc:  # the callers get the error; the worker lives on
            log.exception("%s: model call on %d items failed", self.name, len(task.jobs))
            self._end(task)
            _answer(task.jobs, [None] * len(task.jobs), exc)
        return False

    def _end(self, task: _Task) -> None:
        for job in task.jobs:
            job.flow.task = None
        self._tasks.remove(task)
        self._changed = True
        self._finished(task.jobs)
        self._flows = [f for f in self._flows if f.waiting or f.task is not None]

    def _finished(self, jobs: list[_Job]) -> None:
        """Count ``jobs`` as answered (or given up on: those go to ``on_abandoned``)."""
        with self._lock:
            self._unfinished -= len(jobs)
        lost = sum(job.abandoned for job in jobs)
        if lost and self.on_abandoned:
            self.on_abandoned(self.name, lost)


def _answer(jobs: list[_Job], results: list[Any], error: BaseException | None) -> None:
    """Settle ``jobs``' futures with ``results`` (or ``error``): one hop to each event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for job, result in zip(jobs, results):
        by_loop.setdefault(job.loop, []).append((job.future, result))
    for loop, settled in by_loop.items():
        loop.call_soon_threadsafe(_settle, settled, error)


def _settle(settled: list[tuple[asyncio.Future[Any], Any]], error: BaseException | None) -> None:
    for future, result in settled:
        if future.done():  # the caller gave up (timeout, disconnect)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
