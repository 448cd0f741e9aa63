"""A translate answer from a text's sentence translations: the text rebuilt in its layout and each
sentence as a segment. A text of one sentence keeps the top-level fields it always had (that
sentence's tokens, attention, p_gen and alternatives); for several sentences those are empty, each
sentence's own being in its segment, and the score is their sum."""

from __future__ import annotations

from app.api.translate_jobs import Job, TextJobs
from app.schemas.common import ModelRef
from app.schemas.translate import Alternative, Detected, PlaceholderOut, Segment, TranslateResponse
from models.text.layout import rebuild
from models.text.placeholders import place_by_attention, restore
from models.translation.translator import Translation


def cut_warning(result: Translation, limit: int, where: str) -> list[str]:
    """A warning when decoding stopped at the output limit before the end of the sentence."""
    if result.ended:
        return []
    return [
        f"translation{where} cut at the output limit of {limit} pieces before the end of the sentence "
        "(max_length, or the default for the text's length); raise max_length or send a shorter text"
    ]


def segment(result: Translation, start: int, end: int, job: Job) -> Segment:
    """The sentence ``start``..``end`` of the text: its translation with each placeholder's output
    in place of its mark. Those the model left out (marked ``dropped``) are put after the word whose
    attention was on them most, else at the end."""
    held = list(job.placeholders)
    placed = place_by_attention(result.translation, result.target_tokens, result.source_tokens, result.attention, held)
    restored = restore(placed, held)
    dropped = {p.mark for p in held if p.mark not in result.translation}
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


def dropped_warning(segment: Segment, where: str) -> list[str]:
    """A warning naming the placeholders the model left out of a sentence (put back by attention)."""
    lost = [f"{p.kind} {p.text!r}" for p in segment.placeholders if p.dropped]
    if not lost:
        return []
    return [
        f"the model left out {', '.join(lost)}{where}; put back after the word whose attention was on it most "
        "(at the end of the sentence when that could not be told)"
    ]


def to_response(text: TextJobs, results: list[Translation]) -> TranslateResponse:
    """The answer for ``text`` from its sentences' ``results`` (one per job, in order)."""
    route, translator = text.route, text.route.translator
    segments = [segment(r, a, b, job) for r, (a, b), job in zip(results, text.spans, text.jobs)]
    several = len(segments) > 1
    warnings = list(route.warnings)
    for i, (result, job, seg) in enumerate(zip(results, text.jobs, segments)):
        warnings += cut_warning(result, job.limit, f" of sentence {i + 1}" if several else "")
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
        model=ModelRef(id=translator.id, sha256=translator.sha256),
        source_lang=route.source_lang,
        target_lang=route.target_lang,
        detected=None
        if route.detected is None
        else Detected(language=route.detected.language, confidence=route.detected.confidence),
        warnings=warnings,
        alternatives=one.alternatives if one else [],
        segments=segments,
    )
