"""GET /: a one-page viewer for the attention of both models, plus its script and style.

Everything the page needs is served from ``app/static`` by the routes below: no CDN, no build
step, no vendored library. Only the files named in ``ASSETS`` are served (no path lookups).
The routes are left out of the OpenAPI schema: they are a page, not part of the API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from app.api.deps import SettingsDep

STATIC = Path(__file__).resolve().parents[2] / "static"
ASSETS = {
    "heatmap.js": "text/javascript; charset=utf-8",
    "chart.js": "text/javascript; charset=utf-8",
    "forms.js": "text/javascript; charset=utf-8",
    "translate.js": "text/javascript; charset=utf-8",
    "views.js": "text/javascript; charset=utf-8",
    "files.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
NO_CACHE = {"Cache-Control": "no-cache"}  # revalidate: a redeploy shows the new page at once

router = APIRouter(include_in_schema=False)


LIMIT = 'maxlength="1000"'  # index.html's placeholder for ATTNSERVE_MAX_TEXT_CHARS


@router.get("/")
async def index(settings: SettingsDep) -> HTMLResponse:
    """The attention viewer (translation heatmap and forecast fan chart), its text box limited to
    the server's ``max_text_chars``."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    html = html.replace(LIMIT, f'maxlength="{settings.max_text_chars}"')
    return HTMLResponse(html, headers=NO_CACHE)


def _asset_route(name: str, media_type: str) -> None:
    async def asset() -> FileResponse:
        return FileResponse(STATIC / name, media_type=media_type, headers=NO_CACHE)

    router.add_api_route(f"/static/{name}", asset, methods=["GET"], name=f"static-{name}")


for _name, _media_type in ASSETS.items():
    _asset_route(_name, _media_type)
