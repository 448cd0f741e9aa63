"""HTML pages (.html, .htm) as documents.

Blocks: the text between block-level boundaries (any element that is not inline: p, div, li, td, h1,
br, title, option...), inline elements inside a block (a, b, span, img...) becoming its ``Tag``s;
and the values of ``alt``, ``title``, ``placeholder``, ``aria-label`` (and ``<meta
name="description">``'s ``content``), one block each, without tags. Never translated: script,
style, pre, template, svg, math, textarea, iframe and any element marked translate="no" (an inline
one, and code, kbd, samp, var, is a ``keep`` tag), nor a block whose words are all kept.

Whitespace and references: a block's text is what a reader sees: character and entity references
decoded (``&amp;`` -> ``&``, ``&nbsp;`` -> U+00A0), runs of spaces, tabs and newlines one space, its
leading and trailing whitespace left outside it (kept as read). Rendering writes a translation
escaped (``&``, ``<``, ``>``; ``"`` and ``'`` in attributes too) with U+00A0 as ``&nbsp;``, in place
of the block's source from its first to its last character; everything else (doctype, comments,
scripts, attributes, whitespace, unknown tags, malformed markup) is written as read, except a
``<meta>`` charset declaration, which says utf-8 since the answer is UTF-8. A block whose
translation is its own text and tags is written as read, so reading and rendering unchanged gives
the page back byte for byte."""

from __future__ import annotations

import html
import re

from app.documents.document import Block, Document, DocumentError, Format, Limits, Tag
from app.documents.html_render import HtmlDocument, Markup, Site, nest, preorder
from app.documents.html_tokens import Token, attribute_values, charset_declaration, decode_html, tokenize

INLINE = frozenset(
    "a abbr b bdi bdo big cite code data del dfn em font i img ins kbd mark nobr q s samp small span strike"
    " strong sub sup time tt u var wbr".split()
)
KEPT = frozenset({"code", "kbd", "samp", "var"})  # inline elements whose content is never translated
VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
UNTRANSLATED = frozenset("script style pre template svg math textarea iframe xmp listing plaintext noembed".split())
# elements a start tag of the same name closes: one marked translate="no" ends there
SELF_ENDING = frozenset("p li dt dd option optgroup tr td th thead tbody tfoot rt rp".split())
TRANSLATED_ATTRIBUTES = ("alt", "title", "placeholder", "aria-label")
HTML_SPACE = " \t\n\r\f"
_SPACES = re.compile(r"[ \t\n\r\f]+")


class _Run:
    """A block being read: the source it spans (``start``..``end``, its leading and trailing
    whitespace outside), its text so far (spaces collapsed), the inline elements still open
    (ref, name), the tags' spans over the text (ref -> [start, end], end -1 while open), the kept
    ones and which tags each tag holds."""

    def __init__(self, start: int):
        self.start = self.end = start
        self.pieces: list[str] = []
        self.length = 0
        self.after_space = True  # a space here would be leading or doubled: dropped
        self.has_text = False
        self.open: list[tuple[int, str]] = []
        self.open_names: dict[str, int] = {}  # how many of each name are open
        self.kept_open = 0  # how many of the open tags are kept
        self.spans: dict[int, list[int]] = {}
        self.kept: set[int] = set()
        self.children: dict[int | None, list[int]] = {}  # refs by the ref of the tag they are in

    def append(self, decoded: str) -> None:
        """Adds decoded character data, whitespace runs collapsed to one space."""
        collapsed = _SPACES.sub(" ", decoded)
        if self.after_space and collapsed.startswith(" "):
            collapsed = collapsed[1:]
        if collapsed:
            self.pieces.append(collapsed)
            self.length += len(collapsed)
            self.after_space = collapsed.endswith(" ")
            self.has_text = self.has_text or not collapsed.isspace()


