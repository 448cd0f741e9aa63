"""POST /translate and /translate/batch."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body

from app.api.deps import RegistryDep, SettingsDep
from app.api.errors import ERROR_RESPONSES, InvalidField
from app.api.json_body import StrictJSONRoute
from app.api.translate_answer import to_response
from app.api.translate_jobs import Job, check_texts, second_leg
from app.core.config import Settings
from app.core.registry import ModelRegistry
from app.schemas.translate import (
    DecodingOptions,
    TranslateBatchRequest,
    TranslateBatchResponse,
    TranslateRequest,
    TranslateResponse,
)
from models.translation.translator import Translation

router = APIRouter(prefix="/translate", tags=["translate"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute)

EXAMPLES = {
    "greedy": {"summary": "Greedy decoding", "value": {"text": "I am very happy.", "beam_size": 1}},
    "beam": {
        "summary": "Beam search (5 beams), explicit pair",
        "value": {"text": "Where is the train station?", "beam_size": 5, "source_lang": "en", "target_lang": "fr"},
    },
    "short": {"summary": "Cap the output length", "value": {"text": "Tom is reading a book.", "max_length": 8}},
    "alternatives": {
        "summary": "Two next-best translations, each with its attention",
        "value": {"text": "I am hungry.", "beam_size": 5, "alternatives": 2},
    },
    "detect": {
        "summary": "Detect the source language",
        "value": {"text": "Where is the train station?", "source_lang": "auto", "target_lang": "fr"},
    },
}
BATCH_EXAMPLES = {
    "two": {
        "summary": "Two sentences, beam 5",
        "value": {"texts": ["Good morning.", "I don't know what to do."], "beam_size": 5},
    },
}


async def run_jobs(jobs: list[Job], registry: ModelRegistry) -> list[Translation]:
    """Every job's translation, in order: the jobs of each model are rows of one submission; its
    scheduler batches them per direction."""
    by_model: dict[str, list[int]] = {}
    for i, job in enumerate(jobs):
        by_model.setdefault(job.leg.translator.id, []).append(i)
    calls = [
        registry.run(jobs[group[0]].leg.translator, [(jobs[i].key, jobs[i].source, jobs[i].limit) for i in group])
        for group in by_model.values()
    ]
    results: dict[int, Translation] = {}
    for group, done in zip(by_model.values(), await asyncio.gather(*calls)):
        results.update(zip(group, done))
    return [results[i] for i in range(len(jobs))]


async def translate_all(
    request: DecodingOptions, texts: list[str], locs: list[tuple], registry: ModelRegistry, settings: Settings
) -> list[TranslateResponse]:
    """Check, translate and answer ``texts`` (their fields at ``locs``), in their order. Every
    sentence of every text is a row of one submission to its model; sentences going through the
    pivot language then make a second submission from the first legs' outputs."""
    planned = await check_texts(request, texts, locs, registry, settings)
    jobs = [job for text in planned for job in text.jobs]
    first = await run_jobs(jobs, registry)
    pivoted = [i for i, job in enumerate(jobs) if job.route.then is not None]
    seconds = [second_leg(jobs[i], first[i], request) for i in pivoted]
    done = dict(zip(pivoted, zip(seconds, await run_jobs(seconds, registry)))) if seconds else {}
    legs = [(first[i], *done[i]) if i in done else (first[i],) for i in range(len(jobs))]
    answers, at = [], 0
    for text in planned:
        answers.append(to_response(text, legs[at : at + len(text.jobs)], request.attention_level == "words"))
        at += len(text.jobs)
    return answers


@router.post(
    "", response_model=TranslateResponse, summary="Translate one text and return the attention matrix that produced it"
)
async def translate(
    request: Annotated[TranslateRequest, Body(openapi_examples=EXAMPLES)], registry: RegistryDep, settings: SettingsDep
) -> TranslateResponse:
    [answer] = await translate_all(request, [request.text], [("body", "text")], registry, settings)
    return answer


@router.post(
    "/batch",
    response_model=TranslateBatchResponse,
    summary="Translate several texts; results come back in request order",
)
async def translate_batch(
    request: Annotated[TranslateBatchRequest, Body(openapi_examples=BATCH_EXAMPLES)],
    registry: RegistryDep,
    settings: SettingsDep,
) -> TranslateBatchResponse:
    if len(request.texts) > settings.max_batch_texts:
        raise InvalidField(
            ("body", "texts"),
            f"must hold at most {settings.max_batch_texts} texts (got {len(request.texts)})",
            "too_long",
        )
    locs = [("body", "texts", i) for i in range(len(request.texts))]
    return TranslateBatchResponse(results=await translate_all(request, request.texts, locs, registry, settings))
