"""HTML pages (app.documents.html_format): blocks and their inline tags, what is never translated,
whitespace and references, attributes, encodings, and the page written back byte for byte."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from app.documents import html_tokens
from app.documents.document import Block, DocumentError, Limits, Tag, TranslatedBlock
from app.documents.html_format import HTML, read_html
from app.documents.html_tokens import tokenize

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "page.html"
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="description" content="Opening hours &amp; prices of the city library">
  <title>City Library &ndash; Opening hours</title>
  <style>p { color: #333; } /* <p>not text</p> */</style>
  <script>var s = "<p>Hello</p>"; if (a < b && c) {}</script>
</head>
<body>
  <!-- the header -->
  <h1 title="Welcome page">Welcome to the   city
     library</h1>
  <p>Call <b>Anna</b> at <a href=/contact title='Contact us'>the <i>office</i></a>.<br>
  We open at 9&nbsp;am &amp; close <!-- note --> at 6&#160;pm.
  <p>Unclosed paragraph with a stray </b> end tag and <img src=logo.png alt=Logo> an image.
  <p translate="no">Brand Name Inc.</p>
  <p>Run <code>make &lt;target&gt;</code> to build, or ask <span translate="no">ACME&nbsp;Corp</span>.</p>
  <ul>
    <li>Books</li>
    <li>Films <em>and</em> music
  </ul>
  <table>
    <caption>Prices</caption>
    <tr><th>Item</th><td>Card</td></tr>
    <tr><td>Name</td><td><input placeholder="Your name" aria-label="Name"></td></tr>
  </table>
  <pre>  keep   this
  as is </pre>
</body>
</html>
"""
TRANSLATED_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label"}


def read(page: str | bytes, limits: Limits | None = None):
    return read_html(page.encode() if isinstance(page, str) else page, limits or Limits())


def unchanged(block: Block) -> TranslatedBlock:
    return TranslatedBlock(block.text, list(block.tags))


def upper_cased(block: Block) -> TranslatedBlock:
    """A "translation" that upper-cases every character outside the block's keep tags."""
    kept: set[int] = set()
    for tag in block.tags:
        if tag.keep:
            kept.update(range(tag.start, tag.end))
    text = "".join(char if i in kept else char.upper() for i, char in enumerate(block.text))
    return TranslatedBlock(text, list(block.tags))


def assert_well_formed(block: Block) -> None:
    """Text not blank; tags inside it, sorted by start, an outer tag first, properly nested."""
    assert block.text.strip()
    assert [tag.start for tag in block.tags] == sorted(tag.start for tag in block.tags)
    for i, tag in enumerate(block.tags):
        assert 0 <= tag.start <= tag.end <= len(block.text), (block, tag)
        for later in block.tags[i + 1 :]:
            assert later.start >= tag.end or later.end <= tag.end, (block, tag, later)


def test_the_format():
    assert HTML.name == "html" and HTML.extensions == (".html", ".htm")
    assert HTML.media_type == "text/html; charset=utf-8" and HTML.read is read_html


def test_a_paragraph_is_one_block_with_its_nested_tags_over_the_right_characters():
    doc = read('<p>Call <b>Anna</b> at <a href="x">the <i>office</i></a>.</p>')
    [block] = doc.blocks
    assert block.text == "Call Anna at the office."
    bold, link, italic = block.tags
    assert (bold.start, bold.end, link.start, link.end, italic.start, italic.end) == (5, 9, 13, 23, 17, 23)
    assert block.text[bold.start : bold.end] == "Anna" and block.text[italic.start : italic.end] == "office"
    assert len({bold.ref, link.ref, italic.ref}) == 3 and not any(tag.keep for tag in block.tags)


def test_the_page_comes_back_byte_for_byte():
    data = PAGE.encode()
    doc = read(data)
    assert doc.render([unchanged(block) for block in doc.blocks]) == data
    texts = [block.text for block in doc.blocks]
    assert texts == [
        "Opening hours & prices of the city library",
        "City Library \u2013 Opening hours",
        "Welcome page",
        "Welcome to the city library",
        "Call Anna at the office.",
        "Contact us",
        "We open at 9\u00a0am & close at 6\u00a0pm.",
        "Unclosed paragraph with a stray end tag and an image.",
        "Logo",
        "Run make <target> to build, or ask ACME\u00a0Corp.",
        "Books",
        "Films and music",
        "Prices",
        "Item",
        "Card",
        "Name",
        "Your name",
        "Name",
    ]
    for block in doc.blocks:
        assert_well_formed(block)