class _Reader:
    """Walks the tokens of a page (``read``), collecting its blocks with the sites they are written
    back to (``found``), the markup of their tags (``markup``, indexed by ``Tag.ref``) and the
    charset declarations to rewrite (``edits``)."""

    def __init__(self, text: str, limits: Limits):
        self.text, self.limits = text, limits
        self.found: list[tuple[Site, Block]] = []
        self.markup: list[Markup] = []
        self.edits: list[tuple[int, int, str]] = []
        self.run: _Run | None = None
        self.skipping: str | None = None  # the element whose content is passed over, and its depth
        self.skip_depth = 0

    def read(self, tokens: list[Token]) -> None:
        """Reads every token; ``found`` ends in reading (source) order."""
        for token in tokens:
            self._take(token)
        self._flush()
        self.found.sort(key=lambda pair: pair[0].start)

    def _take(self, token: Token) -> None:
        if self.skipping is not None:
            self._skip(token)
        elif token.kind in ("text", "ref"):
            self._text(token)
        elif token.kind == "opaque":
            if self.run is not None:  # a comment inside a block: a tag over no characters
                self._new_tag(self.run, (token.start, token.end), None, zero_width=True)
                self.run.end = token.end
        elif token.kind in ("start", "void", "end") and token.name in INLINE:
            self._inline(token)
        else:
            self._boundary(token)

    def _skip(self, token: Token) -> None:
        """Inside an untranslated element: waits for its end tag (same-name elements nest)."""
        if token.name != self.skipping or token.kind not in ("start", "end"):
            return
        if token.kind == "start" and token.name in SELF_ENDING:
            self.skipping = None
            self._take(token)
        elif token.kind == "start":
            self.skip_depth += 1
        else:
            self.skip_depth -= 1
            if self.skip_depth == 0:
                self.skipping = None

    def _text(self, token: Token) -> None:
        source = self.text[token.start : token.end]
        content = source.strip(HTML_SPACE)
        if not content:
            if self.run is not None:
                self.run.append(" ")
            return
        if self.run is None:
            self.run = _Run(token.start + len(source) - len(source.lstrip(HTML_SPACE)))
        self.run.append(html.unescape(source))
        self.run.end = token.start + len(source.rstrip(HTML_SPACE))

    def _boundary(self, token: Token) -> None:
        """A block-level tag (or doctype): ends the block being read; may start an untranslated
        element; its attributes may hold blocks."""
        self._flush()
        if token.kind not in ("start", "void"):
            return
        if token.name == "meta":
            self._charset(token)
        if _no_translate(token):
            opens = token.kind == "start" and token.name not in VOID
        else:
            self._attributes(token)
            opens = token.kind == "start" and token.name in UNTRANSLATED
        if opens:
            self.skipping, self.skip_depth = token.name, 1

    def _inline(self, token: Token) -> None:
        """An inline tag: a start tag opens a tag of the block (a void one covers no characters),
        an end tag closes the innermost open one of its name (and those inside it)."""
        if token.kind == "end":
            self._close(token)
            return
        keep = token.name in KEPT or _no_translate(token)
        run = self.run
        if not keep and not (run is not None and run.kept_open):
            self._attributes(token)
        if run is None:
            run = self.run = _Run(token.start)
        void = token.kind == "void" or token.name in VOID
        ref = self._new_tag(run, (token.start, token.end), None, zero_width=void)
        run.end = token.end
        if not void:
            run.open.append((ref, token.name))
            run.open_names[token.name] = run.open_names.get(token.name, 0) + 1
            if keep:
                run.kept.add(ref)
                run.kept_open += 1

    def _close(self, token: Token) -> None:
        run = self.run
        if run is None or not run.open_names.get(token.name):
            if run is None or (not run.has_text and not run.open):
                self._flush()  # a stray end tag before any text: left outside the block
                return
            self._stray(run, token)
        else:
            while run.open:
                ref, name = run.open.pop()
                run.open_names[name] -= 1
                run.kept_open -= ref in run.kept
                run.spans[ref][1] = run.length
                self.markup[ref].content_end = token.start
                if name == token.name:
                    self.markup[ref].closing = (token.start, token.end)
                    break
        run.end = token.end

    def _stray(self, run: _Run, token: Token) -> None:
        """An end tag with no start tag in the block: a tag with no opening from the start of the
        innermost open tag (or of the block) to here, holding what that one held so far."""
        holder = run.open[-1][0] if run.open else None
        start = run.spans[holder][0] if holder is not None else 0
        held = run.children.pop(holder, [])
        ref = self._new_tag(run, None, (token.start, token.end), zero_width=False)
        run.spans[ref] = [start, run.length]
        run.children[ref] = held
        for inner in held:
            self.markup[inner].parent = ref

    def _new_tag(
        self, run: _Run, opening: tuple[int, int] | None, closing: tuple[int, int] | None, zero_width: bool
    ) -> int:
        """A new entry of ``markup`` inside the innermost open tag of ``run``; its ref. Its span
        starts here and, for ``zero_width``, ends here."""
        parent = run.open[-1][0] if run.open else None
        self.markup.append(Markup(opening, closing, parent))
        ref = len(self.markup) - 1
        run.children.setdefault(parent, []).append(ref)
        run.spans[ref] = [run.length, run.length if zero_width else -1]
        return ref

    def _flush(self) -> None:
        """Ends the block being read: it is found if its text is not blank and not all kept."""
        run, self.run = self.run, None
        if run is None or not run.has_text:
            return
        for ref, _ in run.open:  # never closed: the tag ends with the block, no end tag written
            run.spans[ref][1] = run.length
            self.markup[ref].content_end = run.end
        text = "".join(run.pieces)
        text = text[:-1] if text.endswith(" ") else text
        n = len(text)
        tags = [Tag(min(s, n), min(e, n), ref, ref in run.kept) for ref, (s, e) in run.spans.items()]
        if _all_kept(text, tags):
            return
        block = Block(text, preorder(nest(tags, self.markup)))
        self._found(Site(run.start, run.end, None), block)

    def _attributes(self, token: Token) -> None:
        """Blocks for the translated attributes of a start tag."""
        wanted = [name for name in TRANSLATED_ATTRIBUTES if token.attrs.get(name)]
        if token.name == "meta" and (token.attrs.get("name") or "").lower() == "description":
            wanted += ["content"] if token.attrs.get("content") else []
        if not wanted:
            return
        values = attribute_values(self.text[token.start : token.end], token.attrs)
        for name in wanted:
            if name not in values:
                continue
            start, end, quoted = values[name]
            source = self.text[token.start + start : token.start + end]
            text = _SPACES.sub(" ", html.unescape(source)).strip(" ")
            if text.strip():
                lead, trail = len(source) - len(source.lstrip(HTML_SPACE)), len(source) - len(source.rstrip(HTML_SPACE))
                self._found(Site(token.start + start + lead, token.start + end - trail, quoted), Block(text))

    def _charset(self, token: Token) -> None:
        """Rewrites a <meta> charset declaration that does not say utf-8: the answer is UTF-8."""
        declared = charset_declaration(self.text, token)
        if declared is not None and self.text[declared[0] : declared[1]].lower() not in ("utf-8", "utf8"):
            self.edits.append((*declared, "utf-8"))

    def _found(self, site: Site, block: Block) -> None:
        self.found.append((site, block))
        if len(self.found) > self.limits.max_blocks:
            raise DocumentError(413, f"the page holds more than {self.limits.max_blocks} blocks of text")


