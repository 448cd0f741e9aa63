"""What the translate cost cap lets through, and how long it takes.

    .venv/bin/python -m bench.cost_cap [--checkpoint-dir checkpoints] [--threads N]

Starts our server (default settings: ``ATTNSERVE_MAX_REQUEST_COST``, ``ATTNSERVE_MAX_ANSWER_WEIGHTS``)
and posts requests near the caps to ``/translate/batch``: texts the model cannot end (a run of one
letter decodes to the 256-piece output limit, the worst case the cost counts) and long everyday
text. Prints, per request, the answer (200, or the 422's first words), its seconds and size, then
two of the slowest at once (the request timeout, ``ATTNSERVE_REQUEST_TIMEOUT_S``, is 30 s).
"""

from __future__ import annotations

import sys
import threading
import time

import httpx

from bench.common import SENTENCES, BenchError, attnserve
from training.cli import parser

PROSE = " ".join(SENTENCES * 20)[:990].rsplit(" ", 1)[0]
CASES = {
    "64 x 'a' * 1000, beam 1 (the issue's)": {"texts": ["a" * 1000] * 64, "beam_size": 1},
    "2 x 'a' * 1000, beam 1": {"texts": ["a" * 1000] * 2, "beam_size": 1},
    "1 x 'a' * 400, beam 16": {"texts": ["a" * 400], "beam_size": 16},
    "2 x 'a' * 500, beam 5": {"texts": ["a" * 500] * 2, "beam_size": 5},
    "2 x 990 characters of prose, beam 16, max_length 256": {
        "texts": [PROSE] * 2,
        "beam_size": 16,
        "max_length": 256,
    },
    "1 x 990 characters of prose, beam 16, max_length 256": {"texts": [PROSE], "beam_size": 16, "max_length": 256},
    "2 x 990 characters of prose, beam 16": {"texts": [PROSE] * 2, "beam_size": 16},
    "64 everyday sentences, beam 5": {"texts": (SENTENCES * 64)[:64], "beam_size": 5},
}
SLOW = "1 x 'a' * 400, beam 16"


def post(url: str, body: dict) -> tuple[int, float, int, str]:
    """-> status, seconds, answer bytes, the 422's message (else '')."""
    tick = time.perf_counter()
    response = httpx.post(url + "/translate/batch", json=body, timeout=300)
    seconds = time.perf_counter() - tick
    message = response.json().get("message", "") if response.status_code != 200 else ""
    return response.status_code, seconds, len(response.content), message


def main(argv: list[str] | None = None) -> None:
    p = parser("bench.cost_cap", __doc__)
    p.add_argument("--checkpoint-dir", default="checkpoints", help="checkpoints to serve")
    p.add_argument("--threads", type=int, default=None, help="torch threads of the server (default: its own)")
    args = p.parse_args(argv)
    print("| request | answer | seconds | answer MB |\n|---|---|---:|---:|")
    try:
        with attnserve(args.checkpoint_dir, 32, args.threads) as server:
            for name, body in CASES.items():
                status, seconds, size, message = post(server.url, body)
                answer = "200" if status == 200 else f"{status}: {message.split(' (')[0]}"
                print(f"| {name} | {answer} | {seconds:.1f} | {size / 1e6:.1f} |", flush=True)
            both: list[tuple[int, float]] = []
            threads = [
                threading.Thread(target=lambda: both.append(post(server.url, CASES[SLOW])[:2])) for _ in range(2)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            print(
                f"| two of '{SLOW}' at once | {', '.join(str(s) for s, _ in both)} | {max(t for _, t in both):.1f} | |"
            )
    except BenchError as exc:
        sys.exit(f"bench.cost_cap: {exc}")


if __name__ == "__main__":
    main()
