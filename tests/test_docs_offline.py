"""Swagger UI (/docs) and ReDoc (/redoc) work without internet: every script, style sheet and
icon they load comes from this server (the fastapi-offline package), none from a CDN. The
browser test (tests/test_page.py) renders /docs with every other host blocked."""

from __future__ import annotations

import re

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