def _no_translate(token: Token) -> bool:
    return (token.attrs.get("translate") or "").strip().lower() == "no"


def _all_kept(text: str, tags: list[Tag]) -> bool:
    """Whether every non-space character of ``text`` lies under a keep tag."""
    covered = [False] * len(text)
    for tag in tags:
        if tag.keep:
            covered[tag.start : tag.end] = [True] * (tag.end - tag.start)
    return all(covered[i] or char.isspace() for i, char in enumerate(text))


def read_html(data: bytes, limits: Limits) -> Document:
    """An HTML page's bytes as a document. Raises DocumentError 413 (larger than
    ``limits.max_unpacked_bytes`` or more than ``limits.max_blocks`` blocks), 415 (NUL bytes: not an
    HTML file) or 422 (no encoding decodes it)."""
    if len(data) > limits.max_unpacked_bytes:
        raise DocumentError(413, f"the page is larger than {limits.max_unpacked_bytes} bytes")
    text, bom = decode_html(data)
    reader = _Reader(text, limits)
    reader.read(tokenize(text))
    sites, blocks = [site for site, _ in reader.found], [block for _, block in reader.found]
    return HtmlDocument(text, bom, sites, blocks, reader.markup, reader.edits)


HTML = Format(name="html", extensions=(".html", ".htm"), media_type="text/html; charset=utf-8", read=read_html)
