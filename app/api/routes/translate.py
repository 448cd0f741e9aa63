"""POST /translate and /translate/batch."""

from __future__ import annotations

import asyncio
import unicodedata
from typing import Annotated

from fastapi import APIRouter, Body

from app.api.deps import RegistryDep, SettingsDep
from app.api.errors import ERROR_RESPONSES, InvalidField
from app.api.translate_languages import LanguagePlan, Route
from app.core.config import Settings
from app.core.inference import TranslateKey
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
from models.checkpoint import loaded_checkpoint
from models.translation.translator import Translation, Translator

router = APIRouter(prefix="/translate", tags=["translate"], responses=ERROR_RESPONSES)

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


# letters and symbols that render as blank space: the Hangul fillers and the blank braille cell
BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def visible(char: str) -> bool:
    """A letter, number, punctuation or symbol (Unicode categories L, N, P, S) that is not drawn
    blank: not a space (Z), control, format or zero-width character (C), not a combining mark (M,
    which only decorates the character before it) and not one of ``BLANK_GLYPHS``."""
    return unicodedata.category(char)[0] in "LNPS" and char not in BLANK_GLYPHS


def check_text(text: str, loc: tuple, settings: Settings) -> None:
    if not any(visible(char) for char in text):
        raise InvalidField(
            loc,
            "must contain at least one visible character (a letter, digit, punctuation mark or symbol; "
            "not only spaces, zero-width, control or combining characters)",
        )
    if len(text) > settings.max_text_chars:
        raise InvalidField(
            loc, f"must be at most {settings.max_text_chars} characters (got {len(text)})", "string_too_long"
        )


def check_readable(text: str, loc: tuple, translator: Translator) -> None:
    if translator.is_empty(text):
        raise InvalidField(loc, "has no characters the model can read (only invisible or control characters)")


def check_cost(texts: list[str], routes: list[Route], key: TranslateKey, loc: tuple, settings: Settings) -> list[int]:
    """Refuse a request whose decoding work (beam rows x output-token limit, summed over its
    texts) is over ``max_request_cost``: it would hold the model for many seconds. Returns each
    text's output-token limit, which the scheduler needs too."""
    limits = [route.translator.output_limit(text, key.max_length) for text, route in zip(texts, routes)]
    cost = key.beam_size * sum(limits)
    if cost > settings.max_request_cost:
        raise InvalidField(
            loc,
            f"asks for {cost:,} decoding steps (beam_size x output-token limit, summed over the texts), over "
            f"the {settings.max_request_cost:,} one request may ask for (ATTNSERVE_MAX_REQUEST_COST); send fewer "
            "or shorter texts, or a smaller beam_size or max_length",
            "cost_too_high",
        )
    return limits


async def routes_for(plan: LanguagePlan, texts: list[str], locs: list[tuple]) -> list[Route]:
    """Each text's direction; detection (about 50 µs a short text) runs off the event loop."""

    def route_all() -> list[Route]:
        return [plan.route(text, loc) for text, loc in zip(texts, locs)]

    return await asyncio.to_thread(route_all) if plan.detects else route_all()


async def translate_all(
    request: DecodingOptions, texts: list[str], locs: list[tuple], registry: ModelRegistry, settings: Settings
) -> list[TranslateResponse]:
    """Route, check and translate ``texts`` (their fields at ``locs``); answers in their order.
    Texts going to one model share one submission; the scheduler batches them per direction."""
    if request.alternatives >= request.beam_size:
        raise InvalidField(
            ("body", "alternatives"),
            f"must be less than beam_size ({request.alternatives} >= {request.beam_size}): the beam's "
            "next-best hypotheses are at most beam_size - 1; raise beam_size or ask for fewer",
        )
    plan = LanguagePlan(request, registry, settings)
    for text, loc in zip(texts, locs):
        check_text(text, loc, settings)
    routes = await routes_for(plan, texts, locs)
    for text, loc, route in zip(texts, locs, routes):
        check_readable(text, loc, route.translator)
    keys = [
        TranslateKey(request.beam_size, request.max_length, route.target_lang, request.alternatives) for route in routes
    ]
    limits = check_cost(texts, routes, keys[0], locs[0][:2], settings)
    by_model: dict[str, list[int]] = {}
    for i, route in enumerate(routes):
        by_model.setdefault(loaded_checkpoint(route.translator.checkpoint).id, []).append(i)
    calls = [
        registry.translate(routes[group[0]].translator, [(keys[i], texts[i], limits[i]) for i in group])
        for group in by_model.values()
    ]
    answers: dict[int, TranslateResponse] = {}
    for group, results in zip(by_model.values(), await asyncio.gather(*calls)):
        answers.update((i, to_response(result, routes[i])) for i, result in zip(group, results))
    return [answers[i] for i in range(len(texts))]


def to_response(result: Translation, route: Route) -> TranslateResponse:
    checkpoint = loaded_checkpoint(route.translator.checkpoint)
    detected = route.detected
    return TranslateResponse(
        translation=result.translation,
        source_tokens=result.source_tokens,
        target_tokens=result.target_tokens,
        attention=result.attention,
        score=result.score,
        p_gen=result.p_gen,
        model=ModelRef(id=checkpoint.id, sha256=checkpoint.sha256),
        source_lang=route.source_lang,
        target_lang=route.target_lang,
        detected=None if detected is None else Detected(language=detected.language, confidence=detected.confidence),
        warnings=list(route.warnings),
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
