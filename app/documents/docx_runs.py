"""One Word paragraph (``w:p``) read as a block: its runs' text with inline tags, and the markup each
tag stands for (``docx_format`` finds the paragraphs, rebuilds their runs from the translations and
owns the file).

A paragraph's inline content is read as a sequence of *items*:

- a text run: a ``w:r`` holding only text (``w:t``, tabs, line breaks), its formatting its ``w:rPr``;
- a link: a ``w:hyperlink`` holding only text runs, the hyperlink a tag and its formatted runs tags
  nested in it;
- a kept stretch: anything else that shows in the text (an image, a field such as a page number, a
  footnote reference, a page break, a content control, a tracked insertion...), moved as it is to
  where its ``keep`` tag lands; its text is what it shows, or U+FFFC when it shows no text. One that
  shows no text at the paragraph's start or end (an image before a caption, a field's end) is no item
  and stays where it is.

Markers that show nothing (bookmarks, proofing marks, comment ranges, tracked deletions) are no
items: they stay where they are, around the rebuilt runs. Paragraph properties (``w:pPr``) are never
touched."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import cast

from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement

from app.documents.document import Block, Tag

Element = BaseOxmlElement

OBJECT_TEXT = "\ufffc"
"""The text of a kept stretch that shows no text (an image, a page break): one object replacement
character, so that its keep tag covers a character."""

W_P, W_R, W_PPR, W_RPR, W_HYPERLINK = qn("w:p"), qn("w:r"), qn("w:pPr"), qn("w:rPr"), qn("w:hyperlink")
W_T, W_BR, W_FLDCHAR = qn("w:t"), qn("w:br"), qn("w:fldChar")
W_FLDCHARTYPE, W_TYPE = qn("w:fldCharType"), qn("w:type")

RUN_TEXT = {qn("w:tab"): "\t", qn("w:ptab"): "\t", qn("w:cr"): "\n", qn("w:noBreakHyphen"): "-"}
"""Run children that show as one character (``w:t`` and ``w:br`` are read apart)."""

PLAIN_RUN_CHILDREN = {W_RPR, W_T, W_BR, qn("w:tab"), qn("w:cr"), qn("w:noBreakHyphen"), qn("w:softHyphen")}
PLAIN_RUN_CHILDREN |= {qn("w:lastRenderedPageBreak")}
"""What a run rebuilt from text may hold: anything else (a drawing, a field character, a page break,
an absolute tab) makes the run a kept stretch."""

MARKERS = {
    qn(f"w:{name}")
    for name in (
        "bookmarkStart bookmarkEnd proofErr permStart permEnd commentRangeStart commentRangeEnd del moveFrom "
        "moveFromRangeStart moveFromRangeEnd moveToRangeStart moveToRangeEnd"
    ).split()
}
"""Paragraph children that show no text: left in place."""


@dataclass(frozen=True)
class Formatting:
    """A formatting tag's markup: the ``w:rPr`` its runs had (None: no run properties)."""

    rpr: Element | None


@dataclass(frozen=True)
class Link:
    """A hyperlink tag's markup: the ``w:hyperlink`` element (its ``r:id`` or ``w:anchor`` is kept)."""

    element: Element


@dataclass(frozen=True)
class Kept:
    """A keep tag's markup: the paragraph children of a kept stretch, in order."""

    elements: list[Element]


Markup = Formatting | Link | Kept


@dataclass
class TextRun:
    """A run of plain text: its text and its ``w:rPr`` (None if it has none)."""

    text: str
    rpr: Element | None

    @cached_property
    def key(self) -> str | None:
        """The formatting as one string (the rPr serialised), equal for runs formatted alike."""
        return None if self.rpr is None else str(self.rpr.xml)


@dataclass
class LinkItem:
    """A hyperlink of text runs."""

    element: Element
    runs: list[TextRun]


@dataclass
class KeptItem:
    """A stretch of paragraph children moved as they are, and the text it shows ("" for an image)."""

    elements: list[Element]
    text: str = ""


