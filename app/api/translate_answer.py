"""A translate answer from a text's sentence translations: the text rebuilt in its layout and each
sentence as a segment. A text of one sentence keeps the top-level fields it always had (that
sentence's tokens, attention, p_gen and alternatives); for several sentences those are empty, each
sentence's own being in its segment, and the score is their sum.

A sentence translated through the pivot language is answered as its second leg's translation, with
the attention composed back to the source pieces (``models.translation.pivot``) and both legs in
its segment's ``pivot``."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, replace

from app.api.translate_jobs import Job, TextJobs, second_leg
from app.core.registry import ModelRegistry
from app.schemas.common import ModelRef
from app.schemas.translate import (
    Alternative,
    DecodingOptions,
    Detected,
    Pivot,
    PivotLeg,
    PlaceholderOut,
    Segment,
    SegmentPivot,
    TranslateResponse,
    Words,
)
from models.text.layout import rebuild
from models.text.placeholders import place_by_attention, restore
from models.translation.pivot import compose
from models.translation.translator import Translation
from models.translation.words import word_attention

Legs = tuple[Translation] | tuple[Translation, Job, Translation]
"""A sentence's results: its one translation, or the first leg's, the second leg's job and its translation."""


def cut_warning(result: Translation, limit: int, where: str) -> list[str]:
    """A warning when decoding stopped at the output limit before the end of the sentence."""
    if result.ended:
        return []
    return [
        f"translation{where} cut at the output limit of {limit} pieces before the end of the sentence "
        "(max_length, or the default for the text's length); raise max_length or send a shorter text"
    ]


def segment(result: Translation, start: int, end: int, job: Job, lost: frozenset[str] = frozenset()) -> Segment:
    """The sentence ``start``..``end`` of the text: its translation with each placeholder's output
    in place of its mark. Those the model left out (marked ``dropped``, as are those in ``lost``)
    are put after the word whose attention was on them most, else at the end."""
    held = list(job.placeholders)
    placed = place_by_attention(result.translation, result.target_tokens, result.source_tokens, result.attention, held)
    restored = restore(placed, held)
    dropped = {p.mark for p in held if p.mark not in result.translation} | lost
    return Segment(
        start=start,
        end=end,
        translation=restored.text,
        source_tokens=result.source_tokens,
        target_tokens=result.target_tokens,
        attention=result.attention,
        score=result.score,
        p_gen=result.p_gen,
        alternatives=[
            Alternative(
                translation=restore(a.translation, list(job.placeholders)).text,
                target_tokens=a.target_tokens,
                score=a.score,
                attention=a.attention,
                p_gen=a.p_gen,
            )
            for a in result.alternatives
        ],
        placeholders=[
            PlaceholderOut(
                piece=p.piece,
                kind=p.kind,
                text=p.text,
                start=start + p.start,
                end=start + p.end,
                output=p.output,
                dropped=p.mark in dropped,
            )
            for p in job.placeholders
        ],
    )


def leg_out(result: Translation) -> PivotLeg:
    return PivotLeg(source_tokens=result.source_tokens, target_tokens=result.target_tokens, attention=result.attention)


def pivot_segment(legs: Legs, start: int, end: int, job: Job) -> Segment:
    """A sentence translated in two legs: the second's translation, its attention (and its
    alternatives') composed back through the first's to the source pieces, both legs beside."""
    if len(legs) == 1:
        return segment(legs[0], start, end, job)
    first, second_job, second = legs
    lost = frozenset(p.mark for p in job.placeholders if p.mark not in first.translation)
    out = segment(second, start, end, second_job, lost)

    def composed(attention: list[list[float]]) -> list[list[float]]:
        return compose(attention, first.target_tokens, second.source_tokens, first.attention)

    between = restore(second_job.text, [replace(p, output=p.text) for p in job.placeholders]).text
    return out.model_copy(
        update={
            "source_tokens": first.source_tokens,
            "attention": composed(second.attention),
            "alternatives": [a.model_copy(update={"attention": composed(a.attention)}) for a in out.alternatives],
            "pivot": SegmentPivot(translation=between, legs=[leg_out(first), leg_out(second)]),
        }
    )


