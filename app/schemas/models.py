"""Response body of GET /models: one entry per loaded model."""

from __future__ import annotations

from pydantic import BaseModel


class ModelInfo(BaseModel):
    id: str
    task: str
    languages: dict[str, str] | None = None
    architecture: dict
    cell: str
    attention: str
    parameters: int
    training_data: dict
    metrics: dict
    sha256: str
