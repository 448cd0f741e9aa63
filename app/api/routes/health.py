"""Liveness and readiness."""
from __future__ import annotations

import os

import torch
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import RegistryDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict:
    """With several uvicorn workers each answers for itself: its process id and torch threads."""
    return {"status": "ok", "pid": os.getpid(), "torch_threads": torch.get_num_threads()}


@router.get("/readyz", summary="Readiness: 200 only when every configured model is loaded",
            responses={503: {"description": "a configured model is not loaded; the reasons are given"}})
async def readyz(registry: RegistryDep) -> JSONResponse:
    loaded = registry.loaded
    if registry.ready:
        return JSONResponse({"status": "ready", "models": loaded})
    reasons = registry.errors or {"models": "no model is configured (ATTNSERVE_MODELS is empty)"}
    return JSONResponse({"status": "not ready", "models": loaded, "reasons": reasons}, status_code=503)
