"""`make serve`: it installs what serving needs (the runtime dependencies, no extras) while every
other target installs the extras too; the server it starts (`python -m app.serve`) exits 0 when a
signal stops it, and a signal to make itself reaches the server instead of leaving it running."""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires

import httpx
import pytest
from conftest import ROOT, free_port
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from test_connections import serve

from bench.common import BenchError, wait_ready

MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="make is not installed")
RUNTIME_STAMP, FULL_STAMP = ".installed-runtime", ".installed"


def dry_run(target: str, venv, *stamps: str) -> str:
    """What `make -n <target>` would run with ``venv`` as .venv holding ``stamps`` (newer than
    pyproject.toml): the pip commands among them. Nothing is installed."""
    venv.mkdir(exist_ok=True)
    newer = (ROOT / "pyproject.toml").stat().st_mtime + 60
    for stamp in stamps:
        (venv / stamp).touch()
        os.utime(venv / stamp, (newer, newer))
    out = subprocess.run(
        [MAKE, "-n", "-C", str(ROOT), target, f"VENV={venv}"], capture_output=True, text=True, check=True
    ).stdout
    return "\n".join(line for line in out.splitlines() if "pip install" in line and "--upgrade pip" not in line)


@needs_make
def test_make_serve_installs_the_runtime_dependencies_only(tmp_path):
    installs = dry_run("serve", tmp_path / "fresh")
    assert re.search(r"pip install -q -e \.\s*$", installs, re.M), installs
    assert "[" not in installs, "make serve installs an extra"


@needs_make
@pytest.mark.parametrize("target", ["install", "test", "lint"])
def test_the_other_targets_install_the_extras_also_after_make_serve(tmp_path, target):
    for venv, stamps in ((tmp_path / "fresh", ()), (tmp_path / "served", (RUNTIME_STAMP,))):
        installs = dry_run(target, venv, *stamps)
        assert '-e ".[train,dev,docs,postgres]"' in installs, (venv.name, installs)


@needs_make
def test_after_a_full_install_make_serve_installs_nothing(tmp_path):
    assert dry_run("serve", tmp_path / "full", RUNTIME_STAMP, FULL_STAMP) == ""
    assert dry_run("test", tmp_path / "full", RUNTIME_STAMP, FULL_STAMP) == ""


def runtime_distributions() -> set[str]:
    """pyproject.toml's runtime dependencies and theirs, as installed (no extras), canonical names."""
    todo = [Requirement(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    found: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in found or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        found.add(name)
        try:
            todo.extend(Requirement(r) for r in requires(name) or [])
        except PackageNotFoundError:
            pass
    return found


def test_serving_imports_only_the_runtime_dependencies():
    """Every module app/ and models/ (what `make serve` runs) import, at the top or inside a
    function, is the standard library's, the project's own, or a runtime dependency's (or theirs):
    `make serve` installs no extra. training/ and bench/ need the extras, so they are not imported.
    The exceptions are named modules of optional extras: the PostgreSQL driver (``postgres``), imported
    only where ATTNSERVE_DATABASE_URL names a PostgreSQL store (app/core/job_store.py, which says to
    install it), and Ray (``ray``) in the Ray Serve application that `make serve-ray` runs."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    allowed = {"app/core/job_store.py": ("postgres", "psycopg"), "app/ray_app.py": ("ray", "ray")}  # extra, module
    assert all(extra in extras for extra, _ in allowed.values())
    runtime = runtime_distributions()
    owners = {name: {canonicalize_name(d) for d in dists} for name, dists in packages_distributions().items()}
    outside = []
    for path in sorted([*(ROOT / "app").rglob("*.py"), *(ROOT / "models").rglob("*.py")]):
        _, optional = allowed.get(path.relative_to(ROOT).as_posix(), ("", ""))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in {name.split(".")[0] for name in names}:
                own = top in ("app", "models", optional)
                if own or top in sys.stdlib_module_names or owners.get(top, set()) & runtime:
                    continue
                outside.append(f"{path.relative_to(ROOT)}:{node.lineno}: {top} ({', '.join(owners.get(top, {'?'}))})")
    assert outside == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_with_exit_code_0(untrained_forecaster_dir, tmp_path, sig):
    """Ctrl-C (SIGINT) or `kill` (SIGTERM): a graceful shutdown, then exit 0 within seconds (uvicorn
    re-raised SIGTERM after its shutdown, so the process died of it: 143 in a shell, and make said
    `Error 143`)."""
    log = tmp_path / "server.log"
    with serve(untrained_forecaster_dir, log) as (server, port):
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        signalled = time.monotonic()
        server.send_signal(sig)
        try:
            code = server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{sig.name}: the server is still running")
        elapsed = time.monotonic() - signalled
    assert code == 0, f"{sig.name}: exit code {code}\n{log.read_text()[-2000:]}"
    assert elapsed < 5, elapsed
    assert "Finished server process" in log.read_text()


def started_make_serve(tmp_path, model_dir) -> tuple[subprocess.Popen, int, int, object]:
    """`make serve` on a free port serving ``model_dir``'s "fc", its install step skipped (-o: the
    runtime stamp counts as up to date); returns (make, server pid, port, log) once /readyz is 200."""
    port = free_port()
    env = {**os.environ, "ATTNSERVE_CHECKPOINT_DIR": str(model_dir), "ATTNSERVE_MODELS": "fc"}
    log = open(tmp_path / "make.log", "w+b")
    command = [MAKE, "-o", f".venv/{RUNTIME_STAMP}", "serve", f"PORT={port}", f"PY={sys.executable}"]
    make = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", make, 30)
    except BenchError:
        pass  # the log says why, below
    log.seek(0)
    started = re.search(rb"Started server process \[(\d+)\]", log.read())
    if make.poll() is not None or started is None:
        os.killpg(make.pid, signal.SIGKILL)
        log.seek(0)
        pytest.fail(f"make serve did not start:\n{log.read().decode()[-2000:]}")
    return make, int(started.group(1)), port, log


def stopped(pid: int, within: float) -> bool:
    for _ in range(int(within / 0.1)):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@needs_make
@pytest.mark.parametrize("whom", ["server", "make"])
def test_sigterm_under_make_serve_stops_the_server(untrained_forecaster_dir, tmp_path, whom):
    """SIGTERM to the server: make ends quietly with 0 (it said `make: *** [serve] Error 143`).
    SIGTERM to make alone: the server gets it too and stops (make's shell died and left it running,
    holding the port); make then reports its own `Terminated`, as make does."""
    make, server, port, log = started_make_serve(tmp_path, untrained_forecaster_dir)
    try:
        os.kill(server if whom == "server" else make.pid, signal.SIGTERM)
        code = make.wait(timeout=15)
        assert stopped(server, within=5), "the server still runs"
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
        if not stopped(server, within=0.1):
            os.kill(server, signal.SIGKILL)
        log.seek(0)
        output = log.read().decode()
        log.close()
    if whom == "server":
        assert code == 0 and "Error" not in output, output[-2000:]
    else:
        assert code == -signal.SIGTERM
    assert "Finished server process" in output
