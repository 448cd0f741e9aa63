"""POST /translate and /translate/batch."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from fastapi import APIRouter, Body

from app.api.deps import RegistryDep, SettingsDep
from app.api.errors import ERROR_RESPONSES, InvalidField, NotLoaded, echo
from app.core.config import Settings
from app.core.inference import TranslateKey
from app.core.registry import ModelRegistry
from app.schemas.common import ModelRef
from app.schemas.translate import (
    DecodingOptions,
    TranslateBatchRequest,
    TranslateBatchResponse,
    TranslateRequest,
    TranslateResponse,
)
from models.checkpoint import loaded_checkpoint
from models.translator import Translation, Translator

router = APIRouter(prefix="/translate", tags=["translate"], responses=ERROR_RESPONSES)

EXAMPLES = {
    "greedy": {"summary": "Greedy decoding", "value": {"text": "I am very happy.", "beam_size": 1}},
    "beam": {
        "summary": "Beam search (5 beams), explicit pair",
        "value": {"text": "Where is the train station?", "beam_size": 5, "source_lang": "en", "target_lang": "fr"},
    },
    "short": {"summary": "Cap the output length", "value": {"text": "Tom is reading a book.", "max_length": 8}},
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


def check_text(text: str, loc: tuple, settings: Settings, translator: Translator) -> None:
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
    if translator.is_empty(text):
        raise InvalidField(loc, "has no characters the model can read (only invisible or control characters)")


def check_cost(
    texts: list[str], key: TranslateKey, loc: tuple, settings: Settings, translator: Translator
) -> list[int]:
    """Refuse a request whose decoding work (beam rows x output-token limit, summed over its
    texts) is over ``max_request_cost``: it would hold the model for many seconds. Returns each
    text's output-token limit, which the scheduler needs too."""
    limits = [translator.output_limit(text, key.max_length) for text in texts]
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


def pick_translator(options: DecodingOptions, registry: ModelRegistry) -> Translator:
    pairs = registry.language_pairs()
    if not pairs:
        raise NotLoaded("no translator is loaded; see /readyz")
    if options.source_lang is None and options.target_lang is None and len(pairs) == 1:
        return next(iter(pairs.values()))
    matches = [
        t
        for (src, tgt), t in pairs.items()
        if options.source_lang in (None, src) and options.target_lang in (None, tgt)
    ]
    if len(matches) != 1:
        served = ", ".join(f"{s}->{t}" for s, t in sorted(pairs))
        asked = f"{echo(options.source_lang or '*')}->{echo(options.target_lang or '*')}"
        raise InvalidField(
            ("body", "source_lang"),
            f"language pair {asked} is not served{' unambiguously' if matches else ''}; pairs served: {served}",
        )
    return matches[0]


def to_response(result: Translation, translator: Translator) -> TranslateResponse:
    checkpoint = loaded_checkpoint(translator.checkpoint)
    return TranslateResponse(
        translation=result.translation,
        source_tokens=result.source_tokens,
        target_tokens=result.target_tokens,
        attention=result.attention,
        score=result.score,
        p_gen=result.p_gen,
        model=ModelRef(id=checkpoint.id, sha256=checkpoint.sha256),
    )


@router.post(
    "", response_model=TranslateResponse, summary="Translate one text and return the attention matrix that produced it"
)
async def translate(
    request: Annotated[TranslateRequest, Body(openapi_examples=EXAMPLES)], registry: RegistryDep, settings: SettingsDep
) -> TranslateResponse:
    translator = pick_translator(request, registry)
    check_text(request.text, ("body", "text"), settings, translator)
    key = TranslateKey(request.beam_size, request.max_length)
    [limit] = check_cost([request.text], key, ("body", "text"), settings, translator)
    [result] = await registry.translate(translator, [(key, request.text, limit)])
    return to_response(result, translator)


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
    translator = pick_translator(request, registry)
    for i, text in enumerate(request.texts):
        check_text(text, ("body", "texts", i), settings, translator)
    key = TranslateKey(request.beam_size, request.max_length)
    limits = check_cost(request.texts, key, ("body", "texts"), settings, translator)
    results = await registry.translate(translator, [(key, t, n) for t, n in zip(request.texts, limits)])
    return TranslateBatchResponse(results=[to_response(r, translator) for r in results])
