"""The attention page (GET /), its offline assets, the PNG plotter, and a real browser run.

The browser tests start a live uvicorn serving both tiny models and drive Debian's Chromium
through Playwright; they skip, saying why, when either is missing, and fail instead when
``ATTNSERVE_REQUIRE_BROWSER=1`` (as in CI). Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import json
import math
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
    "translate-source",
    "translate-swap",
    "translate-target",
    "translate-alternatives",
    "translate-submit",
    "translate-error",
    "forecast-submit",
    "forecast-error",
    "forecast-prices",
    "forecast-example",
    "forecast-horizon",
    "forecast-interval",
    "forecast-file",
    "forecast-ticker",
    "forecast-file-submit",
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


def test_the_text_box_takes_the_servers_limit(tmp_path):
    settings = Settings(checkpoint_dir=tmp_path, models=[], max_text_chars=321)
    with TestClient(create_app(settings)) as client:
        html = client.get("/").text
    assert re.findall(r'maxlength="(\d+)"', html) == ["321"]


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
    names = ["app.css", "app.js", "chart.js", "files.js", "forms.js", "heatmap.js", "translate.js", "views.js"]
    assert sorted(assets) == [f"/static/{name}" for name in names]
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', html)
    assert "http://" not in html and "https://" not in html
    assert page_client.get("/static/../main.py").status_code == 404


def test_plot_attention_writes_png_from_checkpoint_and_from_response(tiny_translator_dir, tmp_path):
    from training.translation.plot_attention import main

    text = reverse_pairs(1, seed=3)[0][0]
    [png] = main(
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
    [png2] = main(["--response", str(saved), "--out", str(tmp_path / "from-response.png")])
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


def answering(body):
    """A route handler fulfilling every request with ``body`` as JSON."""
    return lambda route: route.fulfill(json=body)


def open_page(browser, base: str, answers: dict | None = None, **context_options):
    """A fresh tab on /, recording page errors and console errors (in ``tab.problems``);
    ``answers``: URL glob -> the JSON the server is made to answer there (from the first request on)."""
    context = browser.new_context(**{"viewport": {"width": 1100, "height": 900}, **context_options})
    for pattern, body in (answers or {}).items():
        context.route(pattern, answering(body))
    tab = context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda exc: tab.problems.append(f"page error: {exc}"))
    tab.on("console", lambda msg: msg.type == "error" and tab.problems.append(f"console: {msg.text}"))
    tab.set_default_timeout(30_000)
    tab.goto(base + "/")
    return tab


@pytest.fixture
def page(browser, live_server):
    tab = open_page(browser, live_server)
    yield tab
    tab.context.close()


@pytest.fixture
def phone(browser, live_server):
    """The page on a 390 x 844 phone screen."""
    tab = open_page(browser, live_server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    yield tab
    tab.context.close()


def cells(page, testid: str):
    return page.locator(f'[data-testid="{testid}"] [data-testid="attention-cell"]')


def translate_in_page(page, text: str, beam: int, source: str = "en", level: str = "pieces") -> None:
    """Translate ``text`` on the page from ``source`` (the tiny models' made-up languages are not
    detected), its heatmap drawn between ``level`` ("pieces" or "words")."""
    page.wait_for_function("document.querySelectorAll('#translate-source option').length > 1")
    page.get_by_test_id("translate-source").select_option(source)
    page.get_by_label("Text to translate").fill(text)
    page.get_by_label("Beam size (1 to 16; 1 = greedy)").fill(str(beam))
    page.get_by_test_id("translate-submit").click()
    page.wait_for_function(  # the click set aria-busy; the answer is drawn once it is gone
        "!document.querySelector('#translate-form').hasAttribute('aria-busy')"
        " && document.querySelector('[data-testid=attention-heatmap]')"
    )
    page.get_by_test_id(f"view-{level}").click()  # the buttons keep their choice for the next answer


def translate_api(base: str, text: str, beam: int) -> dict:
    body = {"text": text, "beam_size": beam, "source_lang": "en", "attention_level": "words"}
    answer = httpx.post(f"{base}/translate", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def colour_bar_ticks(page, testid: str) -> list[str]:
    return page.locator(f'[data-testid="{testid}"] .legend text.tick').all_text_contents()


def test_browser_translation_heatmap(page, live_server):
    ARTIFACTS.mkdir(exist_ok=True)
    text = reverse_pairs(5, seed=11)[4][0] + " ."
    translate_in_page(page, text, 4)
    answer = translate_api(live_server, text, 4)
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
    # the word-start marker: drawn as "▁" in its own colour, never a dot that merges with "."
    heatmap = page.get_by_test_id("attention-heatmap")
    labels = heatmap.locator("text[data-col]")
    assert labels.count() == cols  # a short sentence: every piece labelled
    starts = 0
    for j, piece in enumerate(answer["source_tokens"]):
        label = heatmap.locator(f'text[data-col="{j}"]')
        assert label.locator("title").text_content() == piece
        drawn = label.evaluate("t => [...t.querySelectorAll('tspan')].map(s => s.textContent).join('')")
        assert "·" not in drawn and drawn == piece, (drawn, piece)
        marker = label.locator("tspan.word-start")
        assert marker.count() == (1 if piece.startswith("▁") else 0), piece
        if piece.startswith("▁") and len(piece) > 1:
            starts += 1
            fills = label.evaluate("t => [...t.querySelectorAll('tspan')].map(s => getComputedStyle(s).fill)")
            assert fills[0] != fills[1], fills  # the marker is set apart from the piece
    assert starts >= 2
    # the score in words: the average per-token probability, in 0..100%, with its explanation
    confidence = page.get_by_test_id("translate-confidence")
    percent = float(re.fullmatch(r"(\d+(?:\.\d)?)%", confidence.inner_text()).group(1))
    assert 0 <= percent <= 100
    assert abs(percent - 100 * math.exp(answer["score"] / rows)) <= 0.6
    assert "geometric mean" in confidence.get_attribute("title")
    assert colour_bar_ticks(page, "attention-heatmap") == ["0", "0.25", "0.5", "0.75", "1"]
    page.locator("#translate-panel").screenshot(path=str(ARTIFACTS / "page-translate.png"))
    assert page.problems == []


def forty_piece_text(base: str) -> tuple[str, dict]:
    """A reversal-language text of at least 40 source pieces, and its answer (beam 1)."""
    words = " ".join(pair[0] for pair in reverse_pairs(40, seed=5)).split()
    for n in range(30, len(words)):
        text = " ".join(words[:n])
        answer = translate_api(base, text, 1)
        if len(answer["source_tokens"]) >= 40:
            return text, answer
    raise AssertionError("no 40-piece text")


OVERLAPS = """svg => {
  const quads = [...svg.querySelectorAll('text')].filter(t => t.getBBox().width > 0).map(t => {
    const b = t.getBBox(), m = t.getCTM();
    const at = (x, y) => { const p = new DOMPoint(x, y).matrixTransform(m); return [p.x, p.y]; };
    return {words: t.textContent, corners: [at(b.x, b.y), at(b.x + b.width, b.y),
            at(b.x + b.width, b.y + b.height), at(b.x, b.y + b.height)]};
  });
  return quads;
}"""


def overlap(a: list, b: list) -> bool:
    """Two convex quadrilaterals overlap (by more than 0.5 px) unless an edge normal separates them."""
    for quad in (a, b):
        for k in range(4):
            (x1, y1), (x2, y2) = quad[k], quad[(k + 1) % 4]
            nx, ny = y2 - y1, x1 - x2
            norm = math.hypot(nx, ny) or 1
            pa = [(x * nx + y * ny) / norm for x, y in a]
            pb = [(x * nx + y * ny) / norm for x, y in b]
            if max(pa) <= min(pb) + 0.5 or max(pb) <= min(pa) + 0.5:
                return False
    return True


def test_browser_long_input_fills_the_width_and_labels_do_not_overlap(page, live_server):
    short = reverse_pairs(3, seed=2)[2][0]
    translate_in_page(page, short, 1)
    short_ticks = colour_bar_ticks(page, "attention-heatmap")
    text, answer = forty_piece_text(live_server)
    translate_in_page(page, text, 1)
    cols = len(answer["source_tokens"])
    heatmap = page.get_by_test_id("attention-heatmap")
    assert cells(page, "attention-heatmap").count() == cols * len(answer["target_tokens"])
    # same colour bar, whatever the sentence (its largest weight differs)
    assert colour_bar_ticks(page, "attention-heatmap") == short_ticks
    assert "0 to 1" in heatmap.locator(".legend text.axis-title").text_content()
    # the cells take the room there is: the heatmap spans most of its panel, and no more
    plot, drawn = page.locator("#translate-heatmap").bounding_box(), heatmap.bounding_box()
    assert 0.9 * plot["width"] <= drawn["width"] <= plot["width"] + 1
    assert cells(page, "attention-heatmap").first.bounding_box()["width"] >= 16
    # no two texts overlap (labels thinned), and every piece is in a tooltip
    quads = heatmap.evaluate(OVERLAPS)
    clashes = [
        (a["words"], b["words"])
        for k, a in enumerate(quads)
        for b in quads[k + 1 :]
        if overlap(a["corners"], b["corners"])
    ]
    assert clashes == []
    labels = heatmap.locator("text[data-col]")
    assert 1 < labels.count() < cols  # thinned, not gone
    for j, piece in enumerate(answer["source_tokens"]):
        cell = heatmap.locator(f'[data-testid="attention-cell"][data-row="0"][data-col="{j}"]')
        assert f"“{piece}”" in cell.locator("title").text_content()
    for k in range(labels.count()):
        label = labels.nth(k)
        assert label.locator("title").text_content() == answer["source_tokens"][int(label.get_attribute("data-col"))]
    page.locator("#translate-panel").screenshot(path=str(ARTIFACTS / "page-translate-40-pieces.png"))
    assert page.problems == []


def test_browser_text_limit_counter_and_cut_note(page):
    box = page.get_by_label("Text to translate")
    limit = int(box.get_attribute("maxlength"))
    box.fill("abc")
    assert page.get_by_test_id("translate-count").inner_text() == f"3 / {limit} characters"
    assert not page.get_by_test_id("translate-cut").is_visible()
    pasted = "ab cd " * ((limit + 300) // 6)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    box.fill("")
    page.evaluate("text => navigator.clipboard.writeText(text)", pasted)
    box.focus()
    page.keyboard.press("ControlOrMeta+V")
    page.get_by_test_id("translate-cut").wait_for()
    assert len(box.input_value()) == limit
    assert page.get_by_test_id("translate-count").inner_text() == f"{limit} / {limit} characters"
    note = page.get_by_test_id("translate-cut").inner_text()
    assert f"{len(pasted) - limit} of the {len(pasted)}" in note and str(limit) in note
    page.keyboard.press("Backspace")  # an edit after the paste clears the note
    assert not page.get_by_test_id("translate-cut").is_visible()
    assert page.get_by_test_id("translate-count").inner_text() == f"{limit - 1} / {limit} characters"
    assert page.problems == []


def on_screen(page, testid: str) -> list[float]:
    """Where, in CSS px of the viewport, the last point of the element's polyline is drawn."""
    return page.get_by_test_id(testid).evaluate(
        """svg => {
          const line = svg.querySelector('.median');
          const last = line.points.getItem(line.points.numberOfItems - 1);
          const p = new DOMPoint(last.x, last.y).matrixTransform(line.getScreenCTM());
          return [p.x, p.y];
        }"""
    )


