"""422 answers in FastAPI's own shape, plus a one-line ``message`` naming field and rule."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.schemas.common import Message


class InvalidField(Exception):
    """A rule the schema cannot express (it depends on settings or loaded models)."""

    def __init__(self, loc: tuple, msg: str, kind: str = "value_error"):
        self.errors = [{"type": kind, "loc": list(loc), "msg": msg}]


def _message(errors: list[dict], shown: int = 5) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:shown]]
    if len(errors) > shown:
        parts.append(f"and {len(errors) - shown} more errors (see detail)")
    return "; ".join(parts)


async def validation_handler(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else exc.errors  # type: ignore[attr-defined]  # InvalidField
    # the offending input is not echoed back: it may be megabytes
    errors = [
        {k: v for k, v in e.items() if k in ("type", "loc", "msg")}
        | (
            {"ctx": {k: v if isinstance(v, (int, float, str)) else str(v) for k, v in e["ctx"].items()}}
            if e.get("ctx")
            else {}
        )
        for e in errors
    ]
    return JSONResponse(status_code=422, content=jsonable_encoder({"message": _message(errors), "detail": errors}))


async def overloaded_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        status_code=503,
        headers={"Retry-After": "1"},
        content={"message": f"server busy: {exc}; retry shortly", "detail": str(exc)},
    )


class NotLoaded(Exception):
    """The model a request needs is not loaded (see /readyz)."""


async def unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=503, content={"message": str(exc), "detail": str(exc)})


# documented on every inference route, so the OpenAPI schema names every status it can answer
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": Message, "description": "request body over ATTNSERVE_MAX_BODY_BYTES"},
    503: {"model": Message, "description": "model not loaded, queue full (with Retry-After) or timed out"},
}


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 400/404/405 (unparsable body, unknown path, wrong method) with a message."""
    detail = getattr(exc, "detail", str(exc))
    return JSONResponse(
        status_code=exc.status_code,  # type: ignore[attr-defined]  # registered for HTTPException only
        headers=getattr(exc, "headers", None),
        content={"message": str(detail), "detail": detail},
    )
