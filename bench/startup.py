"""Start-up time and resident memory of one service process, per set of loaded checkpoints.

    python -m bench.startup --sets translator-en-fr translator-en-fr,translator-multi,forecaster-sp500

For each comma-separated set: start ``uvicorn app.main:app`` with ``ATTNSERVE_MODELS`` set to it,
time from the spawn to the first 200 of ``/readyz`` (every model loaded), then read the process's
resident memory (``VmRSS``) after one request per loaded translator direction has warmed it up.
Prints one markdown row per set, best of ``--repeat`` starts; the first set is the baseline the
others are divided by.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import attnserve
from training.cli import parser


def get(url: str, body: dict | None = None) -> tuple[int, Any]:
    response = httpx.post(url, json=body, timeout=60) if body is not None else httpx.get(url, timeout=60)
    return response.status_code, response.json()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def warm_up(base: str) -> int:
    """One short translation per served direction -> how many directions answered 200."""
    status, models = get(f"{base}/models")
    directions = {d for m in models if m.get("task") == "translation" for d in m.get("directions") or []}
    answered = 0
    for direction in sorted(directions):
        source, _, target = direction.partition("-")
        code, _ = get(f"{base}/translate", {"text": "Hello.", "source_lang": source, "target_lang": target})
        answered += code == 200
    return answered


def measure(models: str, checkpoint_dir: str, timeout: float) -> dict:
    """Start one process with ``models`` loaded -> seconds to ready, resident MB, directions."""
    started = time.perf_counter()
    with attnserve(checkpoint_dir, 32, None, {"ATTNSERVE_MODELS": models}, seconds=timeout) as server:
        ready = time.perf_counter() - started
        idle = rss_mb(server.proc.pid)
        directions = warm_up(server.url)
        return {"ready_s": ready, "rss_idle_mb": idle, "rss_mb": rss_mb(server.proc.pid), "directions": directions}


def parse_args(argv=None) -> argparse.Namespace:
    p = parser("bench.startup", __doc__)
    p.add_argument(
        "--sets", nargs="+", required=True, help="comma-separated checkpoint sets; the first is the baseline"
    )
    p.add_argument("--checkpoint-dir", default="checkpoints", help="folder holding the checkpoints")
    p.add_argument("--repeat", type=int, default=3, help="starts per set (the fastest is reported)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds a start may take")
    return p.parse_args(argv)


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    rows = []
    for models in args.sets:
        runs = [measure(models, args.checkpoint_dir, args.timeout) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["ready_s"])
        size = sum(p.stat().st_size for m in models.split(",") for p in (Path(args.checkpoint_dir) / m).iterdir())
        rows.append({"models": models, "checkpoint_mb": size / 1e6, **best})
    base = rows[0]
    print(
        "| models | checkpoints on disk (MB) | start-up to ready (s) | x baseline | resident after warm-up (MB) "
        "| x baseline | directions answered |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['models']} | {r['checkpoint_mb']:.1f} | {r['ready_s']:.2f} | {r['ready_s'] / base['ready_s']:.2f} "
            f"| {r['rss_mb']:.0f} | {r['rss_mb'] / base['rss_mb']:.2f} | {r['directions']} |"
        )
    return rows


if __name__ == "__main__":
    main()
