"""SubRip subtitles (.srt): each cue with text is a block, its lines joined by a space (a cue's lines are
one sentence or two, translated together).

Inline ``<i>``, ``<b>``, ``<u>``, ``<font ...>`` tags (and ASS override codes such as ``{\\an8}``) are the
block's tags: ``ref`` indexes the document's table of (opening, closing) markup, removed from the text.
An opening tag closed by a later one is a pair; one never closed runs to the end of the cue (closing "");
a closing tag never opened runs from the start of the tag around it (opening ""); tags closed out of order
end where the tag around them closes. Written back as they were read, in every case.

On render the index, times and any text after the times are untouched; the translation is wrapped into
as many lines as the cue had (breaks at the spaces nearest equal line lengths) and the tags are written
back at their new places (a tag may span a line break: players accept it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import srt

from app.documents.document import Block, Document, DocumentError, Format, Limits, Tag, TranslatedBlock
from app.documents.text_format import decode_text, too_many_blocks
from app.documents.weaving import weave

CUE_TAG = re.compile(r"<(/?)(i|b|u|font)\b[^>]*>|\{\\[^}]*\}", re.IGNORECASE)
ERROR_CONTEXT_CHARS = 300  # of the library's message, which quotes all the text it could not read


@dataclass
class _Markup:
    """One tag as read: ``opening`` and ``closing`` are its text in the cue ("" for an end it lacks);
    ``start``..``end`` its span over the cue's plain text while reading."""

    opening: str
    closing: str
    name: str
    start: int
    end: int = -1
    inner: list[_Markup] = field(default_factory=list)


@dataclass
class _Cue:
    """A cue's block (``None`` for a cue without text) and its number of text lines."""

    block: int | None
    lines: int


@dataclass
class SrtDocument(Document):
    """Subtitles: the cues as ``srt`` read them, with the block of each and the table of tag markup."""

    blocks: list[Block]
    subtitles: list[srt.Subtitle]
    cues: list[_Cue]
    markup: list[tuple[str, str]]
    line_ending: str
    margins: tuple[str, str]  # the blank lines before the first cue and after the last one, as read

    def render(self, translated: list[TranslatedBlock]) -> bytes:
        """The subtitles in UTF-8 with each cue's text replaced by its translation, wrapped into the cue's
        number of lines, tags back; indices and times as read (``srt.compose`` writes times in the
        canonical ``00:00:01,000`` form, and a cue without an index as 0), the blank lines around the
        cues as read. A cue whose translation is its block itself (same text and tags) keeps its lines."""
        if len(translated) != len(self.blocks):
            raise ValueError(f"{len(translated)} translations for {len(self.blocks)} blocks")
        subtitles = []
        for subtitle, cue in zip(self.subtitles, self.cues):
            if cue.block is not None:
                block, translation = self.blocks[cue.block], translated[cue.block]
                if (translation.text, translation.tags) != (block.text, block.tags):
                    content = self._cue_text(translation, cue.lines)
                    subtitle = srt.Subtitle(subtitle.index, subtitle.start, subtitle.end, content, subtitle.proprietary)
            subtitles.append(subtitle)
        composed = srt.compose(subtitles, reindex=False, strict=False, eol=self.line_ending).rstrip("\r\n")
        return (self.margins[0] + composed + self.margins[1]).encode("utf-8")

    def _cue_text(self, block: TranslatedBlock, lines: int) -> str:
        """A cue's content: ``block``'s text broken into ``lines`` lines, its tags' markup woven in."""
        text = wrap(block.text.translate({ord("\n"): " ", ord("\r"): " ", ord("\t"): " "}), lines)
        woven = weave(text, block.tags, lambda tag: self.markup[tag.ref][0], lambda tag: self.markup[tag.ref][1])
        kept = [line.strip() for line in woven.split("\n")]
        return "\n".join(line for line in kept if line)