def test_an_upper_casing_translation_changes_the_words_and_nothing_else():
    doc = read(PAGE)
    out = doc.render([upper_cased(block) for block in doc.blocks]).decode()
    for text in ("WELCOME TO THE CITY LIBRARY", "CALL <b>ANNA</b> AT", "<i>OFFICE</i></a>.<br>", "FILMS <em>AND</em>"):
        assert text in out
    for kept in (
        'var s = "<p>Hello</p>"; if (a < b && c) {}',
        "/* <p>not text</p> */",
        "Brand Name Inc.",
        "<code>make &lt;target&gt;</code>",
        '<span translate="no">ACME&nbsp;Corp</span>',
        "keep   this",
    ):
        assert kept in out
    assert '<img src=logo.png alt="LOGO">' in out and "title='CONTACT US'" in out
    assert '<meta name="description" content="OPENING HOURS &amp; PRICES OF THE CITY LIBRARY">' in out

    def markup(page: str) -> list[tuple[str, str, dict[str, str | None]]]:
        tokens = [t for t in tokenize(page) if t.kind in ("start", "void", "end", "opaque", "decl")]
        return [(t.kind, t.name or page[t.start : t.end], t.attrs) for t in tokens]

    def upper(tag: tuple[str, str, dict[str, str | None]]) -> tuple[str, str, dict[str, str | None]]:
        translated = TRANSLATED_ATTRIBUTES | ({"content"} if tag[2].get("name") == "description" else set())
        return tag[0], tag[1], {k: v.upper() if k in translated and v else v for k, v in tag[2].items()}

    assert markup(out) == [upper(tag) for tag in markup(PAGE)]


def test_the_words_under_read_text_keep_their_tags():
    doc = read(PAGE)
    again = read(doc.render([upper_cased(block) for block in doc.blocks]))
    assert [(b.text, [(t.start, t.end, t.keep) for t in b.tags]) for b in again.blocks] == [
        (t.text, [(tag.start, tag.end, tag.keep) for tag in t.tags]) for t in map(upper_cased, doc.blocks)
    ]


def test_tags_moved_by_the_translation_are_written_where_they_now_are():
    doc = read('<p>Call <b>Anna</b> at <a href="x">the <i>office</i></a>.</p>')
    bold, link, italic = doc.blocks[0].tags
    text = "Rufen Sie im Büro Anna an."
    moved = [Tag(18, 22, bold.ref), Tag(10, 17, link.ref), Tag(13, 17, italic.ref)]
    want = '<p>Rufen Sie <a href="x">im <i>Büro</i></a> <b>Anna</b> an.</p>'
    assert doc.render([TranslatedBlock(text, moved)]).decode() == want
    assert doc.render([TranslatedBlock(text, moved[::-1])]).decode() == want  # in any order
    same = [Tag(0, 4, italic.ref), Tag(0, 4, link.ref), Tag(5, 9, bold.ref)]  # link and italic over one word
    assert doc.render([TranslatedBlock("Büro Anna", same)]).decode() == '<p><a href="x"><i>Büro</i></a> <b>Anna</b></p>'


def test_whitespace_around_a_block_stays_and_inside_it_is_one_space():
    doc = read("<div>\n   Hello,\n   <b>dear</b>   world  \n</div>")
    [block] = doc.blocks
    assert block.text == "Hello, dear world" and block.tags[0].start == 7
    out = doc.render([TranslatedBlock("Bonjour, <cher> monde", [Tag(9, 15, block.tags[0].ref)])])
    assert out.decode() == "<div>\n   Bonjour, <b>&lt;cher&gt;</b> monde  \n</div>"


def test_references_are_decoded_and_written_back_escaped():
    doc = read("<p>Fish &amp; chips at 9&nbsp;pm, &#8364;5 &lt;cheap&gt;</p>")
    assert doc.blocks[0].text == "Fish & chips at 9\u00a0pm, \u20ac5 <cheap>"
    out = doc.render([TranslatedBlock("Poisson & frites à 21\u00a0h, 5\u20ac <pas cher>", [])])
    assert out.decode() == "<p>Poisson &amp; frites à 21&nbsp;h, 5\u20ac &lt;pas cher&gt;</p>"


def test_an_element_never_closed_gets_no_invented_end_tag():
    doc = read("<p>Hello <b>world<p>Next <img src=a.png> line")
    assert [block.text for block in doc.blocks] == ["Hello world", "Next line"]
    out = doc.render([upper_cased(block) for block in doc.blocks]).decode()
    assert out == "<p>HELLO <b>WORLD<p>NEXT <img src=a.png>LINE"


