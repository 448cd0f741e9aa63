"""Pieces shared by every resource's schemas."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Requests reject unknown fields: nothing a client sent is dropped silently."""

    model_config = ConfigDict(extra="forbid")


class ModelRef(BaseModel):
    id: str
    sha256: str


class Message(BaseModel):
    """Every error answer: a one-line ``message`` naming field and rule, and the details."""

    message: str
    detail: Any = None
