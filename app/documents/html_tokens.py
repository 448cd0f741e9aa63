"""HTML bytes to text, and text to a token stream that covers every character exactly once.

``decode_html`` turns the bytes of a page into text (a BOM, else a declared ``<meta>`` charset, else
UTF-8, else ``charset_normalizer``'s guess). ``tokenize`` cuts the text into ``Token``s with the
standard library's lenient ``HTMLParser``: the tokens' ``start``..``end`` ranges follow each other
with no gap and no overlap, so writing every token's source text back gives the page byte for byte,
whatever malformed markup it holds. ``attribute_values`` finds where an attribute's value lies in
a start tag's source text, ``charset_declaration`` where a ``<meta>`` names the encoding."""

from __future__ import annotations

import codecs
import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import charset_normalizer

from app.documents.document import DocumentError

SNIFF_BYTES = 2048  # how far into the page a <meta> charset declaration is looked for
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts with UTF-16 LE's
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.IGNORECASE)
# what browsers read a page labelled latin-1 or ASCII as (the WHATWG Encoding standard)
_WINDOWS_1252_FOR = {"iso8859-1", "ascii"}
_CONTENT_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([^\s;\"']+)", re.IGNORECASE)

# the standard library parser's own patterns (html/parser.py), to find attribute values in a tag
_TAG_NAME = re.compile(r"<[a-zA-Z][^\t\n\r\f />\x00]*(?:\s|/(?!>))*")
_ATTRIBUTE = re.compile(
    r"((?<=['\"\s/])[^\s/>][^\s/=>]*)(\s*=+\s*('[^']*'|\"[^\"]*\"|(?!['\"])[^>\s]*))?(?:\s|/(?!>))*"
)


@dataclass
class Token:
    """A piece of the page's text, ``start``..``end``. ``kind``: "start" (a start tag), "void" (a
    self-closed start tag, ``<br/>``), "end" (an end tag), "text" (character data), "ref" (a
    character or entity reference, ``&amp;``), "opaque" (a comment, a CDATA section, anything the
    parser skipped) or "decl" (a doctype or processing instruction). ``name``: the tag name,
    lower case; ``attrs``: a start tag's attributes, values decoded, the first of a repeated name."""

    kind: str
    start: int
    end: int
    name: str = ""
    attrs: dict[str, str | None] = field(default_factory=dict)


def decode_html(data: bytes) -> tuple[str, bool]:
    """The page's text and whether it started with a byte order mark (not part of the text).

    Raises DocumentError 415 when the bytes hold NUL characters (not an HTML file) and 422 when no
    encoding decodes them."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text = _decoded(data[len(bom) :], codec)
            if text is not None:
                if "\x00" in text:
                    raise DocumentError(415, "not an HTML file: the text holds NUL characters")
                return text, True
            break
    if b"\x00" in data:
        raise DocumentError(415, "not an HTML file: the bytes hold NUL characters")
    declared = _META_CHARSET.search(data[:SNIFF_BYTES])
    if declared is not None:
        text = _decoded_as_declared(data, declared.group(1).decode("ascii"))
        if text is not None:
            return text, False
    text = _decoded(data, "utf-8")
    if text is None:
        best = charset_normalizer.from_bytes(data).best()
        if best is None:
            raise DocumentError(422, "the page's encoding could not be detected: send it as UTF-8")
        text = str(best)
    return text, False


def _decoded(data: bytes, codec: str) -> str | None:
    """``data`` decoded with ``codec``, or None where it does not decode."""
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _decoded_as_declared(data: bytes, label: str) -> str | None:
    """``data`` decoded with the encoding a <meta> declares (``label``), or None where the label is
    unknown, names UTF-16/32 (a page without a BOM that says so is ASCII-compatible: ignored) or does
    not decode the bytes."""
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):
        return None
    if name in _WINDOWS_1252_FOR:
        text = _decoded(data, "cp1252")
        if text is not None:
            return text
    return _decoded(data, name)


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, in order, covering it exactly: ``tokens[i].end == tokens[i+1].start``,
    the first starts at 0 and the last ends at ``len(text)`` (no tokens for an empty text). Never
    raises on malformed markup: what the parser passes over becomes a "text" or "opaque" token."""
    recorder = _Recorder(text)
    try:
        recorder.read(text)
    except Exception:  # the parser gave up: the rest of the page is one token, kept as read
        pass
    marks: list[tuple[int, str, str, str, dict[str, str | None]]] = []
    for mark in recorder.marks:  # starts strictly increasing: a later report at a place wins
        while marks and marks[-1][0] >= mark[0]:
            marks.pop()
        marks.append(mark)
    tokens: list[Token] = []
    if not marks or marks[0][0] > 0:
        marks.insert(0, (0, "text", "", "", {}))
    for index, (start, kind, name, expected, attrs) in enumerate(marks):
        end = marks[index + 1][0] if index + 1 < len(marks) else len(text)
        if end <= start:
            continue
        source = text[start:end]
        if kind == "end":
            close = source.find(">")
            expected = source if close < 0 else source[: close + 1]
        elif kind in ("opaque", "decl"):
            expected = source
        elif kind == "ref" and source.startswith(expected + ";"):
            expected += ";"
        if not source.startswith(expected) or not expected:
            kind, expected = ("opaque" if source.startswith("<") else "text"), source
        tokens.append(Token(kind, start, start + len(expected), name, attrs))
        if len(expected) < len(source):  # something the parser dropped (``</>``, a lone ``&``)
            rest = source[len(expected) :]
            tokens.append(Token("opaque" if rest.startswith("<") else "text", start + len(expected), end))
    return tokens


class _Recorder(HTMLParser):
    """Records where each token the parser reports starts: (offset, kind, name, expected source
    text or "" where only the next token's start tells its end, attributes)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=False)
        self.line_starts = [0] + [match.end() for match in re.finditer("\n", text)]
        self.marks: list[tuple[int, str, str, str, dict[str, str | None]]] = []

    def read(self, text: str) -> None:
        """Parses all of ``text``. The parser stops at what it cannot finish (an unterminated tag or
        comment, ``&#`` not followed by a number) until more text comes, and at the end of the
        input reads all that is left as one run of text; here it is started again after each stop,
        the construct it stopped at read as text (a ``&``; a ``<`` up to its first ``>`` or the next
        ``<``, as the parser does at the end), so that one such slip costs a few characters, not the
        rest of the page."""
        self.feed(text)
        while self.rawdata and not self.cdata_elem:
            stopped_at = self.rawdata
            self.feed("")
            if self.rawdata != stopped_at:
                continue
            end = 1
            if stopped_at.startswith("<"):
                close, reopen = stopped_at.find(">", 1), stopped_at.find("<", 1)
                end = close + 1 if close >= 0 else reopen if reopen >= 0 else 1
            self.handle_data(stopped_at[:end])
            self.updatepos(0, end)
            self.rawdata = stopped_at[end:]
        self.close()

    def _mark(self, kind: str, name: str = "", expected: str = "", attrs: dict[str, str | None] | None = None) -> None:
        line, column = self.getpos()
        self.marks.append((self.line_starts[line - 1] + column, kind, name, expected, attrs or {}))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._mark("start", tag, self.get_starttag_text() or "", _first_of_each(attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._mark("void", tag, self.get_starttag_text() or "", _first_of_each(attrs))

    def handle_endtag(self, tag: str) -> None:
        self._mark("end", tag)

    def handle_data(self, data: str) -> None:
        self._mark("text", expected=data)

    def handle_entityref(self, name: str) -> None:
        self._mark("ref", expected="&" + name)

    def handle_charref(self, name: str) -> None:
        self._mark("ref", expected="&#" + name)

    def handle_comment(self, data: str) -> None:
        self._mark("opaque")

    def unknown_decl(self, data: str) -> None:
        self._mark("opaque")

    def handle_decl(self, decl: str) -> None:
        self._mark("decl")

    def handle_pi(self, data: str) -> None:
        self._mark("decl")

    def parse_html_declaration(self, i: int) -> int:
        """The parser's own, except that a marked section it cannot read (``<![foo``) is read as a
        bogus comment instead of raising."""
        position = self.lineno, self.offset
        try:
            return super().parse_html_declaration(i)
        except AssertionError:
            self.lineno, self.offset = position
            return self.parse_bogus_comment(i)


def _first_of_each(attrs: list[tuple[str, str | None]]) -> dict[str, str | None]:
    """Attributes by name, the first of a repeated name winning (as in a browser)."""
    named: dict[str, str | None] = {}
    for name, value in attrs:
        named.setdefault(name, value)
    return named


def attribute_values(tag_source: str, attrs: dict[str, str | None]) -> dict[str, tuple[int, int, bool]]:
    """Where each attribute's value lies in ``tag_source`` (a start tag's text): name -> (start, end,
    quoted), the quotes outside start..end. Only values that decode to what the parser read
    (``attrs``) are given, the first of a repeated name; attributes without a value are left out."""
    found: dict[str, tuple[int, int, bool]] = {}
    name_match = _TAG_NAME.match(tag_source)
    position = name_match.end() if name_match else len(tag_source)
    while position < len(tag_source):
        match = _ATTRIBUTE.match(tag_source, position)
        if not match or match.end() == position:
            break
        position = match.end()
        name, value = match.group(1).lower(), match.group(3)
        if value is None or name in found:
            found.setdefault(name, (-1, -1, False))
            continue
        start, end = match.span(3)
        quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
        if quoted:
            start, end = start + 1, end - 1
        decoded = html.unescape(tag_source[start:end]) if start < end else None
        found[name] = (start, end, quoted) if decoded is not None and decoded == attrs.get(name) else (-1, -1, False)
    return {name: where for name, where in found.items() if where[0] >= 0}


def charset_declaration(text: str, token: Token) -> tuple[int, int] | None:
    """Where a ``<meta>`` start tag (``token`` of ``text``) names the page's encoding: the range of
    the name in ``text`` (``<meta charset="...">`` or ``<meta http-equiv="content-type"
    content="...; charset=...">``), or None where it names none."""
    if token.name != "meta":
        return None
    values = attribute_values(text[token.start : token.end], token.attrs)
    if "charset" in values:
        return token.start + values["charset"][0], token.start + values["charset"][1]
    if (token.attrs.get("http-equiv") or "").lower() != "content-type" or "content" not in values:
        return None
    match = _CONTENT_CHARSET.search(text, token.start + values["content"][0], token.start + values["content"][1])
    return match.span(1) if match else None
