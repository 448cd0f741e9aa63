"""Inline tags carried to the translation by attention (``models.text.tags``), on hand-made
attention where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from models.text.tags import Sentence, TagSpan, piece_spans, place_tags

SOURCE = "Please call Tom tomorrow."
SOURCE_PIECES = ["▁Please", "▁call", "▁Tom", "▁tomorrow", ".", "</s>"]
TARGET = "Appelle Tom demain, s'il te plaît."
TARGET_PIECES = ["▁Appel", "le", "▁Tom", "▁demain", ",", "▁s", "'", "il", "▁te", "▁plaît", ".", "</s>"]
# which source piece each target piece looked at (one-hot rows, softened)
LOOKS = [1, 1, 2, 3, 4, 0, 0, 0, 0, 0, 4, 5]


def attention(looks: list[int], sharp: float = 0.9) -> list[list[float]]:
    rows = np.full((len(looks), len(SOURCE_PIECES)), (1 - sharp) / (len(SOURCE_PIECES) - 1))
    rows[np.arange(len(looks)), looks] = sharp
    return rows.tolist()


def sentence(looks: list[int] = LOOKS, **kw) -> Sentence:
    return Sentence((0, len(SOURCE)), (0, len(TARGET)), SOURCE_PIECES, TARGET_PIECES, attention(looks), **kw)


def placed(tags: list[tuple[int, int]], looks: list[int] = LOOKS) -> list[str]:
    out = place_tags(SOURCE, TARGET, [sentence(looks)], [TagSpan(a, b, i) for i, (a, b) in enumerate(tags)])
    assert [t.ref for t in out] == list(range(len(tags)))  # every tag back, once, in order
    return [TARGET[t.start : t.end] for t in out]


def test_pieces_find_their_characters_even_where_the_text_was_normalised():
    spans = piece_spans(TARGET_PIECES, TARGET.replace("'", "’"), 10, {})
    assert TARGET[spans[0][0] - 10 : spans[1][1] - 10] == "Appelle"
    assert spans[-1] is None  # </s> spells nothing
    assert spans[6] is None or spans[6] == (10 + TARGET.index("'"), 11 + TARGET.index("'"))


def test_a_tag_wraps_the_words_that_looked_at_its_words():
    assert placed([(12, 15)]) == ["Tom"]  # bold on the name
    assert placed([(7, 11)]) == ["Appelle"]  # on the verb: both pieces of "Appelle" looked at "call"
    assert placed([(0, 6)]) == ["s'il te plaît"]  # "Please" -> the words that looked at it, moved to the end


def test_a_tag_over_the_whole_sentence_wraps_its_whole_translation():
    assert placed([(0, len(SOURCE))]) == [TARGET]


def test_nested_tags_stay_nested_and_siblings_do_not_overlap():
    # a link over "call Tom" holding bold "Tom"; a sibling on "tomorrow"
    out = place_tags(SOURCE, TARGET, [sentence()], [TagSpan(7, 15, 0), TagSpan(12, 15, 1), TagSpan(16, 24, 2)])
    link, bold, later = ((t.start, t.end) for t in out)
    assert TARGET[link[0] : link[1]] == "Appelle Tom" and TARGET[bold[0] : bold[1]] == "Tom"
    assert link[0] <= bold[0] and bold[1] <= link[1]
    assert TARGET[later[0] : later[1]] == "demain" and later[0] >= link[1]


def test_a_tag_no_word_looks_at_mostly_still_gets_the_word_that_looked_most():
    looks = [1, 1, 2, 3, 4, 0, 0, 0, 0, 0, 4, 5]
    weak = attention(looks, sharp=0.3)  # nothing reaches half the mass on one source word
    s = Sentence((0, len(SOURCE)), (0, len(TARGET)), SOURCE_PIECES, TARGET_PIECES, weak)
    [tag] = place_tags(SOURCE, TARGET, [s], [TagSpan(12, 15, 7)])
    assert TARGET[tag.start : tag.end] == "Tom" and tag.ref == 7


def test_a_kept_span_carried_as_a_placeholder_is_wrapped_exactly():
    source = "Run make test now."
    pieces = ["▁Run", "▁", "<0x01>", "▁now", ".", "</s>"]
    target = "Lancez make test maintenant."
    t_pieces = ["▁Lancez", "▁", "<0x01>", "▁maintenant", ".", "</s>"]
    looks = np.eye(6)[[0, 1, 2, 3, 4, 5]] * 0.9 + 0.02
    marks = {"\x01": ((4, 13), (7, 16))}
    s = Sentence((0, len(source)), (0, len(target)), pieces, t_pieces, looks.tolist(), marks)
    [tag] = place_tags(source, target, [s], [TagSpan(4, 13, 0)])
    assert target[tag.start : tag.end] == "make test"


def test_tags_across_two_sentences_wrap_both_parts():
    source = f"{SOURCE} {SOURCE}"
    target = f"{TARGET} {TARGET}"
    second = Sentence(
        (len(SOURCE) + 1, len(source)),
        (len(TARGET) + 1, len(target)),
        SOURCE_PIECES,
        TARGET_PIECES,
        attention(LOOKS),
    )
    [tag] = place_tags(source, target, [sentence(), second], [TagSpan(12, len(SOURCE) + 1 + 15, 0)])
    wrapped = target[tag.start : tag.end]
    # from the first sentence's "Tom" to the second's words that looked at "Please call Tom": the
    # French puts "s'il te plaît" (Please) last, so the span runs to it
    assert wrapped.startswith("Tom") and "Appelle Tom" in wrapped and wrapped.endswith("plaît")


@pytest.mark.parametrize("tag", [(0, 3), (13, 14), (24, 25)])
def test_a_tag_inside_a_word_or_on_punctuation_is_never_dropped(tag):
    [out] = placed([tag])
    assert out.strip()


def test_a_function_word_written_while_looking_ahead_at_the_name_is_left_out():
    source, pieces = "I know Tom cares.", ["▁I", "▁know", "▁Tom", "▁cares", ".", "</s>"]
    target = "Je sais que Tom tient."
    t_pieces = ["▁Je", "▁sais", "▁que", "▁Tom", "▁tient", ".", "</s>"]
    rows = np.full((7, 6), 0.02)
    for i, (j, w) in enumerate([(0, 0.9), (1, 0.9), (2, 0.6), (2, 0.95), (3, 0.9), (4, 0.9), (5, 0.9)]):
        rows[i, j] = w
        rows[i, 1 if j != 1 else 0] += 1 - rows[i].sum()  # the rest of the row's mass elsewhere
    s = Sentence((0, len(source)), (0, len(target)), pieces, t_pieces, rows.tolist())
    [tag] = place_tags(source, target, [s], [TagSpan(7, 10, 0)])
    assert target[tag.start : tag.end] == "Tom"  # "que" points at "Tom" (0.6) but "Tom" harder (0.95)
