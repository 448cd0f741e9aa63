"""A translated block written back as Markdown (``markdown_inline`` reads it): each tag's markup
around the words it now covers, keep tags from the source, a hard break ("\\n") as a line break.

Markdown's own characters in the translation are escaped only where they would change the document:
a line that would open a block (``#``, ``>``, ``-``/``+``/``*`` and a space, ``1.``, a fence, a
thematic break, a setext underline), a heading's trailing ``#``, a ``|`` in a table cell (and as
``&#124;`` in a setext heading that would read as a one-column table); and, only when the written
block does not read back as the translation (checked by parsing it), the inline markup characters of
its text (``\\`*_[]<&``).
Emphasis is moved off the spaces at its ends, an emphasis over nothing is dropped, and ``_`` becomes
``*`` inside a word (where ``_`` does not emphasise)."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

from app.documents.document import Tag
from app.documents.markdown_inline import EMPHASIS, PARSER, Markup, read_inline
from app.documents.weaving import weave

TRANSPARENT = {"escape", "entity", "url"}  # keep tags that are plain text once read (the read-back check)
INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<&])")
BLOCK_OPENER = re.compile(r"(?:#{1,6}|[-+*])(?:[ \t]|\Z)|>|`{3,}[^`]*\Z|~{3}|([-*_])(?:[ \t]*\1){2,}[ \t]*\Z")
LIST_NUMBER = re.compile(r"\d{1,9}(?=[.)](?:[ \t]|\Z))")
SETEXT_UNDERLINE = re.compile(r"=+[ \t]*\Z")
ROW_PIPE = re.compile(r"(?<!\\)\|")
CLOSING_HASHES = re.compile(r"(?:\A|(?<=[ \t]))#+\Z")


def write_inline(
    text: str, tags: list[Tag], markup: list[Markup], context: str, env: MutableMapping[str, Any]
) -> list[str]:
    """A (translated) block as Markdown lines: one for a heading or a cell ("atx", "setext", "cell"), one
    per hard break for a "paragraph"; escaped as the module says (``env``: the document's references)."""
    tags = _tightened(text, [tag for tag in tags if not tag.keep or _carried(text, tag, markup)], markup)
    lines = _written(text, tags, markup, context, escape_inline=False)
    if not _reads_back(lines, text, tags, markup, env):
        lines = _written(text, tags, markup, context, escape_inline=True)
    if context == "cell":
        lines = [ROW_PIPE.sub(r"\\|", line) for line in lines]
    return lines


def _carried(text: str, tag: Tag, markup: list[Markup]) -> bool:
    """Whether keep ``tag`` holds its own text in ``text`` (spaces aside): then its source is written in
    its place; else (placed over other words) it is dropped and its span written as translated text."""
    return text[tag.start : tag.end].split() == markup[tag.ref].text.split()


def _written(text: str, tags: list[Tag], markup: list[Markup], context: str, escape_inline: bool) -> list[str]:
    """The block woven with its markup and split at its hard breaks, line starts escaped."""

    def delimiter(tag: Tag, written: str) -> str:
        intraword = any(0 <= i < len(text) and text[i].isalnum() for i in (tag.start - 1, tag.end))
        if written.startswith("_") and markup[tag.ref].kind in EMPHASIS and intraword:
            return "*" * len(written)  # "_" does not emphasise inside a word
        return written

    def write(run: str) -> str:
        run = run if context == "paragraph" else run.replace("\n", " ")
        return INLINE_SPECIAL.sub(r"\\\1", run) if escape_inline else run

    def closing(tag: Tag) -> str:
        found = markup[tag.ref]
        if found.label and text[tag.start : tag.end] != found.text:
            return f"][{found.label}]"
        return delimiter(tag, found.closing)

    woven = weave(
        text,
        tags,
        lambda tag: delimiter(tag, markup[tag.ref].opening),
        closing,
        write,
        lambda tag: markup[tag.ref].source,
    )
    lines = [line.strip() for line in woven.split("\n")]
    lines = [line for line in lines if line] or [""]
    if context in ("paragraph", "setext"):
        lines = [_escape_block_opener(line, number > 0) for number, line in enumerate(lines)]
    if context == "setext" and _one_column_row(lines[0]):
        lines[0] = lines[0].replace("|", "&#124;")  # else read as a table over its "---" underline, "\\|" too
    elif context == "atx" and (hashes := CLOSING_HASHES.search(lines[0])):
        lines[0] = lines[0][: hashes.start()] + "\\" + lines[0][hashes.start() :]  # else read as closing #s
    return lines


def _one_column_row(line: str) -> bool:
    """Whether ``line`` reads as a table row of one cell (as markdown-it splits a row at pipes not
    escaped, outer ones optional; any pipe makes it a row), which a setext heading's "---" underline
    would turn into a table."""
    cells = ROW_PIPE.split(line.strip())
    cells = cells[1:] if cells[0] == "" else cells
    cells = cells[:-1] if cells and cells[-1] == "" else cells
    return len(cells) == 1 and "|" in line


def _escape_block_opener(line: str, continuation: bool) -> str:
    """``line`` with a backslash where it would otherwise open a block (a heading, quote, list, fence,
    thematic break; on a continuation line, a setext underline)."""
    number = LIST_NUMBER.match(line)
    if number:
        return line[: number.end()] + "\\" + line[number.end() :]
    if BLOCK_OPENER.match(line) or (continuation and SETEXT_UNDERLINE.match(line)):
        return "\\" + line
    return line


def _tightened(text: str, tags: list[Tag], markup: list[Markup]) -> list[Tag]:
    """``tags`` with emphasis moved off the spaces at its ends (``* word*`` is not emphasis), never past
    a tag it holds; an emphasis over no text is dropped."""
    tightened = []
    for tag in tags:
        start, end = tag.start, min(tag.end, len(text))
        if markup[tag.ref].kind in EMPHASIS:
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            held = [other for other in tags if other is not tag and tag.start <= other.start and other.end <= tag.end]
            start = min([start, *(other.start for other in held)])
            end = max([end, *(other.end for other in held)])
            if start == end:
                continue  # emphasis over nothing: "****" would be text
        tightened.append(Tag(start, end, tag.ref, tag.keep))
    return tightened


def _reads_back(
    lines: list[str], text: str, tags: list[Tag], markup: list[Markup], env: MutableMapping[str, Any]
) -> bool:
    """Whether ``lines``, parsed again, hold ``text`` with the same markup (spaces aside)."""
    written = "\\\n".join(lines)
    children = PARSER.parseInline(written, env)[0].children or []
    read_markup: list[Markup] = []
    again = read_inline(children, written, read_markup)
    return _shape(again.text, again.tags, read_markup) == _shape(text, tags, markup)


def _shape(text: str, tags: list[Tag], markup: list[Markup]) -> str:
    """``text`` with a marker for each tag's kind at its ends (keep tags: the text they hold), spaces
    collapsed: what two readings of a block must share."""

    def opening(tag: Tag) -> str:
        kind = markup[tag.ref].kind
        return "" if kind in TRANSPARENT else f"\x01{kind}\x02"

    def kept(tag: Tag) -> str:
        found = markup[tag.ref]
        return found.text if found.kind in TRANSPARENT else f"\x01{found.kind}\x02{found.text}\x03"

    woven = weave(text, tags, opening, lambda tag: "" if markup[tag.ref].kind in TRANSPARENT else "\x03", kept=kept)
    return " ".join(woven.split())
