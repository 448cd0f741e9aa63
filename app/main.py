"""The FastAPI application: ``uvicorn app.main:app``."""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

import fastapi_offline
import torch
from fastapi import FastAPI, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPBearer
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.api.errors import (
    InvalidField,
    NotLoaded,
    http_error_handler,
    overloaded_handler,
    unavailable_handler,
    validation_handler,
)
from app.api.middleware import BodyLimitMiddleware, CancelOnDisconnectMiddleware, ObservabilityMiddleware
from app.api.redirects import RelativeRedirects
from app.api.routes import catalog, files, forecast, health, jobs, page, translate
from app.api.routes import metrics as metrics_route
from app.api.security import SecurityMiddleware, key_digests, rate_buckets
from app.core.config import Settings, get_settings
from app.core.logs import configure_logging
from app.core.metrics import Metrics
from app.core.registry import ModelRegistry, RequestTimeout
from app.core.scheduler import Overloaded
from app.core.uploads import UploadGate, UploadParser
from app.documents.jobs import Jobs

DOCS_ASSETS = "/static-docs"
# ReDoc's bundle (fastapi-offline's copy, the file its /redoc page loads) fetches one thing from
# another host: the Redocly logo beside "API docs by Redocly" at the foot of its menu, an address
# written into the bundle that no ReDoc option turns off. This server answers for that file with the
# bundle pointing the logo at REDOC_LOGO (relative to /redoc, so it holds behind a root path too).
REDOC_JS = "redoc.standalone.js"
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_LOGO = "redoc-logo.svg"
REDOC_LOGO_SVG = (  # a page with lines: 15 px wide in the menu's foot
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16" width="16" height="16">'
    '<rect x="2.5" y="1.5" width="11" height="13" rx="2" fill="none" stroke="#8a8a8a"/>'
    '<path d="M5 5h6M5 8h6M5 11h4" stroke="#8a8a8a" stroke-linecap="round"/></svg>'
)
ROUTERS = (translate, files, jobs, forecast, catalog, health, metrics_route, page)  # one router per resource
KEYED = (translate, files, jobs, forecast, catalog)  # what an API key guards when keys are set
UPLOAD_SETTING = "ATTNSERVE_MAX_UPLOAD_BYTES"  # the limit of both upload routes' bodies
DESCRIPTION = """Translation and stock forecasting where every prediction comes back with the
attention matrix that produced it. Try `POST /translate` below: `attention[i][j]` is how much
target piece *i* looked at source piece *j*."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        configure_logging()
        torch.set_num_threads(settings.threads_per_process)
        registry = ModelRegistry(settings, on_batch=metrics.observe_batch, on_abandoned=metrics.observe_abandoned)
        registry.load_all()
        for name, seconds in registry.load_seconds.items():
            metrics.load_seconds.labels(name).set(seconds)
        app.state.registry = registry
        app.state.uploads = UploadParser(settings.upload_workers)  # POST /forecast/csv reads files there
        jobs = app.state.jobs = Jobs(registry, settings)  # documents' jobs: interrupted ones resume now
        jobs.begin()
        yield
        await jobs.close(settings.shutdown_timeout_s)  # this lifespan's own (a test may run two)
        app.state.uploads.close()
        registry.close()

    # Swagger UI (/docs) and ReDoc (/redoc) from assets inside the fastapi-offline package
    # (under DOCS_ASSETS), never a CDN: this service runs on machines without internet
    app = FastAPIOffline(
        title="attnserve", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, static_url=DOCS_ASSETS
    )
    # ahead of the mount that serves the package's files under DOCS_ASSETS
    app.router.routes[:0] = [
        Route(f"{DOCS_ASSETS}/{REDOC_JS}", redoc_bundle, include_in_schema=False),
        Route(f"{DOCS_ASSETS}/{REDOC_LOGO}", redoc_logo, include_in_schema=False),
    ]
    metrics = Metrics()
    app.state.settings = settings
    app.state.metrics = metrics
    app.add_middleware(CancelOnDisconnectMiddleware)  # innermost: sees the whole body go by first
    digests, buckets = key_digests(settings), rate_buckets(settings)
    app.state.rate_buckets = buckets
    if digests or buckets is not None:  # 401 / 429 after the body is read: a client sending it all first reads them
        app.add_middleware(SecurityMiddleware, digests=digests, open_paths=settings.open_paths, buckets=buckets)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        drain_bytes=settings.body_drain_bytes,
        limits={path: (settings.max_upload_bytes, UPLOAD_SETTING) for path in (forecast.UPLOAD_PATH, files.FILE_PATH)},
    )
    # outside the body limit, which reads a whole body first: an upload over the cap is refused before that
    app.add_middleware(
        UploadGate,
        path=forecast.UPLOAD_PATH,
        limit=settings.max_concurrent_uploads,
        setting="ATTNSERVE_MAX_CONCURRENT_UPLOADS",
        drain_bytes=settings.body_drain_bytes,
    )
    if settings.cors_origins:  # outside the keys: a browser's preflight carries none
        app.add_middleware(CORSMiddleware, **cors_options(settings.cors_origins))
    # outermost: sees the 413s too; labels a request by its route: the routers' and the app's own
    # (/openapi.json, /docs, /redoc and the docs' assets under /static-docs)
    own = [route for route in app.router.routes if getattr(route, "path", None)]
    routes = [*own, *(route for module in ROUTERS for route in module.router.routes)]
    app.add_middleware(RelativeRedirects)  # inside the observability: its log shows what was answered
    app.add_middleware(ObservabilityMiddleware, metrics=metrics, routes=routes)
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(InvalidField, validation_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Overloaded, overloaded_handler)
    app.add_exception_handler(RequestTimeout, unavailable_handler)
    app.add_exception_handler(NotLoaded, unavailable_handler)
    # with keys, /docs gets an Authorize button (the middleware checks the key, not this)
    bearer = [Security(HTTPBearer(auto_error=False, description="an API key (ATTNSERVE_API_KEYS)"))]
    for module in ROUTERS:
        app.include_router(module.router, dependencies=bearer if digests and module in KEYED else None)
    document_error_message(app)
    return app


@cache
def redoc_bundle_bytes() -> bytes:
    """fastapi-offline's ReDoc bundle with the Redocly logo's address on this server (REDOC_LOGO)."""
    bundle = (Path(fastapi_offline.__file__).parent / "static" / REDOC_JS).read_bytes()
    return bundle.replace(REDOCLY_LOGO.encode(), f"{DOCS_ASSETS.strip('/')}/{REDOC_LOGO}".encode())


async def redoc_bundle(request: Request) -> Response:
    return Response(redoc_bundle_bytes(), media_type="text/javascript; charset=utf-8")


async def redoc_logo(request: Request) -> Response:
    return Response(REDOC_LOGO_SVG, media_type="image/svg+xml")


def required_fields_first(schema: dict[str, Any]) -> None:
    """A JSON request body's required fields first, then the optional ones, each in their order:
    ReDoc and Swagger UI list a body's fields in the schema's order, and pydantic puts a model's
    inherited fields before its own (``TranslateRequest``: the decoding options, then ``text``)."""
    components = schema.get("components", {}).get("schemas", {})
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            model = components.get(body.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1])
            if model and "properties" in model:
                required = set(model.get("required", []))
                fields = model["properties"]
                model["properties"] = {
                    name: fields[name] for name in sorted(fields, key=lambda name: name not in required)
                }


def document_error_message(app: FastAPI) -> None:
    """Every 422 answer has a one-line ``message`` beside FastAPI's ``detail`` (``app.api.errors``):
    the OpenAPI schema of that answer (``HTTPValidationError``) says so too. A request body lists
    its required fields first (``required_fields_first``)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = app.openapi_schema
        if schema is None:
            schema = build()
            error = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
            if error is not None:
                error.setdefault("properties", {})["message"] = {
                    "type": "string",
                    "title": "Message",
                    "description": "one line naming each field and the rule it broke, e.g. "
                    "'body.beam_size: Input should be less than or equal to 16'",
                }
                error["required"] = sorted({*error.get("required", []), "message"})
            required_fields_first(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to change the schema


def cors_options(origins: list[str]) -> dict:
    """CORSMiddleware's arguments: ``origins`` may call with a key and read the request id and
    Retry-After; no cookies are involved, so credentials stay off."""
    return {
        "allow_origins": origins,
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["Authorization", "Content-Type", "X-Request-ID"],
        "expose_headers": ["X-Request-ID", "Retry-After"],
        "max_age": 600,
    }


app = create_app()
