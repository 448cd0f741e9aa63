"""A document's blocks translated: one language route for the whole file, each block's sentences the
jobs a translate request makes of a text (``app.api.translate_jobs``), the spans a format keeps
(code, translate="no") carried through the model as placeholders, and every inline tag put back
on the words its attention says it covered (``models.text.tags``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from app.api.language_plan import LanguagePlan, Route
from app.api.translate_answer import answer_texts
from app.api.translate_jobs import TextJobs, job_cost, text_jobs
from app.core.config import Settings
from app.core.registry import ModelRegistry
from app.documents.document import Block, Tag, TranslatedBlock
from app.schemas.translate import DecodingOptions, TranslateResponse
from models.text.tags import Sentence, TagSpan, mark_of, place_tags

DETECT_CHARS = 5000  # the language is detected once, on the document's first characters
BLOCKS_PER_ROUND = 16  # blocks a submission to the scheduler holds: interactive requests take turns between rounds


@dataclass
class PlannedDocument:
    """A document checked and read: its route, one ``TextJobs`` per block, its decoding cost."""

    route: Route
    texts: list[TextJobs]
    cost: int


def block_options(options: DecodingOptions, block: Block) -> DecodingOptions:
    """``options`` with the block's kept spans (tags with ``keep``) as glossary terms translated as
    themselves: carried through the model as placeholders, they come back exactly."""
    terms = {block.text[t.start : t.end].strip() for t in block.tags if t.keep}
    keep = {term: term for term in terms if term}
    if not keep:
        return options
    return options.model_copy(update={"glossary": {**keep, **(options.glossary or {})}})


def plan_document(
    blocks: Sequence[Block], options: DecodingOptions, registry: ModelRegistry, settings: Settings, loc: tuple
) -> PlannedDocument:
    """The route (detected once on the first ``DETECT_CHARS`` characters when the source language is
    not given) and every block read into its jobs; ``InvalidField``/``NotLoaded`` as /translate."""
    languages = LanguagePlan(options, registry, settings)
    sample = "\n".join(b.text for b in blocks)[:DETECT_CHARS]
    route = languages.route(sample, loc)
    texts = [text_jobs(b.text, loc, route, block_options(options, b)) for b in blocks]
    return PlannedDocument(route, texts, sum(job_cost(j) for t in texts for j in t.jobs))


def sentences_of(answer: TranslateResponse) -> list[Sentence]:
    """Each segment of a translate answer as a ``Sentence``: where it is in the text sent and in the
    translation (``models.text.layout.rebuild`` keeps every character between sentences), and where
    each placeholder's output landed."""
    out, target, at = [], 0, 0
    for seg in answer.segments:
        target += seg.start - at
        marks: dict[str, tuple[tuple[int, int], tuple[int, int] | None]] = {}
        found = 0
        for p in seg.placeholders:
            k = seg.translation.find(p.output, found)
            mark = mark_of(p.piece)
            if mark is None:  # every placeholder's piece is a mark; nothing to place otherwise
                continue
            marks[mark] = ((p.start, p.end), (target + k, target + k + len(p.output)) if k >= 0 else None)
            found = k + len(p.output) if k >= 0 else found
        span = (target, target + len(seg.translation))
        out.append(Sentence((seg.start, seg.end), span, seg.source_tokens, seg.target_tokens, seg.attention, marks))
        target, at = span[1], seg.end
    return out


def translated_block(block: Block, answer: TranslateResponse) -> TranslatedBlock:
    """The block's translation with its tags placed by attention (unchanged when nothing of it was
    translated: a block the layout passes through)."""
    if not answer.segments or answer.translation == block.text:
        return TranslatedBlock(answer.translation, list(block.tags))
    spans = [TagSpan(t.start, t.end, i) for i, t in enumerate(block.tags)]
    placed = place_tags(block.text, answer.translation, sentences_of(answer), spans)
    return TranslatedBlock(
        answer.translation, [Tag(p.start, p.end, block.tags[p.ref].ref, block.tags[p.ref].keep) for p in placed]
    )


async def translate_blocks(
    planned: PlannedDocument,
    blocks: Sequence[Block],
    options: DecodingOptions,
    registry: ModelRegistry,
    todo: Sequence[int] | None = None,
    done: Callable[[list[tuple[int, TranslatedBlock]]], Awaitable[None]] | None = None,
) -> dict[int, TranslatedBlock]:
    """The blocks at indices ``todo`` (all by default) translated, ``BLOCKS_PER_ROUND`` a submission;
    ``done`` hears each round's results as it finishes (a job stores them there)."""
    indices = list(range(len(blocks))) if todo is None else list(todo)
    out: dict[int, TranslatedBlock] = {}
    for k in range(0, len(indices), BLOCKS_PER_ROUND):
        round_ = indices[k : k + BLOCKS_PER_ROUND]
        answers = await answer_texts([planned.texts[i] for i in round_], options, registry)
        results = [(i, translated_block(blocks[i], a)) for i, a in zip(round_, answers)]
        out.update(results)
        if done is not None:
            await done(results)
    return out
