"""The attention page (GET /), its offline assets, the PNG plotter, and a real browser run.

The browser tests start a live uvicorn serving both tiny models and drive Debian's Chromium
through Playwright; they skip, saying why, when either is missing, and fail instead when
``ATTNSERVE_REQUIRE_BROWSER=1`` (as in CI). Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import reverse_pairs, start_uvicorn
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TESTIDS = [
    "translate-input",
    "translate-submit",
    "translate-error",
    "forecast-submit",
    "forecast-error",
    "forecast-prices",
    "forecast-example",
    "forecast-horizon",
    "forecast-interval",
]
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


@pytest.fixture(scope="module")
def page_client(tmp_path_factory):
    """An app with no models: the page itself needs none."""
    settings = Settings(checkpoint_dir=tmp_path_factory.mktemp("no-models"), models=[])
    with TestClient(create_app(settings)) as client:
        yield client


def test_page_is_html_with_its_controls(page_client):
    response = page_client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for testid in TESTIDS:
        assert f'data-testid="{testid}"' in response.text, testid
    # every form control has a <label for=...>
    for control in re.findall(r'<(?:textarea|input|select)[^>]*\bid="([^"]+)"', response.text):
        assert f'<label for="{control}"' in response.text, control
    assert response.text.count('role="alert"') == 2
    assert "/" not in page_client.app.openapi()["paths"]  # a page, not part of the API


IMPORT = re.compile(r"^import\s[^\n]*?from\s+\"([^\"]+)\";$", re.M)


def test_static_assets_load_and_the_page_is_offline(page_client):
    html = page_client.get("/").text
    assert re.findall(r"<script[^>]*>", html) == ['<script type="module" src="/static/app.js">']
    pending = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assets: set[str] = set()
    while pending:  # the page's files, then whatever the scripts import, transitively
        path = pending.pop()
        if path in assets:
            continue
        assets.add(path)
        response = page_client.get(path)
        assert response.status_code == 200, path
        assert response.text.strip()
        kind = "css" if path.endswith(".css") else "javascript"
        assert kind in response.headers["content-type"], path
        if kind == "javascript":  # the only URL in the scripts is SVG's namespace name
            assert set(re.findall(r"https?://[^\s\"'`]*", response.text)) <= {SVG_NAMESPACE}, path
            # static imports of sibling files only: no dynamic import(), no workers
            assert "import(" not in response.text and "importScripts" not in response.text
            imports = IMPORT.findall(response.text)
            assert len(imports) == len(re.findall(r"^import\b", response.text, re.M)), path
            for name in imports:
                assert re.fullmatch(r"\./[a-z]+\.js", name), (path, name)
                pending.append("/static/" + name[2:])
        else:
            assert "http" not in response.text and "@import" not in response.text
    assert sorted(assets) == ["/static/app.css", "/static/app.js", "/static/chart.js", "/static/heatmap.js"]
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', html)
    assert "http://" not in html and "https://" not in html
    assert page_client.get("/static/../main.py").status_code == 404


def test_plot_attention_writes_png_from_checkpoint_and_from_response(tiny_translator_dir, tmp_path):
    from training.plot_attention import main

    text = reverse_pairs(1, seed=3)[0][0]
    png = main(
        [
            "--checkpoint",
            str(tiny_translator_dir),
            "--text",
            text,
            "--beam",
            "3",
            "--out",
            str(tmp_path / "from-checkpoint.png"),
        ]
    )
    settings = Settings(checkpoint_dir=tiny_translator_dir.parent, models=[tiny_translator_dir.name])
    with TestClient(create_app(settings)) as client:
        answer = client.post("/translate", json={"text": text, "beam_size": 3})
    assert answer.status_code == 200, answer.text
    saved = tmp_path / "answer.json"
    saved.write_text(answer.text)
    png2 = main(["--response", str(saved), "--out", str(tmp_path / "from-response.png")])
    for path in (png, png2):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, path
    assert json.loads(saved.read_text())["attention"]  # both drawn from a real matrix


# ---- a real browser against a live server ----------------------------------------------------

REQUIRE_BROWSER = "ATTNSERVE_REQUIRE_BROWSER"


def missing_browser(reason: str) -> None:
    """Skip locally; fail where ATTNSERVE_REQUIRE_BROWSER=1 (CI: .ci/run sets it)."""
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{reason}; the browser test is required here ({REQUIRE_BROWSER}=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium with the playwright package, else a skip (or, where required, a
    failure) saying why. Session-scoped so that it runs before the tiny models are trained."""
    if not os.access(CHROMIUM, os.X_OK):
        missing_browser(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing_browser("the playwright package is not installed (pip install playwright)")
    return CHROMIUM


@pytest.fixture(scope="module")
def live_server(chromium, both_models_dir, tmp_path_factory):
    """uvicorn in a subprocess, serving the tiny translator and a tiny forecaster."""
    env = {
        "ATTNSERVE_CHECKPOINT_DIR": str(both_models_dir),
        "ATTNSERVE_MODELS": ",".join(sorted(p.name for p in both_models_dir.iterdir())),
        "ATTNSERVE_TORCH_THREADS": "1",
    }
    log = open(tmp_path_factory.mktemp("page-log") / "server.log", "w+b")
    server, base = start_uvicorn(env, log)
    try:
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(chromium, live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh page on /, recording page errors and console errors (in ``page.problems``)."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda exc: tab.problems.append(f"page error: {exc}"))
    tab.on("console", lambda msg: msg.type == "error" and tab.problems.append(f"console: {msg.text}"))
    tab.set_default_timeout(30_000)
    tab.goto(live_server + "/")
    yield tab
    context.close()


def cells(page, testid: str):
    return page.locator(f'[data-testid="{testid}"] [data-testid="attention-cell"]')


def test_browser_translation_heatmap(page, live_server):
    ARTIFACTS.mkdir(exist_ok=True)
    text = reverse_pairs(5, seed=11)[4][0]
    page.get_by_label("Text to translate").fill(text)
    page.get_by_label("Beam size (1 to 16; 1 = greedy)").fill("4")
    page.get_by_test_id("translate-submit").click()
    page.get_by_test_id("attention-heatmap").wait_for()
    answer = httpx.post(f"{live_server}/translate", json={"text": text, "beam_size": 4}, timeout=60).json()
    rows, cols = len(answer["attention"]), len(answer["attention"][0])
    assert (rows, cols) == (len(answer["target_tokens"]), len(answer["source_tokens"]))
    assert cells(page, "attention-heatmap").count() == rows * cols
    assert page.get_by_test_id("translate-output").inner_text() == answer["translation"]
    # keyboard: one tab stop into the grid, arrows move, the readout follows
    cells(page, "attention-heatmap").first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("[document.activeElement.dataset.row, document.activeElement.dataset.col]")
    assert focused == ["1", "1"]
    assert "looked at" in page.locator("#translate-readout").inner_text()
    page.locator("#translate-panel").screenshot(path=str(ARTIFACTS / "page-translate.png"))
    assert page.problems == []


def test_browser_forecast_chart_and_attention(page, live_server):
    ARTIFACTS.mkdir(exist_ok=True)
    page.get_by_test_id("forecast-submit").click()  # the default example series
    page.get_by_test_id("forecast-attention").wait_for()
    prices = [float(p) for p in re.split(r"[\s,]+", page.get_by_test_id("forecast-prices").input_value())]
    assert len(prices) >= 80
    horizon = int(page.get_by_test_id("forecast-horizon").input_value())
    interval = float(page.get_by_test_id("forecast-interval").input_value())
    answer = httpx.post(
        f"{live_server}/forecast", timeout=60, json={"prices": prices, "horizon": horizon, "interval": interval}
    ).json()
    assert len(answer["attention"]) == horizon
    assert cells(page, "forecast-attention").count() == horizon * answer["window"]
    chart = page.get_by_test_id("forecast-chart")
    for part in ("history", "median", "band", "naive"):
        assert chart.locator(f".{part}").count() == 1, part
    # the attention columns sit under the last `window` prices: the same x scale as the chart
    points = chart.locator(".history").get_attribute("points").split()
    xs = [float(p.split(",")[0]) for p in points]
    grid = cells(page, "forecast-attention")

    def centre(cell):
        return float(cell.get_attribute("x")) + float(cell.get_attribute("width")) / 2

    assert abs(centre(grid.last) - xs[-1]) < 1
    assert abs(centre(grid.first) - xs[-answer["window"]]) < 1
    box, chart_box = grid.first.bounding_box(), chart.bounding_box()
    assert box["y"] > chart_box["y"] + chart_box["height"] - 1  # drawn under the chart
    page.locator("#forecast-panel").screenshot(path=str(ARTIFACTS / "page-forecast.png"))
    assert page.problems == []
    # an API refusal is shown inline, in words, in the alert
    page.get_by_label("Daily closing prices", exact=False).fill("101, 102, 103")
    page.get_by_test_id("forecast-submit").click()
    error = page.get_by_test_id("forecast-error")
    error.wait_for()
    assert "needs at least" in error.inner_text() and error.get_attribute("role") == "alert"
    page.get_by_label("Daily closing prices", exact=False).fill("101, abc")
    page.get_by_test_id("forecast-submit").click()
    page.wait_for_function("document.querySelector('#forecast-error').textContent.includes('abc')")
    page.screenshot(path=str(ARTIFACTS / "page-forecast-error.png"), full_page=True)
