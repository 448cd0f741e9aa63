"""The jobs a translate request becomes: each text's sentences, read once by their model and costed.

A text keeps its layout (``models.text.layout``): its lines' breaks, indentation, list markers
and spacing stay as sent, lines without words pass through, and every sentence of every other
line is one job, a row of the request's one scheduled model call. The cost cap and the answer cap
count the jobs of all texts together.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from app.api.errors import InvalidField
from app.api.translate_rules import LanguagePlan, Route, check_alternatives, check_glossary, check_text
from app.core.config import Settings
from app.core.registry import ModelRegistry
from app.schemas.translate import DecodingOptions
from models.text.layout import Span, plan
from models.text.placeholders import Placeholder, protect
from models.translation.translator import Source, TranslateKey


@dataclass(frozen=True)
class Job:
    """One sentence that kept every rule: where it goes, read once by its model (its spans
    replaced by ``placeholders``' marks), and the most tokens its decoding may produce."""

    route: Route
    key: TranslateKey
    source: Source
    limit: int
    placeholders: tuple[Placeholder, ...] = ()


@dataclass(frozen=True)
class TextJobs:
    """A text, its route, the spans of it that are translated (sentences, in order) and their jobs."""

    text: str
    route: Route
    spans: list[Span]
    jobs: list[Job]


SOURCE_PIECES_PER_STEP = 64
"""A decoder row's step over a source of S pieces costs about 1 + S / 64 times one over a very short
source: the attention reads every source piece at every step (measured on the shipped en->fr model,
``docs/results/serving.md``)."""


def job_cost(job: Job) -> int:
    """Decoding work of one sentence: beam rows x output-token limit x (1 + source pieces / 64)."""
    return math.ceil(job.key.rows * job.limit * (1 + len(job.source.ids) / SOURCE_PIECES_PER_STEP))


def answer_weights(text: TextJobs) -> int:
    """The most attention weights one text's answer can carry: each sentence's output-token limit x
    source pieces, for its translation and each alternative; twice for a text of one sentence, whose
    top-level fields repeat its one segment's."""
    weights = sum((1 + job.key.alternatives) * job.limit * len(job.source.ids) for job in text.jobs)
    return 2 * weights if len(text.jobs) == 1 else weights


def check_cost(cost: int, weights: int, loc: tuple, settings: Settings, partial: bool = False) -> None:
    """Refuse a request whose decoding work (``cost``, ``job_cost`` summed) is over
    ``max_request_cost`` (it would hold the model for many seconds) or whose answer could carry
    more than ``max_answer_weights`` attention weights (``weights``, ``answer_weights`` summed).
    ``partial``: the figures count the texts read so far (the rest is not read once one is over)."""
    more = " or more" if partial else ""
    caps = (
        (
            cost,
            settings.max_request_cost,
            f"costs {{:,}}{more} (beam_size x output-token limit x (1 + source pieces / {SOURCE_PIECES_PER_STEP}), "
            "summed over the sentences of the texts), over the {:,} one request may cost "
            "(ATTNSERVE_MAX_REQUEST_COST); send fewer or shorter texts, or a smaller beam_size or max_length",
        ),
        (
            weights,
            settings.max_answer_weights,
            f"could answer {{:,}}{more} attention weights (output-token limit x source pieces x (1 + alternatives), "
            "summed over the sentences of the texts), over the {:,} one answer may carry "
            "(ATTNSERVE_MAX_ANSWER_WEIGHTS); send fewer or shorter texts, fewer alternatives or a smaller max_length",
        ),
    )
    for figure, limit, message in caps:
        if figure > limit:
            raise InvalidField(loc, message.format(figure, limit), "cost_too_high")


def read(text: str, loc: tuple, route: Route, options: DecodingOptions) -> Job:
    """A sentence read by the model of its route (tokenized once, here), its spans (URLs, numbers,
    codes, glossary terms: ``models.text.placeholders``) replaced by marks when the model was
    trained to carry them; InvalidField when the model can read nothing of it."""
    translator = route.translator
    placeholders: tuple[Placeholder, ...] = ()
    if translator.placeholders:
        protected = protect(text, route.source_lang, route.target_lang, options.glossary, options.number_format)
        text, placeholders = protected.text, tuple(protected.placeholders)
    source = translator.read(text, route.target_lang, marks=translator.placeholders)
    if not source.readable:
        raise InvalidField(loc, "has no characters the model can read (only invisible or control characters)")
    key = TranslateKey(options.beam_size, options.max_length, route.target_lang, options.alternatives)
    return Job(route, key, source, translator.output_limit(source, options.max_length), placeholders)


def text_jobs(text: str, loc: tuple, route: Route, options: DecodingOptions) -> TextJobs:
    """``text`` cut into the sentences its model translates, each read. A glossary for a model not
    trained with placeholders is refused: it could not be honoured."""
    if options.glossary and not route.translator.placeholders:
        raise InvalidField(
            ("body", "glossary"),
            f"cannot be applied: model {route.translator.id} ({route.source_lang}->{route.target_lang}) was not "
            "trained to carry placeholders; send the text without a glossary",
        )
    spans = plan(text, route.source_lang)
    return TextJobs(text, route, spans, [read(text[a:b], loc, route, options) for a, b in spans])


async def check_texts(
    options: DecodingOptions, texts: list[str], locs: list[tuple], registry: ModelRegistry, settings: Settings
) -> list[TextJobs]:
    """Every rule for ``texts`` (their fields at ``locs``): one ``TextJobs`` each, in order.
    Detection (about 50 µs a short text) runs off the event loop."""
    check_alternatives(options)
    check_glossary(options, settings)
    languages = LanguagePlan(options, registry, settings)
    for text, loc in zip(texts, locs):
        check_text(text, loc, settings)

    def route_all() -> list[Route]:
        return [languages.route(text, loc) for text, loc in zip(texts, locs)]

    routes = await asyncio.to_thread(route_all) if languages.detects else route_all()
    planned: list[TextJobs] = []
    cost = weights = 0
    for text, loc, route in zip(texts, locs, routes):  # a request over a cap is refused before the rest is read
        planned.append(text_jobs(text, loc, route, options))
        cost += sum(map(job_cost, planned[-1].jobs))
        weights += answer_weights(planned[-1])
        check_cost(cost, weights, locs[0][:2], settings, partial=len(planned) < len(texts))
    return planned
