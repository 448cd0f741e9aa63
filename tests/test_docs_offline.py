"""Swagger UI (/docs) and ReDoc (/redoc) work without internet: every script, style sheet and
icon they load comes from this server (the fastapi-offline package), none from a CDN. The
browser test (tests/test_page.py) renders /docs with every other host blocked."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Settings(models=[]))) as c:
        yield c


@pytest.mark.parametrize("page,kinds", [("/docs", {"javascript", "css"}), ("/redoc", {"javascript"})])
def test_documentation_pages_load_their_assets_from_this_server(client, page, kinds):
    html = client.get(page).text
    assert not re.search(r"https?://", html), "the page still names another host"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    served = {}
    for url in assets:
        response = client.get(url)
        assert response.status_code == 200, url
        served[url] = response.headers["content-type"]
    assert {kind for kind in kinds if any(kind in t for t in served.values())} == kinds
    assert sum(len(client.get(url).content) for url in assets) > 500_000  # the real bundles, not stubs


# ---- ReDoc asks no other host for anything; the request body's own field first ----------------

# what makes a browser fetch an address: an element's src (JSX `src:"..."` in the bundle, `src="..."`
# in HTML), a CSS url(...) or @import, a fetch(...). The bundle also holds addresses nothing fetches
# (JSON Schema $ids, links such as "API docs by Redocly", error-page hints): those are not looked for.
FETCHED = re.compile(
    r"""\b(?:src|srcset|poster)\s*[:=]\s*["'`](https?://[^"'`]+)"""
    r"""|url\(\s*["']?(https?://[^)"']+)|@import\s+["']?(https?://[^"';]+)|fetch\(\s*["'`](https?://[^"'`]+)"""
)


def test_redoc_and_its_bundle_fetch_nothing_from_another_host(client):
    html = client.get("/redoc").text
    assert not re.search(r"https?://", html), "the page still names another host"
    scripts = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    assert scripts
    for url in scripts:
        js = client.get(url).text
        assert "cdn.redoc.ly" not in js, f"{url} still fetches the Redocly logo from cdn.redoc.ly"
        assert [next(filter(None, m)) for m in FETCHED.findall(js)] == [], url
        # the logo beside "API docs by Redocly" comes from this server, relative to the page
        logo = re.search(r'alt:"redocly logo",[^}]*?src:"([^"]+)"', js)
        assert logo, "the bundle's logo element changed: look again at what it loads"
        response = client.get(urljoin("/redoc", logo.group(1)))
        assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")


def test_the_request_bodys_own_field_comes_first(client):
    """TranslateRequest and TranslateBatchRequest inherit the decoding options, which pydantic puts
    first: ReDoc (and Swagger UI's example) list the schema's properties in its order."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert next(iter(schemas["TranslateRequest"]["properties"])) == "text"
    assert next(iter(schemas["TranslateBatchRequest"]["properties"])) == "texts"
    for name in ("TranslateRequest", "TranslateBatchRequest"):  # the rest keep their order
        properties = list(schemas[name]["properties"])
        assert properties[1:] == [p for p in properties if p not in schemas[name]["required"]]
    html = client.get("/redoc").text.lower()
    assert "sort-props-alphabetically" not in html and "sortpropsalphabetically" not in html
