"""Markdown documents (app.documents.markdown_format): what is translated, what is kept byte for byte,
inline markup as tags, and the Markdown written back."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from app.documents.document import DocumentError, Limits, Tag, TranslatedBlock
from app.documents.markdown_format import MARKDOWN, read_markdown

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "README-sample.md"
FRONT_MATTER = "---\ntitle: Weather station\nlayout: page\n---\n"
FENCE = "```markdown\n# This heading is inside a code block\n- and so is this *list*\n| a | b |\n```\n"
INDENTED = "    indented code stays too\n    # not a heading\n"
HTML_BLOCK = '<div align="center">\n  <img src="logo.png" alt="Logo">\n  <p>Inside *HTML*</p>\n</div>\n'
REFERENCE = '[guide]: https://example.com/guide "The guide"\n'
README = f"""{FRONT_MATTER}
# Weather station ![build](https://img.shields.io/badge/build-passing-green.svg)

A small **weather station** that reads its sensors every minute and
publishes the readings to the [*live* dashboard](https://example.com/dashboard "Live data").
See the [guide][guide] for details, or write to <team@example.com>.

## Getting started ##

1. Install the package:

   ```bash
   pip install station
   ```

2. Connect the sensors:
   - the **temperature** sensor on pin 4
   - the _wind_ sensor on pin 7
     with a short cable
3. Run `station run --every 60` and open http://localhost:8000.

> **Note:** the station needs a network connection.
> Without one it keeps the last 24 hours of readings.

| Reading | Unit | Sensor |
|---|:---:|---|
| Temperature | degrees | `temp0` |
| Wind speed \\| gusts | m/s | `wind0` |

{FENCE}
{INDENTED}
{HTML_BLOCK}
Setext heading
--------------

Press <kbd>Ctrl</kbd>+<kbd>C</kbd> to stop it.<br>
Escaped \\*stars\\* and an entity &copy; 2024 in snake_case.

![A photo of the station](station.jpg)

{REFERENCE}"""


def identity(document) -> list[TranslatedBlock]:
    return [TranslatedBlock(block.text, block.tags) for block in document.blocks]


def upper_outside_keep(block) -> str:
    """The block's text upper-cased but for its keep tags' text (which the pipeline carries as it is)."""
    chars = list(block.text.upper())
    for tag in block.tags:
        if tag.keep:
            chars[tag.start : tag.end] = block.text[tag.start : tag.end]
    return "".join(chars)


def upper(document) -> bytes:
    return document.render([TranslatedBlock(upper_outside_keep(block), block.tags) for block in document.blocks])


def block_structure(source: str) -> list[tuple[str, int, str]]:
    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    return [(token.type, token.level, token.markup) for token in tokens]


def only_block(source: str):
    document = read_markdown(source.encode(), Limits())
    assert len(document.blocks) == 1
    return document, document.blocks[0]


def test_the_readme_round_trips_unchanged():
    data = README.encode()
    document = read_markdown(data, Limits())
    assert document.render(identity(document)) == data


def test_the_example_round_trips_unchanged():
    data = EXAMPLE.read_bytes()
    document = MARKDOWN.read(data, Limits())
    assert len(document.blocks) == 12
    assert document.render(identity(document)) == data


def test_what_is_translated():
    texts = [block.text for block in read_markdown(README.encode(), Limits()).blocks]
    assert texts == [
        "Weather station build",
        "A small weather station that reads its sensors every minute and publishes the readings to the live "
        "dashboard. See the guide for details, or write to team@example.com.",
        "Getting started",
        "Install the package:",
        "Connect the sensors:",
        "the temperature sensor on pin 4",
        "the wind sensor on pin 7 with a short cable",
        "Run station run --every 60 and open http://localhost:8000.",
        "Note: the station needs a network connection. Without one it keeps the last 24 hours of readings.",
        "Reading",
        "Unit",
        "Sensor",
        "Temperature",
        "degrees",
        "Wind speed | gusts",
        "m/s",
        "Setext heading",
        "Press Ctrl+C to stop it.<br> Escaped *stars* and an entity © 2024 in snake_case.",
    ]


def test_upper_casing_translates_blocks_and_keeps_the_rest_byte_for_byte():
    rendered = upper(read_markdown(README.encode(), Limits())).decode()
    assert rendered.startswith(FRONT_MATTER + "\n# WEATHER STATION ![build](https://img.shields.io/badge/")
    for kept in (FENCE, INDENTED, HTML_BLOCK, REFERENCE, "```bash\n   pip install station\n   ```\n"):
        assert kept in rendered
    for line in (
        "## GETTING STARTED ##",
        "1. INSTALL THE PACKAGE:",
        "   - THE **TEMPERATURE** SENSOR ON PIN 4",
        "   - THE _WIND_ SENSOR ON PIN 7 WITH A SHORT CABLE",
        "3. RUN `station run --every 60` AND OPEN http://localhost:8000.",
        "> **NOTE:** THE STATION NEEDS A NETWORK CONNECTION. WITHOUT ONE IT KEEPS THE LAST 24 HOURS OF READINGS.",
        "| TEMPERATURE | DEGREES | `temp0` |",
        "| WIND SPEED \\| GUSTS | M/S | `wind0` |",
        "|---|:---:|---|",
        "SETEXT HEADING\n--------------",
        "PRESS <kbd>CTRL</kbd>+<kbd>C</kbd> TO STOP IT.<br> ESCAPED \\*STARS\\* AND AN ENTITY &copy; 2024 IN "
        "SNAKE_CASE.",
        "![A photo of the station](station.jpg)",  # an image alone is not a block
    ):
        assert line + "\n" in rendered
    assert '[*LIVE* DASHBOARD](https://example.com/dashboard "Live data")' in rendered
    assert "SEE THE [GUIDE][guide] FOR DETAILS, OR WRITE TO <team@example.com>." in rendered


def test_upper_casing_keeps_the_block_structure():
    rendered = upper(read_markdown(README.encode(), Limits())).decode()
    assert block_structure(rendered) == block_structure(README)


def test_inline_markup_is_tags_over_the_plain_text():
    document, block = only_block('Read **the** [*guide*](g.md "Title") with `code` and <kbd>Ctrl</kbd>.')
    assert block.text == "Read the guide with code and Ctrl."
    kinds = [(block.text[tag.start : tag.end], document.markup[tag.ref].kind, tag.keep) for tag in block.tags]
    assert kinds == [
        ("the", "strong", False),
        ("guide", "link", False),
        ("guide", "em", False),
        ("code", "code", True),
        ("Ctrl", "html", False),
    ]
    link = document.markup[block.tags[1].ref]
    assert (link.opening, link.closing) == ("[", '](g.md "Title")')


def test_moved_tags_are_written_at_their_new_offsets():
    document, block = only_block("This is **very** important: read the [guide](g.md) and run `make`.\n")
    strong, link, code = block.tags
    translation = TranslatedBlock(
        "Lancez make et lisez le guide : c'est très important.",
        [Tag(7, 11, code.ref, True), Tag(24, 29, link.ref), Tag(38, 42, strong.ref)],
    )
    rendered = document.render([translation])
    assert rendered == b"Lancez `make` et lisez le [guide](g.md) : c'est **tr\xc3\xa8s** important.\n"


def test_a_keep_tag_placed_over_other_words_loses_its_markup_not_the_words():
    document, block = only_block("Run `make` now.\n")
    [code] = block.tags
    assert document.render([TranslatedBlock("Lancez-le maintenant.", [Tag(0, 9, code.ref, True)])]) == (
        b"Lancez-le maintenant.\n"
    )
    assert document.render([TranslatedBlock("Lancez make.", [Tag(7, 11, code.ref, True)])]) == b"Lancez `make`.\n"


def test_spaces_at_the_ends_of_an_emphasis_move_outside_it():
    document, block = only_block("a *b* c\n")
    rendered = document.render([TranslatedBlock("x y z", [Tag(1, 4, block.tags[0].ref)])])
    assert rendered == b"x *y* z\n"


def test_underscores_inside_a_word_become_stars():
    document, block = only_block("one _two_ three\n")
    rendered = document.render([TranslatedBlock("eins zweidrei", [Tag(9, 13, block.tags[0].ref)])])
    assert rendered == b"eins zwei*drei*\n"


@pytest.mark.parametrize(
    ("translation", "written"),
    [
        ("# not a heading", "\\# not a heading"),
        ("- not a list", "\\- not a list"),
        ("1. not a list", "1\\. not a list"),
        ("> not a quote", "\\> not a quote"),
        ("2 * 3 and snake_case stay as they are", "2 * 3 and snake_case stay as they are"),
        ("*not emphasis*", "\\*not emphasis\\*"),
        ("[not a link](x)", "\\[not a link\\](x)"),
    ],
)
def test_markdown_characters_of_a_translation_are_escaped_only_where_they_would_count(translation, written):
    document, _ = only_block("A paragraph.\n")
    assert document.render([TranslatedBlock(translation)]) == f"{written}\n".encode()
    reread = read_markdown(document.render([TranslatedBlock(translation)]), Limits())
    assert [block.text for block in reread.blocks] == [translation]


def test_a_pipe_in_a_cell_and_closing_hashes_in_a_heading_are_escaped():
    document = read_markdown(b"# Title\n\n| a | b |\n|---|---|\n| c | d |\n", Limits())
    translations = ["Title #", "a|b", "B", "c", "d"]
    rendered = document.render([TranslatedBlock(text) for text in translations])
    assert rendered == b"# Title \\#\n\n| a\\|b | B |\n|---|---|\n| c | d |\n"
    assert [block.text for block in read_markdown(rendered, Limits()).blocks] == translations


def test_a_link_by_reference_keeps_its_label_once_its_text_is_translated():
    document = read_markdown(b"Read [the guide] and [the guide][].\n\n[the guide]: g.md\n", Limits())
    [block] = document.blocks
    first, second = block.tags
    rendered = document.render(
        [TranslatedBlock("Lisez le guide et le guide.", [Tag(9, 14, first.ref), Tag(21, 26, second.ref)])]
    )
    assert rendered == b"Lisez le [guide][the guide] et le [guide][the guide].\n\n[the guide]: g.md\n"
    assert [tag.end - tag.start for tag in read_markdown(rendered, Limits()).blocks[0].tags] == [5, 5]  # links


def test_an_emphasis_over_nothing_is_dropped():
    document, block = only_block("Some **bold** words.\n")
    assert document.render([TranslatedBlock("Des mots.", [Tag(4, 4, block.tags[0].ref)])]) == b"Des mots.\n"


def test_a_setext_heading_that_would_read_as_a_table_gets_its_pipe_escaped():
    document, _ = only_block("Title\n-----\n")
    rendered = document.render([TranslatedBlock("Titre |")])
    assert rendered == b"Titre &#124;\n-----\n"
    assert block_structure(rendered.decode()) == block_structure("Title\n-----\n")


def test_a_line_break_the_translation_adds_continues_the_list_item():
    document, _ = only_block("- one item\n")
    rendered = document.render([TranslatedBlock("un\n- article")])
    assert rendered == b"- un\\\n  \\- article\n"
    assert block_structure(rendered.decode()) == block_structure("- one item\n")


def test_hard_breaks_keep_their_marker_and_the_line_prefix():
    document, block = only_block("> first line  \n> second line\\\n> third\n")
    assert block.text == "first line\nsecond line\nthird"
    assert upper(document) == b"> FIRST LINE  \n> SECOND LINE\\\n> THIRD\n"


def test_crlf_line_endings_are_kept():
    data = b"# Title\r\n\r\nSome *text*\r\nhere.\r\n"
    document = read_markdown(data, Limits())
    assert document.render(identity(document)) == data
    assert upper(document) == b"# TITLE\r\n\r\nSOME *TEXT* HERE.\r\n"


def test_front_matter_is_not_parsed():
    data = b"---\n# not: a heading\n- nor a list\n---\nText.\n"
    document = read_markdown(data, Limits())
    assert [block.text for block in document.blocks] == ["Text."]
    assert upper(document) == data.replace(b"Text.", b"TEXT.")


def test_more_blocks_than_the_limit_is_413():
    data = b"\n\n".join(b"Paragraph %d." % i for i in range(4))
    assert len(read_markdown(data, Limits(max_blocks=4)).blocks) == 4
    with pytest.raises(DocumentError) as refused:
        read_markdown(data, Limits(max_blocks=3))
    assert refused.value.status == 413