Item = TextRun | LinkItem | KeptItem


@dataclass
class ParagraphPlan:
    """A paragraph read as a block: the ``paragraph`` element, its ``block``, the ``markup`` behind
    each tag ref, the ``common`` rPr of its text (what untagged text gets), and the ``content``
    children that a rewrite removes (runs, hyperlinks, kept stretches)."""

    paragraph: Element
    block: Block
    common: Element | None
    markup: dict[int, Markup] = field(default_factory=dict)
    content: list[Element] = field(default_factory=list)


def run_text(run: Element) -> str:
    """The text a ``w:r`` shows, as python-docx's ``Run.text`` reads it: tabs "\\t", line breaks "\\n"."""
    parts = []
    for child in run.iterchildren():
        if child.tag == W_T:
            parts.append(child.text or "")
        elif child.tag == W_BR:
            parts.append("\n" if child.get(W_TYPE) in (None, "textWrapping") else "")
        else:
            parts.append(RUN_TEXT.get(child.tag, ""))
    return "".join(parts)


def is_plain_run(run: Element) -> bool:
    """Whether a ``w:r`` holds nothing but text, so it can be rebuilt from its text and rPr."""
    for child in run.iterchildren():
        if child.tag not in PLAIN_RUN_CHILDREN:
            return False
        if child.tag == W_BR and child.get(W_TYPE) not in (None, "textWrapping"):
            return False
    return True


def field_balance(element: Element) -> tuple[int, int]:
    """How many complex fields begin and end inside ``element``: (begins, ends)."""
    kinds = [char.get(W_FLDCHARTYPE) for char in element.iter(W_FLDCHAR)]
    return kinds.count("begin"), kinds.count("end")


def shown_text(elements: list[Element], paragraph: Element) -> str:
    """The text a kept stretch shows in ``paragraph`` (not the text of a text box's own paragraphs
    inside it)."""
    return "".join(
        run_text(run)
        for element in elements
        for run in element.iter(W_R)
        if next(run.iterancestors(W_P), None) is paragraph
    )


def read_items(paragraph: Element) -> tuple[list[Item], list[Element]]:
    """The items of a paragraph in order, and the children a rewrite removes (the items' elements,
    empty runs included). Children inside a complex field (between its begin and end) are kept; a
    kept stretch that shows no text at either end of the paragraph (an image before the text, a
    field's end) is no item and stays where it is."""
    items: list[Item] = []
    content: list[Element] = []
    pending: list[Element] = []  # markers since the last item: they join a kept stretch that goes on
    depth = 0
    for child in paragraph.iterchildren():
        if not isinstance(child.tag, str) or child.tag == W_PPR:
            continue
        begins, ends = field_balance(child)
        item = None if depth or begins or ends else _plain_item(child)
        depth = max(0, depth + begins - ends)
        if item is None and child.tag in MARKERS:
            pending.append(child)
            continue
        if isinstance(item, LinkItem) and not any(run.text for run in item.runs):
            pending.append(child)  # a hyperlink that shows nothing is left in place, like a marker
            continue
        if item is None:
            if items and isinstance(items[-1], KeptItem):
                items[-1].elements.extend([*pending, child])
                content.extend(pending)
            else:
                items.append(KeptItem([child]))
        elif isinstance(item, TextRun) and not item.text:
            content.append(child)  # an empty run: removed, and no item
            continue
        else:
            items.append(item)
        content.append(child)
        pending = []
    for kept in items:
        if isinstance(kept, KeptItem):
            kept.text = shown_text(kept.elements, paragraph)
    for end in (0, -1):
        while items and isinstance(items[end], KeptItem) and not _item_text(items[end]):
            staying = {id(element) for element in cast(KeptItem, items.pop(end)).elements}
            content = [element for element in content if id(element) not in staying]
    return items, content


