"""Markdown inline content (a paragraph's, a heading's, a table cell's) read as a block's text and
tags (``markdown_writing`` writes a translation back).

Tags (``ref`` indexes the document's ``Markup`` table):

* emphasis ``*``/``_``, strong ``**``/``__`` (and strikethrough, were it enabled): their delimiters;
* links: ``[`` and the exact closing ``](target "title")`` (``][ref]`` or ``]`` for reference links);
* inline HTML: a pair of tags in the same span of markup (``<kbd>...</kbd>``) is a tag; a lone one
  (``<br>``) is a keep tag over its own text;
* keep tags, written back from the source when the translation holds their text in their span (else
  the span is written as translated text: no word is lost to a misplaced tag): code spans (over the
  code's text), autolinks ``<https://...>`` and bare URLs (over the URL), images (over the alt text,
  else the image's address: alt text is not translated), backslash escapes and entities (over the
  character they stand for).

A soft line break is a space of the text, a hard one a "\\n"."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline, autolink, backtick, escape, image, link, newline
from markdown_it.token import Token

from app.documents.document import Tag

InlineRule = Callable[[StateInline, bool], bool]
SPANNED = {"link_open", "image", "code_inline", "hardbreak"}  # tokens given meta["span"]: their source
EMPHASIS = {"em", "strong", "s"}
HTML_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(?:\s[^>]*)?>\Z", re.DOTALL)
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BARE_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`]+")
URL_TRAILER = re.compile(r"[.,;:!?'\")\]]+\Z")


@dataclass(frozen=True)
class Markup:
    """A tag's Markdown: ``kind`` (em, strong, link, html, code, image, autolink, url, escape, entity),
    the ``opening`` and ``closing`` written around its text, or for a keep tag the ``source`` written in
    place of it; the ``text`` it covered (keep tags, and links by reference) and the ``label`` a link
    written ``[text]`` or ``[text][]`` needs once its text is translated (``[texte][text]``)."""

    kind: str
    opening: str = ""
    closing: str = ""
    source: str = ""
    text: str = ""
    label: str = ""


@dataclass
class InlineText:
    """Inline content read: ``text``, ``tags``, and each hard break's (content line it ends, marker)."""

    text: str
    tags: list[Tag]
    breaks: list[tuple[int, str]] = field(default_factory=list)


def _spanned(rule: InlineRule) -> InlineRule:
    """``rule`` recording on the token it makes (one of ``SPANNED``) the source range it read, and for a
    link the end of its label: the exact Markdown the token came from."""

    def recorded(state: StateInline, silent: bool) -> bool:
        start, count = state.pos, len(state.tokens)
        found = rule(state, silent)
        if found and not silent:
            for token in state.tokens[count:]:
                if token.type in SPANNED and "span" not in token.meta:
                    token.meta["span"] = (start, state.pos)
                    if token.type == "link_open" and token.markup != "autolink":
                        token.meta["label_end"] = state.md.helpers.parseLinkLabel(state, start, True)
                    break
        return found

    return recorded


def markdown_parser() -> MarkdownIt:
    """CommonMark with tables, escapes and entities left as their own tokens, source ranges recorded."""
    parser = MarkdownIt("commonmark").enable("table").disable("text_join")
    rules = {"link": link, "image": image, "autolink": autolink, "backticks": backtick, "newline": newline}
    for name, rule in {**rules, "escape": escape}.items():
        parser.inline.ruler.at(name, _spanned(rule))
    return parser


PARSER = markdown_parser()


def html_pairs(children: list[Token]) -> dict[int, int]:
    """The inline HTML tags of ``children`` that pair up: opening index -> closing index, both in the same
    span of Markdown markup (an HTML tag pair never crosses an emphasis or a link)."""
    pairs: dict[int, int] = {}
    waiting: list[tuple[int, str, int]] = []  # (depth, name, index)
    depth = 0
    for index, token in enumerate(children):
        if token.type == "html_inline":
            match = HTML_TAG.match(token.content)
            if match is None or token.content.endswith("/>") or match.group(2).lower() in VOID_ELEMENTS:
                continue
            name = match.group(2).lower()
            if not match.group(1):
                waiting.append((depth, name, index))
            elif waiting and waiting[-1][:2] == (depth, name):
                pairs[waiting.pop()[2]] = index
        elif token.nesting:
            depth += token.nesting
            while waiting and waiting[-1][0] > depth:
                waiting.pop()
    return pairs


