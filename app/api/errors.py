"""422 answers in FastAPI's own shape, plus a one-line ``message`` naming field and rule.

Whatever of the client's input an answer repeats (a language name, an unknown field's name) is
cut to ``ECHO_CHARS`` characters, and every string is made encodable (a lone surrogate is written
as the text ``\\ud800``), so an error answer can never itself fail.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.schemas.common import Message

log = logging.getLogger("attnserve.api")
ECHO_CHARS = 100  # most characters of the client's own input an error answer repeats
MESSAGE_CHARS = 2000  # a message or detail string longer than this is cut (a backstop)
LISTED_ERRORS = 20  # most errors a 422 lists in its detail; one more entry counts the rest


def _encodable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} characters)"


def echo(value: object, limit: int = ECHO_CHARS) -> str:
    """``value`` as an error message may quote it: at most ``limit`` characters, then the length."""
    return _cut(_encodable(str(value)), limit)


def safe(value: Any) -> Any:
    """``value`` with every string encodable as UTF-8 (unencodable characters as backslash escapes)
    and no longer than ``MESSAGE_CHARS``; lists, tuples and dicts are walked."""
    if isinstance(value, str):
        return _cut(_encodable(value), MESSAGE_CHARS)
    if isinstance(value, (list, tuple)):
        return [safe(v) for v in value]
    if isinstance(value, dict):
        return {safe(k): safe(v) for k, v in value.items()}
    return value


class InvalidField(Exception):
    """A rule the schema cannot express (it depends on settings or loaded models)."""

    def __init__(self, loc: tuple, msg: str, kind: str = "value_error"):
        self.errors = [{"type": kind, "loc": list(loc), "msg": msg}]


def _message(errors: list[dict], total: int, shown: int = 5) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:shown]]
    if total > LISTED_ERRORS:
        parts.append(
            f"and {total - shown} more errors ({LISTED_ERRORS - shown} in detail, {total - LISTED_ERRORS} not listed)"
        )
    elif total > shown:
        parts.append(f"and {total - shown} more errors (see detail)")
    return "; ".join(parts)


def _unlisted(errors: list[dict], total: int) -> list[dict]:
    """The entry that ends a detail cut to ``LISTED_ERRORS``: how many errors it leaves out."""
    if total <= LISTED_ERRORS:
        return []
    rest = total - LISTED_ERRORS
    return [
        {"type": "too_many_errors", "loc": ["body"], "msg": f"{rest} more errors not listed", "ctx": {"rest": rest}}
    ]


JSON_HINT = "send JSON with content-type: application/json"


def sends_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _not_json(request: Request, errors: list[dict]) -> JSONResponse | None:
    """400 for a body that does not parse as JSON, 415 for one not sent as JSON: both say what to send."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    if not sends_json(request) and any(list(e["loc"]) == ["body"] for e in errors):
        media = echo(request.headers.get("content-type", "none"))
        message = f"body: {JSON_HINT} (got content-type: {media})"
        return JSONResponse(status_code=415, content=safe({"message": message, "detail": message}))
    bad = [e for e in errors if e.get("type") == "json_invalid"]
    if bad:
        where = bad[0]["loc"][-1] if len(bad[0]["loc"]) > 1 else 0
        reason = str((bad[0].get("ctx") or {}).get("error", "JSON decode error")).removesuffix(" at")
        message = f"body: not valid JSON ({echo(reason)}, at character {where}); {JSON_HINT}"
        return JSONResponse(status_code=400, content=safe({"message": message, "detail": message}))
    return None


async def validation_handler(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else exc.errors  # type: ignore[attr-defined]  # InvalidField
    if isinstance(exc, RequestValidationError) and (answer := _not_json(request, list(errors))):
        return answer
    # the offending input is not echoed back: it may be megabytes; at most LISTED_ERRORS are listed
    total = len(errors)
    errors = [
        {k: v for k, v in e.items() if k in ("type", "msg")}
        | {"loc": [p if isinstance(p, int) else echo(p) for p in e["loc"]]}  # a field name can be the client's
        | (
            {"ctx": {k: v if isinstance(v, (int, float, str)) else str(v) for k, v in e["ctx"].items()}}
            if e.get("ctx")
            else {}
        )
        for e in list(errors)[:LISTED_ERRORS]
    ]
    detail = errors + _unlisted(errors, total)
    return JSONResponse(
        status_code=422, content=safe(jsonable_encoder({"message": _message(errors, total), "detail": detail}))
    )


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
    400: {"model": Message, "description": "body is not valid JSON"},
    415: {"model": Message, "description": "body not sent as JSON (content-type: application/json)"},
    413: {"model": Message, "description": "request body over ATTNSERVE_MAX_BODY_BYTES"},
    503: {"model": Message, "description": "model not loaded, queue full (with Retry-After) or timed out"},
}


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 400/404/405 (unparsable body, unknown path, wrong method) with a message.

    FastAPI turns every error while reading a body into "400 There was an error parsing the
    body"; one caused by an ``OSError`` (a full temporary directory while a multipart upload
    spools to disk) is the server's fault: 503 with Retry-After, and an ERROR log with the traceback."""
    cause = exc.__cause__
    if isinstance(cause, OSError):
        log.error(
            "%s %s: could not store the request body: %s", request.method, request.url.path, cause, exc_info=cause
        )
        message = f"the server could not store the request body ({cause.strerror or cause}); retry later"
        return JSONResponse(
            status_code=503, headers={"Retry-After": "30"}, content={"message": message, "detail": message}
        )
    detail = getattr(exc, "detail", str(exc))
    return JSONResponse(
        status_code=exc.status_code,  # type: ignore[attr-defined]  # registered for HTTPException only
        headers=getattr(exc, "headers", None),
        content=safe({"message": str(detail), "detail": detail}),
    )
