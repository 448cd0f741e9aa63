"""Write examples/letter.docx: a short letter to try document translation on (POST a file as .docx).

    .venv/bin/python examples/make_letter_docx.py

A heading, two paragraphs with a bold name, an italic phrase and a link, a 2x2 table and a footer,
built with python-docx. The default template's parts a letter does not use (the Word 2010 copy of
the styles, the thumbnail, styles nobody refers to) are dropped so the file stays small (~12 KB).
"""

from pathlib import Path

import docx
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph
from docx.text.run import Run

STYLES_USED = {"Normal", "Default Paragraph Font", "Normal Table", "No List", "Table Grid", "Heading 1"}
STYLES_USED |= {"Heading 1 Char", "Header", "Header Char", "Footer", "Footer Char"}


def add_link(paragraph: Paragraph, url: str, text: str) -> None:
    """Append a hyperlink to ``url`` showing ``text`` in blue, underlined."""
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True))
    run = Run(OxmlElement("w:r"), paragraph)
    run.text, run.underline = text, True
    run.font.color.rgb = docx.shared.RGBColor(0x05, 0x63, 0xC1)
    link.append(run._r)
    paragraph._p.append(link)


def trimmed(document: docx.document.Document) -> None:
    """Drop what the default template holds and a letter does not use."""
    for rel_id, rel in list(document.part.rels.items()):
        if rel.reltype.endswith("/stylesWithEffects"):
            document.part.drop_rel(rel_id)
    package_rels = document.part.package.rels
    for rel_id, rel in list(package_rels.items()):
        if rel.reltype == RELATIONSHIP_TYPE.THUMBNAIL:
            package_rels.pop(rel_id)
    styles = document.styles.element
    styles.remove(styles.find(qn("w:latentStyles")))
    for style in document.styles:
        if style.name not in STYLES_USED:
            styles.remove(style.element)


letter = docx.Document()
trimmed(letter)
letter.core_properties.title = "Welcome to the neighbourhood"
letter.add_heading("Welcome to the neighbourhood", level=1)
first = letter.add_paragraph("Dear ")
first.add_run("Mrs Thompson").bold = True
first.add_run(", we are happy to welcome you to Elm Street. The garden party is on Saturday afternoon, and ")
first.add_run("everyone is invited").italic = True
first.add_run(". Please bring a chair if you have one.")
second = letter.add_paragraph("The bus to the town centre leaves every twenty minutes. You can find the timetable on ")
add_link(second, "https://example.com/bus", "the council's website")
second.add_run(". Do not hesitate to knock on our door if you need anything.")
table = letter.add_table(rows=2, cols=2)
table.style = "Table Grid"
for row, (day, event) in enumerate((("Saturday", "Garden party"), ("Sunday", "Market in the square"))):
    table.cell(row, 0).text, table.cell(row, 1).text = day, event
letter.add_paragraph("Best wishes, your neighbours at number 12")
letter.sections[0].footer.paragraphs[0].text = "Elm Street residents, 12 Elm Street"
letter.save(Path(__file__).parent / "letter.docx")