def test_tags_over_no_characters_and_stray_end_tags_stay_where_they_were():
    page = "<p><b><img src=a>bold</b> and <a href=x>link<!-- c --></a></p><p><i>abc</i></b> d</p>"
    doc = read(page)
    assert [block.text for block in doc.blocks] == ["bold and link", "abc d"]
    out = doc.render([upper_cased(block) for block in doc.blocks]).decode()
    assert out == "<p><b><img src=a>BOLD</b> AND <a href=x>LINK<!-- c --></a></p><p><i>ABC</i></b> D</p>"


def test_a_construct_the_parser_stops_at_costs_a_few_characters_not_the_rest_of_the_page():
    # an unterminated comment, then "&#" with no number: the standard parser, at the end of its
    # input, would read all from the "&#" on as one run of text
    doc = read("<p>one <!-- open</p><p>two &# three;</p><p>four</p>")
    assert [block.text for block in doc.blocks] == ["one <!-- open</p>", "two &# three;", "four"]


def test_kept_content_is_written_as_read():
    doc = read("<p>Type <kbd>Ctrl  +  C</kbd> or <code>a&lt;b</code></p><p><code>only code</code></p>")
    [block] = doc.blocks  # a block of kept words only is no block
    assert block.text == "Type Ctrl + C or a<b" and [t.keep for t in block.tags] == [True, True]
    kbd, code = block.tags
    text = "Tapez Ctrl + C ou a<b"
    out = doc.render([TranslatedBlock(text, [Tag(6, 14, kbd.ref, True), Tag(18, 21, code.ref, True)])])
    assert out.decode() == "<p>Tapez <kbd>Ctrl  +  C</kbd> ou <code>a&lt;b</code></p><p><code>only code</code></p>"


def test_attribute_values_are_blocks_written_back_escaped_and_quoted():
    doc = read('<img src=x.png alt=Logo><abbr title="World &quot;Wide&quot; Web">WWW</abbr> is <i>big</i>')
    # in reading order of where they start: the text block starts at the image
    assert [block.text for block in doc.blocks] == ["WWW is big", "Logo", 'World "Wide" Web']
    out = doc.render([upper_cased(doc.blocks[0]), TranslatedBlock("L'logo", []), TranslatedBlock('Le "grand" web', [])])
    assert out.decode() == (
        '<img src=x.png alt="L&#x27;logo"><abbr title="Le &quot;grand&quot; web">WWW</abbr> IS <i>BIG</i>'
    )
    out = doc.render([unchanged(doc.blocks[0]), TranslatedBlock("Logo", []), TranslatedBlock("Toile", [])])
    assert out.decode() == '<img src=x.png alt=Logo><abbr title="Toile">WWW</abbr> is <i>big</i>'


def test_untranslated_elements_hold_no_blocks():
    page = (
        "<script>document.write('<p>no</p>')</script><style>b{}</style><pre>no</pre><textarea>no</textarea>"
        "<template><p>no</p></template><svg><text>no</text></svg><div translate=no><p>no</p><div>no</div></div>"
        "<p>yes</p>"
    )
    assert [block.text for block in read(page).blocks] == ["yes"]


@pytest.mark.parametrize(
    ("meta", "codec"),
    [
        ('<meta charset="iso-8859-1">', "latin-1"),
        ('<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">', "latin-1"),
        ("", "latin-1"),  # no declaration: charset_normalizer
        ("", "utf-16"),  # a byte order mark
    ],
)
def test_a_page_in_another_encoding_is_read_and_written_as_utf8(meta, codec):
    body = (
        "<h1>Bienvenue à la bibliothèque</h1>\n<p>La bibliothèque est ouverte du mardi au samedi. Les enfants"
        " peuvent emprunter des livres gratuitement, et les adultes paient une cotisation annuelle très modeste."
        "</p>\n<p>Le café au rez-de-chaussée propose des crêpes et du thé.</p>\n"
    )
    page = f"<html><head>{meta}<title>La bibliothèque municipale</title></head><body>\n{body}</body></html>"
    doc = read(page.encode(codec))
    assert doc.blocks[0].text == "La bibliothèque municipale"
    assert doc.blocks[-1].text == "Le café au rez-de-chaussée propose des crêpes et du thé."
    out = doc.render([unchanged(block) for block in doc.blocks])
    want = page.replace("iso-8859-1", "utf-8").replace("ISO-8859-1", "utf-8")
    assert out.decode("utf-8").lstrip("\ufeff") == want


