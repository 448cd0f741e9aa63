"""What the benchmarks share: paths, our training split, servers on free ports and their
readiness, the concurrent HTTP client driver, and the peer toolkits' own venvs.

Benchmarks raise ``BenchError`` when they cannot go on; only their ``main()`` turns it into an
exit code. Nothing here changes the working directory: paths are absolute (``ROOT``) or the
caller's, and subprocesses get their ``cwd`` explicitly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shlex
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "work" / "peers"  # the peers' venvs, data, checkpoints and logs (git-ignored)
CHECKPOINTS = ROOT / "checkpoints"
SPM = CHECKPOINTS / "translator-en-fr" / "spm.model"  # the shipped translator's vocabulary
SENTENCES = [
    "I am hungry.",
    "Where is the station?",
    "Tom doesn't like cheese.",
    "We will leave tomorrow morning.",
    "Can you help me with my homework?",
    "She has been living in Paris for three years.",
    "It is raining again.",
    "I don't know what to do.",
    "The children are playing in the garden.",
    "Please close the door when you leave.",
]


class BenchError(RuntimeError):
    """A benchmark cannot go on: a server that never got ready, a peer that failed to build or run."""


def torch_pin() -> str:
    """``torch==X.Y.Z`` as pyproject.toml pins it, the one place torch's version is written; the
    peers' venvs install the same torch so that speed comparisons share it."""
    for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        if requirement.startswith("torch=="):
            return str(requirement)
    raise BenchError("pyproject.toml pins no torch==X.Y.Z")


def rel(path: str | Path) -> str:
    """``path`` as printed: relative to the repository root."""
    return os.path.relpath(path, ROOT)


# --- our data, as training.translation.train uses it by default ------------------------------------------


@lru_cache(maxsize=1)
def training_defaults() -> argparse.Namespace:
    """training.translation.train's defaults (dev_size, test_size, seed, max_len, ...): the shipped model's."""
    from training.translation.train import parse_args

    return parse_args(["--data", "-"])


def our_split(data: str | Path):
    """-> training.translation.data.Splits of ``data`` with training's default sizes and seed."""
    from training.translation.data import read_pairs, split_by_source

    d = training_defaults()
    return split_by_source(read_pairs(data), d.dev_size, d.test_size, d.seed)


def length_filter(pairs: list[tuple[str, str]], sp) -> list[tuple[list[str], list[str]]]:
    """The pairs training keeps (at most ``max_len`` ids a side, </s> included), as the pieces of
    the SentencePiece processor ``sp``."""
    max_len = training_defaults().max_len
    encoded = ((sp.encode(s, out_type=str), sp.encode(t, out_type=str)) for s, t in pairs)
    return [(s, t) for s, t in encoded if len(s) + 1 <= max_len and len(t) + 1 <= max_len]


# --- servers ------------------------------------------------------------------------------------