def wrap(text: str, lines: int) -> str:
    """``text`` with up to ``lines - 1`` of its spaces turned into line breaks (same length, so offsets
    into it still hold): each the space nearest an equal share of the length, after the previous break,
    with words on both sides."""
    spaces = [i for i, char in enumerate(text) if char == " " and text[:i].strip() and text[i + 1 :].strip()]
    if lines < 2 or not spaces:
        return text
    chars = list(text)
    breaks: list[int] = []
    for number in range(1, lines):
        target = len(text) * number / lines
        after = [i for i in spaces if not breaks or i > breaks[-1]]
        if not after:
            break
        breaks.append(min(after, key=lambda i: abs(i - target)))
    for i in breaks:
        chars[i] = "\n"
    return "".join(chars)


def read_cue(content: str, markup: list[tuple[str, str]]) -> tuple[Block, int] | None:
    """A cue's ``content`` as a block (its text lines stripped and joined by a space, tags out of the
    text, their markup appended to ``markup``) and its number of text lines; ``None`` when it has no text."""
    lines = [line.strip() for line in content.split("\n") if line.strip()]
    root = _Markup("", "", "", 0)
    stack = [root]
    plain: list[str] = []
    length = last = 0
    joined = "\n".join(lines)
    for match in CUE_TAG.finditer(joined):
        plain.append(joined[last : match.start()])
        length, last = length + match.start() - last, match.end()
        raw, name = match.group(), (match.group(2) or "").lower()
        if not match.group(1):
            node = _Markup(raw, "", name, length)
            stack[-1].inner.append(node)
            stack.append(node)
            continue
        opened = next((node for node in reversed(stack[1:]) if node.name == name), None)
        if opened is None:  # never opened: it closes what came since the tag around it opened
            around = stack[-1]
            node = _Markup("", raw, name, around.start, length, around.inner)
            around.inner = [node]
            continue
        while stack[-1] is not opened:
            stack.pop().end = length
        opened.closing, opened.end = raw, length
        stack.pop()
    plain.append(joined[last:])
    text = "".join(plain).replace("\n", " ")
    for node in stack[1:]:
        node.end = len(text)
    if not text.strip():
        return None
    tags: list[Tag] = []
    _flatten(root.inner, tags, markup)
    return Block(text, tags), len(lines)


def _flatten(nodes: list[_Markup], tags: list[Tag], markup: list[tuple[str, str]]) -> None:
    """``nodes`` and what they hold as tags, outer before inner, their markup appended to ``markup``."""
    for node in nodes:
        markup.append((node.opening, node.closing))
        tags.append(Tag(node.start, node.end, len(markup) - 1))
        _flatten(node.inner, tags, markup)


def _parsed(text: str) -> list[srt.Subtitle]:
    """The cues of ``text``; ``DocumentError`` 422 with the library's message and where it broke."""
    subtitles: list[srt.Subtitle] = []
    try:
        for subtitle in srt.parse(text):
            subtitles.append(subtitle)
    except (srt.SRTParseError, ValueError) as error:
        where = f"after cue {subtitles[-1].index}" if subtitles else "before the first cue"
        line = text.count("\n", 0, getattr(error, "expected_start", 0)) + 1
        message = str(error)[:ERROR_CONTEXT_CHARS]
        raise DocumentError(422, f"not a valid SRT file: at line {line}, {where}: {message}") from error
    return subtitles


def read_srt(data: bytes, limits: Limits) -> SrtDocument:
    """An SRT file's bytes as an ``SrtDocument`` (``DocumentError``: decoding as ``decode_text``, 422 for
    what ``srt.parse`` cannot read, 413 past ``limits.max_blocks`` cues with text)."""
    text = decode_text(data)
    subtitles = _parsed(text)
    blocks: list[Block] = []
    cues: list[_Cue] = []
    markup: list[tuple[str, str]] = []
    for subtitle in subtitles:
        read = read_cue(subtitle.content, markup)
        if read is None:
            cues.append(_Cue(None, 0))
            continue
        if len(blocks) == limits.max_blocks:
            raise too_many_blocks(limits)
        blocks.append(read[0])
        cues.append(_Cue(len(blocks) - 1, read[1]))
    margins = (text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :])
    return SrtDocument(blocks, subtitles, cues, markup, "\r\n" if "\r\n" in text else "\n", margins)


SRT = Format(name="srt", extensions=(".srt",), media_type="application/x-subrip; charset=utf-8", read=read_srt)