def test_browser_phone_fits_the_screen(phone, live_server):
    ARTIFACTS.mkdir(exist_ok=True)
    width = phone.viewport_size["width"]
    phone.get_by_test_id("forecast-submit").click()
    phone.get_by_test_id("forecast-attention").wait_for()
    phone.get_by_test_id("forecast-chart").scroll_into_view_if_needed()
    for testid in ("forecast-chart", "forecast-attention"):
        box = phone.get_by_test_id(testid).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (testid, box)
    x, _ = on_screen(phone, "forecast-chart")
    assert 0 <= x <= width  # the forecast's last day is drawn inside the screen
    phone.get_by_test_id("forecast-chart").screenshot(path=str(ARTIFACTS / "page-phone-forecast.png"))
    phone.get_by_test_id("translate-submit").click()
    phone.get_by_test_id("attention-heatmap").wait_for()
    box = phone.get_by_test_id("attention-heatmap").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    assert phone.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
    phone.screenshot(path=str(ARTIFACTS / "page-phone.png"), full_page=True)
    assert phone.problems == []


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


# ---- attention coloured against uniform, and a price file from the picker -----------------------


def rgb(fill: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.fullmatch(r"rgb\((\d+),(\d+),(\d+)\)", fill.replace(" ", "")).groups())


