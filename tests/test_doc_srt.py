"""SubRip documents (app.documents.srt_format): a block per cue, inline tags, timings and numbering kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.documents.document import DocumentError, Limits, Tag, TranslatedBlock
from app.documents.srt_format import SRT, read_cue, read_srt, wrap

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "subtitles.srt"
CUE_MARKUP = re.compile(r"(?<=>|})[^<{]+|^[^<{]+")  # the text between tags
TIMING = re.compile(rb"^\d+\r?$|^[\d:,]+ --> [\d:,]+.*$", re.MULTILINE)


def identity(document) -> list[TranslatedBlock]:
    return [TranslatedBlock(block.text, block.tags) for block in document.blocks]


def upper(document) -> bytes:
    return document.render([TranslatedBlock(block.text.upper(), block.tags) for block in document.blocks])


def test_the_example_reads_a_block_per_cue_and_round_trips():
    data = EXAMPLE.read_bytes()
    document = SRT.read(data, Limits())
    assert [block.text for block in document.blocks] == [
        "Good morning, everyone.",
        "We are going to the station to meet my sister.",
        "The train is late again.",
        "Let's have a coffee while we wait.",
    ]
    assert document.render(identity(document)) == data


def test_indices_and_timings_are_byte_identical_after_upper_casing():
    data = EXAMPLE.read_bytes()
    rendered = upper(SRT.read(data, Limits()))
    assert TIMING.findall(rendered) == TIMING.findall(data) and len(TIMING.findall(data)) == 8
    assert b"\nGOOD MORNING, EVERYONE.\n" in rendered and b"\nLET'S HAVE A COFFEE WHILE WE WAIT.\n" in rendered


def test_numbering_is_not_rewritten():
    data = b"7\n00:00:01,000 --> 00:00:02,000\nSeven\n\n3\n00:00:03,000 --> 00:00:04,000\nThree\n"
    rendered = upper(read_srt(data, Limits()))
    assert rendered == b"7\n00:00:01,000 --> 00:00:02,000\nSEVEN\n\n3\n00:00:03,000 --> 00:00:04,000\nTHREE\n"


def test_a_two_line_cue_stays_two_lines_and_a_one_line_cue_one():
    document = SRT.read(EXAMPLE.read_bytes(), Limits())
    long = "Nous allons à la gare pour retrouver ma sœur qui arrive de Lyon ce soir."
    rendered = document.render([TranslatedBlock(long)] * 2 + identity(document)[2:]).decode()
    cues = rendered.split("\n\n")
    first, second = cues[0].split("\n")[2:], cues[1].split("\n")[2:]
    assert first == [long]  # the source cue had one line: no wrapping, however long
    assert len(second) == 2 and " ".join(second) == long
    assert abs(len(second[0]) - len(second[1])) <= 12  # broken near the middle


def test_wrap_breaks_at_spaces_nearest_equal_lengths_and_keeps_offsets():
    assert wrap("aaa bbb ccc ddd", 2) == "aaa bbb\nccc ddd"
    assert wrap("aaa bbb ccc ddd eee fff", 3) == "aaa bbb\nccc ddd\neee fff"
    assert wrap("single", 2) == "single"
    assert wrap("a b", 1) == "a b"
    assert len(wrap("one two three four", 2)) == len("one two three four")


def test_italic_tags_are_tags_and_come_back_at_their_new_offsets():
    data = b"1\n00:00:01,000 --> 00:00:02,000\nI said <i>never</i> again.\n"
    document = read_srt(data, Limits())
    [block] = document.blocks
    assert block.text == "I said never again."
    assert block.tags == [Tag(7, 12, 0)]
    moved = document.render([TranslatedBlock("Jamais plus, ai-je dit.", [Tag(0, 6, 0)])])
    assert moved.endswith(b"\n<i>Jamais</i> plus, ai-je dit.\n")
    assert document.render(identity(document)) == data


def test_the_example_italic_cue_keeps_its_tags_when_upper_cased():
    rendered = upper(SRT.read(EXAMPLE.read_bytes(), Limits()))
    assert b"\n<i>THE TRAIN IS LATE AGAIN.</i>\n" in rendered


def test_tags_across_lines_and_font_tags():
    markup: list[tuple[str, str]] = []
    read = read_cue('<font color="#ffff00"><b>Wait</b> for\nme</font>', markup)
    assert read is not None
    block, lines = read
    assert (block.text, lines) == ("Wait for me", 2)
    assert block.tags == [Tag(0, 11, 0), Tag(0, 4, 1)]
    assert markup == [('<font color="#ffff00">', "</font>"), ("<b>", "</b>")]


@pytest.mark.parametrize(
    "content",
    [
        "<i>never closed",  # runs to the end of the cue
        "never opened</i> here",  # runs from the start of the cue
        "<i>a<b>b</i>c</b>",  # crossing
        "{\\an8}<i>Top of the screen</i>",  # an ASS override code
        "<I>Upper</I> case",
    ],
)
def test_irregular_tags_are_written_back_as_read(content):
    data = f"1\n00:00:01,000 --> 00:00:02,000\n{content}\n".encode()
    document = read_srt(data, Limits())
    [block] = document.blocks
    assert "<" not in block.text and "{" not in block.text
    for outer, inner in zip(block.tags, block.tags[1:]):  # sorted by start, properly nested
        assert outer.start <= inner.start
        assert inner.end <= outer.end or inner.start >= outer.end
    assert document.render(identity(document)) == data
    # written through the tags (a translation other than the block itself): every tag where it was
    expected = CUE_MARKUP.sub(lambda text: text.group().upper(), content)
    assert upper(document) == f"1\n00:00:01,000 --> 00:00:02,000\n{expected}\n".encode()


def test_cues_without_text_are_not_blocks_but_stay():
    data = b"1\n00:00:01,000 --> 00:00:02,000\n<i></i>\n\n2\n00:00:03,000 --> 00:00:04,000\nHello\n"
    document = read_srt(data, Limits())
    assert [block.text for block in document.blocks] == ["Hello"]
    assert upper(document) == data.replace(b"Hello", b"HELLO")


def test_crlf_files_stay_crlf():
    data = b"1\r\n00:00:01,000 --> 00:00:02,000\r\nFirst line\r\nsecond line\r\n\r\n"
    document = read_srt(data, Limits())
    assert document.blocks[0].text == "First line second line"
    assert document.render(identity(document)) == data
    assert upper(document) == data.upper()


def test_a_malformed_file_is_422_naming_where_it_broke():
    data = (
        b"1\n00:00:01,000 --> 00:00:02,000\nHello\n\n"
        b"2\n00:00:03 to 00:00:04\nBye\n\n"  # the arrow broken
        b"3\n00:00:05,000 --> 00:00:06,000\nOk\n"
    )
    with pytest.raises(DocumentError) as refused:
        read_srt(data, Limits())
    assert refused.value.status == 422
    assert "line 5, after cue 1" in refused.value.message and "00:00:03 to 00:00:04" in refused.value.message


def test_plain_prose_is_not_srt():
    with pytest.raises(DocumentError) as refused:
        read_srt(b"Dear Anna,\nsee you soon.\n", Limits())
    assert refused.value.status == 422 and "before the first cue" in refused.value.message


def test_more_cues_than_the_limit_is_413():
    cue = "{0}\n00:00:0{0},000 --> 00:00:0{0},500\nLine {0}\n\n"
    data = "".join(cue.format(i) for i in range(1, 5)).encode()
    assert len(read_srt(data, Limits(max_blocks=4)).blocks) == 4
    with pytest.raises(DocumentError) as refused:
        read_srt(data, Limits(max_blocks=3))
    assert refused.value.status == 413
