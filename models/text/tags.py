"""Inline tags (bold, a link, a run of italic) carried from a text to its translation by attention.

A tag covers characters ``start``..``end`` of the source text. Its place in the translation:

1. Pieces are matched to the characters they spell on both sides (the decoded pieces against the
   text, placeholders' marks against their spans; ``piece_spans``), then grouped into words
   (``models.translation.words``: the attention between words, each target word's row summing to 1).
2. The tag's source words: those with at least half their characters inside the tag (a tag
   inside one word takes that word).
3. A target word belongs to the tag when **most of its attention** (over the real source words:
   not </s> or the language token) falls on the tag's source words: a share of at least
   ``MOSTLY`` (0.5), **and** it looks at one of the tag's words about as hard as any target word
   does (at least ``NEAR_PEAK``, 0.95, of that word's column peak). The second condition leaves
   out a function word written while the decoder looked ahead at the tag's word ("que" before
   "Tom": its row points at "Tom", but "Tom" itself looks at "Tom" harder); when no word meets
   both, the first alone.
   The tag wraps the span from the first such word to the last.
4. No word qualifies: the tag wraps the one target word whose share is highest (the nearest
   sensible span), so a tag is never dropped and never duplicated.
5. A tag over a placeholder (a span carried through the model as one mark: a code span kept
   untranslated) wraps that placeholder's output exactly; a tag covering a whole sentence wraps
   the whole translation of it.
6. Nesting is kept: a tag inside another in the source stays inside it (clipped to its parent's
   span, or the parent's first word when clipping leaves nothing); two tags apart in the source
   never overlap (the later one is cut to start after the earlier, or moved next to it).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.text.marks import MARKS
from models.translation.words import SPECIAL, group

MOSTLY = 0.5
NEAR_PEAK = 0.95  # a target word within this share of the hardest look at a tag word counts as its peak
Span = tuple[int, int]


@dataclass(frozen=True)
class Sentence:
    """One translated sentence of a text: where it is on both sides (``source``: offsets in the
    source text; ``target``: in the translated text), the pieces read and written, the attention
    (target pieces x source pieces) and its placeholders: mark -> (span in the source text, span
    in the translated text or None when the output could not be found)."""

    source: Span
    target: Span
    source_tokens: list[str]
    target_tokens: list[str]
    attention: list[list[float]]
    marks: dict[str, tuple[Span, Span | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class TagSpan:
    """A tag over characters ``start``..``end``; ``ref`` is the caller's, handed back unchanged."""

    start: int
    end: int
    ref: int


