"""Writing an HTML page's blocks back: the read page (``HtmlDocument``), where each block goes
(``Site``), what its tags are made of (``Markup``), the source with some ranges replaced
(``Splicer``), the nesting of a block's tags (``nest``) and a translated text block with its tags'
markup around the words they cover (``render_text``)."""

from __future__ import annotations

import html
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

from app.documents.document import Block, Document, Tag, TranslatedBlock


@dataclass
class Markup:
    """What one tag is made of in the page's source: the ranges of its ``opening`` (a start tag, a
    comment) and ``closing`` (an end tag), None where the source has none (an element never closed,
    an end tag without a start tag); the ref of the tag it was read inside (``parent``); and, for a
    kept element, where its content ends (``content_end``: it starts where ``opening`` ends)."""

    opening: tuple[int, int] | None
    closing: tuple[int, int] | None
    parent: int | None
    content_end: int = -1


@dataclass(frozen=True)
class Site:
    """Where a block is written back: the source range ``start``..``end`` its translation replaces;
    ``quoted``: None for a text block, else whether the attribute value it is had quotes (an
    unquoted one is written back quoted)."""

    start: int
    end: int
    quoted: bool | None


class Splicer:
    """A source text with some ranges replaced (``edits``: (start, end, replacement), not
    overlapping but possibly one inside another, the outer one winning). Called with a range, it
    gives that range's text, the edits that lie wholly inside it applied."""

    def __init__(self, text: str, edits: list[tuple[int, int, str]]):
        self.text = text
        self.edits = sorted(edits, key=lambda edit: (edit[0], -edit[1]))
        self.starts = [edit[0] for edit in self.edits]

    def __call__(self, start: int, end: int) -> str:
        pieces, cursor = [], start
        for index in range(bisect_left(self.starts, start), len(self.edits)):
            edit_start, edit_end, replacement = self.edits[index]
            if edit_start >= end:
                break
            if edit_start >= cursor and edit_end <= end:
                pieces += [self.text[cursor:edit_start], replacement]
                cursor = edit_end
        pieces.append(self.text[cursor:end])
        return "".join(pieces)


class HtmlDocument(Document):
    """A read page: its text (``bom``: it started with a byte order mark), its blocks and the sites
    they are written back to, its tags' markup (``Tag.ref`` indexes ``markup``)."""

    def __init__(
        self,
        text: str,
        bom: bool,
        sites: list[Site],
        blocks: list[Block],
        markup: list[Markup],
        edits: list[tuple[int, int, str]],
    ):
        self.text, self.bom, self.sites, self.blocks, self.markup = text, bom, sites, blocks, markup
        self.edits = edits  # ranges of the source always replaced (a charset declaration)

    def render(self, translated: list[TranslatedBlock]) -> bytes:
        """The page with every block replaced by its translation, as UTF-8 (with a BOM where the
        page had one). Raises ValueError unless there is one translation per block."""
        if len(translated) != len(self.blocks):
            raise ValueError(f"{len(translated)} translations for {len(self.blocks)} blocks")
        edits = list(self.edits)
        for site, block, done in zip(self.sites, self.blocks, translated, strict=True):
            if site.quoted is not None and done.text != block.text:
                escaped = escape_text(done.text, quote=True)
                edits.append((site.start, site.end, escaped if site.quoted else f'"{escaped}"'))
        in_attributes = Splicer(self.text, edits)
        for site, block, done in zip(self.sites, self.blocks, translated, strict=True):
            if site.quoted is None:
                edits.append((site.start, site.end, self._text_block(site, block, done, in_attributes)))
        page = Splicer(self.text, edits)(0, len(self.text))
        return (("\ufeff" if self.bom else "") + page).encode("utf-8")

    def _text_block(self, site: Site, block: Block, done: TranslatedBlock, splice: Splicer) -> str:
        """A text block's source: as read when its translation is its own text and tags, else the
        translation with the tags' markup around the characters they cover."""
        if done.text == block.text and sorted(map(_key, done.tags)) == sorted(map(_key, block.tags)):
            return splice(site.start, site.end)
        return render_text(block, done, self.markup, splice)


def _key(tag: Tag) -> tuple[int, int, int]:
    return tag.start, tag.end, tag.ref


def nest(tags: list[Tag], markup: list[Markup]) -> dict[int | None, list[Tag]]:
    """The tags each tag holds (None: the block), each list in reading order. A tag over characters
    holds the tags over characters inside it (tags that cross are taken as siblings). A tag over no
    characters is held by the nearest tag it was read inside that ends or starts where it is (or
    is over no characters there), else by the innermost tag around that point."""
    depths: dict[int, int] = {}

    def order(tag: Tag) -> tuple[int, int, int, int]:
        return tag.start, tag.start - tag.end, _depth(tag.ref, markup, depths), tag.ref

    spans = sorted((tag for tag in tags if tag.start < tag.end), key=order)
    children: dict[int | None, list[Tag]] = {None: [], **{tag.ref: [] for tag in tags}}
    stack: list[Tag] = []  # the spans around the current one, outermost first
    for tag in spans:
        while stack and not (stack[-1].start <= tag.start and tag.end <= stack[-1].end):
            stack.pop()
        children[stack[-1].ref if stack else None].append(tag)
        stack.append(tag)
    by_ref, at = {tag.ref: tag for tag in spans}, dict[int, int]()
    stack, started = [], 0  # now the spans strictly around the current point
    for tag in sorted((tag for tag in tags if tag.start == tag.end), key=order):
        point = tag.start
        while started < len(spans) and spans[started].start < point:
            span, started = spans[started], started + 1
            while stack and not (stack[-1].start <= span.start and span.end <= stack[-1].end):
                stack.pop()
            stack.append(span)
        while stack and stack[-1].end <= point:
            stack.pop()
        children[_point_holder(tag, stack, by_ref, at, markup)].append(tag)
        at[tag.ref] = point
    for held in children.values():
        held.sort(key=lambda t: (t.start, t.end, t.ref))
    return children


