"""Plain text documents (app.documents.text_format): decoding, paragraphs as blocks, the file written
back with only the paragraphs changed."""

from __future__ import annotations

import codecs
from pathlib import Path

import charset_normalizer
import pytest

from app.documents.document import DocumentError, Limits, TranslatedBlock
from app.documents.text_format import TEXT, decode_text, read_text

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "notes.txt"
FRENCH = (
    "Le café était fermé. Nous sommes allés à la plage où les enfants ont joué près de la mer.\n"
    "À midi, on a mangé une crème brûlée. Voilà, c'était une très belle journée d'été.\n"
)
QUOTES = "He said “hello” — it’s fine… really. The café’s “special” costs €5 and it’s worth it.\n"


def upper(document) -> bytes:
    return document.render([TranslatedBlock(block.text.upper(), block.tags) for block in document.blocks])


def test_paragraphs_are_blocks_with_their_lines():
    document = read_text(b"First line\nsecond line\n\n\nThird paragraph.\n", Limits())
    assert [block.text for block in document.blocks] == ["First line\nsecond line", "Third paragraph."]
    assert all(block.tags == [] for block in document.blocks)
    assert upper(document) == b"FIRST LINE\nSECOND LINE\n\n\nTHIRD PARAGRAPH.\n"


def test_the_example_round_trips_and_only_paragraphs_change():
    data = EXAMPLE.read_bytes()
    document = TEXT.read(data, Limits())
    assert len(document.blocks) == 2
    assert document.render([TranslatedBlock(b.text, b.tags) for b in document.blocks]) == data
    assert upper(document) == data.upper()


def test_blank_lines_with_spaces_and_missing_last_newline_are_kept():
    data = b"  \n\tIndented start\nend   \n \t \nlast line"
    document = read_text(data, Limits())
    assert [block.text for block in document.blocks] == ["\tIndented start\nend   ", "last line"]
    assert upper(document) == b"  \n\tINDENTED START\nEND   \n \t \nLAST LINE"


def test_crlf_is_kept_also_for_line_breaks_the_translation_adds():
    data = b"one\r\ntwo\r\n\r\nthree\r\n"
    document = read_text(data, Limits())
    assert [block.text for block in document.blocks] == ["one\ntwo", "three"]
    rendered = document.render([TranslatedBlock("uno\ndos\ntres"), TranslatedBlock("cuatro\ncinco")])
    assert rendered == b"uno\r\ndos\r\ntres\r\n\r\ncuatro\r\ncinco\r\n"


def test_a_translation_on_fewer_lines_is_written_as_it_is():
    document = read_text(b"a\nb\nc\n", Limits())
    assert document.render([TranslatedBlock("x y z")]) == b"x y z\n"


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_legacy_western_encodings_decode(encoding):
    assert decode_text(FRENCH.encode(encoding)) == FRENCH
    document = read_text(FRENCH.encode(encoding), Limits())
    assert document.render([TranslatedBlock(b.text, b.tags) for b in document.blocks]) == FRENCH.encode("utf-8")


def test_cp1252_punctuation_decodes():
    assert decode_text(QUOTES.encode("cp1252")) == QUOTES


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_unicode_with_or_without_byte_order_mark_decodes(encoding):
    data = FRENCH.encode(encoding)  # utf-16 and utf-32 put a byte order mark first; -le/-be do not
    assert decode_text(data) == FRENCH
    rendered = read_text(data, Limits()).render([TranslatedBlock("Bonjour.")])
    assert rendered == b"Bonjour.\n" and not rendered.startswith(codecs.BOM_UTF8)


def test_nul_bytes_that_are_not_utf16_are_not_a_text_file():
    with pytest.raises(DocumentError) as refused:
        read_text(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(200)), Limits())
    assert refused.value.status == 415 and "not a text file" in refused.value.message


def test_nul_characters_behind_a_byte_order_mark_are_not_text_either():
    with pytest.raises(DocumentError) as refused:
        decode_text("a\x00b".encode("utf-16"))
    assert refused.value.status == 415


def test_a_broken_byte_order_mark_encoding_is_422():
    with pytest.raises(DocumentError) as refused:
        decode_text(codecs.BOM_UTF8 + b"caf\xe9")
    assert refused.value.status == 422 and "UTF-8" in refused.value.message


def test_bytes_no_detector_reads_are_422():
    with pytest.raises(DocumentError) as refused:
        read_text(bytes(range(1, 256)), Limits())
    assert refused.value.status == 422
    assert "could not be detected" in refused.value.message and "UTF-8" in refused.value.message


def test_the_422_when_the_detector_finds_nothing(monkeypatch):
    monkeypatch.setattr(charset_normalizer, "from_bytes", lambda data: charset_normalizer.CharsetMatches([]))
    with pytest.raises(DocumentError) as refused:
        decode_text("caf\xe9".encode("latin-1"))
    assert refused.value.status == 422 and "could not be detected" in refused.value.message


def test_more_paragraphs_than_the_limit_is_413():
    data = b"\n\n".join(b"paragraph %d" % i for i in range(4))
    assert len(read_text(data, Limits(max_blocks=4)).blocks) == 4
    with pytest.raises(DocumentError) as refused:
        read_text(data, Limits(max_blocks=3))
    assert refused.value.status == 413


def test_render_wants_one_translation_per_block():
    document = read_text(b"a\n\nb\n", Limits())
    with pytest.raises(ValueError):
        document.render([TranslatedBlock("x")])
