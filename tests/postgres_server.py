"""A real PostgreSQL server for the tests: Debian's package (``apt-get install postgresql``), a
fresh cluster in a temporary folder on a free port, run as the ``postgres`` user when the tests run
as root (initdb refuses root). Absent binaries skip the test, or fail it with
ATTNSERVE_REQUIRE_POSTGRES=1 (CI)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def binaries() -> str | None:
    """The folder of initdb and pg_ctl: Debian's /usr/lib/postgresql/<version>/bin, else PATH's."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_user(command: list[str]) -> list[str]:
    """``command`` as the postgres user when running as root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_url() -> Iterator[str]:
    """Start a throw-away cluster; yield its URL (database "attnserve", trust auth); stop it after."""
    folder = binaries()
    if folder is None:
        if os.environ.get("ATTNSERVE_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required here (ATTNSERVE_REQUIRE_POSTGRES=1) but initdb was not found")
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    root = tempfile.mkdtemp(prefix="attnserve-pg-")
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    data, port = os.path.join(root, "data"), free_port()
    run = lambda *args: subprocess.run(as_user(list(args)), check=True, capture_output=True, timeout=120)  # noqa: E731
    try:
        run(f"{folder}/initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync")
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(f"{folder}/pg_ctl", "-D", data, "-o", options, "-l", os.path.join(root, "log"), "-w", "start")
        for _ in range(100):
            done = subprocess.run(
                as_user([f"{folder}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "attnserve"]),
                capture_output=True,
            )
            if done.returncode == 0:
                break
            time.sleep(0.1)
        yield f"postgresql://postgres@127.0.0.1:{port}/attnserve"
    finally:
        subprocess.run(as_user([f"{folder}/pg_ctl", "-D", data, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