def haproxy_env() -> dict[str, str]:
    """deploy/ray/haproxy.env's variables (an env file: KEY=VALUE lines, values literal, # comments):
    what `make serve-ray` sets for Ray Serve's HAProxy ingress."""
    lines = (ROOT / "deploy" / "ray" / "haproxy.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, seconds: float, log: Path | None = None) -> None:
    """Poll ``url`` until it answers 200. Raises BenchError when ``proc`` exits first or
    ``seconds`` pass; the message names the url, the exit code and ``log``."""
    deadline = time.monotonic() + seconds
    see = f"; see {log}" if log else ""
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise BenchError(f"{url}: the server exited with code {proc.returncode} before it answered 200{see}")
        if time.monotonic() >= deadline:
            raise BenchError(f"{url} did not answer 200 within {seconds:g} s{see}")
        time.sleep(0.1)


class ServerProcess:
    """``command(port)`` run on a free port of 127.0.0.1 and waited for until ``health`` answers 200.
    Output goes to ``log`` (else nowhere). ``close()`` or ``with`` stops it."""

    def __init__(
        self,
        command: Callable[[int], list],
        health: str,
        *,
        env: dict | None = None,
        log: Path | None = None,
        seconds: float = 60,
        cwd: Path = ROOT,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log, "wb") if log else None
        self.proc = subprocess.Popen(
            list(map(str, command(self.port))),
            cwd=cwd,
            env=env,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(self.url + health, self.proc, seconds, log)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log:
            self._log.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def attnserve(
    checkpoint_dir: str | Path,
    batch_max_size: int,
    threads: int | None,
    settings: dict[str, str] | None = None,
    root: Path = ROOT,
    seconds: float = 60,
) -> ServerProcess:
    """Our server (`uvicorn app.main:app`) on ``checkpoint_dir`` with dynamic batching up to
    ``batch_max_size`` (1: off) and ``threads`` torch threads (None: its own default);
    ``settings``: more ``ATTNSERVE_*`` variables; ``root``: the checkout it runs from (another
    commit's worktree, to measure before and after a change)."""
    env = {
        **os.environ,
        "ATTNSERVE_CHECKPOINT_DIR": str(Path(checkpoint_dir).resolve()),
        "ATTNSERVE_BATCH_MAX_SIZE": str(batch_max_size),
        "ATTNSERVE_QUEUE_MAX": "100000",
        **(settings or {}),
    }
    if threads:
        env["ATTNSERVE_TORCH_THREADS"] = str(threads)
    return ServerProcess(
        lambda port: [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--log-level",
            "warning",
        ],
        "/readyz",
        env=env,
        cwd=root,
        seconds=seconds,
    )


# --- the client driver --------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request: POST ``body`` as JSON to ``path``; ``parse`` turns the reply's JSON into the
    output text, kept under ``key`` (the source sentence)."""

    key: str
    path: str
    body: Any
    parse: Callable[[Any], str]


def translate_call(text: str, beam: int) -> Call:
    """POST /translate to our server."""
    return Call(text, "/translate", {"text": text, "beam_size": beam}, lambda reply: reply["translation"])


def drive(
    url: str,
    make_call: Callable[[random.Random], Call],
    clients: int,
    seconds: float,
    seed: int = 0,
    timeout: float = 120,
) -> dict:
    """``clients`` concurrent clients, each sending ``make_call(rng)`` after its last reply, for
    ``seconds``. -> {"rps", "p50", "p95", "p99" (ms, of answered calls), "errors", "first_error",
    "outputs" ({key: last output})}. A non-200, an unparsable reply or a dropped connection is an error."""
    return asyncio.run(_drive(url, make_call, clients, seconds, random.Random(seed), timeout))


async def _drive(url: str, make_call, clients: int, seconds: float, rng: random.Random, timeout: float) -> dict:
    latencies: list[float] = []
    outputs: dict[str, str] = {}
    errors: list[str] = []
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:

        async def worker():
            while time.perf_counter() < stop:
                call = make_call(rng)
                tick = time.perf_counter()
                try:
                    response = await client.post(call.path, json=call.body)
                    response.raise_for_status()
                    outputs[call.key] = call.parse(response.json())
                    latencies.append(time.perf_counter() - tick)
                except (httpx.HTTPError, ValueError, LookupError, TypeError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    q = np.percentile(latencies, [50, 95, 99]) * 1000 if latencies else [float("nan")] * 3
    return {
        "rps": len(latencies) / elapsed,
        "p50": q[0],
        "p95": q[1],
        "p99": q[2],
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "outputs": outputs,
    }


# --- the peers' own venvs -----------------------------------------------------------------------


def peer_env(threads: int | None = None) -> dict[str, str]:
    """The environment of a peer's processes: torch.load of their pickled checkpoints needs the
    flag, their warnings stay out of the logs, and they get ``threads`` CPU threads."""
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "PYTHONWARNINGS": "ignore"}
    if threads:
        env |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    return env


def python_output(python: str | Path, code: str, required: bool = False) -> str | None:
    """Stripped stdout of ``python -c code`` under peer_env; when that fails, None, or with
    ``required`` a BenchError carrying the last line of its stderr."""
    done = (
        subprocess.run([str(python), "-c", code], check=False, env=peer_env(), capture_output=True, text=True)
        if Path(python).exists()
        else None
    )
    if done and done.returncode == 0:
        return done.stdout.strip()
    if required:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1] if done else "no such interpreter"
        raise BenchError(f"{python} -c {code!r} failed: {why}")
    return None


@dataclass(frozen=True)
class PeerVenv:
    """A peer toolkit's venv, ``PEERS/<name>-venv``: never a dependency of the project."""

    name: str

    @property
    def root(self) -> Path:
        return PEERS / f"{self.name}-venv"

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def tool(self, name: str) -> str:
        """The path of a console script installed in the venv."""
        return str(self.root / "bin" / name)

    def ensure(self, check: str, installs: list[list[str]]) -> str:
        """Build the venv unless ``check`` already runs in it (`python3 -m venv`, then each of
        ``installs`` as `python -m pip ...`, in order); -> check's stdout. Raises BenchError."""
        found = python_output(self.python, check)
        if found is not None:
            print(f"venv {rel(self.root)}: ready", flush=True)
            return found
        log = PEERS / f"{self.name}-pip.log"
        print(f"building {rel(self.root)} (pip output in {rel(log)})", flush=True)
        PEERS.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as out:
            for cmd in (
                ["python3", "-m", "venv", str(self.root)],
                *([str(self.python), "-m", "pip", *args] for args in installs),
            ):
                print("$", shlex.join(cmd), flush=True)
                if subprocess.run(cmd, check=False, stdout=out, stderr=subprocess.STDOUT).returncode:
                    raise BenchError(f"`{shlex.join(cmd)}` failed; see {rel(log)}")
        return python_output(self.python, check, required=True)  # type: ignore[return-value]  # required: never None
