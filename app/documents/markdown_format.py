"""Markdown files (.md, .markdown), read with markdown-it-py (CommonMark and tables).

Blocks: headings (ATX and setext), paragraphs (also in list items and block quotes) and table cells,
each with its inline markup as tags (``markdown_inline``). Everything else is written back byte for
byte: front matter (a leading ``---`` ... ``---`` block, set aside before parsing), code blocks, HTML
blocks, reference definitions, blank lines, line endings, and each block's line prefixes (``> ``,
``- ``, ``1. ``, indentation, ``#`` and a heading's closing ``#``s, a table's pipes). A block with no
words outside its keep tags (an image alone, a bare URL) is not a block: it stays as read.

On render a translated block replaces its source text, found through the tokens' ``.map`` line
ranges: a paragraph on one line (Markdown reflows; a hard break starts a new line with the source's
prefix), a heading or a cell on its one line. A block spread over several lines whose translation is
the block itself (same text and tags) keeps its lines as read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markdown_it.token import Token

from app.documents.document import Block, Document, Format, Limits, Tag, TranslatedBlock
from app.documents.markdown_inline import PARSER, Markup, read_inline
from app.documents.markdown_writing import write_inline
from app.documents.text_format import decode_text, split_lines, too_many_blocks

FRONT_MATTER = re.compile(
    r"\A---[ \t]*(?:\r\n|\n|\r).*?^(?:---|\.\.\.)[ \t]*(?:\r\n|\n|\r|\Z)", re.DOTALL | re.MULTILINE
)
ATX_CLOSING = re.compile(r"(?:\A|[ \t]+)#+\Z")
LIST_MARKER = re.compile(r"[-+*]|\d{1,9}[.)]")
CONTEXTS = {"paragraph_open": "paragraph", "th_open": "cell", "td_open": "cell"}


@dataclass
class _Site:
    """Where a block is in the source lines: ``context`` (paragraph, atx, setext, cell) and, for each
    line of its content, (line number, start, end) of the content's text in that line; its hard breaks
    (content line each ends, marker) as read."""

    context: str
    regions: list[tuple[int, int, int]]
    breaks: list[tuple[int, str]]


@dataclass
class MarkdownDocument(Document):
    """A Markdown file: ``front_matter`` as read, the body's ``lines`` (text, ending), each block's
    ``_Site``, the table of tag ``markup`` and markdown-it's ``env`` (the link references)."""

    blocks: list[Block]
    front_matter: str
    lines: list[tuple[str, str]]
    sites: list[_Site]
    markup: list[Markup]
    env: dict[str, Any]

    def render(self, translated: list[TranslatedBlock]) -> bytes:
        """The file in UTF-8 with each block's source text replaced by its translation written as
        Markdown (``markdown_writing``), everything else as read."""
        if len(translated) != len(self.blocks):
            raise ValueError(f"{len(translated)} translations for {len(self.blocks)} blocks")
        texts = [text for text, _ in self.lines]
        edits: dict[int, list[tuple[int, int, str]]] = {}
        dropped: set[int] = set()
        for block, site, translation in zip(self.blocks, self.sites, translated):
            if len(site.regions) > 1 and (translation.text, translation.tags) == (block.text, block.tags):
                continue
            written = self._written(site, translation)
            first, start, end = site.regions[0]
            last, _, last_end = site.regions[-1]
            if last != first:
                end, written = len(texts[first]), written + texts[last][last_end:]
                dropped.update(range(first + 1, last + 1))
            edits.setdefault(first, []).append((start, end, written))
        for number, line_edits in edits.items():
            for start, end, written in sorted(line_edits, reverse=True):
                texts[number] = texts[number][:start] + written + texts[number][end:]
        body = "".join(
            text + ending for number, (text, (_, ending)) in enumerate(zip(texts, self.lines)) if number not in dropped
        )
        return (self.front_matter + body).encode("utf-8")

    def _written(self, site: _Site, translation: TranslatedBlock) -> str:
        """The translation as Markdown for the site's first line: the lines after a hard break joined
        with its marker, the line ending and the prefix of the source line that followed it."""
        lines = write_inline(translation.text, translation.tags, self.markup, site.context, self.env)
        first_line, first_start, _ = site.regions[0]
        ending = self.lines[first_line][1] or "\n"
        written = lines[0]
        for number, line in enumerate(lines[1:]):
            content_line, marker = site.breaks[number] if number < len(site.breaks) else (None, "\\")
            if content_line is not None and content_line + 1 < len(site.regions):
                source_line, start, _ = site.regions[content_line + 1]
                prefix = self.lines[source_line][0][:start]
            else:  # a break the source did not have: the first line's prefix, list markers as spaces
                first_prefix = self.lines[first_line][0][:first_start]
                prefix = LIST_MARKER.sub(lambda found: " " * len(found.group()), first_prefix)
            written += marker + ending + prefix + line
        return written


