"""app.documents.docx_format: .docx files read into blocks (paragraphs, table cells, headers, footers)
with their formatting and hyperlinks as tags, rendered back from translations, and refused when they
are no Word document, a zip bomb, too many blocks, corrupt, or declare entities. Every file is built
here with python-docx, in memory."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import docx
import pytest
from docx.document import Document as WordDocument
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Pt
from docx.table import Table
from docx.text.hyperlink import Hyperlink
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from app.documents.document import Block, DocumentError, Limits, Tag, TranslatedBlock
from app.documents.docx_format import DOCX, read_docx
from app.documents.docx_runs import OBJECT_TEXT


def add_link(paragraph: Paragraph, url: str, text: str) -> None:
    """Append a hyperlink to ``url`` showing ``text``, underlined (python-docx has no API for it)."""
    rel_id = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel_id)
    run = OxmlElement("w:r")
    link.append(run)
    Run(run, paragraph).text = text
    Run(run, paragraph).underline = True
    paragraph._p.append(link)


def add_page_field(paragraph: Paragraph, shown: str = "1") -> None:
    """Append a complex PAGE field showing ``shown``."""
    parts = [
        '<w:fldChar w:fldCharType="begin"/>',
        '<w:instrText xml:space="preserve"> PAGE </w:instrText>',
        '<w:fldChar w:fldCharType="separate"/>',
        f"<w:t>{shown}</w:t>",
        '<w:fldChar w:fldCharType="end"/>',
    ]
    for part in parts:
        paragraph._p.append(parse_xml(f"<w:r {nsdecls('w')}>{part}</w:r>"))


def tiny_png() -> bytes:
    """A 1x1 grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b"")
    )


def saved(document: WordDocument) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def sample() -> bytes:
    """A heading; a paragraph of plain, bold and italic runs and a link; a 2x2 table whose last cell
    holds a nested table; a blank paragraph; a header and a footer; a second section whose header and
    footer are linked to the first's."""
    document = docx.Document()
    document.add_heading("Annual report", level=1)
    paragraph = document.add_paragraph("Plain ")
    paragraph.add_run("bold").bold = True
    paragraph.add_run(" and ")
    paragraph.add_run("italic").italic = True
    paragraph.add_run(" see ")
    add_link(paragraph, "https://example.com/", "the site")
    paragraph.add_run(".")
    table = document.add_table(rows=2, cols=2)
    table.style = "Table Grid"
    table.cell(0, 0).text = "Cell text"
    table.cell(0, 1).text = "Second cell"
    table.cell(1, 1).add_table(rows=1, cols=1).cell(0, 0).text = "Nested cell"
    document.add_paragraph("")
    quote = document.add_paragraph("Tab\there, break\nthere.", style="Quote")
    quote.alignment = 1
    section = document.sections[0]
    section.header.paragraphs[0].text = "Header text"
    section.footer.paragraphs[0].text = "Footer text"
    document.add_section()
    document.add_paragraph("Last words")
    return saved(document)


def identity(blocks: list[Block]) -> list[TranslatedBlock]:
    return [TranslatedBlock(text=b.text, tags=b.tags) for b in blocks]


def upper(blocks: list[Block]) -> list[TranslatedBlock]:
    return [TranslatedBlock(text=b.text.upper(), tags=b.tags) for b in blocks]


def inner(item: Run | Hyperlink) -> tuple:
    if isinstance(item, Hyperlink):
        return ("link", item.url, [inner(run) for run in item.runs])
    return ("run", item.text, item.bold, item.italic, item.underline)


def paragraph_view(paragraph: Paragraph) -> tuple:
    style = paragraph.style.name if paragraph.style is not None else None
    return (style, paragraph.alignment, [inner(item) for item in paragraph.iter_inner_content()])


def table_view(table: Table) -> tuple:
    style = table.style.name if table.style is not None else None
    return (style, [[story_view(cell) for cell in row.cells] for row in table.rows])


def story_view(container) -> list:
    return [
        paragraph_view(item) if isinstance(item, Paragraph) else table_view(item)
        for item in container.iter_inner_content()
    ]


