"""Word documents (.docx): each paragraph with text is a block (the body's, tables' and nested
tables' included, then each section's headers and footers), its runs' formatting and hyperlinks its
tags (``docx_runs``); rendering rebuilds those paragraphs' runs from the translations and saves the
package with everything else as it was.

The zip is checked before python-docx opens it (declared sizes against ``Limits.max_unpacked_bytes``,
no entry inflating absurdly), and an XML part that declares a DOCTYPE is refused: Word never writes
one, and its entities are never resolved (python-docx parses with ``resolve_entities=False``)."""

from __future__ import annotations

import io
import re
import zipfile
from copy import deepcopy
from typing import cast

import docx
from docx.document import Document as WordDocument
from docx.opc.part import XmlPart
from docx.oxml.parser import OxmlElement
from docx.oxml.text.run import CT_R

from app.documents.document import Block, Document, DocumentError, Format, Limits, Tag, TranslatedBlock
from app.documents.docx_runs import W_P, Element, Formatting, Kept, Link, Markup, ParagraphPlan, plan_paragraph

MAIN_PART = "word/document.xml"
"""The entry every Word document holds (what tells a .docx from another zip)."""

BOMB_RATIO, BOMB_MIN_BYTES = 200, 1_000_000
"""An entry that would unpack over ``BOMB_RATIO`` times its packed size, to more than
``BOMB_MIN_BYTES``, is refused as a zip bomb (text compresses about 5-20:1, zeros 1000:1)."""


