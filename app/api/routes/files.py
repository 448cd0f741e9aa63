"""POST /translate/file: a whole file translated in its own format, or a job for a large one."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app.api.deps import RegistryDep, SettingsDep
from app.api.errors import ERROR_RESPONSES, InvalidField
from app.api.routes.jobs import owner_of, status_of
from app.documents.document import Document, DocumentError, Limits
from app.documents.formats import FORMATS, disposition, format_of, supported, translated_name
from app.documents.jobs import Jobs, limits_of
from app.documents.pipeline import plan_document, translate_blocks
from app.schemas.common import Message
from app.schemas.jobs import JobStatus
from app.schemas.translate import MAX_BEAM, DecodingOptions

router = APIRouter(prefix="/translate", tags=["translate"], responses=ERROR_RESPONSES)
FILE_PATH = "/translate/file"  # its body limit is ATTNSERVE_MAX_UPLOAD_BYTES (app.main)
LOC = ("body", "file")


def options_of(source_lang: str | None, target_lang: str | None, beam_size: int) -> DecodingOptions:
    """The form's fields as decoding options; a 422 naming the field that breaks a rule."""
    try:
        return DecodingOptions(source_lang=source_lang, target_lang=target_lang, beam_size=beam_size)
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidField(("body", *map(str, first["loc"])), first["msg"]) from None


async def read_upload(file: UploadFile, max_bytes: int) -> bytes:
    data = await file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise HTTPException(413, f"file over the {max_bytes} byte limit (ATTNSERVE_MAX_UPLOAD_BYTES)")
    return data


def parse(filename: str, data: bytes, limits: Limits) -> tuple[str, Document]:
    """(the format's name, the parsed document); ``DocumentError`` for a file that cannot be read."""
    fmt = format_of(filename, data)
    return fmt.name, fmt.read(data, limits)


@router.post(
    "/file",
    summary="Translate a file (.txt, .md, .html, .docx, .srt) into the same format; a large one becomes a job",
    responses={
        200: {"description": "the translated file, named <name>.<target>.<ext>"},
        202: {"model": JobStatus, "description": "a job (Location: /jobs/{id}): the file costs more than a request"},
        413: {"model": Message, "description": "over ATTNSERVE_MAX_UPLOAD_BYTES, or too large once unpacked"},
        415: {"model": Message, "description": f"not one of the served types ({supported()})"},
    },
)
async def translate_file(
    request: Request,
    registry: RegistryDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description=f"the file: {supported()}")],
    source_lang: Annotated[str | None, Form(description="its language, or 'auto' (default) to detect it")] = None,
    target_lang: Annotated[str | None, Form(description="the language to translate into")] = None,
    beam_size: Annotated[int, Form(ge=1, le=MAX_BEAM, description="beam width; 1 = greedy")] = 5,
    job: Annotated[bool, Form(description="always answer with a job (202), whatever the file's size")] = False,
) -> Response:
    data = await read_upload(file, settings.max_upload_bytes)
    options = options_of(source_lang, target_lang, beam_size)
    filename = file.filename or "document.txt"
    try:
        fmt, doc = await asyncio.to_thread(parse, filename, data, limits_of(settings))
    except DocumentError as error:
        raise HTTPException(error.status, error.message) from None
    if not doc.blocks:
        raise InvalidField(LOC, "holds no text to translate (every part of it is markup, code or blank)")
    planned = plan_document(doc.blocks, options, registry, settings, LOC)
    resolved = options.model_copy(
        update={"source_lang": planned.route.source_lang, "target_lang": planned.route.target_lang}
    )
    name = translated_name(filename, planned.route.target_lang)
    if job or planned.cost > settings.max_request_cost:
        jobs: Jobs = request.app.state.jobs
        args = (owner_of(request), filename, fmt, resolved.model_dump(exclude_none=True), data, len(doc.blocks))
        job_id = await asyncio.to_thread(jobs.store.create, *args)
        jobs.wake()
        row = await asyncio.to_thread(jobs.store.get, job_id)
        assert row is not None
        body = status_of(row).model_dump()
        return JSONResponse(body, 202, headers={"Location": f"/jobs/{job_id}"})
    done = await translate_blocks(planned, doc.blocks, resolved, registry)
    rendered = await asyncio.to_thread(doc.render, [done[i] for i in range(len(doc.blocks))])
    media = FORMATS[fmt].media_type
    headers = {"Content-Disposition": disposition(name), "Content-Language": planned.route.target_lang}
    return Response(rendered, media_type=media, headers=headers)