def piece_spans(pieces: Sequence[str], text: str, offset: int, marks: Mapping[str, Span | None]) -> list[Span | None]:
    """Where each piece's characters are in ``text`` (which starts at ``offset`` of the whole text):
    the decoded pieces aligned to the text character by character (difflib, so a normalised quote
    or space does not break the rest), a mark piece (<0x01>..) at its placeholder's span from
    ``marks`` (whole-text offsets), special pieces None."""
    spelled, owner = "", []
    for i, piece in enumerate(pieces):
        if SPECIAL.fullmatch(piece) or piece.startswith("<0x"):
            continue
        chunk = piece.replace("▁", " ")
        spelled += chunk
        owner += [i] * len(chunk)
    spans: list[list[int]] = [[] for _ in pieces]
    matcher = difflib.SequenceMatcher(None, spelled, text, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            if not spelled[a + k].isspace():
                spans[owner[a + k]].append(offset + b + k)
    out: list[Span | None] = [(min(s), max(s) + 1) if s else None for s in spans]
    for i, piece in enumerate(pieces):
        mark = mark_of(piece)
        if mark is not None:
            out[i] = marks.get(mark)
    return out


def mark_of(piece: str) -> str | None:
    """The placeholder mark a byte piece <0x01>..<0x08> stands for, else None."""
    if piece.startswith("<0x") and piece.endswith(">"):
        char = chr(int(piece[3:-1], 16))
        return char if char in MARKS else None
    return None


def _word_spans(index: list[int], spans: list[Span | None]) -> list[Span | None]:
    """Each word's span: the hull of its pieces' spans (None when none of them has one)."""
    words: list[Span | None] = [None] * (max(index) + 1 if index else 0)
    for w, span in zip(index, spans):
        if span is not None:
            old = words[w]
            words[w] = span if old is None else (min(old[0], span[0]), max(old[1], span[1]))
    return words


@dataclass
class _Aligned:
    """A sentence's words on both sides, their spans and the attention between them (rows: target
    words, columns: source words, each row's mass over the real source words)."""

    source: list[Span | None]
    target: list[Span | None]
    attention: np.ndarray
    sentence: Sentence


def align(sentence: Sentence, source_text: str, translation: str) -> _Aligned:
    """The words of ``sentence`` with their spans in the whole source text and translation."""
    (sa, sb), (ta, tb) = sentence.source, sentence.target
    source_marks = {m: s for m, (s, _) in sentence.marks.items()}
    target_marks = {m: t for m, (_, t) in sentence.marks.items()}
    src = piece_spans(sentence.source_tokens, source_text[sa:sb], sa, source_marks)
    tgt = piece_spans(sentence.target_tokens, translation[ta:tb], ta, target_marks)
    s_index, t_index = group(sentence.source_tokens), group(sentence.target_tokens)
    pieces = np.asarray(sentence.attention, dtype=np.float64).reshape(len(t_index), len(s_index))
    words = np.zeros((max(t_index, default=-1) + 1, max(s_index, default=-1) + 1))
    counts = np.zeros(len(words))
    for i, w in enumerate(t_index):
        np.add.at(words[w], s_index, pieces[i])
        counts[w] += 1
    words /= np.maximum(counts, 1)[:, None]
    source_words = _word_spans(s_index, src)
    real = np.array([span is not None for span in source_words])
    words = words * real  # attention on </s> or a language token points at no word
    words /= np.maximum(words.sum(1, keepdims=True), 1e-12)
    return _Aligned(source_words, _word_spans(t_index, tgt), words, sentence)


def _inside(span: Span, tag: Span) -> bool:
    """Whether at least half of ``span``'s characters lie in ``tag`` (any, for a tag inside it)."""
    overlap = min(span[1], tag[1]) - max(span[0], tag[0])
    return overlap > 0 and (2 * overlap >= span[1] - span[0] or (tag[0] >= span[0] and tag[1] <= span[1]))


def _place_in(aligned: _Aligned, tag: Span) -> Span | None:
    """The tag's span in the translation from one sentence, or None if it holds none of the tag."""
    sa, sb = aligned.sentence.source
    if min(sb, tag[1]) <= max(sa, tag[0]):
        return None
    for source, target in aligned.sentence.marks.values():
        if target is not None and source[0] <= tag[0] and tag[1] <= source[1]:
            return target  # the tag is the placeholder (or inside it)
    words = [j for j, s in enumerate(aligned.source) if s is not None and _inside(s, tag)]
    targets = [i for i, s in enumerate(aligned.target) if s is not None]
    if not targets:
        return None
    if tag[0] <= sa and tag[1] >= sb:  # the whole sentence
        return aligned.sentence.target
    share = aligned.attention[:, words].sum(1) if words else np.zeros(len(aligned.target))
    chosen = [i for i in targets if share[i] >= MOSTLY] or [max(targets, key=lambda i: share[i])]
    # of those, the words some tag word looks back at most (its column's peak): a function word the
    # model wrote while looking ahead at the tag's word ("que" before "Tom") is left out
    columns = aligned.attention[targets][:, words] if words else np.zeros((len(targets), 0))
    near = columns >= NEAR_PEAK * columns.max(0, keepdims=True)  # (targets, tag words)
    peaks = {targets[k] for k in np.flatnonzero(near.any(1))}
    chosen = [i for i in chosen if i in peaks] or chosen
    spans = [aligned.target[i] for i in chosen]
    return min(s[0] for s in spans if s), max(s[1] for s in spans if s)


def place_tags(source_text: str, translation: str, sentences: list[Sentence], tags: list[TagSpan]) -> list[TagSpan]:
    """Every tag of ``source_text`` over its place in ``translation`` (module docstring), in the
    order given (outer before inner, by start)."""
    aligned = [align(s, source_text, translation) for s in sentences]
    placed: list[TagSpan] = []
    for tag in tags:
        spans = [s for s in (_place_in(a, (tag.start, tag.end)) for a in aligned) if s is not None]
        span = (min(a for a, _ in spans), max(b for _, b in spans)) if spans else None
        span = span or _nearest(translation, tag, source_text)
        placed.append(TagSpan(*_nest(span, tag, tags, placed, translation), tag.ref))
    return placed


def _nearest(translation: str, tag: TagSpan, source_text: str) -> Span:
    """A tag no sentence placed (its text was not translated, e.g. between sentences): the same
    relative position in the translation, widened to the word there."""
    at = round(tag.start / max(len(source_text), 1) * len(translation))
    return _word_at(translation, min(at, max(len(translation) - 1, 0)))


def _word_at(text: str, at: int) -> Span:
    """The word (run of non-space characters) at or after ``at`` (before it at the end)."""
    while at < len(text) and text[at].isspace():
        at += 1
    if at >= len(text):
        at = len(text.rstrip()) - 1
    start = end = max(at, 0)
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def _word_before(text: str, at: int) -> Span:
    """The word ending before ``at`` (the word at ``at`` when none does)."""
    end = at
    while end > 0 and text[end - 1].isspace():
        end -= 1
    if end == 0:
        return _word_at(text, at)
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return start, end


def _nest(span: Span, tag: TagSpan, tags: list[TagSpan], placed: list[TagSpan], text: str) -> Span:
    """``span`` made to keep the source's nesting with the tags placed before it (rule 6)."""
    start, end = span
    for other, done in zip(tags, placed):
        holds = other.start <= tag.start and tag.end <= other.end
        if holds:  # inside its parent
            start, end = max(start, done.start), min(end, done.end)
            if start >= end:
                start, end = _word_at(text[: done.end], done.start)
        elif start < done.end and done.start < end:  # a sibling placed over the same words
            if end > done.end:
                start = done.end
            else:
                end = done.start
            if start >= end:
                start, end = _word_at(text, done.end) if tag.start > other.start else _word_before(text, done.start)
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