class _Reader:
    """Builds an ``InlineText`` from inline tokens, appending each tag's ``Markup`` to ``markup``."""

    def __init__(self, source: str, markup: list[Markup]):
        self.source, self.markup = source, markup
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[list[int]] = []  # [start, end, ref, keep], outer before inner
        self.open: list[int] = []
        self.breaks: list[tuple[int, str]] = []

    def text(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def plain(self, text: str) -> None:
        """Text, its bare URLs as keep tags."""
        last = 0
        for match in BARE_URL.finditer(text):
            url = URL_TRAILER.sub("", match.group())
            self.text(text[last : match.start()])
            self.kept("url", url, url)
            last = match.start() + len(url)
        self.text(text[last:])

    def kept(self, kind: str, text: str, source: str) -> None:
        self.markup.append(Markup(kind, source=source.replace("\n", " "), text=text))
        self.spans.append([self.length, self.length + len(text), len(self.markup) - 1, 1])
        self.text(text)

    def opened(self, kind: str, opening: str, closing: str) -> None:
        self.markup.append(Markup(kind, opening.replace("\n", " "), closing.replace("\n", " ")))
        self.open.append(len(self.spans))
        self.spans.append([self.length, -1, len(self.markup) - 1, 0])

    def closed(self) -> None:
        if self.open:
            self.spans[self.open.pop()][1] = self.length

    def hard_break(self, token: Token) -> None:
        start = token.meta.get("span", (len(self.source), 0))[0]
        before = self.source[:start]
        marker = "\\" if self.source.startswith("\\", start) else " " * max(2, len(before) - len(before.rstrip(" ")))
        self.breaks.append((self.source.count("\n", 0, start), marker))
        self.text("\n")

    def read(self, children: list[Token]) -> InlineText:
        pairs = html_pairs(children)
        closings = set(pairs.values())
        index = 0
        while index < len(children):
            token = children[index]
            if token.type == "link_open" and token.markup == "autolink":
                end = next(i for i in range(index, len(children)) if children[i].type == "link_close")
                url = "".join(child.content for child in children[index + 1 : end])
                self.kept("autolink", url, self._source(token, f"<{url}>"))
                index = end
            elif token.type == "html_inline" and index in pairs:
                self.opened("html", token.content, children[pairs[index]].content)
            elif token.type == "html_inline" and index in closings:
                self.closed()
            else:
                self._token(token)
            index += 1
        for open_span in self.open:
            self.spans[open_span][1] = self.length
        text = "".join(self.parts)
        tags = [Tag(start, end, ref, bool(keep)) for start, end, ref, keep in self.spans]
        for tag in tags:
            if self.markup[tag.ref].label:
                self.markup[tag.ref] = replace(self.markup[tag.ref], text=text[tag.start : tag.end])
        return InlineText(text, tags, self.breaks)

    def _token(self, token: Token) -> None:
        """One token other than an autolink or a paired HTML tag."""
        kind = token.type
        if kind == "text":
            self.plain(token.content)
        elif kind == "softbreak":
            self.text(" ")
        elif kind == "hardbreak":
            self.hard_break(token)
        elif kind == "text_special":
            self.kept(token.info or "escape", token.content, token.markup)
        elif kind == "code_inline":
            self.kept("code", token.content, self._source(token, f"{token.markup}{token.content}{token.markup}"))
        elif kind == "image":
            children = token.children or []
            alt = "".join(child.content or (" " if child.type.endswith("break") else "") for child in children)
            address = str(token.attrGet("src") or "")
            self.kept("image", alt.strip() or address, self._source(token, f"![{token.content}]({address})"))
        elif kind == "html_inline":
            self.kept("html", token.content, token.content)
        elif kind == "link_open":
            start, end = token.meta.get("span", (0, 0))
            label_end = token.meta.get("label_end", -1)
            closing = self.source[label_end:end] if label_end >= 0 else f"]({token.attrGet('href')})"
            self.opened("link", "[", closing)
            if closing in ("]", "][]"):  # the text is the reference label: kept to write a translation
                self.markup[-1] = replace(self.markup[-1], label=self.source[start + 1 : label_end])
        elif token.nesting == 1:
            self.opened(kind.removesuffix("_open"), token.markup, token.markup)
        elif token.nesting == -1:
            self.closed()

    def _source(self, token: Token, fallback: str) -> str:
        """The Markdown ``token`` was read from (``fallback`` were it not recorded)."""
        if "span" not in token.meta:
            return fallback
        start, end = token.meta["span"]
        return self.source[start:end]


def read_inline(children: list[Token], source: str, markup: list[Markup]) -> InlineText:
    """Inline tokens ``children`` parsed from ``source`` as text and tags (their markup appended to
    ``markup``; tags are outer before inner, keep tags hold no others)."""
    return _Reader(source, markup).read(children)
