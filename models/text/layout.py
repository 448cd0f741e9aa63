"""What of a text goes to the model, and the text put back together around its translations.

A text is read line by line. Line breaks (``\\n``, ``\\r\\n``, ``\\r``), blank lines, each line's
indentation, its list marker (``- ``, ``* ``, ``• ``, ``1. ``, ``1) ``, ``a) ``, ``(a) ``) and
trailing spaces stay as they are; only the sentences inside a line are translated, one model row
each (``models.text.sentences``). A line with no letter (a number, punctuation) or that is only a
URL or an e-mail address passes through untouched.

``plan(text, lang)`` -> the spans to translate, in order; ``rebuild(text, spans, translations)``
-> the text with each span replaced by its translation and every other character as it was.
"""

from __future__ import annotations

import re

from models.text.sentences import sentence_spans

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")
_MARKER = re.compile(r"[ \t]*(?:[-*•◦‣–—][ \t]+|(?:\d{1,3}|[A-Za-z])[.)][ \t]+|\((?:\d{1,3}|[A-Za-z])\)[ \t]+)?")
_ALONE = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)

Span = tuple[int, int]


def translatable(content: str) -> bool:
    """Whether a line's content (marker and surrounding spaces left out) goes to the model: it
    holds a letter and is not one URL or e-mail address alone."""
    if not any(ch.isalpha() for ch in content):
        return False
    return _ALONE.fullmatch(content) is None


def line_content(line: str) -> Span:
    """(start, end) of a line's content within ``line`` (its break excluded): after indentation
    and a list marker, before trailing spaces; (n, n) for a blank line."""
    body = line.rstrip("\r\n")
    start = _MARKER.match(body).end()  # type: ignore[union-attr]  # the pattern matches the empty string
    stripped = body[start:].rstrip()
    if not stripped.strip():  # a marker alone ("- ") or spaces: nothing to translate
        return (len(body), len(body))
    start += len(body[start:]) - len(body[start:].lstrip())
    return (start, start + len(stripped.strip()))


def plan(text: str, lang: str) -> list[Span]:
    """The spans of ``text`` that are translated, in order: each sentence of each line's content."""
    spans: list[Span] = []
    for match in _LINE.finditer(text):
        line = match.group()
        if not line:
            continue
        start, end = line_content(line)
        content = line[start:end]
        if start == end or not translatable(content):
            continue
        base = match.start() + start
        spans.extend((base + a, base + b) for a, b in sentence_spans(content, lang))
    return spans


def rebuild(text: str, spans: list[Span], translations: list[str]) -> str:
    """``text`` with ``spans`` (in order, not overlapping) replaced by ``translations``."""
    if len(spans) != len(translations):
        raise ValueError(f"{len(spans)} spans but {len(translations)} translations")
    parts, at = [], 0
    for (start, end), translation in zip(spans, translations):
        parts += [text[at:start], translation]
        at = end
    parts.append(text[at:])
    return "".join(parts)
