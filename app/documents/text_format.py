"""Plain text files (.txt): each paragraph (a run of non-blank lines between blank lines) is a block.

The block's text is the paragraph's lines joined with "\\n" as they are (the translator keeps the line
layout inside a block); everything else, blank lines and each line's ending ("\\r\\n", "\\n", "\\r"),
is written back as read. Text has no inline tags.

``decode_text`` (shared with the other text-based formats) turns the file's bytes into text: a byte
order mark first, else strict UTF-8, else the encoding ``charset_normalizer`` finds."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

from app.documents.document import Block, Document, DocumentError, Format, Limits, TranslatedBlock

# UTF-32's marks first: UTF-32-LE's begins with UTF-16-LE's
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# a tie between the detector's best guesses (same chaos, same coherence) goes to the commonest legacy
# encoding: charset_normalizer ranks cp1250 first for French or Spanish latin-1 text (è read as č)
TIE_BREAK_ENCODING = "cp1252"
LINE_ENDING = re.compile(r"(\r\n|\n|\r)")


def decode_text(data: bytes) -> str:
    """The text ``data`` holds: decoded by its byte order mark (UTF-8/16/32), else as UTF-8 if it is valid
    UTF-8, else in the encoding ``charset_normalizer`` finds (a byte order mark is not kept).

    Raises ``DocumentError`` 415 for bytes with NUL characters that are not UTF-16/32 (a binary file),
    422 when no encoding is found or the bytes break their byte order mark's encoding."""
    for mark, encoding in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as error:
                raise DocumentError(
                    422,
                    f"the file starts with a {encoding.upper()} byte order mark but is not "
                    f"valid {encoding.upper()}: {error.reason} at byte {error.start}",
                ) from error
            return _no_nul(text)
    if b"\x00" in data:
        return _no_nul(_wide_text(data))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return _no_nul(_detected_text(data))


def _wide_text(data: bytes) -> str:
    """``data`` (bytes with NULs and no byte order mark) decoded as the UTF-16 or UTF-32 the detector finds;
    anything else is a binary file: ``DocumentError`` 415."""
    match = charset_normalizer.from_bytes(data).best()
    if match is None or not match.encoding.startswith(("utf_16", "utf_32")):
        raise DocumentError(415, "not a text file: it holds NUL bytes and is not UTF-16 or UTF-32")
    return str(match)


def _detected_text(data: bytes) -> str:
    """``data`` decoded in the encoding ``charset_normalizer`` ranks first (ties: ``TIE_BREAK_ENCODING``);
    ``DocumentError`` 422 when it finds none."""
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        raise DocumentError(422, "the file's text encoding could not be detected; send it as UTF-8")
    for match in matches:
        if match.encoding == TIE_BREAK_ENCODING and (match.chaos, match.coherence) == (best.chaos, best.coherence):
            return str(match)
    return str(best)


def _no_nul(text: str) -> str:
    """``text`` itself; ``DocumentError`` 415 when it holds a NUL character."""
    if "\x00" in text:
        raise DocumentError(415, "not a text file: it holds NUL characters")
    return text


def split_lines(text: str) -> list[tuple[str, str]]:
    """``text`` as (line, its ending) pairs: the ending is "\\r\\n", "\\n", "\\r" or "" (the last line
    without one); joined back they give ``text`` exactly."""
    parts = LINE_ENDING.split(text)
    pairs = [(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
    if parts[-1]:
        pairs.append((parts[-1], ""))
    return pairs


def main_line_ending(text: str) -> str:
    """The line ending ``text`` uses: "\\r\\n" if it has one, else "\\r" if it has a lone one, else "\\n"."""
    if "\r\n" in text:
        return "\r\n"
    return "\r" if "\r" in text else "\n"


def too_many_blocks(limits: Limits) -> DocumentError:
    """The 413 for a file holding more than ``limits.max_blocks`` blocks."""
    return DocumentError(413, f"the file holds more than {limits.max_blocks} blocks to translate")


@dataclass
class _Paragraph:
    """Where block ``block`` goes back: the endings between its lines as read (none for one line) and the
    ending after its last line."""

    block: int
    inner_endings: list[str]
    last_ending: str


@dataclass
class TextDocument(Document):
    """A text file: ``pieces`` in file order, each kept text (blank lines with their endings) or a paragraph."""

    blocks: list[Block]
    pieces: list[str | _Paragraph]
    line_ending: str

    def render(self, translated: list[TranslatedBlock]) -> bytes:
        """The file in UTF-8 (no byte order mark), each paragraph replaced by its translation; a line break
        of the translation is written with the paragraph's own line endings (in order), else the file's."""
        if len(translated) != len(self.blocks):
            raise ValueError(f"{len(translated)} translations for {len(self.blocks)} blocks")
        out: list[str] = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            lines = LINE_ENDING.split(translated[piece.block].text)[::2]
            endings = piece.inner_endings or [self.line_ending]
            for number, line in enumerate(lines[:-1]):
                out.append(line + endings[min(number, len(endings) - 1)])
            out.append(lines[-1] + piece.last_ending)
        return "".join(out).encode("utf-8")


def read_text(data: bytes, limits: Limits) -> TextDocument:
    """A text file's bytes as a ``TextDocument`` (``DocumentError`` from ``decode_text``; 413 past
    ``limits.max_blocks`` paragraphs)."""
    text = decode_text(data)
    blocks: list[Block] = []
    pieces: list[str | _Paragraph] = []
    paragraph: list[tuple[str, str]] = []

    def close_paragraph() -> None:
        if not paragraph:
            return
        if len(blocks) == limits.max_blocks:
            raise too_many_blocks(limits)
        blocks.append(Block("\n".join(line for line, _ in paragraph)))
        pieces.append(_Paragraph(len(blocks) - 1, [ending for _, ending in paragraph[:-1]], paragraph[-1][1]))
        paragraph.clear()

    for line, ending in split_lines(text):
        if line.strip():
            paragraph.append((line, ending))
        else:
            close_paragraph()
            pieces.append(line + ending)
    close_paragraph()
    return TextDocument(blocks, pieces, main_line_ending(text))


TEXT = Format(name="txt", extensions=(".txt",), media_type="text/plain; charset=utf-8", read=read_text)