def _plain_item(child: Element) -> TextRun | LinkItem | None:
    """A text run or a link of text runs, or None when ``child`` is anything else."""
    if child.tag == W_R and is_plain_run(child):
        return TextRun(run_text(child), child.find(W_RPR))
    if child.tag != W_HYPERLINK:
        return None
    runs = []
    for run in child.iterchildren():
        if run.tag == qn("w:proofErr"):
            continue
        if run.tag != W_R or not is_plain_run(run):
            return None
        runs.append(TextRun(run_text(run), run.find(W_RPR)))
    return LinkItem(child, [run for run in runs if run.text])


def common_formatting(items: list[Item]) -> TextRun | None:
    """The run whose formatting covers the most characters of the paragraph's text runs (the first
    of them on a tie), or None when there are none."""
    runs = [run for item in items for run in _text_runs(item)]
    if not runs:
        return None
    weight: Counter[str | None] = Counter()
    for run in runs:
        weight[run.key] += len(run.text)
    best = max(weight, key=weight.__getitem__)
    return next(run for run in runs if run.key == best)


def _text_runs(item: Item) -> list[TextRun]:
    """The text runs of an item: itself, a link's runs, or none."""
    if isinstance(item, TextRun):
        return [item]
    return item.runs if isinstance(item, LinkItem) else []


def plan_paragraph(paragraph: Element, first_ref: int) -> ParagraphPlan | None:
    """Read a ``w:p`` into a block whose tag refs count up from ``first_ref``; None when it has no
    text to translate (blank, or only kept content such as an image or a page number)."""
    items, content = read_items(paragraph)
    text = "".join(_tag_text(item) for item in items)
    if not "".join(_item_text(item) for item in items if not isinstance(item, KeptItem)).strip():
        return None
    common = common_formatting(items)
    plan = ParagraphPlan(paragraph, Block(text), None if common is None else common.rpr, content=content)
    common_key = None if common is None else common.key

    def add(start: int, end: int, markup: Markup) -> None:
        ref = first_ref + len(plan.markup)
        plan.markup[ref] = markup
        plan.block.tags.append(Tag(start, end, ref, keep=isinstance(markup, Kept)))

    position = 0
    top_runs: list[TextRun] = []  # the text runs since the last link or kept stretch
    for item in [*items, None]:
        if not isinstance(item, TextRun) and top_runs:
            _add_formatting(top_runs, position - sum(len(run.text) for run in top_runs), common_key, add)
            top_runs = []
        if isinstance(item, TextRun):
            top_runs.append(item)
        elif isinstance(item, LinkItem):
            add(position, position + len(_item_text(item)), Link(item.element))
            _add_formatting(item.runs, position, common_key, add)
        elif isinstance(item, KeptItem):
            add(position, position + len(_tag_text(item)), Kept(item.elements))
        position += 0 if item is None else len(_tag_text(item))
    return plan


def _item_text(item: Item) -> str:
    """The text an item shows (a kept stretch's, not ``OBJECT_TEXT``)."""
    return "".join(run.text for run in _text_runs(item)) if not isinstance(item, KeptItem) else item.text


def _tag_text(item: Item) -> str:
    """The text an item has in the block: what it shows, ``OBJECT_TEXT`` for a kept stretch showing none."""
    return _item_text(item) or (OBJECT_TEXT if isinstance(item, KeptItem) else "")


def _add_formatting(
    runs: list[TextRun], start: int, common_key: str | None, add: Callable[[int, int, Markup], None]
) -> None:
    """Tag (through ``add``) each maximal stretch of adjacent ``runs`` (their text beginning at
    ``start``) formatted alike and not as the paragraph's common formatting."""
    position = stretch_start = start
    stretch: list[TextRun] = []
    for run in [*runs, None]:
        if stretch and (run is None or run.key != stretch[0].key):
            if stretch[0].key != common_key:
                add(stretch_start, position, Formatting(stretch[0].rpr))
            stretch = []
        if run is None:
            break
        if not stretch:
            stretch_start = position
        stretch.append(run)
        position += len(run.text)
