"""The scheduler's own cost: a model whose steps cost nothing, driven by concurrent asyncio callers.

    .venv/bin/python -m bench.scheduler_overhead [--requests 2000]

Prints microseconds per decoding step (one ``next()`` of a model call) and per request, at 1, 16 and 64
callers (greedy and beam-5 keys alternating, batching on) and at 16 with batching off: the worker's round
bookkeeping and the hops between its thread and the callers' event loop, without any model work. Run it
from another commit's worktree to compare before and after a change.
"""

from __future__ import annotations

import asyncio
import time

from app.core.scheduler import Scheduler
from training.cli import parser


def measure(clients: int, requests: int, max_size: int) -> tuple[float, float]:
    """-> (us per step, us per request)."""
    steps = 0

    def run_steps(key, items, dropped):
        nonlocal steps
        for _ in range(key[1]):
            steps += 1
            yield
        return [None] * len(items)

    async def client(scheduler: Scheduler, beam: int, n: int) -> None:
        for i in range(n):
            await scheduler.submit([((beam, 20 + i % 7), i, beam, 40)])

    async def main() -> float:
        scheduler = Scheduler("overhead", run_steps, max_size=max_size)
        tick = time.perf_counter()
        try:
            await asyncio.gather(*(client(scheduler, (1, 5)[c % 2], requests // clients) for c in range(clients)))
        finally:
            scheduler.close()
        return time.perf_counter() - tick

    seconds = asyncio.run(main())
    return seconds * 1e6 / steps, seconds * 1e6 / (requests // clients * clients)


def main(argv=None) -> None:
    p = parser("bench.scheduler_overhead", __doc__)
    p.add_argument("--requests", type=int, default=2000, help="requests per row")
    args = p.parse_args(argv)
    print("| callers | batching | us per step | us per request |\n|---:|---|---:|---:|")
    for clients, size in ((1, 32), (16, 32), (16, 1), (64, 32)):
        step, request = measure(clients, args.requests, size)
        print(f"| {clients} | {'on' if size > 1 else 'off'} | {step:.1f} | {request:.0f} |")


if __name__ == "__main__":
    main()