def snapshot(data: bytes) -> dict:
    """What a reader sees of a .docx: the body's paragraphs (style, alignment, runs with their text,
    bold, italic, underline; hyperlinks with their target) and tables, nested, each section's header
    and footer, and the style names."""
    document = docx.Document(io.BytesIO(data))
    return {
        "body": story_view(document),
        "headers": [(s.header.is_linked_to_previous, story_view(s.header)) for s in document.sections],
        "footers": [(s.footer.is_linked_to_previous, story_view(s.footer)) for s in document.sections],
        "styles": sorted(s.name for s in document.styles),
    }


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezipped(data: bytes, change: Callable[[str, bytes], bytes]) -> bytes:
    """The zip ``data`` with each entry's content passed through ``change(name, content)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries(data).items():
            archive.writestr(name, change(name, content))
    return out.getvalue()


def paragraph_xml(data: bytes, part: str = "word/document.xml") -> str:
    return entries(data)[part].decode()


def test_format_names_docx() -> None:
    assert DOCX.name == "docx" and DOCX.extensions == (".docx",) and DOCX.read is read_docx
    assert DOCX.media_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_blocks_and_tags() -> None:
    document = read_docx(sample(), Limits())
    texts = [b.text for b in document.blocks]
    assert texts == [
        "Annual report",
        "Plain bold and italic see the site.",
        "Cell text",
        "Second cell",
        "Nested cell",
        "Tab\there, break\nthere.",
        "Last words",
        "Header text",
        "Footer text",
    ]
    tags = document.blocks[1].tags
    spans = [(t.start, t.end, t.keep) for t in tags]
    # bold, italic, the hyperlink, and the hyperlink's underlined run nested in it (same span, outer first)
    assert spans == [(6, 10, False), (15, 21, False), (26, 34, False), (26, 34, False)]
    assert [texts[1][t.start : t.end] for t in tags] == ["bold", "italic", "the site", "the site"]
    assert len({t.ref for t in tags}) == 4
    assert all(b.tags == [] for i, b in enumerate(document.blocks) if i != 1)


def test_majority_formatting_is_untagged() -> None:
    """A mostly bold paragraph: its one plain word is the tag, and it stays plain."""
    word = docx.Document()
    paragraph = word.add_paragraph()
    paragraph.add_run("Mostly bold words ").bold = True
    paragraph.add_run("but")
    paragraph.add_run(" this is bold again").bold = True
    document = read_docx(saved(word), Limits())
    (block,) = document.blocks
    assert [(block.text[t.start : t.end], t.keep) for t in block.tags] == [("but", False)]
    runs = docx.Document(io.BytesIO(document.render(upper(document.blocks)))).paragraphs[0].runs
    assert [(r.text, r.bold) for r in runs] == [
        ("MOSTLY BOLD WORDS ", True),
        ("BUT", None),
        (" THIS IS BOLD AGAIN", True),
    ]


def test_identity_round_trip_keeps_everything() -> None:
    original = sample()
    document = read_docx(original, Limits())
    rendered = document.render(identity(document.blocks))
    assert snapshot(rendered) == snapshot(original)
    before, after = entries(original), entries(rendered)
    assert before.keys() == after.keys()
    changed = {name for name in before if before[name] != after[name]}
    assert changed <= {"word/document.xml", "word/header1.xml", "word/footer1.xml"}
    assert read_docx(rendered, Limits()).blocks == document.blocks


def test_upper_cased_translation() -> None:
    document = read_docx(sample(), Limits())
    rendered = docx.Document(io.BytesIO(document.render(upper(document.blocks))))
    paragraph = rendered.paragraphs[1]
    assert paragraph.text == "PLAIN BOLD AND ITALIC SEE THE SITE."
    assert [r.text for r in paragraph.runs if r.bold] == ["BOLD"]
    assert [r.text for r in paragraph.runs if r.italic] == ["ITALIC"]
    (link,) = paragraph.hyperlinks
    assert (link.url, link.text, link.runs[0].underline) == ("https://example.com/", "THE SITE", True)
    assert rendered.tables[0].cell(1, 1).tables[0].cell(0, 0).text == "NESTED CELL"
    assert rendered.paragraphs[0].style.name == "Heading 1"
    assert rendered.sections[0].header.paragraphs[0].text == "HEADER TEXT"
    assert rendered.sections[0].footer.paragraphs[0].text == "FOOTER TEXT"
    assert rendered.sections[1].header.is_linked_to_previous


def test_moved_tags_render_where_they_landed() -> None:
    word = docx.Document()
    paragraph = word.add_paragraph("Plain ")
    paragraph.add_run("bold").bold = True
    paragraph.add_run(" text, visit ")
    add_link(paragraph, "https://example.org/", "the site")
    document = read_docx(saved(word), Limits())
    (block,) = document.blocks
    bold, link, underline = block.tags
    text = "Gras texte simple, voir le site"
    moved = [Tag(0, 4, bold.ref), Tag(24, 31, link.ref), Tag(24, 31, underline.ref)]
    rendered = docx.Document(io.BytesIO(document.render([TranslatedBlock(text, moved)]))).paragraphs[0]
    assert [(type(i).__name__, i.text) for i in rendered.iter_inner_content()] == [
        ("Run", "Gras"),
        ("Run", " texte simple, voir "),
        ("Hyperlink", "le site"),
    ]
    assert [r.bold for r in rendered.runs] == [True, None]
    assert rendered.hyperlinks[0].url == "https://example.org/"


def test_images_and_fields_are_kept_where_their_tag_lands() -> None:
    word = docx.Document()
    paragraph = word.add_paragraph("See ")
    paragraph.add_run().add_picture(io.BytesIO(tiny_png()), width=Pt(10))
    paragraph.add_run(" below.")
    word.add_paragraph().add_run().add_picture(io.BytesIO(tiny_png()), width=Pt(10))  # only an image: no block
    figure = word.add_paragraph()
    figure.add_run().add_picture(io.BytesIO(tiny_png()), width=Pt(10))  # an image before the text stays first
    figure.add_run(" Figure one")
    footer = word.sections[0].footer.paragraphs[0]
    footer.text = "Page "
    add_page_field(footer)
    document = read_docx(saved(word), Limits())
    assert [(b.text, [(t.start, t.end, t.keep) for t in b.tags]) for b in document.blocks] == [
        (f"See {OBJECT_TEXT} below.", [(4, 5, True)]),
        (" Figure one", []),
        ("Page 1", [(5, 6, True)]),
    ]
    image = document.blocks[0].tags[0]
    rendered = document.render(
        [
            TranslatedBlock(f"Voir {OBJECT_TEXT} ci-dessous.", [Tag(5, 6, image.ref, True)]),
            TranslatedBlock(" Figure un", []),
            TranslatedBlock("Seite 1", []),  # the keep tag went missing: the field goes to the paragraph's end
        ]
    )
    word = docx.Document(io.BytesIO(rendered))
    drawn = [[(r.text, bool(r._r.xpath("w:drawing"))) for r in p.runs] for p in word.paragraphs]
    assert drawn == [
        [("Voir ", False), ("", True), (" ci-dessous.", False)],
        [("", True)],
        [("", True), (" Figure un", False)],
    ]
    footer_xml = paragraph_xml(rendered, "word/footer1.xml")
    assert footer_xml.count("<w:fldChar") == 3 and "PAGE" in footer_xml and "Seite 1" in footer_xml


def test_markers_stay_around_the_rebuilt_runs() -> None:
    word = docx.Document()
    paragraph = word.add_heading("Intro", level=1)
    paragraph._p.insert(1, parse_xml(f'<w:bookmarkStart {nsdecls("w")} w:id="0" w:name="_Toc1"/>'))
    paragraph._p.append(parse_xml(f'<w:bookmarkEnd {nsdecls("w")} w:id="0"/>'))
    document = read_docx(saved(word), Limits())
    rendered = docx.Document(io.BytesIO(document.render(upper(document.blocks)))).paragraphs[0]
    assert [child.tag.split("}")[1] for child in rendered._p] == ["pPr", "bookmarkStart", "r", "bookmarkEnd"]
    assert rendered.text == "INTRO"


def test_blank_paragraphs_are_no_blocks_and_survive() -> None:
    word = docx.Document()
    for text in ("First", "", "   ", "Second"):
        word.add_paragraph(text)
    document = read_docx(saved(word), Limits())
    assert [b.text for b in document.blocks] == ["First", "Second"]
    rendered = docx.Document(io.BytesIO(document.render(upper(document.blocks))))
    assert [p.text for p in rendered.paragraphs] == ["FIRST", "", "   ", "SECOND"]


def test_render_refuses_foreign_translations() -> None:
    document = read_docx(sample(), Limits())
    with pytest.raises(ValueError, match="translations for"):
        document.render(identity(document.blocks)[:-1])
    wrong = identity(document.blocks)
    wrong[0] = TranslatedBlock("Rapport", [Tag(0, 3, ref=999)])
    with pytest.raises(ValueError, match="block 0: tag ref 999"):
        document.render(wrong)
    bold = document.blocks[1].tags[0]
    wrong[0] = identity(document.blocks)[0]
    wrong[1] = TranslatedBlock("Gras", [Tag(0, 9, bold.ref)])
    with pytest.raises(ValueError, match="block 1: tag .* outside"):
        document.render(wrong)


def test_too_many_blocks() -> None:
    word = docx.Document()
    for text in ("one", "two", "three"):
        word.add_paragraph(text)
    assert len(read_docx(saved(word), Limits(max_blocks=3)).blocks) == 3
    with pytest.raises(DocumentError) as refused:
        read_docx(saved(word), Limits(max_blocks=2))
    assert refused.value.status == 413 and "more than 2" in refused.value.message


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A zip whose word/document.xml is 60 MB of zeros (about 60 KB packed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("word/document.xml", "w") as entry:
            for _ in range(60):
                entry.write(bytes(1_000_000))
    return out.getvalue()


@pytest.mark.parametrize("limits, reason", [(Limits(), "over the limit"), (Limits(10**9), "zip bomb")])
def test_zip_bomb_refused_without_inflating(
    bomb: bytes, limits: Limits, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_inflating(*args: object, **kwargs: object) -> None:
        raise AssertionError("an entry was opened")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_inflating)
    assert len(bomb) < 1_000_000
    with pytest.raises(DocumentError) as refused:
        read_docx(bomb, limits)
    assert refused.value.status == 413 and reason in refused.value.message


def test_not_a_word_document() -> None:
    with pytest.raises(DocumentError) as refused:
        read_docx(b"Dear Sir, this is plain text.", Limits())
    assert refused.value.status == 415 and refused.value.message.startswith("not a .docx file")
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(DocumentError) as refused:
        read_docx(other.getvalue(), Limits())
    assert refused.value.status == 415 and "word/document.xml" in refused.value.message
    template_type = b"wordprocessingml.template.main+xml"
    template = rezipped(sample(), lambda n, c: c.replace(b"wordprocessingml.document.main+xml", template_type))
    with pytest.raises(DocumentError) as refused:
        read_docx(template, Limits())
    assert refused.value.status == 415 and "template" in refused.value.message


def test_corrupt_document_is_422() -> None:
    broken = rezipped(sample(), lambda n, c: c[:200] if n == "word/document.xml" else c)
    with pytest.raises(DocumentError) as refused:
        read_docx(broken, Limits())
    assert refused.value.status == 422 and "cannot be read" in refused.value.message
    no_styles = io.BytesIO()
    with zipfile.ZipFile(no_styles, "w") as archive:
        for name, content in entries(sample()).items():
            if name != "word/styles.xml":
                archive.writestr(name, content)
    with pytest.raises(DocumentError) as refused:
        read_docx(no_styles.getvalue(), Limits())
    assert refused.value.status == 422


def test_external_entity_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    word = docx.Document()
    word.add_paragraph("Hello XXE here")
    doctype = f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'

    def with_entity(name: str, content: bytes) -> bytes:
        if name != "word/document.xml":
            return content
        head, _, body = content.decode().partition("?>")
        return (head + "?>" + doctype + body.replace("XXE", "&xxe;")).encode()

    data = rezipped(saved(word), with_entity)
    # python-docx's own parser leaves the entity unresolved...
    assert "TOP-SECRET" not in "".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    # ...and the format refuses the DOCTYPE outright
    with pytest.raises(DocumentError) as refused:
        read_docx(data, Limits())
    assert refused.value.status == 422 and "DOCTYPE" in refused.value.message
    assert "TOP-SECRET" not in refused.value.message


def test_entity_expansion_bomb_is_422() -> None:
    entities = '<!ENTITY a0 "xxxxxxxxxx">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))

    def with_bomb(name: str, content: bytes) -> bytes:
        if name != "word/document.xml":
            return content
        head, _, body = content.decode().partition("?>")
        return (head + f"?><!DOCTYPE w:document [{entities}]>" + body.replace("LOL", "&a9;")).encode()

    word = docx.Document()
    word.add_paragraph("LOL")
    with pytest.raises(DocumentError) as refused:
        read_docx(rezipped(saved(word), with_bomb), Limits())
    assert refused.value.status == 422
