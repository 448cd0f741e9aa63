"""The jobs a translate request becomes: each text's sentences, read once by their model and costed.

A text keeps its layout (``models.text.layout``): its lines' breaks, indentation, list markers
and spacing stay as sent, lines without words pass through, and every sentence of every other
line is one job, a row of the request's one scheduled model call. The cost cap and the answer cap
count the jobs of all texts together.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, replace

from app.api.errors import InvalidField
from app.api.language_plan import LanguagePlan, Leg, Route
from app.api.translate_rules import check_alternatives, check_glossary, check_text
from app.core.config import Settings
from app.core.registry import ModelRegistry
from app.schemas.translate import DecodingOptions
from models.text.layout import Span, plan
from models.text.placeholders import Placeholder, place_by_attention, protect, restore
from models.translation.translator import Source, TranslateKey, Translation


@dataclass(frozen=True)
class Job:
    """One sentence that kept every rule: where it goes, read once by the model of ``leg`` (its
    spans replaced by ``placeholders``' marks), and the most tokens its decoding may produce. A
    route through the pivot language has a job per leg: the second reads the first's output."""

    route: Route
    leg: Leg
    key: TranslateKey
    source: Source
    limit: int
    placeholders: tuple[Placeholder, ...] = ()
    text: str = ""  # what the model read, its spans as marks (a second leg: the first leg's output)


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
    """Decoding work of one sentence: beam rows x output-token limit x (1 + source pieces / 64);
    twice that through a pivot language (the text in between counted as long as the source)."""
    legs = 2 if job.route.then else 1
    return legs * math.ceil(job.key.rows * job.limit * (1 + len(job.source.ids) / SOURCE_PIECES_PER_STEP))


def answer_weights(text: TextJobs, words: bool = False) -> int:
    """The most attention weights one text's answer can carry: each sentence's output-token limit x
    source pieces, for its translation and each alternative (three times through a pivot language:
    both legs' and the composed one; once more for each matrix between ``words``); twice for a text
    of one sentence, whose top-level fields repeat its one segment's."""
    legs = 3 if text.route.then else 1
    weights = sum(
        (legs + job.key.alternatives + (1 + job.key.alternatives) * words) * job.limit * len(job.source.ids)
        for job in text.jobs
    )
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


def carries_placeholders(route: Route) -> bool:
    """Whether every model of the route was trained to carry placeholder marks."""
    return route.translator.placeholders and (route.then is None or route.then.translator.placeholders)


def read_leg(text: str, route: Route, leg: Leg, options: DecodingOptions, placeholders: tuple) -> Job:
    """``text`` (its spans already marks when ``placeholders``) read by the model of ``leg``.
    The first leg of a pivot route writes one translation: the alternatives are the second's."""
    source = leg.translator.read(text, leg.target_lang, marks=carries_placeholders(route))
    alternatives = 0 if leg.target_lang != route.target_lang else options.alternatives
    key = TranslateKey(options.beam_size, options.max_length, leg.target_lang, alternatives)
    limit = leg.translator.output_limit(source, options.max_length)
    return Job(route, leg, key, source, limit, placeholders, text)


def read(text: str, loc: tuple, route: Route, options: DecodingOptions) -> Job:
    """A sentence read by the (first) model of its route (tokenized once, here), its spans (URLs,
    numbers, codes, glossary terms: ``models.text.placeholders``) replaced by marks when the models
    were trained to carry them; InvalidField when the model can read nothing of it."""
    placeholders: tuple[Placeholder, ...] = ()
    if carries_placeholders(route):
        protected = protect(text, route.source_lang, route.target_lang, options.glossary, options.number_format)
        text, placeholders = protected.text, tuple(protected.placeholders)
    job = read_leg(text, route, route.first, options, placeholders)
    if not job.source.readable:
        raise InvalidField(loc, "has no characters the model can read (only invisible or control characters)")
    return job


def pivot_text(job: Job, result: Translation) -> str:
    """The first leg's output of a pivot job with every placeholder's mark in it, for the second
    leg to read: those it left out put back by attention (at the end when that cannot be told)."""
    held = list(job.placeholders)
    placed = place_by_attention(result.translation, result.target_tokens, result.source_tokens, result.attention, held)
    return restore(placed, [replace(p, output=p.mark) for p in held]).text


def second_leg(job: Job, result: Translation, options: DecodingOptions) -> Job:
    """The job of a pivot route's second leg, reading the first leg's ``result``."""
    assert job.route.then is not None
    return read_leg(pivot_text(job, result), job.route, job.route.then, options, job.placeholders)


def text_jobs(text: str, loc: tuple, route: Route, options: DecodingOptions) -> TextJobs:
    """``text`` cut into the sentences its model translates, each read. A glossary for a model not
    trained with placeholders is refused: it could not be honoured."""
    if options.glossary and not carries_placeholders(route):
        legs = [route.first] + ([route.then] if route.then else [])
        model = next(leg for leg in legs if not leg.translator.placeholders)
        raise InvalidField(
            ("body", "glossary"),
            f"cannot be applied: model {model.translator.id} ({model.source_lang}->{model.target_lang}) was not "
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
        weights += answer_weights(planned[-1], options.attention_level == "words")
        check_cost(cost, weights, locs[0][:2], settings, partial=len(planned) < len(texts))
    return planned
