"""POST /translate and /translate/batch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from app.api.deps import RegistryDep, SettingsDep
from app.api.errors import ERROR_RESPONSES, InvalidField
from app.api.json_body import StrictJSONRoute
from app.api.translate_answer import answer_texts
from app.api.translate_jobs import check_texts
from app.core.config import Settings
from app.core.registry import ModelRegistry
from app.documents.snippets import translate_markup
from app.schemas.translate import (
    DecodingOptions,
    TranslateBatchRequest,
    TranslateBatchResponse,
    TranslateRequest,
    TranslateResponse,
)

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
    """Check, translate and answer ``texts`` (their fields at ``locs``), in their order; snippets of
    markup (``format`` html or markdown) one by one as small documents."""
    if request.format != "text":
        return [await translate_markup(request, text, loc, registry, settings) for text, loc in zip(texts, locs)]
    return await answer_texts(await check_texts(request, texts, locs, registry, settings), request, registry)


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
