"""Fair scheduling: short greedy requests while heavy batches run back to back.

    .venv/bin/python -m bench.fairness [--seconds 20] [--short-clients 4] [--heavy-clients 2]
                                       [--threads 2] [--server-root DIR] [--out FILE]

Heavy: each heavy client sends the batch of the serving issue again as soon as it is answered:
64 texts of about 1,000 characters (our benchmark sentences joined), beam 16, max_length 256. Short:
``--short-clients`` clients sending greedy ``POST /translate`` of one benchmark sentence each.
Every scenario starts its own server (shipped checkpoints):

- idle: the short clients alone, the baseline of every ratio;
- heavy at the cost cap: 16 such texts (16 x 16 x 256 = 65,536 decoding steps, the default cap);
- the issue's batch (64 texts, 262,144 steps) with default settings: refused by the cost cap;
- the issue's batch with ``ATTNSERVE_MAX_REQUEST_COST`` raised so that it runs: the scheduler alone.

``--server-root`` runs the servers from another checkout (e.g. ``git worktree add /tmp/old <commit>``)
to measure the server before a change with the same client code.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.common import ROOT, SENTENCES, BenchError, attnserve, drive, translate_call
from training.cli import parser

HEAVY_TEXT_CHARS = 990
ISSUE_BATCH = 64
AT_CAP = 16
RAISED = {"ATTNSERVE_MAX_REQUEST_COST": str(ISSUE_BATCH * 16 * 256)}


def heavy_texts(n: int) -> list[str]:
    """``n`` distinct texts of about ``HEAVY_TEXT_CHARS`` characters."""
    texts = []
    for i in range(n):
        words = " ".join(SENTENCES[(i + j) % len(SENTENCES)] for j in range(200))
        texts.append(words[:HEAVY_TEXT_CHARS].rsplit(" ", 1)[0])
    return texts


class HeavyClients:
    """``clients`` threads posting the heavy batch back to back until ``stop``; statuses and the
    seconds of each answered batch."""

    def __init__(self, url: str, texts: list[str], clients: int):
        self.body = {"texts": texts, "beam_size": 16, "max_length": 256}
        self.url = url
        self.statuses: Counter[int | str] = Counter()  # HTTP status, or "error" for no answer
        self.seconds: list[float] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(clients)]

    def _loop(self) -> None:
        with httpx.Client(base_url=self.url, timeout=300) as client:
            while not self.stopping.is_set():
                tick = time.perf_counter()
                status: int | str
                try:
                    status = client.post("/translate/batch", json=self.body).status_code
                except httpx.HTTPError:
                    status = "error"
                self.statuses[status] += 1
                if status == 200:
                    self.seconds.append(time.perf_counter() - tick)

    def __enter__(self) -> HeavyClients:
        for thread in self.threads:
            thread.start()
        time.sleep(2)  # every heavy batch is in the server before the short clients start
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()  # threads still inside a request end with the server


def scenario(args, heavy: int, settings: dict[str, str] | None) -> dict:
    short = lambda rng: translate_call(rng.choice(SENTENCES), 1)  # noqa: E731
    with attnserve(args.checkpoint_dir, 32, args.threads, settings, root=args.server_root) as server:
        drive(server.url, short, 1, 1.0)  # warm-up
        if not heavy:
            return {**drive(server.url, short, args.short_clients, args.seconds), "heavy": None}
        with HeavyClients(server.url, heavy_texts(heavy), args.heavy_clients) as clients:
            result = drive(server.url, short, args.short_clients, args.seconds, timeout=120)
        return {**result, "heavy": clients}


def main(argv: list[str] | None = None) -> None:
    p = parser("bench.fairness", __doc__)
    p.add_argument("--checkpoint-dir", default="checkpoints", help="checkpoints to serve")
    p.add_argument("--seconds", type=float, default=20, help="seconds of short traffic per scenario")
    p.add_argument("--short-clients", type=int, default=4, help="concurrent short clients")
    p.add_argument("--heavy-clients", type=int, default=2, help="clients sending heavy batches")
    p.add_argument("--threads", type=int, default=2, help="torch threads of the server")
    p.add_argument("--server-root", type=Path, default=ROOT, help="checkout the server runs from")
    p.add_argument("--out", type=Path, default=None, help="also write the table to this file (default: none)")
    args = p.parse_args(argv)
    args.checkpoint_dir = str(Path(args.checkpoint_dir).resolve())
    rows = [
        ("idle (baseline)", 0, None),
        (f"heavy at the cost cap ({AT_CAP} texts)", AT_CAP, None),
        (f"the issue's batch ({ISSUE_BATCH} texts), default settings", ISSUE_BATCH, None),
        (f"the issue's batch, ATTNSERVE_MAX_REQUEST_COST={RAISED['ATTNSERVE_MAX_REQUEST_COST']}", ISSUE_BATCH, RAISED),
    ]
    lines = [
        f"short: {args.short_clients} clients, greedy /translate, {args.seconds:g} s per row; heavy: "
        f"{args.heavy_clients} clients, /translate/batch of ~{HEAVY_TEXT_CHARS}-character texts, beam 16, "
        f"max_length 256, back to back; server from {args.server_root}, {args.threads} torch threads",
        "",
        "| scenario | short req/s | p50 ms | p95 ms | p99 ms | p95 / idle | short errors "
        "| heavy 200 | heavy 422 | heavy other | heavy s (mean) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    idle_p95 = None
    try:
        for name, heavy, settings in rows:
            r = scenario(args, heavy, settings)
            idle_p95 = idle_p95 or r["p95"]
            clients = r["heavy"]
            counts: Counter[int | str] = clients.statuses if clients else Counter()
            other = sum(v for k, v in counts.items() if k not in (200, 422))
            mean = f"{sum(clients.seconds) / len(clients.seconds):.1f}" if clients and clients.seconds else "-"
            heavy_cells = f"{counts[200]} | {counts[422]} | {other} | {mean}" if clients else "- | - | - | -"
            lines.append(
                f"| {name} | {r['rps']:.1f} | {r['p50']:.0f} | {r['p95']:.0f} | {r['p99']:.0f} "
                f"| {r['p95'] / idle_p95:.2f} | {r['errors']} | {heavy_cells} |"
            )
            print(lines[-1], file=sys.stderr, flush=True)
            if r["errors"]:
                print(f"  first short error: {r['first_error']}", file=sys.stderr)
    except BenchError as exc:
        sys.exit(f"bench.fairness: {exc}")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