def has_words(text: str, tags: list[Tag]) -> bool:
    """Whether ``text`` has anything but spaces outside its keep tags (else there is nothing to translate)."""
    chars = list(text)
    for tag in tags:
        if tag.keep:
            chars[tag.start : tag.end] = " " * (tag.end - tag.start)
    return bool("".join(chars).strip())


def _find(line: str, content: str, atx: bool) -> tuple[int, int] | None:
    """Where ``content`` (one line of a block's inline content) is in source ``line``: at its end, before
    trailing spaces (and an ATX heading's closing ``#``s), else its last occurrence; ``None`` if absent."""
    core = content.strip(" \t")
    if not core:
        return None
    body = line.rstrip(" \t")
    for candidate in (body, ATX_CLOSING.sub("", body).rstrip(" \t")) if atx else (body,):
        if candidate.endswith(core):
            return len(candidate) - len(core), len(candidate)
    at = line.rfind(core)
    return (at, at + len(core)) if at >= 0 else None


def _cells(line: str) -> list[tuple[int, int]]:
    """The (start, end) of each cell's text in a table row ``line``: split at pipes not escaped (as
    markdown-it does), spaces around the text left out; the text before a leading pipe counts as a cell."""
    cells = []
    start, escaped = 0, False
    for at, char in enumerate(line + "|"):
        if char == "|" and not escaped:
            text = line[start:at]
            cells.append((start + len(text) - len(text.lstrip()), start + len(text.rstrip())))
            start = at + 1
        escaped = char == "\\"
    return cells


def _cell_site(line_number: int, line: str, content: str, after: int) -> tuple[_Site, int] | None:
    """The site of a cell holding ``content`` in row ``line``, the first cell from index ``after`` on whose
    text reads as ``content`` (markdown-it unescapes ``\\|``), and the index after it."""
    for index, (start, end) in enumerate(_cells(line)[after:], start=after):
        text = line[start:end]
        if text.replace("\\|", "|") == content:
            return _Site("cell", [(line_number, start, end)], []), index + 1
        if index == 0 and "|" not in content and text.endswith(content):  # "> a | b": the prefix is in the text
            return _Site("cell", [(line_number, end - len(content), end)], []), index + 1
    return None


def _lines_site(token: Token, opener: Token, lines: list[tuple[str, str]]) -> _Site | None:
    """The site of a paragraph's or heading's inline ``token`` (``opener``: the token that opens it)."""
    if opener.type == "heading_open":
        context = "atx" if opener.markup.startswith("#") else "setext"
    else:
        context = CONTEXTS.get(opener.type, "paragraph")
    first = token.map[0] if token.map else 0
    regions = []
    for number, content in enumerate(token.content.split("\n")):
        if first + number >= len(lines):
            return None
        found = _find(lines[first + number][0], content, context == "atx")
        if found is None:
            return None
        regions.append((first + number, *found))
    return _Site(context, regions, [])


def read_markdown(data: bytes, limits: Limits) -> MarkdownDocument:
    """A Markdown file's bytes as a ``MarkdownDocument`` (``DocumentError``: decoding as ``decode_text``,
    413 past ``limits.max_blocks`` blocks). An inline content whose text cannot be found in its source
    lines is left as read rather than risk writing it in the wrong place (a safeguard: the CommonMark
    spec's examples have no such case)."""
    text = decode_text(data)
    front = FRONT_MATTER.match(text)
    front_matter = front.group() if front else ""
    lines = split_lines(text[len(front_matter) :])
    env: dict[str, Any] = {}
    tokens = PARSER.parse(text[len(front_matter) :], env)
    blocks: list[Block] = []
    sites: list[_Site] = []
    markup: list[Markup] = []
    row, next_cell = -1, 0
    for index, token in enumerate(tokens):
        if token.type == "tr_open" and token.map:
            row, next_cell = token.map[0], 0
        if token.type != "inline" or not token.content.strip() or index == 0:
            continue
        opener = tokens[index - 1]
        site: _Site | None
        if opener.type in ("th_open", "td_open"):
            found = _cell_site(row, lines[row][0], token.content, next_cell) if 0 <= row < len(lines) else None
            site, next_cell = found if found else (None, next_cell)
        else:
            site = _lines_site(token, opener, lines)
        inline = read_inline(token.children or [], token.content, markup)
        if site is None or not has_words(inline.text, inline.tags):
            continue
        if len(blocks) == limits.max_blocks:
            raise too_many_blocks(limits)
        site.breaks = inline.breaks
        blocks.append(Block(inline.text, inline.tags))
        sites.append(site)
    return MarkdownDocument(blocks, front_matter, lines, sites, markup, env)


MARKDOWN = Format(
    name="md", extensions=(".md", ".markdown"), media_type="text/markdown; charset=utf-8", read=read_markdown
)
