"""POST /translate and /translate/batch."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body

from app.api.deps import RegistryDep, SettingsDep
from app.api.errors import ERROR_RESPONSES, InvalidField
from app.api.json_body import StrictJSONRoute
from app.api.translate_rules import Route, check_texts
from app.core.config import Settings
from app.core.registry import ModelRegistry
from app.schemas.common import ModelRef
from app.schemas.translate import (
    Alternative,
    DecodingOptions,
    Detected,
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


async def translate_all(
    request: DecodingOptions, texts: list[str], locs: list[tuple], registry: ModelRegistry, settings: Settings
) -> list[TranslateResponse]:
    """Check, translate and answer ``texts`` (their fields at ``locs``), in their order. Texts going
    to one model share one submission; its scheduler batches them per direction."""
    jobs = await check_texts(request, texts, locs, registry, settings)
    by_model: dict[str, list[int]] = {}
    for i, job in enumerate(jobs):
        by_model.setdefault(job.route.translator.id, []).append(i)
    calls = [
        registry.run(jobs[group[0]].route.translator, [(jobs[i].key, jobs[i].source, jobs[i].limit) for i in group])
        for group in by_model.values()
    ]
    answers: dict[int, TranslateResponse] = {}
    for group, results in zip(by_model.values(), await asyncio.gather(*calls)):
        answers.update((i, to_response(result, jobs[i].route, jobs[i].limit)) for i, result in zip(group, results))
    return [answers[i] for i in range(len(texts))]


def cut_warning(result: Translation, limit: int) -> list[str]:
    """A warning when decoding stopped at the output limit before the end of the sentence."""
    if result.ended:
        return []
    return [
        f"translation cut at the output limit of {limit} pieces before the end of the sentence "
        "(max_length, or the default for the text's length); raise max_length or send a shorter text"
    ]


def to_response(result: Translation, route: Route, limit: int) -> TranslateResponse:
    translator = route.translator
    detected = route.detected
    return TranslateResponse(
        translation=result.translation,
        source_tokens=result.source_tokens,
        target_tokens=result.target_tokens,
        attention=result.attention,
        score=result.score,
        p_gen=result.p_gen,
        model=ModelRef(id=translator.id, sha256=translator.sha256),
        source_lang=route.source_lang,
        target_lang=route.target_lang,
        detected=None if detected is None else Detected(language=detected.language, confidence=detected.confidence),
        warnings=[*route.warnings, *cut_warning(result, limit)],
        alternatives=[
            Alternative(
                translation=a.translation,
                target_tokens=a.target_tokens,
                score=a.score,
                attention=a.attention,
                p_gen=a.p_gen,
            )
            for a in result.alternatives
        ],
    )


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
