"""Load benchmark: N concurrent clients for T seconds against a live server.

    .venv/bin/python -m bench.load [--checkpoint-dir checkpoints] [--seconds 10] [--clients 1,8,32]

Starts `uvicorn app.main:app` itself on a free port, once with dynamic batching on
(ATTNSERVE_BATCH_MAX_SIZE=32) and once off (=1), and drives POST /translate (greedy and beam 5
mixed) from asyncio clients. Prints throughput and p50/p95/p99 latency per setting with the
batching-off figure beside each, the end-to-end p50 at one client over the in-process model call
for the same input, and /forecast/batch forecasts/s over one-request-per-forecast.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

SENTENCES = ["I am hungry.", "Where is the station?", "Tom doesn't like cheese.",
             "We will leave tomorrow morning.", "Can you help me with my homework?",
             "She has been living in Paris for three years.", "It is raining again.",
             "I don't know what to do.", "The children are playing in the garden.",
             "Please close the door when you leave."]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, seconds: float) -> bool:
    """Poll ``url`` until it answers 200 (True), ``proc`` exits or ``seconds`` pass (False)."""
    for _ in range(int(seconds * 10)):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


class Server:
    def __init__(self, checkpoint_dir: str, batch_max_size: int, threads: int | None):
        self.port = free_port()
        env = {**os.environ, "ATTNSERVE_CHECKPOINT_DIR": checkpoint_dir,
               "ATTNSERVE_BATCH_MAX_SIZE": str(batch_max_size), "ATTNSERVE_QUEUE_MAX": "100000"}
        if threads:
            env["ATTNSERVE_TORCH_THREADS"] = str(threads)
        self.proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--port",
                                      str(self.port), "--log-level", "warning"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        if not wait_ready(f"{self.url}/readyz", self.proc, 60):
            raise SystemExit("server did not become ready")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


async def drive(url: str, clients: int, seconds: float, seed: int = 0) -> dict:
    rng = random.Random(seed)
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        async def worker():
            nonlocal errors
            while time.perf_counter() < stop:
                body = {"text": rng.choice(SENTENCES), "beam_size": rng.choice([1, 5])}
                tick = time.perf_counter()
                response = await client.post("/translate", json=body)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - tick)
                else:
                    errors += 1
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    q = np.percentile(latencies, [50, 95, 99]) * 1000 if latencies else [float("nan")] * 3
    return {"rps": len(latencies) / elapsed, "p50": q[0], "p95": q[1], "p99": q[2], "errors": errors}


def in_process_p50(checkpoint_dir: str, text: str, beam: int, threads: int | None,
                   repeats: int = 100) -> float:
    import torch

    from models.translator import Translator

    if threads:
        torch.set_num_threads(threads)
    translator = Translator.load(Path(checkpoint_dir) / "translator-en-fr")
    for _ in range(10):  # warm-up, as the server had
        translator.translate([text], beam)
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        translator.translate([text], beam)
        times.append(time.perf_counter() - tick)
    return statistics.median(times) * 1000


def http_p50(url: str, text: str, beam: int, repeats: int = 100) -> float:
    times = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(repeats):
            tick = time.perf_counter()
            client.post("/translate", json={"text": text, "beam_size": beam}).raise_for_status()
            times.append(time.perf_counter() - tick)
    return statistics.median(times) * 1000


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
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint-dir", default="checkpoints")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--clients", default="1,8,32")
    p.add_argument("--threads", type=int, default=None, help="ATTNSERVE_TORCH_THREADS for the server")
    args = p.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]
    results: dict[tuple[str, int], dict] = {}
    for mode, size in (("off", 1), ("on", 32)):
        server = Server(args.checkpoint_dir, size, args.threads)
        try:
            asyncio.run(drive(server.url, 2, 2))  # warm-up
            for clients in counts:
                results[(mode, clients)] = asyncio.run(drive(server.url, clients, args.seconds))
            if mode == "on":
                text = SENTENCES[1]
                e2e = http_p50(server.url, text, 5)
                single, batch = forecast_rates(server.url)
        finally:
            server.close()
    model = in_process_p50(args.checkpoint_dir, SENTENCES[1], 5, args.threads)
    print(f"/translate, greedy and beam 5 mixed, {args.seconds:g} s per row\n")
    print("| clients | batching | req/s | x off | p50 ms | p95 ms | p99 ms | errors |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for clients in counts:
        off = results[("off", clients)]
        for mode in ("off", "on"):
            r = results[(mode, clients)]
            print(f"| {clients} | {mode} | {r['rps']:.1f} | {r['rps'] / off['rps']:.2f} | {r['p50']:.1f} | "
                  f"{r['p95']:.1f} | {r['p99']:.1f} | {r['errors']} |")
    print(f"\n| one client, beam 5 | p50 ms | x model call |\n|---|---:|---:|\n"
          f"| in-process Translator.translate | {model:.1f} | 1.00 |\n"
          f"| HTTP POST /translate | {e2e:.1f} | {e2e / model:.2f} |")
    print(f"\n| forecasts | per second | x one per request |\n|---|---:|---:|\n"
          f"| POST /forecast, one at a time | {single:.1f} | 1.00 |\n"
          f"| POST /forecast/batch (256 series) | {batch:.1f} | {batch / single:.2f} |")


if __name__ == "__main__":
    main()