def check_package(data: bytes, limits: Limits) -> None:
    """Refuse ``data`` before anything is inflated, from the zip's directory alone: DocumentError 415
    if it is no zip or has no ``word/document.xml``, 413 if its entries declare more than
    ``limits.max_unpacked_bytes`` or one would unpack absurdly more than it is packed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except Exception as error:  # any zip directory that cannot be read: BadZipFile, EOFError, ValueError...
        raise DocumentError(415, f"not a .docx file: not a zip archive ({error})") from error
    if MAIN_PART not in {entry.filename for entry in entries}:
        raise DocumentError(415, f"not a .docx file: the zip archive holds no {MAIN_PART}")
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > limits.max_unpacked_bytes:
        raise DocumentError(
            413, f"the .docx unpacks to {unpacked:,} bytes, over the limit of {limits.max_unpacked_bytes:,}"
        )
    for entry in entries:
        if entry.file_size > BOMB_MIN_BYTES and entry.file_size > BOMB_RATIO * max(entry.compress_size, 1):
            raise DocumentError(
                413,
                f"the .docx entry {entry.filename} would unpack {entry.file_size:,} bytes from "
                f"{entry.compress_size:,} (over {BOMB_RATIO}:1): refused as a zip bomb",
            )


def open_word(data: bytes) -> WordDocument:
    """The python-docx document of ``data`` (checked by ``check_package``). DocumentError 415 if its
    main part is not a Word document (a template, a macro-enabled file), 422 if python-docx cannot
    read it or an XML part declares a DOCTYPE."""
    try:
        document = docx.Document(io.BytesIO(data))
    except ValueError as error:
        if "is not a Word file" not in str(error):
            raise DocumentError(422, f"the .docx cannot be read: {describe(error)}") from error
        kind = str(error).rpartition("content type is ")[2]
        raise DocumentError(415, f"not a .docx file: its main part is {kind}, not a Word document") from error
    except Exception as error:  # a corrupt package: a missing part, broken XML, a bad CRC...
        raise DocumentError(422, f"the .docx cannot be read: {describe(error)}") from error
    for part in document.part.package.iter_parts():
        if isinstance(part, XmlPart) and part.element.getroottree().docinfo.doctype:
            raise DocumentError(422, f"the .docx part {part.partname} declares a DOCTYPE (entities are refused)")
    return document


def describe(error: Exception) -> str:
    """An exception as a short message: its type and its first 200 characters."""
    return f"{type(error).__name__}: {str(error)[:200]}"


def story_paragraphs(document: WordDocument) -> list[Element]:
    """Every ``w:p`` in reading order: the body's (tables', nested tables' and text boxes' included),
    then each section's headers and footers (default, first page, even pages), each header or footer
    part once; one linked to the previous section's is that section's."""
    paragraphs = list(document.element.body.iter(W_P))
    seen: set[str] = set()
    for section in document.sections:
        for story in (
            section.header,
            section.first_page_header,
            section.even_page_header,
            section.footer,
            section.first_page_footer,
            section.even_page_footer,
        ):
            if story.is_linked_to_previous or story.part.partname in seen:
                continue
            seen.add(story.part.partname)
            paragraphs += story.part.element.iter(W_P)
    return paragraphs


def paragraph_plans(document: WordDocument, limits: Limits) -> list[ParagraphPlan]:
    """The paragraphs with text to translate, read as blocks (tag refs unique across the document):
    DocumentError 413 past ``limits.max_blocks``."""
    plans: list[ParagraphPlan] = []
    next_ref = 0
    for paragraph in story_paragraphs(document):
        plan = plan_paragraph(paragraph, next_ref)
        if plan is None:
            continue
        if len(plans) == limits.max_blocks:
            raise DocumentError(413, f"the .docx has more than {limits.max_blocks:,} paragraphs to translate")
        plans.append(plan)
        next_ref += len(plan.markup)
    return plans


class DocxDocument(Document):
    """A .docx read into blocks. ``render`` reads the file again and rewrites its paragraphs, so the
    document is never changed and can be rendered more than once."""

    def __init__(self, data: bytes, limits: Limits, blocks: list[Block]):
        self.blocks = blocks
        self._data, self._limits = data, limits

    def render(self, translated: list[TranslatedBlock]) -> bytes:
        """The .docx bytes with each block's paragraph rebuilt from ``translated`` (one per block, in
        order); ValueError if their number differs or a block's tags are not its own."""
        if len(translated) != len(self.blocks):
            raise ValueError(f"{len(translated)} translations for {len(self.blocks)} blocks")
        document = open_word(self._data)
        plans = paragraph_plans(document, self._limits)
        for number, (plan, block) in enumerate(zip(plans, translated, strict=True)):
            try:
                rewrite_paragraph(plan, block)
            except ValueError as error:
                raise ValueError(f"block {number}: {error}") from error
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()


def read_docx(data: bytes, limits: Limits) -> Document:
    """Parse .docx bytes into a document of its paragraphs' blocks. DocumentError: 415 if it is not a
    Word document, 413 if it unpacks past ``limits.max_unpacked_bytes`` or holds more than
    ``limits.max_blocks`` blocks, 422 if it is corrupt or declares a DOCTYPE."""
    check_package(data, limits)
    plans = paragraph_plans(open_word(data), limits)
    return DocxDocument(data, limits, [plan.block for plan in plans])


Piece = tuple[int | None, int | None, str]
"""Translated text to put in one run: (ref of the link it goes in, ref of its formatting, text)."""

XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters an XML 1.0 document cannot hold (the translator's placeholder marks among them)."""


def rewrite_paragraph(plan: ParagraphPlan, translated: TranslatedBlock) -> None:
    """Replace the paragraph's content (``plan.content``) with runs built from ``translated``, in its
    place: markers and ``w:pPr`` stay. Raises ValueError if a tag is not one of the block's or lies
    outside the text."""
    for tag in translated.tags:
        if tag.ref not in plan.markup:
            raise ValueError(f"tag ref {tag.ref} is not one of this block's")
        if not 0 <= tag.start <= tag.end <= len(translated.text):
            raise ValueError(f"tag {tag} lies outside the translated text ({len(translated.text)} characters)")
    new_content = build_content(plan, translated)
    paragraph = plan.paragraph
    anchor = plan.content[0].getprevious()
    for element in plan.content:
        paragraph.remove(element)
    index = 0 if anchor is None else paragraph.index(anchor) + 1
    for offset, element in enumerate(new_content):
        paragraph.insert(index + offset, element)


def build_content(plan: ParagraphPlan, translated: TranslatedBlock) -> list[Element]:
    """The paragraph children for a translation: its text cut at the tags' ends, each piece a run
    formatted by the innermost formatting tag over it (or the common rPr) inside a copy of the
    innermost hyperlink over it, each kept stretch where its keep tag starts (its translated text
    dropped: the stretch holds its own), a kept stretch whose tag went missing at the end."""
    text, tags, markup = translated.text, translated.tags, plan.markup
    cuts = sorted({0, len(text), *(tag.start for tag in tags), *(tag.end for tag in tags)})
    sequence: list[Kept | Piece] = []
    placed: set[int] = set()
    for index, start in enumerate(cuts):
        for tag in tags:
            kept = markup[tag.ref]
            if tag.start == start and isinstance(kept, Kept) and tag.ref not in placed:
                placed.add(tag.ref)
                sequence.append(kept)
        end = cuts[index + 1] if index + 1 < len(cuts) else start
        covering = [tag for tag in tags if tag.start <= start and end <= tag.end]
        if end == start or any(isinstance(markup[tag.ref], Kept) for tag in covering):
            continue
        piece = (_innermost(covering, markup, Link), _innermost(covering, markup, Formatting), text[start:end])
        last = sequence[-1] if sequence else None
        if isinstance(last, tuple) and last[:2] == piece[:2]:
            sequence[-1] = (*piece[:2], last[2] + piece[2])
        else:
            sequence.append(piece)
    sequence += [kept for ref, kept in markup.items() if isinstance(kept, Kept) and ref not in placed]
    return _elements(plan, sequence)


def _innermost(covering: list[Tag], markup: dict[int, Markup], kind: type) -> int | None:
    """The ref of the shortest tag of ``covering`` whose markup is a ``kind`` (the later on a tie:
    with tags sorted outer first, the inner one), or None."""
    best: Tag | None = None
    for tag in covering:
        if isinstance(markup[tag.ref], kind) and (best is None or tag.end - tag.start <= best.end - best.start):
            best = tag
    return None if best is None else best.ref


def _elements(plan: ParagraphPlan, sequence: list[Kept | Piece]) -> list[Element]:
    """Paragraph children for a sequence of kept stretches and pieces: consecutive pieces in the
    same link share one copy of its ``w:hyperlink``."""
    out: list[Element] = []
    link_ref: int | None = None
    link_copy: Element | None = None
    for entry in sequence:
        if isinstance(entry, Kept):
            out.extend(entry.elements)
            link_ref = link_copy = None
            continue
        ref, formatting, text = entry
        rpr = plan.common if formatting is None else cast(Formatting, plan.markup[formatting]).rpr
        run = new_run(text, rpr)
        if ref is None:
            out.append(run)
            link_ref = link_copy = None
            continue
        if link_copy is None or ref != link_ref:
            link_ref, link_copy = ref, deepcopy(cast(Link, plan.markup[ref]).element)
            for child in list(link_copy.iterchildren()):
                link_copy.remove(child)
            out.append(link_copy)
        link_copy.append(run)
    return out


def new_run(text: str, rpr: Element | None) -> Element:
    """A ``w:r`` showing ``text`` ("\\t" a tab, "\\n" or "\\r\\n" a line break; characters XML cannot
    hold dropped) with a copy of ``rpr``."""
    run = cast(CT_R, OxmlElement("w:r"))
    if rpr is not None:
        run.append(deepcopy(rpr))
    run.text = XML_INVALID.sub("", text.replace("\r\n", "\n"))
    return run


DOCX = Format(
    name="docx",
    extensions=(".docx",),
    media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    read=read_docx,
)
