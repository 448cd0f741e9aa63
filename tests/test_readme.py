"""Every `curl` in the README and in the documentation site (docs/**/*.md) runs as written against a
live server with the shipped checkpoints.

The README is a landing page whose curls lead into docs/ (MkDocs), so the test follows them there: it
collects the ```bash blocks that hold a `curl` from README.md and from every Markdown page under
docs/, each test id naming its file (`docs/api.md #2: curl -s localhost:8000/translate ...`). Each
```bash block is run in a scratch folder that holds `examples/`: the commands before a
`ATTNSERVE_...=... make serve` line run first (e.g. writing a key file), that line becomes a
server with those settings (else the block uses a server with default settings), and each curl
then runs with `localhost:8000` pointed at it. A status the page promises in a comment beside
the command (`# 401`, `# 200 x5, then 429`) must show in its output; a curl without one must
succeed (`--fail-with-body`: a 4xx or 5xx fails the test).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, start_uvicorn

README = ROOT / "README.md"
DOCS = ROOT / "docs"
SERVE = re.compile(r"^((?:ATTNSERVE_\w+=\S+\s+)+)make serve\s*$")
KEY = "readme-test-key-1"


def pages() -> list[Path]:
    """README.md, then every Markdown page of the documentation site, in path order."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def bash_blocks(page: Path) -> list[list[str]]:
    """A page's ```bash blocks as lists of logical lines (continuations joined)."""
    blocks = re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
    return [re.sub(r"\\\n\s*", " ", block).splitlines() for block in blocks]


def curl_blocks() -> list[tuple[str, list[str]]]:
    """(page path relative to the repository, block) for every ```bash block that holds a curl."""
    return [
        (page.relative_to(ROOT).as_posix(), lines)
        for page in pages()
        for lines in bash_blocks(page)
        if any(re.search(r"\bcurl\b", line) for line in lines)
    ]


def block_ids() -> list[str]:
    """`<page> #<n>: <its first curl line>`, n counting the page's curl blocks from 1."""
    ids, seen = [], {}
    for page, lines in curl_blocks():
        seen[page] = seen.get(page, 0) + 1
        ids.append(f"{page} #{seen[page]}: {next(x for x in lines if 'curl' in x)[:60]}")
    return ids


def expected_statuses(line: str, following: list[str]) -> set[str]:
    """Statuses promised in the line's comment or in the comment line right after it."""
    comments = [line.partition("#")[2] if "#" in line.split("curl", 1)[-1] else ""]
    if following and following[0].lstrip().startswith("#"):
        comments.append(following[0])
    return {m for comment in comments for m in re.findall(r"\b([2-5]\d\d)\b", comment)}


def run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEY": KEY}
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def serve(settings: dict[str, str], cwd: Path, tmp_path: Path):
    env = {"ATTNSERVE_CHECKPOINT_DIR": str(ROOT / "checkpoints"), "ATTNSERVE_TORCH_THREADS": "1"}
    for name, value in settings.items():  # a file the block wrote lives in the scratch folder
        env[name] = str(cwd / value) if (cwd / value).exists() else value
    return start_uvicorn(env, open(tmp_path / f"server-{len(list(tmp_path.iterdir()))}.log", "w+b"))


def test_curls_are_collected_from_the_readme_and_the_docs():
    found = {page for page, _ in curl_blocks()}
    assert "README.md" in found
    assert any(page.startswith("docs/") for page in found), "no curl found under docs/"


@pytest.mark.parametrize("page,block", curl_blocks(), ids=block_ids())
def test_every_readme_curl_runs_as_written(page, block, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "examples").symlink_to(ROOT / "examples")
    served = [i for i, line in enumerate(block) if SERVE.match(line)]
    start = served[0] + 1 if served else 0
    for line in block[: served[0]] if served else []:
        assert run(line, cwd).returncode == 0, f"{page}: {line}"
    settings = dict(pair.split("=", 1) for pair in SERVE.match(block[served[0]]).group(1).split()) if served else {}
    server, base = serve(settings, cwd, tmp_path)
    ran = 0
    try:
        for i, line in enumerate(block[start:], start):
            if not re.search(r"\bcurl\b", line) or line.lstrip().startswith("#"):
                continue
            command = line.replace("localhost:8000", base.removeprefix("http://"))
            statuses = expected_statuses(line, block[i + 1 :])
            if not statuses:
                command = re.sub(r"\bcurl\b", "curl --fail-with-body", command)
            done = run(command, cwd)
            assert done.returncode == 0, f"{page}: {line}\n{done.stdout[-500:]}{done.stderr[-500:]}"
            for status in statuses:
                assert status in done.stdout, f"{page}: {line}: no {status} in\n{done.stdout[-500:]}"
            ran += 1
    finally:
        server.terminate()
        server.wait(30)
    assert ran
