"""The README is a landing page and the documentation lives in docs/ (MkDocs, Material theme).

Checks that keep it so: the README stays short, its links into docs/ (and their anchors) resolve,
every page is in mkdocs.yml's nav, the page screenshot is there and small, no command uses a module
path from before the layout by model family, and `mkdocs build --strict` passes (where the `docs`
extra is installed; CI runs `make docs-build` besides).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from conftest import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")
# Module paths that moved (training.translate -> training.translation.train, ...): a command or a
# source file named the old way would not run or not exist.
OLD_PATHS = re.compile(
    r"training\.(translate|evaluate_translation|average|directions|novelty|plot_attention|forecast|backtest|calendars)\b"
    r"(?!ing)|models/(attention|encoder|decoder|rnn|seq2seq|search|nbest|tokenizer|translator|forecast_net|forecaster"
    r"|calendar)\.py|models/calendars\.json"
)


def slug(heading: str) -> str:
    """The anchor Python-Markdown's toc extension (MkDocs) gives a heading."""
    text = re.sub(r"[`*]", "", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slug(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def test_readme_is_a_landing_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; the limit is 250 (move the rest into docs/)"
    text = "\n".join(lines)
    for needed in ("make serve", "make test", "make docs", "docs/img/page.png"):
        assert needed in text, needed


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve()
        assert file.exists(), f"{page.name}: {target} does not exist"
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file), f"{page.name}: {target}: no heading with that anchor"


def test_every_page_is_in_the_nav():
    nav = set(re.findall(r"^\s*-\s*[^:\n]+:\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), flags=re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert pages == nav, f"in docs/ but not in the nav: {pages - nav}; in the nav but missing: {nav - pages}"


def test_screenshot_is_there_and_small():
    png = DOCS / "img" / "page.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size < 300_000
    assert "img/page.png" in (DOCS / "index.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_module_path_from_before_the_move(page):
    found = [m.group(0) for m in OLD_PATHS.finditer(page.read_text(encoding="utf-8"))]
    assert not found, f"{page.name} names moved modules: {sorted(set(found))}"


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]')")
    pytest.importorskip("material", reason="the docs extra is not installed (pip install -e '.[docs]')")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").exists()
