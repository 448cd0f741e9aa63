"""GET /jobs/{id} (progress), GET /jobs/{id}/result (the translated file), DELETE /jobs/{id}."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response

from app.api.errors import ERROR_RESPONSES
from app.core.job_store import JobRow
from app.documents.formats import FORMATS, disposition, translated_name
from app.documents.jobs import Jobs, eta_seconds
from app.schemas.common import Message
from app.schemas.jobs import JobStatus

router = APIRouter(
    prefix="/jobs",
    tags=["jobs"],
    responses={**ERROR_RESPONSES, 404: {"model": Message, "description": "no such job (or another key's)"}},
)
JobId = Annotated[str, Path(min_length=1, max_length=64, description="the id POST /translate/file answered")]


def owner_of(request: Request) -> str:
    """Whose jobs a request sees: its API key's (its digest, with keys on), else everyone's ("")."""
    return str(request.scope.get("state", {}).get("key_digest", ""))


def status_of(job: JobRow) -> JobStatus:
    return JobStatus(
        id=job.id,
        status=job.status,
        filename=job.filename,
        format=job.format,
        blocks_total=job.total,
        blocks_done=job.done,
        progress=round(job.done / job.total, 4) if job.total else 1.0,
        eta_seconds=eta_seconds(job, time.time()),
        created=job.created,
        finished=job.finished,
        error=job.error,
        result_url=f"/jobs/{job.id}/result" if job.status == "done" else None,
    )


async def find(request: Request, job_id: str) -> JobRow:
    """The job, if the request's key owns it; else 404 (another key's job is not told apart from none)."""
    jobs: Jobs = request.app.state.jobs
    job = await asyncio.to_thread(jobs.store.get, job_id, owner_of(request))
    if job is None:
        raise HTTPException(404, f"no job {job_id!r} (finished jobs expire after ATTNSERVE_JOB_EXPIRY_S)")
    return job


@router.get("/{job_id}", response_model=JobStatus, summary="A document job's status, progress and time left")
async def get_job(request: Request, job_id: JobId) -> JobStatus:
    return status_of(await find(request, job_id))


@router.get(
    "/{job_id}/result",
    summary="Download a finished job's translated file",
    responses={200: {"description": "the translated file, in the format sent"}, 409: {"model": Message}},
)
async def job_result(request: Request, job_id: JobId) -> Response:
    job = await find(request, job_id)
    if job.status != "done":
        reason = f": {job.error}" if job.error else f" ({job.done} of {job.total} blocks done)"
        raise HTTPException(409, f"job {job_id!r} is {job.status}{reason}")
    jobs: Jobs = request.app.state.jobs
    body = await asyncio.to_thread(jobs.store.result, job.id)
    if body is None:
        raise HTTPException(404, f"no job {job_id!r}")
    name = translated_name(job.filename, str(job.options.get("target_lang") or "translated"))
    headers = {"Content-Disposition": disposition(name)}
    return Response(body, media_type=FORMATS[job.format].media_type, headers=headers)


@router.delete("/{job_id}", status_code=204, summary="Cancel a job and remove it with its file")
async def delete_job(request: Request, job_id: JobId) -> Response:
    job = await find(request, job_id)
    jobs: Jobs = request.app.state.jobs
    await asyncio.to_thread(jobs.store.delete, job.id)
    return Response(status_code=204)