def fake_forecast(attention: list[list[float]], window: int) -> dict:
    """A /forecast answer with the given attention (the page draws what it is sent)."""
    h = len(attention)
    return {
        "forecast": [100.0] * h,
        "lower": [99.0] * h,
        "upper": [101.0] * h,
        "interval": 0.8,
        "attention": attention,
        "attention_uniformity": [0.5] * h,
        "window": window,
        "baseline": {"naive": [100.0] * h},
        "dates": None,
        "calendar": None,
        "model": {"id": "fake", "sha256": "0" * 64},
    }


def forecast_with(page, answer: dict) -> list[list[tuple[int, ...]]]:
    """Submit the default series with /forecast answering ``answer``; the cells' fills by row."""
    page.route("**/forecast", lambda route: route.fulfill(json=answer))
    page.get_by_test_id("forecast-submit").click()
    page.wait_for_function("!document.querySelector('#forecast-form').hasAttribute('aria-busy')")
    fills = cells(page, "forecast-attention").evaluate_all(
        "rects => rects.map(r => [+r.dataset.row, r.getAttribute('fill')])"
    )
    rows: list[list[tuple[int, ...]]] = [[] for _ in answer["attention"]]
    for row, fill in fills:
        rows[row].append(rgb(fill))
    page.unroute("**/forecast")
    return rows


