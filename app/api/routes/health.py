"""Liveness and readiness."""

from __future__ import annotations

import os

import torch
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from app.api.deps import RegistryDep
from app.schemas.health import Health, Readiness

router = APIRouter(tags=["health"])


@router.head("/healthz", include_in_schema=False)
async def healthz_head() -> Response:
    """HEAD /healthz: the same status as GET, no body (load balancers and curl -I probe so)."""
    return Response(media_type="application/json")


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    """With several uvicorn workers each answers for itself: its process id and torch threads."""
    return Health(status="ok", pid=os.getpid(), torch_threads=torch.get_num_threads())


@router.get(
    "/readyz",
    response_model=Readiness,
    response_model_exclude_none=True,
    summary="Readiness: 200 only when every configured model is loaded",
    responses={503: {"model": Readiness, "description": "a configured model is not loaded; the reasons are given"}},
)
async def readyz(registry: RegistryDep) -> Readiness | JSONResponse:
    loaded = registry.loaded
    if registry.ready:
        return Readiness(status="ready", models=loaded)
    reasons = registry.errors or {"models": "no model is configured (ATTNSERVE_MODELS is empty)"}
    body = Readiness(status="not ready", models=loaded, reasons=reasons)
    return JSONResponse(body.model_dump(), status_code=503)
