"""Bodies of the document job routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class JobStatus(BaseModel):
    """A document job: how far it is, and where its file will be."""

    id: str = Field(..., description="the job's id (GET /jobs/{id})")
    status: Literal["queued", "running", "done", "failed"] = Field(
        ..., description="queued, running (blocks being translated), done (the file is ready) or failed (see error)"
    )
    filename: str = Field(..., description="the file sent")
    format: str = Field(..., description="its format: txt, md, html, docx or srt")
    blocks_total: int = Field(..., description="blocks of the file to translate (paragraphs, cells, cues)")
    blocks_done: int = Field(..., description="blocks translated and stored so far")
    progress: float = Field(..., description="blocks_done / blocks_total, 0..1")
    eta_seconds: float | None = Field(
        None, description="seconds left at the rate so far; null before the first round is stored or once finished"
    )
    created: float = Field(..., description="when it was sent (Unix time, seconds)")
    finished: float | None = Field(None, description="when it finished (Unix time), else null")
    error: str | None = Field(None, description="why it failed, for a failed job")
    result_url: str | None = Field(None, description="where to download the translated file, once done")
