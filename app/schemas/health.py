"""Response bodies of GET /healthz and GET /readyz."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = Field(..., description="always 'ok' while the process answers")
    pid: int = Field(..., description="the answering worker process")
    torch_threads: int = Field(..., description="torch intra-op threads of that process")


class Readiness(BaseModel):
    status: str = Field(..., description="'ready' or 'not ready'")
    models: list[str] = Field(..., description="model ids loaded")
    reasons: dict[str, str] | None = Field(None, description="why each configured model is not loaded")
