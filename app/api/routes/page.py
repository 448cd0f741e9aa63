"""GET /: a one-page viewer for the attention of both models, plus its script and style.

Everything the page needs is served from ``app/static`` by the routes below: no CDN, no build
step, no vendored library. Only the files named in ``ASSETS`` are served (no path lookups).
The routes are left out of the OpenAPI schema: they are a page, not part of the API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parents[2] / "static"
ASSETS = {
    "heatmap.js": "text/javascript; charset=utf-8",
    "chart.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
NO_CACHE = {"Cache-Control": "no-cache"}  # revalidate: a redeploy shows the new page at once

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    """The attention viewer (translation heatmap and forecast fan chart)."""
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=NO_CACHE)


def _asset_route(name: str, media_type: str) -> None:
    async def asset() -> FileResponse:
        return FileResponse(STATIC / name, media_type=media_type, headers=NO_CACHE)

    router.add_api_route(f"/static/{name}", asset, methods=["GET"], name=f"static-{name}")


for _name, _media_type in ASSETS.items():
    _asset_route(_name, _media_type)
