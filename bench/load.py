"""Load benchmark: N concurrent clients for T seconds against a live server.

    .venv/bin/python -m bench.load [--checkpoint-dir checkpoints] [--seconds 10] [--clients 1,8,32]

Starts `uvicorn app.main:app` itself on a free port, once with dynamic batching on
(ATTNSERVE_BATCH_MAX_SIZE=32) and once off (=1), and drives POST /translate (greedy and beam 5
mixed) from asyncio clients. Prints throughput and p50/p95/p99 latency per setting with the
batching-off figure beside each, the end-to-end p50 at one client over the in-process model call
for the same input, and /forecast/batch forecasts/s over one-request-per-forecast.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from bench.common import SENTENCES, BenchError, attnserve, drive, translate_call
from training.cli import parser


def mixed_call(rng):
    """One of SENTENCES, greedy or beam 5, at random."""
    return translate_call(rng.choice(SENTENCES), rng.choice([1, 5]))


def one_client(
    url: str, checkpoint_dir: str, text: str, threads: int | None, weights: str, rounds: int = 6, calls: int = 20
):
    """Median ms of one call at a time, in-process (``Translator.translate`` in this process, with
    the server's torch threads and weights) and over HTTP, per beam (1, 5). The two alternate in ``rounds``
    blocks of ``calls`` each, so a machine that speeds up or slows down during the run moves both."""
    import torch

    from models.translation.translator import Translator

    if threads:
        torch.set_num_threads(threads)
    translator = Translator.load(Path(checkpoint_dir) / "translator-en-fr")
    if weights == "int8":
        translator = translator.quantized()
    times: dict[tuple[str, int], list[float]] = {}
    with httpx.Client(base_url=url, timeout=60) as client:

        def http(beam: int) -> None:
            client.post("/translate", json={"text": text, "beam_size": beam}).raise_for_status()

        def local(beam: int) -> None:
            translator.translate([text], beam)

        for round_ in range(rounds + 1):  # the first round warms both up and is not kept
            for beam in (1, 5):
                for way, call in (("in-process", local), ("http", http)):
                    for _ in range(calls):
                        tick = time.perf_counter()
                        call(beam)
                        if round_:
                            times.setdefault((way, beam), []).append(time.perf_counter() - tick)
    return {key: statistics.median(values) * 1000 for key, values in times.items()}


def forecast_rates(url: str, n: int = 256) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    series = [list(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 80)))) for _ in range(n)]
    with httpx.Client(base_url=url, timeout=120) as client:
        tick = time.perf_counter()
        for s in series[:64]:
            client.post("/forecast", json={"prices": s}).raise_for_status()
        single = 64 / (time.perf_counter() - tick)
        tick = time.perf_counter()
        client.post("/forecast/batch", json={"series": [{"prices": s} for s in series]}).raise_for_status()
        batch = n / (time.perf_counter() - tick)
    return single, batch


def main(argv=None) -> None:
    p = parser("bench.load", __doc__)
    p.add_argument("--checkpoint-dir", default="checkpoints", help="checkpoints the server serves")
    p.add_argument("--seconds", type=float, default=10, help="seconds of traffic per row")
    p.add_argument("--clients", default="1,8,32", help="concurrent clients, one row each (comma-separated)")
    p.add_argument("--threads", type=int, default=None, help="ATTNSERVE_TORCH_THREADS for the server")
    p.add_argument("--weights", default="int8", choices=["int8", "float32"], help="ATTNSERVE_WEIGHTS for the server")
    args = p.parse_args(argv)
    try:
        report(args)
    except BenchError as exc:
        sys.exit(f"bench.load: {exc}")


def report(args) -> None:
    counts = [int(c) for c in args.clients.split(",")]
    results: dict[tuple[str, int], dict] = {}
    for mode, size in (("off", 1), ("on", 32)):
        with attnserve(args.checkpoint_dir, size, args.threads, {"ATTNSERVE_WEIGHTS": args.weights}) as server:
            drive(server.url, mixed_call, 2, 2)  # warm-up
            for clients in counts:
                results[(mode, clients)] = drive(server.url, mixed_call, clients, args.seconds, timeout=60)
            if mode == "on":
                alone = one_client(server.url, args.checkpoint_dir, SENTENCES[1], args.threads, args.weights)
                single, batch = forecast_rates(server.url)
    print(f"/translate, greedy and beam 5 mixed, {args.seconds:g} s per row\n")
    print("| clients | batching | req/s | x off | p50 ms | p95 ms | p99 ms | errors |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for clients in counts:
        off = results[("off", clients)]
        for mode in ("off", "on"):
            r = results[(mode, clients)]
            print(
                f"| {clients} | {mode} | {r['rps']:.1f} | {r['rps'] / off['rps']:.2f} | {r['p50']:.1f} | "
                f"{r['p95']:.1f} | {r['p99']:.1f} | {r['errors']} |"
            )
    print("\n| one client | in-process Translator.translate, p50 ms | HTTP POST /translate, p50 ms | x model call |")
    print("|---|---:|---:|---:|")
    for beam in (1, 5):
        model, e2e = alone[("in-process", beam)], alone[("http", beam)]
        print(f"| {'greedy' if beam == 1 else f'beam {beam}'} | {model:.1f} | {e2e:.1f} | {e2e / model:.2f} |")
    print(
        f"\n| forecasts | per second | x one per request |\n|---|---:|---:|\n"
        f"| POST /forecast, one at a time | {single:.1f} | 1.00 |\n"
        f"| POST /forecast/batch (256 series) | {batch:.1f} | {batch / single:.2f} |"
    )


if __name__ == "__main__":
    main()