def test_browser_attention_is_coloured_against_uniform(page):
    """Weight x L on one fixed scale: a uniform row is grey, not stretched to full colour; a day
    with all the weight is red, days with none blue, twice uniform a lighter red."""
    days = 20
    uniform, one_day = [1 / days] * days, [0.0] * (days - 1) + [1.0]
    twice = [2 / days] * (days // 2) + [0.0] * (days // 2)
    rows = forecast_with(page, fake_forecast([uniform, one_day, twice], days))
    assert len(set(rows[0])) == 1
    ((r, g, b),) = set(rows[0])
    assert r == g == b and r > 200, rows[0]  # a light neutral grey
    hot, cold = rows[1][-1], rows[1][0]
    assert hot[0] > hot[2] + 100 and cold[2] > cold[0] + 100, (hot, cold)  # red; blue
    assert set(rows[1][:-1]) == {cold} and set(rows[2][days // 2 :]) == {cold}  # no weight: one blue
    warm = rows[2][0]
    assert len(set(rows[2][: days // 2])) == 1 and warm[0] > warm[2] and sum(warm) > sum(hot), warm
    # the same weights alone (every row uniform, the largest weight 1/L) stay grey: no stretching
    flat = forecast_with(page, fake_forecast([uniform, uniform], days))
    assert {c for row in flat for c in row} == {(r, g, b)}
    legend = page.get_by_test_id("forecast-attention").locator(".legend")
    assert legend.locator("text.tick").all_text_contents() == ["⅛", "¼", "½", "1", "2", "4", "8"]
    assert "1 = uniform" in legend.locator("text.axis-title").text_content()
    assert page.problems == []


def test_browser_answer_says_how_uniform_the_attention_is(page, live_server):
    page.get_by_test_id("forecast-submit").click()
    page.get_by_test_id("forecast-attention").wait_for()
    prices = [float(p) for p in re.split(r"[\s,]+", page.get_by_test_id("forecast-prices").input_value())]
    answer = httpx.post(f"{live_server}/forecast", json={"prices": prices}, timeout=60).json()
    text = page.get_by_test_id("forecast-uniformity").inner_text()
    for k, u in enumerate(answer["attention_uniformity"]):
        assert f"+{k + 1} {u:.2f}" in text, text
    assert ("Nearly uniform" in text) == (min(answer["attention_uniformity"]) >= 0.95)


def yahoo_file(path: Path, rows: int) -> Path:
    """A Yahoo-format CSV of ``rows`` weekdays ending 2024-06-28, newest first, one null row."""
    import numpy as np

    days = np.busday_offset("2024-06-28", -np.arange(rows), roll="backward")
    close = 100 * np.exp(np.cumsum(np.random.default_rng(2).normal(0, 0.01, rows)))
    lines = [
        f"{d},{c:.4f},{c * 1.01:.4f},{c * 0.99:.4f},{c:.4f},{c:.4f},{1000 + k}"
        for k, (d, c) in enumerate(zip(days, close))
    ]
    lines.insert(3, "2024-06-22,null,null,null,null,null,null")
    path.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n" + "\n".join(lines) + "\n")
    return path


def test_browser_file_picker_forecasts_a_price_file(page, live_server, tmp_path):
    path = yahoo_file(tmp_path / "acme.csv", 40)
    page.get_by_test_id("forecast-file").set_input_files(str(path))
    with page.expect_response(lambda r: "/forecast/csv?" in r.url) as sent:
        page.get_by_test_id("forecast-file-submit").click()
    answer = sent.value.json()
    assert sent.value.status == 200 and sent.value.request.method == "POST"
    page.get_by_test_id("forecast-attention").wait_for()
    assert cells(page, "forecast-attention").count() == len(answer["forecast"]) * answer["window"]
    summary = page.get_by_test_id("forecast-summary").inner_text()
    assert "ACME" in summary and answer["dates"][-1] in summary and "2024-06-28" in summary
    assert "dropped 1 row without a close" in page.get_by_test_id("forecast-warnings").inner_text()
    points = page.get_by_test_id("forecast-chart").locator(".history").get_attribute("points").split()
    assert len(points) == len(answer["file"]["close"])  # the closes the model read
    # the price box now holds the series forecast, not the example
    boxed = [float(v) for v in page.get_by_test_id("forecast-prices").input_value().split(",")]
    assert boxed == answer["file"]["close"]
    # the x-axis is dated: the file's last row under day 0, the forecast's last session at its end
    chart = page.get_by_test_id("forecast-chart")
    assert chart.locator('text[data-day="0"]').text_content() == answer["file"]["dates"][-1][5:]
    h = len(answer["forecast"])
    assert chart.locator(f'text[data-day="{h}"]').text_content() == answer["dates"][-1][5:]
    # the forecast days get at least a quarter of the plot's width
    x0 = chart.locator('text[data-day="0"]').bounding_box()["x"]
    end = chart.locator(f'text[data-day="{h}"]').bounding_box()
    plot = chart.bounding_box()
    assert (end["x"] + end["width"] - x0) / plot["width"] >= 0.2
    assert page.problems == []
    # a Kaggle file of two tickers: the page offers them and takes the first; another can be named
    kaggle = tmp_path / "two.csv"
    kaggle.write_text(
        "date,open,high,low,close,volume,Name\n"
        + "".join(
            f"{line.split(',', 1)[0]},1,1,1,{100 + k % 3},5,{name}\n"
            for name in ("AAA", "BBB")
            for k, line in enumerate(path.read_text().splitlines()[5:])
        )
    )
    page.get_by_test_id("forecast-file").set_input_files(str(kaggle))
    page.wait_for_function("document.querySelectorAll('#forecast-tickers option').length === 2")
    assert page.get_by_test_id("forecast-ticker-hint").inner_text() == "2 tickers in this file: type or pick one."
    assert page.get_by_test_id("forecast-ticker").input_value() == "AAA"
    page.get_by_test_id("forecast-file-submit").click()
    page.wait_for_function("document.querySelector('#forecast-summary').textContent.includes('AAA')")
    page.get_by_test_id("forecast-ticker").fill("BBB")
    page.get_by_test_id("forecast-file-submit").click()
    page.wait_for_function("document.querySelector('#forecast-summary').textContent.includes('BBB')")
    page.locator("#forecast-panel").screenshot(path=str(ARTIFACTS / "page-forecast-file.png"))
    assert page.problems == []


def test_browser_rings_the_days_that_carry_the_width(page, live_server):
    """A model whose attention makes the width answers `width`: the page names the days and rings them."""
    prices = [round(100 + (k % 7) * 0.5, 2) for k in range(80)]
    real = httpx.post(f"{live_server}/forecast", json={"prices": prices, "horizon": 3}, timeout=60).json()
    window = real["window"]
    width = [
        {
            "step": step,
            "days": [{"day": -3, "share": 0.3}, {"day": -17, "share": 0.08}, {"day": 0, "share": 0.03}],
            "share": 0.41,
            "uniform_share": round(3 / window, 4),
            "summary": f"days -3, -17 and 0 carry 41% of the variance behind the step-{step} interval",
        }
        for step in (1, 2, 3)
    ]
    page.route("**/forecast", lambda route: route.fulfill(json={**real, "width": width}))
    page.get_by_test_id("forecast-example").select_option("custom")
    page.get_by_test_id("forecast-prices").fill(", ".join(map(str, prices)))
    page.get_by_test_id("forecast-horizon").fill("3")
    page.get_by_test_id("forecast-submit").click()
    page.get_by_test_id("forecast-chart").wait_for()
    rings = page.get_by_test_id("width-day")
    assert rings.count() == 3 and rings.first.get_attribute("data-day") == "-3"
    assert "41% of the +1 width" in page.get_by_test_id("forecast-chart").inner_html()
    text = page.get_by_test_id("forecast-uniformity").inner_text()
    assert "+1: days -3, -17 and 0 carry 41%" in text and "+3: days" in text
    # each ring sits on the price of its day
    chart = page.get_by_test_id("forecast-chart")
    ring = rings.first.bounding_box()
    points = chart.locator(".history").get_attribute("points").split()
    x, y = map(float, points[-4].split(","))  # day -3
    scale = chart.bounding_box()["width"] / float(chart.get_attribute("viewBox").split()[2])
    centre = (ring["x"] + ring["width"] / 2 - chart.bounding_box()["x"]) / scale
    assert abs(centre - x) < 1.5
    assert page.problems == []


@pytest.mark.parametrize("path,operation", [("/docs", ".opblock"), ("/redoc", "[data-section-id]")])
def test_browser_api_docs_render_with_no_network(browser, live_server, path, operation):
    """Swagger UI and ReDoc render the API's operations with every request to another host
    refused, as on a machine without internet (they used to load their scripts from a CDN). Nothing
    is asked of another host: no script, style sheet, font or image (ReDoc's "API docs by Redocly"
    logo used to come from cdn.redoc.ly)."""
    context = browser.new_context()
    elsewhere: list[str] = []

    def only_this_server(route):
        if route.request.url.startswith(live_server):
            return route.continue_()
        elsewhere.append(route.request.url)
        return route.abort()

    context.route("**/*", only_this_server)
    tab = context.new_page()
    try:
        tab.goto(live_server + path)
        tab.wait_for_selector(operation, timeout=30_000)
        text = tab.inner_text("body")
    finally:
        context.close()
    assert "/translate" in text and "/forecast" in text
    assert not elsewhere, elsewhere


# ---- languages, detection and alternatives (issue 12) ------------------------------------------

MULTI_MODELS = [  # GET /models of a server with one multilingual translator; es->en not served
    {
        "id": "multi",
        "task": "translation",
        "languages": None,
        "directions": ["en-fr", "fr-en", "en-de", "de-en", "en-es"],
    }
]
NAMES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish"}


def options(page, testid: str) -> list[tuple[str, str]]:
    pairs = page.get_by_test_id(testid).locator("option").evaluate_all("os => os.map(o => [o.value, o.text])")
    return [tuple(pair) for pair in pairs]


def chosen(page) -> tuple[str, str]:
    return page.get_by_test_id("translate-source").input_value(), page.get_by_test_id("translate-target").input_value()


@pytest.fixture
def multi_page(browser, live_server):
    """The page told (GET /models, /languages) that one translator serves five directions."""
    default = {"default": {"source": "en", "target": "fr", "model": "multi"}}
    tab = open_page(browser, live_server, {"**/models": MULTI_MODELS, "**/languages": default})
    tab.wait_for_function("document.querySelectorAll('#translate-source option').length > 1")
    yield tab
    tab.context.close()


def test_browser_language_selectors_follow_the_served_directions(multi_page):
    page, swap = multi_page, multi_page.get_by_test_id("translate-swap")
    assert options(page, "translate-source") == [
        ("auto", "Detect language"),
        ("en", "English"),
        ("fr", "French"),
        ("de", "German"),
    ]
    # detection by default, into English, or French for English text (the server's default pair)
    assert chosen(page) == ("auto", "") and swap.is_disabled()
    assert options(page, "translate-target") == [
        ("", "Automatic (English; French for English text)"),
        ("en", "English"),
        ("fr", "French"),
        ("de", "German"),
        ("es", "Spanish"),
    ]
    page.get_by_test_id("translate-source").select_option("en")
    assert chosen(page) == ("en", "fr")
    assert options(page, "translate-target") == [("fr", "French"), ("de", "German"), ("es", "Spanish")]
    assert swap.is_enabled()  # fr->en is served
    page.get_by_test_id("translate-target").select_option("es")
    assert swap.is_disabled() and "not served" in swap.get_attribute("title")  # es->en is not
    page.get_by_test_id("translate-source").select_option("de")
    assert options(page, "translate-target") == [("en", "English")] and swap.is_enabled()
    swap.click()
    assert chosen(page) == ("en", "de")
    page.get_by_test_id("translate-source").select_option("auto")
    assert [name for _, name in options(page, "translate-target")][1:] == ["English", "French", "German", "Spanish"]
    assert chosen(page) == ("auto", "de") and swap.is_disabled()  # the target kept; nothing to swap with
    assert (
        page.locator("#translate-model")
        .inner_text()
        .endswith("Served: multi (en → fr, fr → en, en → de, de → en, en → es).")
    )
    assert page.problems == []


def one_hot_rows(rows: int, cols: int) -> list[list[float]]:
    """Attention putting each row's weight on one source piece, in turn."""
    return [[1.0 if j == (i + 1) % cols else 0.0 for j in range(cols)] for i in range(rows)]


def fake_translation(source_tokens: list[str], written: list[list[str]], **fields) -> dict:
    """A /translate answer: ``written[0]`` the best target pieces, the others its alternatives."""
    cols = len(source_tokens)
    hyps = [
        {
            "translation": "".join(pieces[:-1]).replace("▁", " ").strip(),
            "target_tokens": pieces,
            "score": -0.4 * (k + 1) * len(pieces),
            "attention": one_hot_rows(len(pieces), cols),
            "p_gen": None,
        }
        for k, pieces in enumerate(written)
    ]
    return {
        **hyps[0],
        "source_tokens": source_tokens,
        "alternatives": hyps[1:],
        "model": {"id": "multi", "sha256": "0" * 64},
        **fields,
    }


def heatmap_rows(page) -> list[str]:
    return page.get_by_test_id("attention-heatmap").locator("text[data-row] title").all_text_contents()


def test_browser_shows_detection_warnings_and_each_alternatives_attention(multi_page):
    page = multi_page
    source = ["<2en>", "▁Ich", "▁bin", "▁froh", "</s>"]
    written = [["▁I", "▁am", "▁happy", "</s>"], ["▁I", "'", "m", "▁glad", "▁.", "</s>"], ["▁Glad", "</s>"]]
    warning = "the source language was detected with confidence 0.62 < 0.9; German was used"
    answer = fake_translation(
        source,
        written,
        source_lang="de",
        target_lang="en",
        detected={"language": "de", "confidence": 0.6249},
        warnings=[warning],
    )
    sent: list[dict] = []

    def reply(route):
        sent.append(route.request.post_data_json)
        route.fulfill(json=answer)

    page.route("**/translate", reply)
    page.get_by_test_id("translate-source").select_option("auto")
    page.get_by_test_id("translate-target").select_option("en")
    page.get_by_label("Text to translate").fill("Ich bin froh")
    page.get_by_test_id("translate-alternatives").fill("2")
    page.get_by_test_id("translate-submit").click()
    page.get_by_test_id("attention-heatmap").wait_for()
    assert sent == [
        {
            "text": "Ich bin froh",
            "beam_size": 5,
            "attention_level": "words",
            "source_lang": "auto",
            "target_lang": "en",
            "alternatives": 2,
        }
    ]
    assert page.get_by_test_id("translate-detected").inner_text() == "Detected: German, 62%"
    assert page.get_by_test_id("translate-direction").inner_text().strip() == "(German → English)"
    assert page.get_by_test_id("translate-warnings").inner_text() == warning
    # the language token: drawn whole, greyed apart from the pieces of the text
    heatmap = page.get_by_test_id("attention-heatmap")
    token = heatmap.locator('text[data-col="0"] tspan')
    assert token.all_text_contents() == ["<2en>"] and token.get_attribute("class") == "lang-token"
    grey = token.evaluate("t => getComputedStyle(t).fill")
    plain = heatmap.locator('text[data-col="2"] tspan:not(.word-start)').evaluate("t => getComputedStyle(t).fill")
    assert grey != plain
    assert "the language token" in heatmap.locator('[data-row="0"][data-col="0"] title').text_content()
    titles = heatmap.locator("text.axis-title").all_text_contents()  # a short row title: its first word
    assert "German pieces (read) →" in titles and "English →" in titles, titles
    # the hypotheses: the best first, then the alternatives, each with its scores
    buttons = page.get_by_test_id("hypothesis")
    assert buttons.count() == 3
    for k, hyp in enumerate([answer, *answer["alternatives"]]):
        label = buttons.nth(k).inner_text()
        assert hyp["translation"] in label and f"log-probability {hyp['score']:.2f}" in label, label
    assert buttons.nth(0).get_attribute("aria-pressed") == "true"
    assert heatmap_rows(page) == written[0]
    for k in (2, 1, 0):  # each shows its own attention: its rows, and weights where its rows put them
        buttons.nth(k).click()
        assert buttons.nth(k).get_attribute("aria-pressed") == "true"
        assert heatmap_rows(page) == written[k]
        rows = len(written[k])
        assert cells(page, "attention-heatmap").count() == rows * len(source)
        hot = cells(page, "attention-heatmap").evaluate_all(
            "rs => rs.filter(r => r.getAttribute('aria-label').endsWith('1.000'))"
            ".map(r => [+r.dataset.row, +r.dataset.col])"
        )
        assert hot == [[i, (i + 1) % len(source)] for i in range(rows)]
        assert page.locator("#translate-table tbody tr").count() == rows
    assert page.get_by_test_id("translate-showing").inner_text() == ""  # back on the best
    page.locator("#translate-panel").screenshot(path=str(ARTIFACTS / "page-translate-alternatives.png"))
    assert page.problems == []


def test_browser_alternatives_come_from_the_live_model(page, live_server):
    """The page asks the real server for alternatives; each one drawn is the API's, with its own rows."""
    text = reverse_pairs(3, seed=29)[2][0] + " " + reverse_pairs(3, seed=29)[1][0]
    page.get_by_label("Alternatives (0 to beam size − 1)").fill("3")
    translate_in_page(page, text, 4)
    answer = httpx.post(
        f"{live_server}/translate",
        json={"text": text, "beam_size": 4, "source_lang": "en", "target_lang": "fr", "alternatives": 3},
        timeout=60,
    ).json()
    assert 1 <= len(answer["alternatives"]) <= 3
    buttons = page.get_by_test_id("hypothesis")
    assert buttons.count() == 1 + len(answer["alternatives"])
    for k, alternative in enumerate(answer["alternatives"], start=1):
        buttons.nth(k).click()
        assert alternative["translation"] in buttons.nth(k).inner_text()
        assert heatmap_rows(page) == alternative["target_tokens"]
        assert cells(page, "attention-heatmap").count() == len(alternative["target_tokens"]) * len(
            answer["source_tokens"]
        )
    page.get_by_test_id("translate-beam").fill("1")  # greedy: no alternatives to ask for
    assert page.get_by_test_id("translate-alternatives").input_value() == "0"
    assert page.problems == []


def test_browser_detect_language_on_the_live_server(page, live_server):
    text = "I am very happy, thank you very much."
    page.wait_for_function("document.querySelectorAll('#translate-source option').length > 1")
    assert page.get_by_test_id("translate-source").input_value() == "auto"  # the page's default
    assert page.get_by_test_id("translate-swap").is_disabled()
    page.get_by_label("Alternatives (0 to beam size − 1)").fill("0")
    translate_in_page(page, text, 2, source="auto")
    answer = httpx.post(f"{live_server}/translate", json={"text": text, "beam_size": 2}, timeout=60).json()
    found = answer["detected"]
    assert page.get_by_test_id("translate-detected").inner_text() == (
        f"Detected: {NAMES[found['language']]}, {math.floor(100 * found['confidence'] + 0.5)}%"
    )
    assert page.get_by_test_id("translate-warnings").inner_text() == " ".join(answer["warnings"])
    assert (
        page.get_by_test_id("hypothesis").count() == 1 and not page.locator("#translate-alternatives-box").is_visible()
    )
    assert page.problems == []


def test_browser_text_keeps_its_lines_and_draws_each_sentence(page, live_server):
    """A pasted list with two sentences on a line: the translation keeps the lines and markers,
    the sentences are listed, and choosing one draws that sentence's own attention."""
    first, second, third = (s.capitalize() for s, _ in reverse_pairs(3, seed=41))
    text = f"- {first}.\n- {second}? {third}!"  # "?" and "!": no tiny word reads as an abbreviation
    translate_in_page(page, text, 2)
    answer = translate_api(live_server, text, 2)
    segments = answer["segments"]
    assert len(segments) == 3 and answer["attention"] == []
    assert page.get_by_test_id("translate-output").inner_text() == answer["translation"]
    assert answer["translation"].count("\n- ") == 1 and answer["translation"].startswith("- ")
    buttons = page.get_by_test_id("hypothesis")
    assert buttons.count() == 3 and "sentence 2" in buttons.nth(1).inner_text()
    for k, segment in enumerate(segments):
        buttons.nth(k).click()
        assert heatmap_rows(page) == segment["target_tokens"]
        assert cells(page, "attention-heatmap").count() == len(segment["target_tokens"]) * len(segment["source_tokens"])
    assert page.problems == []


def test_browser_marks_kept_spans_and_glossary_terms(browser, live_server, tiny_marks_dir):
    """A pasted e-mail with an address, a price and a glossary term: the page sends the glossary
    and the number option, keeps the lines, and marks each span and term where the translation
    has it; the placeholder pieces are coloured on the heatmap's axis. The answer is the marks
    model's own (served in-process), fulfilled for the page's request."""
    text = "Hi river,\n\nwrite to ann@example.com. stone 1,299.99 moon!"
    body = {"text": text, "beam_size": 2, "glossary": {"moon": "LUNE"}, "number_format": "source"}
    with TestClient(create_app(Settings(checkpoint_dir=tiny_marks_dir.parent, models=[tiny_marks_dir.name]))) as c:
        answer = c.post("/translate", json=body).json()
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    sent = []

    def fulfil(route):
        sent.append(route.request.post_data_json)
        route.fulfill(json=answer)

    context.route("**/translate", fulfil)
    page = context.new_page()
    page.goto(live_server + "/")
    page.get_by_label("Text to translate").fill(text)
    page.get_by_test_id("translate-glossary").fill("moon = LUNE\n")
    page.get_by_test_id("translate-numbers").check()
    page.get_by_label("Beam size (1 to 16; 1 = greedy)").fill("2")
    page.get_by_test_id("translate-submit").click()
    page.wait_for_function("document.querySelector('[data-testid=attention-heatmap]')")
    assert sent[0]["glossary"] == {"moon": "LUNE"} and sent[0]["number_format"] == "source"
    assert page.get_by_test_id("translate-output").inner_text() == answer["translation"]
    held = [p for s in answer["segments"] for p in s["placeholders"]]
    assert [p["kind"] for p in held] == ["e-mail", "number", "glossary"]
    marks = page.get_by_test_id("translate-output").get_by_test_id("kept-span")
    in_order = sorted((p["output"] for p in held), key=answer["translation"].index)
    assert marks.all_text_contents() == in_order  # each where the translation has it
    assert page.locator("mark.glossary-term").all_text_contents() == ["LUNE"]
    page.get_by_test_id("hypothesis").nth(2).click()  # the third sentence: its two placeholders' pieces
    axis = page.get_by_test_id("attention-heatmap").locator("tspan.placeholder").all_text_contents()
    assert sorted(set(axis)) == ["<0x01>", "<0x02>"]
    context.close()


def test_browser_word_view_is_the_default_and_pieces_are_one_click_away(page, live_server):
    text = reverse_pairs(5, seed=13)[3][0]
    page.wait_for_function("document.querySelectorAll('#translate-source option').length > 1")
    page.get_by_test_id("translate-source").select_option("en")
    page.get_by_label("Text to translate").fill(text)
    page.get_by_test_id("translate-submit").click()
    page.get_by_test_id("attention-heatmap").wait_for()
    answer = translate_api(live_server, text, 5)
    words = answer["words"]
    assert page.get_by_test_id("view-words").get_attribute("aria-pressed") == "true"
    assert cells(page, "attention-heatmap").count() == len(words["target"]) * len(words["source"])
    assert heatmap_rows(page) == words["target"]
    page.get_by_test_id("view-pieces").click()
    assert heatmap_rows(page) == answer["target_tokens"]
    assert cells(page, "attention-heatmap").count() == len(answer["target_tokens"]) * len(answer["source_tokens"])
    page.get_by_test_id("view-words").click()
    assert heatmap_rows(page) == words["target"]
    assert page.problems == []


SOURCE_15 = "Could you please send me the corrected invoice for last month before Friday afternoon , thanks ."
TARGET_15 = "Pourriez-vous m'envoyer la facture corrigée du mois dernier avant vendredi après-midi , merci ."


def word_answer(source_words: list[str], target_words: list[str], **fields) -> dict:
    """A /translate answer between these words (each its own piece), attention on the diagonal."""
    from models.translation.words import word_attention

    source = ["<2fr>", *(f"▁{w}" for w in source_words), "</s>"]
    target = [*(f"▁{w}" for w in target_words), "</s>"]
    attention = [
        [1.0 if j == min(i + 1, len(source) - 1) else 0.0 for j in range(len(source))] for i in range(len(target))
    ]
    words = word_attention(source, target, attention)
    word_fields = {
        "source": words.source,
        "target": words.target,
        "attention": words.attention,
        "source_index": words.source_index,
        "target_index": words.target_index,
    }
    answer = fake_translation(source, [target], source_lang="en", target_lang="fr", **fields)
    return {**answer, "words": word_fields, "segments": [{**answer, "start": 0, "end": 10, "words": word_fields}]}


def test_browser_a_fifteen_word_sentence_fits_a_phone_with_every_word_labelled(phone):
    ARTIFACTS.mkdir(exist_ok=True)
    answer = word_answer(SOURCE_15.split(), TARGET_15.split())
    phone.route("**/translate", lambda route: route.fulfill(json=answer))
    phone.get_by_label("Text to translate").fill(SOURCE_15)
    phone.get_by_test_id("translate-submit").click()
    heatmap = phone.get_by_test_id("attention-heatmap")
    heatmap.wait_for()
    heatmap.scroll_into_view_if_needed()
    width = phone.viewport_size["width"]
    box = heatmap.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box  # no sideways scrolling inside the panel
    assert phone.evaluate("document.documentElement.scrollWidth") <= width
    source, target = answer["words"]["source"], answer["words"]["target"]
    assert len([w for w in source if w.isalpha()]) == 15  # and two punctuation marks, <2fr> and </s>
    # every word labelled, each label on the screen, beside its own column or row, none overlapping
    for axis, words in (("col", source), ("row", target)):
        labels = heatmap.locator(f"text[data-{axis}]")
        assert labels.count() == len(words), axis
        for k in range(labels.count()):
            label = labels.nth(k)
            index = int(label.get_attribute(f"data-{axis}"))
            assert label.locator("title").text_content() == words[index]
            drawn = label.bounding_box()
            assert drawn["x"] >= 0 and drawn["x"] + drawn["width"] <= width, (words[index], drawn)
            cell = heatmap.locator(f'[data-testid="attention-cell"][data-{axis}="{index}"]').first.bounding_box()
            if axis == "col":
                centre = drawn["x"] + drawn["width"] / 2
                assert cell["x"] - 2 <= centre <= cell["x"] + cell["width"] + 2, (words[index], drawn, cell)
            else:
                centre = drawn["y"] + drawn["height"] / 2
                assert cell["y"] - 2 <= centre <= cell["y"] + cell["height"] + 2, (words[index], drawn, cell)
    quads = heatmap.evaluate(OVERLAPS)
    assert [
        (a["words"], b["words"])
        for k, a in enumerate(quads)
        for b in quads[k + 1 :]
        if overlap(a["corners"], b["corners"])
    ] == []
    heatmap.screenshot(path=str(ARTIFACTS / "page-phone-15-words.png"))
    assert phone.problems == []


def test_browser_a_long_sentence_scrolls_with_its_row_labels_in_place(phone):
    long_source = (SOURCE_15 + " " + SOURCE_15).split()
    answer = word_answer(long_source, (TARGET_15 + " " + TARGET_15).split())
    phone.route("**/translate", lambda route: route.fulfill(json=answer))
    phone.get_by_label("Text to translate").fill(" ".join(long_source))
    phone.get_by_test_id("translate-submit").click()
    heatmap = phone.get_by_test_id("attention-heatmap")
    heatmap.wait_for()
    plot = phone.locator("#translate-heatmap")
    assert plot.evaluate("p => p.scrollWidth > p.clientWidth")  # the grid scrolls ...
    assert phone.evaluate("document.documentElement.scrollWidth") <= phone.viewport_size["width"]  # ... not the page
    row = heatmap.locator("text[data-row='0']")
    before = row.bounding_box()["x"]
    plot.evaluate("p => { p.scrollLeft = p.scrollWidth; }")
    assert abs(row.bounding_box()["x"] - before) < 1  # the row labels stay
    assert heatmap.locator("text[data-col]").count() == len(answer["words"]["source"])
    assert phone.problems == []


def test_browser_a_pair_through_english_draws_the_composed_attention_and_each_leg(multi_page):
    page = multi_page
    answer = word_answer(["Ich", "bin", "froh"], ["Je", "suis", "content"])
    leg1 = word_answer(["Ich", "bin", "froh"], ["I", "am", "glad"])
    leg2 = word_answer(["I", "am", "glad"], ["Je", "suis", "content"])
    legs = [{k: leg[k] for k in ("source_tokens", "target_tokens", "attention", "words")} for leg in (leg1, leg2)]
    answer.update(source_lang="de", target_lang="fr")
    answer["pivot"] = {"language": "en", "translation": "I am glad", "models": [answer["model"]] * 2}
    answer["segments"][0]["pivot"] = {"translation": "I am glad", "legs": legs}
    page.route("**/translate", lambda route: route.fulfill(json=answer))
    page.get_by_label("Text to translate").fill("Ich bin froh")
    page.get_by_test_id("translate-submit").click()
    page.get_by_test_id("attention-heatmap").wait_for()
    assert "Through English: “I am glad”" in page.get_by_test_id("translate-pivot").inner_text()
    assert page.get_by_test_id("view-composed").get_attribute("aria-pressed") == "true"
    assert heatmap_rows(page) == ["Je", "suis", "content", "</s>"]
    page.get_by_test_id("view-leg-1").click()
    assert page.get_by_test_id("view-leg-1").inner_text() == "German → English"
    assert heatmap_rows(page) == ["I", "am", "glad", "</s>"]
    page.get_by_test_id("view-leg-2").click()
    cols = page.get_by_test_id("attention-heatmap").locator("text[data-col] title").all_text_contents()
    assert cols == ["<2fr>", "I", "am", "glad", "</s>"] and heatmap_rows(page) == ["Je", "suis", "content", "</s>"]
    assert page.problems == []


def test_browser_translates_a_dropped_file_and_offers_it_for_download(page, live_server, tmp_path):
    page.wait_for_function("document.querySelectorAll('#translate-source option').length > 1")
    page.get_by_test_id("translate-source").select_option("en")
    path = tmp_path / "notes.txt"
    path.write_text("ab cd ef\n\ngh ij\n")
    # a drop: the zone takes the file from the drag's DataTransfer
    page.evaluate(
        """([name, text]) => {
            const data = new DataTransfer();
            data.items.add(new File([text], name, {type: "text/plain"}));
            const zone = document.querySelector('[data-testid=file-drop]');
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
        }""",
        [path.name, path.read_text()],
    )
    assert "notes.txt" in page.get_by_test_id("file-state").inner_text()
    with page.expect_response(lambda r: r.url.endswith("/translate/file")) as sent:
        page.get_by_test_id("file-submit").click()
    assert sent.value.status == 200
    link = page.get_by_test_id("file-download")
    link.wait_for()
    assert link.inner_text() == "Download notes.fr.txt"
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "notes.fr.txt"
    assert Path(download.value.path()).read_text() == "EF CD AB\n\nIJ GH\n"
    assert page.problems == []


def test_browser_follows_a_file_job_with_a_progress_bar(page, tmp_path):
    states = iter([(0, "queued"), (8, "running"), (16, "done")])
    seen: list[float] = []

    def job(route):
        done, status = next(states)
        seen.append(page.evaluate("Number(document.querySelector('[data-testid=file-progress]').value)"))
        route.fulfill(
            json={
                "id": "j1",
                "status": status,
                "filename": "long.txt",
                "format": "txt",
                "blocks_total": 16,
                "blocks_done": done,
                "progress": done / 16,
                "eta_seconds": None if status == "done" else 3.0,
                "created": 0,
                "finished": None,
                "error": None,
                "result_url": "/jobs/j1/result" if status == "done" else None,
            }
        )

    page.route("**/translate/file", lambda r: r.fulfill(status=202, headers={"Location": "/jobs/j1"}, json={}))
    page.route("**/jobs/j1", job)
    page.route(
        "**/jobs/j1/result",
        lambda r: r.fulfill(body="FAIT", headers={"Content-Disposition": 'attachment; filename="long.fr.txt"'}),
    )
    page.get_by_test_id("file-input").set_input_files(
        files=[{"name": "long.txt", "mimeType": "text/plain", "buffer": b"ab cd"}]
    )
    page.get_by_test_id("file-submit").click()
    page.get_by_test_id("file-download").wait_for()
    assert page.get_by_test_id("file-state").inner_text() == "Done: 16 blocks translated."
    assert page.get_by_test_id("file-download").inner_text() == "Download long.fr.txt"
    assert page.evaluate("document.querySelector('[data-testid=file-progress]').value") == 16
    assert seen[1:] == [0, 8]  # the bar showed each step the job reported
    assert page.problems == []