def _point_holder(
    tag: Tag, around: list[Tag], spans: dict[int, Tag], at: dict[int, int], markup: list[Markup]
) -> int | None:
    """Who holds ``tag`` (over no characters): the nearest tag it was read inside that is over no
    characters at the same point (``at``) or a span ending or starting there, unless one around the
    point comes first: then the innermost tag ``around`` the point."""
    point, ref = tag.start, markup[tag.ref].parent
    while ref is not None:
        span = spans.get(ref)
        if at.get(ref) == point or (span is not None and point in (span.start, span.end)):
            return ref
        if span is not None and span.start < point < span.end:
            break
        ref = markup[ref].parent
    return around[-1].ref if around else None


def preorder(children: dict[int | None, list[Tag]]) -> list[Tag]:
    """The tags of a ``nest`` result, each before the tags it holds, in reading order."""
    ordered: list[Tag] = []
    todo = list(reversed(children[None]))
    while todo:
        tag = todo.pop()
        ordered.append(tag)
        todo += reversed(children[tag.ref])
    return ordered


def _depth(ref: int, markup: list[Markup], depths: dict[int, int]) -> int:
    """How many tags ``ref`` was read inside (memoised in ``depths``)."""
    chain: list[int] = []
    at: int | None = ref
    while at is not None and at not in depths:
        chain.append(at)
        at = markup[at].parent
    depth = depths[at] if at is not None else -1
    for inner in reversed(chain):
        depth += 1
        depths[inner] = depth
    return depths[ref]


def escape_text(text: str, quote: bool = False) -> str:
    """Text for an HTML text node: ``&``, ``<``, ``>`` escaped (and ``"``, ``'`` with ``quote``, for
    an attribute value), U+00A0 written as ``&nbsp;``."""
    return html.escape(text, quote=quote).replace("\u00a0", "&nbsp;")


def render_text(block: Block, done: TranslatedBlock, markup: list[Markup], splice: Splicer) -> str:
    """The source of a text block's translation: ``done.text`` escaped, each tag's opening and
    closing markup (through ``splice``: translated attributes in it) around the characters it now
    covers. A kept tag whose text and inner tags came back as they were is written as read. Tags
    that are not the block's are ignored; a tag of the block the translation lacks is written, over
    no characters, at its end."""
    tags = _usable(block, done)
    tree = nest(tags, markup)
    original = nest(block.tags, markup) if any(tag.keep for tag in block.tags) else {}
    first = {tag.ref: tag for tag in block.tags}

    def opening(tag: Tag) -> str:
        found = markup[tag.ref].opening
        return splice(*found) if found else ""

    def closing(tag: Tag) -> str:
        found = markup[tag.ref].closing
        return splice(*found) if found else ""

    def as_read(tag: Tag, start: int, end: int) -> str | None:
        was, source = first[tag.ref], markup[tag.ref]
        if not tag.keep or source.opening is None or done.text[start:end] != block.text[was.start : was.end]:
            return None
        if _inside(tree, tag, start) != _inside(original, was, was.start):
            return None
        return opening(tag) + splice(source.opening[1], source.content_end) + closing(tag)

    return _emit(done.text, tree, opening, closing, as_read)


def _usable(block: Block, done: TranslatedBlock) -> list[Tag]:
    """The translation's tags that are the block's, once each, inside its text, kept as read."""
    kept = {tag.ref: tag.keep for tag in block.tags}
    n, tags, seen = len(done.text), [], set()
    for tag in done.tags:
        if tag.ref in kept and tag.ref not in seen:
            seen.add(tag.ref)
            start = min(max(tag.start, 0), n)
            tags.append(Tag(start, min(max(tag.end, start), n), tag.ref, kept[tag.ref]))
    tags += [Tag(n, n, ref, False) for ref in kept if ref not in seen]
    return tags


def _inside(tree: dict[int | None, list[Tag]], tag: Tag, origin: int) -> set[tuple[int, int, int]]:
    """The tags ``tag`` holds, at any depth, as (ref, start, end) from ``origin``."""
    found, todo = set(), list(tree[tag.ref])
    while todo:
        inner = todo.pop()
        found.add((inner.ref, inner.start - origin, inner.end - origin))
        todo += tree[inner.ref]
    return found


def _emit(
    text: str,
    tree: dict[int | None, list[Tag]],
    opening: Callable[[Tag], str],
    closing: Callable[[Tag], str],
    as_read: Callable[[Tag, int, int], str | None],
) -> str:
    """``text`` escaped with the tags of ``tree`` around their characters (a tag reaching outside
    the one holding it is cut to it); ``as_read`` may give a tag's whole source instead."""
    out: list[str] = []
    frames: list[tuple[Tag | None, list[Tag], list[int]]] = [(None, list(reversed(tree[None])), [0, len(text)])]
    while frames:
        tag, todo, (cursor, end) = frames[-1]
        if not todo:
            out.append(escape_text(text[cursor:end]))
            if tag is not None:
                out.append(closing(tag))
            frames.pop()
            continue
        inner = todo.pop()
        start = min(max(inner.start, cursor), end)
        stop = min(max(inner.end, start), end)
        out.append(escape_text(text[cursor:start]))
        frames[-1][2][0] = stop
        whole = as_read(inner, start, stop)
        if whole is not None:
            out.append(whole)
        else:
            out.append(opening(inner))
            frames.append((inner, list(reversed(tree[inner.ref])), [start, stop]))
    return "".join(out)