def test_the_declared_encoding_wins_as_in_a_browser():
    # bytes that are UTF-8 too, in a page that says it is windows-1252; latin-1 is read as windows-1252
    assert read('<meta charset="windows-1252"><p>café</p>'.encode()).blocks[0].text == "cafÃ©"
    assert read(b'<meta charset="iso-8859-1"><p>\x93Quoted\x94</p>').blocks[0].text == "\u201cQuoted\u201d"


def test_a_utf8_page_with_a_byte_order_mark_keeps_it():
    data = "\ufeff<p>Grüße</p>".encode()
    doc = read(data)
    assert doc.blocks[0].text == "Grüße" and doc.render([unchanged(b) for b in doc.blocks]) == data


def test_nul_bytes_are_not_an_html_page():
    with pytest.raises(DocumentError) as refused:
        read(b"<p>hello</p>\x00\x01\x02binary")
    assert refused.value.status == 415 and "not an HTML file" in refused.value.message


def test_undetectable_encoding_is_refused(monkeypatch):
    class NoMatch:
        def best(self):
            return None

    monkeypatch.setattr(html_tokens.charset_normalizer, "from_bytes", lambda data: NoMatch())
    with pytest.raises(DocumentError) as refused:
        read(b"<p>caf\xe9 \xff\xfe</p>")
    assert refused.value.status == 422 and "encoding could not be detected" in refused.value.message


def test_too_many_blocks_are_refused():
    assert len(read("<p>one</p><p>two</p>", Limits(max_blocks=2)).blocks) == 2
    with pytest.raises(DocumentError) as refused:
        read("<p>one</p><p>two</p><p>three</p>", Limits(max_blocks=2))
    assert refused.value.status == 413


MALFORMED = [
    "<p>unclosed <b>bold <i>both",
    "text </b></i></p> with stray end tags",
    "<a href=x title=unquoted>link</a> <img alt=a alt=b src=c>",
    "<b><i>crossed</b> tags</i> here",
    "<!-- unterminated comment <p>never text",
    "<![if x]>word<![endif]> <![foo bar <p>after",
    "&#; &#x; &amp &nosuch; AT&T <p>5 < 6 > 4 &",
    "<p<b>odd</b> <p/> </> <//> <>",
    "<script>never closed <p>x</p>",
    "<p>tag at the end <b",
    "<div><span>deep <div>block in span</span> tail</div>",
    "",
]


@pytest.mark.parametrize("page", MALFORMED)
def test_malformed_markup_reads_and_comes_back(page):
    doc = read(page)
    for block in doc.blocks:
        assert_well_formed(block)
    assert doc.render([unchanged(block) for block in doc.blocks]) == page.encode()
    doc.render([upper_cased(block) for block in doc.blocks])


def test_garbled_pages_never_raise_and_come_back():
    rng = random.Random(7)
    junk = ["<", ">", "&", '"', "'", "</", "<!", "<![", "<?", "&#", "</>", "<b>", "</i>", "<!--", "-->", "=", "\n"]
    page = PAGE.replace('<meta charset="utf-8">', "")  # a rewritten charset would change the bytes
    for _ in range(150):
        garbled = page[: rng.randrange(len(page) + 1)] if rng.random() < 0.3 else page
        for _ in range(rng.randrange(1, 10)):
            at = rng.randrange(len(garbled) + 1)
            cut = rng.randrange(0, 15) if rng.random() < 0.4 else 0
            garbled = garbled[:at] + rng.choice(junk) + garbled[at + cut :]
        tokens = tokenize(garbled)
        assert "".join(garbled[t.start : t.end] for t in tokens) == garbled
        doc = read(garbled)
        for block in doc.blocks:
            assert_well_formed(block)
        assert doc.render([unchanged(block) for block in doc.blocks]) == garbled.encode(), garbled
        doc.render([upper_cased(block) for block in doc.blocks])


def test_the_example_page():
    data = EXAMPLE.read_bytes()
    doc = read(data)
    assert doc.render([unchanged(block) for block in doc.blocks]) == data
    texts = [block.text for block in doc.blocks]
    assert "Riverside Library" in texts and "The sunny reading room with large windows" in texts
    paragraph = next(block for block in doc.blocks if block.text.startswith("Our new librarian"))
    bold = paragraph.tags[0]
    assert paragraph.text[bold.start : bold.end] == "Sarah Miller"
    code = next(block for block in doc.blocks if "renew" in block.text).tags[0]
    assert code.keep