def words_of(source_tokens: list[str], target_tokens: list[str], attention: list[list[float]]) -> Words:
    return Words(**asdict(word_attention(source_tokens, target_tokens, attention)))


def with_words(seg: Segment) -> Segment:
    """The segment, its alternatives and its legs with their attention between words."""
    legs = seg.pivot.legs if seg.pivot else []
    pivot = seg.pivot and seg.pivot.model_copy(
        update={
            "legs": [
                leg.model_copy(update={"words": words_of(leg.source_tokens, leg.target_tokens, leg.attention)})
                for leg in legs
            ]
        }
    )
    return seg.model_copy(
        update={
            "pivot": pivot,
            "words": words_of(seg.source_tokens, seg.target_tokens, seg.attention),
            "alternatives": [
                a.model_copy(update={"words": words_of(seg.source_tokens, a.target_tokens, a.attention)})
                for a in seg.alternatives
            ],
        }
    )


def dropped_warning(segment: Segment, where: str) -> list[str]:
    """A warning naming the placeholders the model left out of a sentence (put back by attention)."""
    lost = [f"{p.kind} {p.text!r}" for p in segment.placeholders if p.dropped]
    if not lost:
        return []
    return [
        f"the model left out {', '.join(lost)}{where}; put back after the word whose attention was on it most "
        "(at the end of the sentence when that could not be told)"
    ]


def to_response(text: TextJobs, results: list[Legs], words: bool = False) -> TranslateResponse:
    """The answer for ``text`` from its sentences' ``results`` (one per job, in order); ``words``:
    with the attention between words."""
    route = text.route
    translator = route.then.translator if route.then else route.translator
    segments = [pivot_segment(r, a, b, job) for r, (a, b), job in zip(results, text.spans, text.jobs)]
    if words:
        segments = [with_words(seg) for seg in segments]
    several = len(segments) > 1
    warnings = list(route.warnings) if segments else []  # nothing translated: how it would have been is moot
    for i, (legs, job, seg) in enumerate(zip(results, text.jobs, segments)):
        where = f" of sentence {i + 1}" if several else ""
        warnings += cut_warning(
            legs[0], job.limit, where + (f" into {route.first.target_lang}" if len(legs) > 1 else "")
        )
        if len(legs) == 3:
            warnings += cut_warning(legs[2], legs[1].limit, where)
        warnings += dropped_warning(seg, f" in sentence {i + 1}" if several else "")
    if not segments:
        warnings.append("no line of the text holds words to translate; it comes back as sent")
    one = segments[0] if len(segments) == 1 else None
    return TranslateResponse(
        translation=rebuild(text.text, text.spans, [s.translation for s in segments]),
        source_tokens=one.source_tokens if one else [],
        target_tokens=one.target_tokens if one else [],
        attention=one.attention if one else [],
        score=sum(s.score for s in segments),
        p_gen=one.p_gen if one else None,
        words=one.words if one else None,
        model=ModelRef(id=translator.id, sha256=translator.sha256),
        source_lang=route.source_lang,
        target_lang=route.target_lang,
        detected=None
        if route.detected is None
        else Detected(language=route.detected.language, confidence=route.detected.confidence),
        warnings=warnings,
        alternatives=one.alternatives if one else [],
        pivot=None
        if route.then is None
        else Pivot(
            language=route.then.source_lang,
            translation=rebuild(text.text, text.spans, [s.pivot.translation if s.pivot else "" for s in segments]),
            models=[ModelRef(id=leg.translator.id, sha256=leg.translator.sha256) for leg in (route.first, route.then)],
        ),
        segments=segments,
    )


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


async def answer_texts(
    planned: list[TextJobs], request: DecodingOptions, registry: ModelRegistry
) -> list[TranslateResponse]:
    """Translate and answer the checked texts, in their order. Every sentence of every text is a
    row of one submission to its model; sentences going through the pivot language then make a
    second submission from the first legs' outputs."""
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
