"""/translate with ``format`` "html" or "markdown": a snippet read as a small document (its markup
kept, its tags placed by attention), answered like any text.

The answer's ``translation`` is the snippet translated, markup and all. Its ``segments`` are every
sentence of every block (a paragraph, a heading, a list item, an attribute such as alt text), in
order; their ``start``/``end`` are offsets in the snippet's **text content**: its blocks' texts,
markup removed, joined by newlines."""

from __future__ import annotations

from app.api.errors import InvalidField
from app.api.translate_answer import answer_texts
from app.api.translate_jobs import answer_weights, check_cost
from app.api.translate_rules import check_alternatives, check_glossary, check_text
from app.core.config import Settings
from app.core.registry import ModelRegistry
from app.documents.document import DocumentError
from app.documents.formats import FORMATS
from app.documents.jobs import limits_of
from app.documents.pipeline import plan_document, translated_block
from app.schemas.translate import DecodingOptions, TranslateResponse

FORMAT_OF = {"html": "html", "markdown": "md"}


async def translate_markup(
    options: DecodingOptions, text: str, loc: tuple, registry: ModelRegistry, settings: Settings
) -> TranslateResponse:
    """One snippet in ``options.format``, translated (module docstring)."""
    check_alternatives(options)
    check_glossary(options, settings)
    check_text(text, loc, settings)
    try:
        doc = FORMATS[FORMAT_OF[options.format]].read(text.encode(), limits_of(settings))
    except DocumentError as error:
        raise InvalidField(loc, error.message) from None
    if not doc.blocks:
        raise InvalidField(loc, f"holds no text to translate outside its {options.format} markup")
    planned = plan_document(doc.blocks, options, registry, settings, loc)
    weights = sum(answer_weights(t, options.attention_level == "words") for t in planned.texts)
    check_cost(planned.cost, weights, loc, settings)
    answers = await answer_texts(planned.texts, options, registry)
    rendered = doc.render([translated_block(b, a) for b, a in zip(doc.blocks, answers)]).decode("utf-8")
    segments, warnings, offset = [], [], 0
    for block, answer in zip(doc.blocks, answers):
        segments += [s.model_copy(update={"start": s.start + offset, "end": s.end + offset}) for s in answer.segments]
        warnings += [w for w in answer.warnings if w not in warnings]
        offset += len(block.text) + 1
    one = segments[0] if len(segments) == 1 else None
    first = answers[0]
    between = "\n".join(a.pivot.translation for a in answers if a.pivot)
    return first.model_copy(
        update={
            "translation": rendered,
            "segments": segments,
            "warnings": warnings,
            "score": sum(a.score for a in answers),
            "source_tokens": one.source_tokens if one else [],
            "target_tokens": one.target_tokens if one else [],
            "attention": one.attention if one else [],
            "p_gen": one.p_gen if one else None,
            "words": one.words if one else None,
            "alternatives": one.alternatives if one else [],
            "pivot": None if first.pivot is None else first.pivot.model_copy(update={"translation": between}),
        }
    )
