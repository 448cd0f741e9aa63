"""Spans that must come back exactly (models.text.placeholders), the marks' reading
(models.translation.tokenizer) and the training data that teaches a model to carry them
(training.translation.augment)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.text.marks import MARKS, PIECES
from models.text.placeholders import format_number, place_by_attention, protect, restore
from models.translation.tokenizer import normalize_casing, normalize_input
from training.translation.augment import concatenated, with_placeholders

KINDS = [
    ("You can find the form at https://www.tuvali.org/help/769.", "url", "https://www.tuvali.org/help/769"),
    ("See www.x.org/a_(b).", "url", "www.x.org/a_(b)"),
    ("Please send the report to john.smith@example.com before Friday.", "e-mail", "john.smith@example.com"),
    ("Follow @kamiran42 for the news.", "handle", "@kamiran42"),
    ("Use #Tuvali2027 when you post.", "hashtag", "#Tuvali2027"),
    ("Call me at +1 555 123 4567 tomorrow.", "phone", "+1 555 123 4567"),
    ("Call (555) 123-4567 now.", "phone", "(555) 123-4567"),
    ("The train leaves at 10:30 p.m. sharp.", "time", "10:30 p.m."),
    ("Version 2.1.3 fixes the bug.", "version", "2.1.3"),
    ("Your order number is AB-1234-C5.", "code", "AB-1234-C5"),
    ("The phone costs $1,299.99 now.", "price", "$1,299.99"),
    ("The city has 12,345 inhabitants.", "number", "12,345"),
]


@pytest.mark.parametrize(("sentence", "kind", "span"), KINDS)
def test_each_kind_becomes_one_mark_and_comes_back(sentence, kind, span):
    protected = protect(sentence, "en", "en")
    assert [(p.kind, p.text) for p in protected.placeholders] == [(kind, span)]
    assert protected.text == sentence.replace(span, MARKS[0]) and span not in protected.text
    assert restore(protected.text, protected.placeholders).text == sentence  # same language: nothing changes


def test_ordinals_and_words_are_not_codes():
    assert protect("On the 3rd day, the 21st guest came.", "en", "fr").placeholders == []
    assert protect("Il est arrivé le 2e jour.", "fr", "en").placeholders == []


@pytest.mark.parametrize(
    ("number", "source", "target", "expected"),
    [
        ("1,299.99", "en", "fr", "1\u202f299,99"),
        ("1,299.50", "en", "de", "1.299,50"),  # every digit, the trailing zero too
        ("1.234.567,8", "de", "en", "1,234,567.8"),
        ("1 299,99", "fr", "es", "1.299,99"),
        ("3.5", "en", "fr", "3,5"),  # not grouped in the source: not grouped in the target
        ("2027", "en", "fr", "2027"),  # a year stays a year
        ("12,345", "en", "en", "12,345"),
    ],
)
def test_numbers_keep_their_digits_in_the_targets_format(number, source, target, expected):
    assert format_number(number, source, target) == expected


def test_number_format_source_keeps_what_was_typed():
    target = protect("It costs $1,299.99.", "en", "fr").placeholders[0]
    source = protect("It costs $1,299.99.", "en", "fr", number_format="source").placeholders[0]
    assert (target.output, source.output) == ("$1\u202f299,99", "$1,299.99")


def test_glossary_longest_first_case_insensitive_on_word_boundaries():
    glossary = {"invoice": "facture", "the Customer": "le client", "customer": "client"}
    protected = protect("Send THE customer the invoice, not the invoices or a category.", "en", "fr", glossary)
    found = [(p.text, p.output) for p in protected.placeholders]
    assert found == [("THE customer", "le client"), ("invoice", "facture")]
    assert "invoices" in protected.text  # not a whole-word match


def test_at_most_eight_marks_and_user_control_characters_are_not_marks():
    sentence = "Codes " + " ".join(f"A{i}B" for i in range(10)) + "."
    protected = protect(sentence, "en", "fr")
    assert [p.mark for p in protected.placeholders] == list(MARKS)
    assert "A8B A9B" in protected.text
    assert protect("A \x01 B \x02 sent by a client.", "en", "fr").text == "A   B   sent by a client."


def test_restore_puts_back_drops_repeats_and_unknown_marks():
    placeholders = protect("Write to ann@example.com or bob@example.com today.", "en", "fr").placeholders
    restored = restore("Écris à \x02 \x02 aujourd'hui \x07.", placeholders)
    assert restored.text == "Écris à bob@example.com aujourd'hui ann@example.com."
    assert [p.text for p in restored.dropped] == ["ann@example.com"]


def test_marks_are_pieces_the_tokenizer_keeps_and_casing_leaves_alone(tiny_translator_dir):
    from models.translation.tokenizer import Tokenizer

    tokenizer = Tokenizer.from_file(str(tiny_translator_dir / "spm.model"))
    ids = tokenizer.encode(normalize_input("go to \x01 now", marks=True))
    assert tokenizer.pieces(ids).count(PIECES[0]) == 1
    assert normalize_input("go to \x01 now") == "Go to now"  # not a mark unless the pipeline says so
    assert normalize_casing("\x01 lives here.") == "\x01 lives here."
    assert normalize_casing("lives here.") == "Lives here."


def test_training_marks_are_the_same_on_both_sides_and_ascending():
    rng = random.Random(0)
    source, target = "Tom bought 3 apples in Paris.", "Tom a acheté 3 pommes à Paris."
    outputs = [with_placeholders(source, target, rng, 0.9) for _ in range(50)]
    changed = [(s, t) for s, t in outputs if s != source]
    assert len(changed) > 40
    for s, t in changed:
        marks = [c for c in s if c in MARKS]
        assert marks == sorted(marks) and len(set(marks)) == len(marks)
        assert sorted(c for c in t if c in MARKS) == sorted(marks)
        for word in ("Tom", "3", "Paris"):  # a word replaced on one side is replaced on the other
            assert (word in s) == (word in t)
    assert with_placeholders(source, target, rng, 0.0) == (source, target)
    assert with_placeholders("I see.", "Je vois.", random.Random(1), 0.9)[0].count("I") == 1  # "I" is never one


def test_concatenated_pairs_join_both_sides():
    assert concatenated([("A.", "a."), ("B?", "b ?")]) == ("A. B?", "a. b ?")


SPANS = [
    "https://a.org/x?y=1",
    "ann@example.com",
    "@kamiran",
    "#Tuvali",
    "+1 555 123 4567",
    "10:30",
    "2.1.3",
    "AB-12",
    "$1,299.99",
    "12,345",
    "7",
]
WORDS = ["the", "river", "Stone", "and", "to", "costs", "at", "I", "3rd", "e.g."]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SPANS + WORDS), min_size=1, max_size=14), st.sampled_from(["", ".", "!", "?"]))
def test_protect_then_restore_gives_the_sentence_back(words, end):
    """Whatever spans and words a sentence holds, a translation that writes every mark where it
    stood gives back exactly the sentence (numbers kept as typed), and no span is lost."""
    sentence = " ".join(words) + end
    protected = protect(sentence, "en", "fr", number_format="source")
    assert len(protected.placeholders) <= len(MARKS)
    restored = restore(protected.text, protected.placeholders)
    assert restored.text == sentence and restored.dropped == []
    without = restore("".join(c for c in protected.text if c not in MARKS), protected.placeholders)
    assert all(p.output in without.text for p in protected.placeholders)  # all dropped: all put back
    assert len(without.dropped) == len(protected.placeholders)


def test_a_mark_written_against_a_word_gets_its_space():
    placeholders = protect("Follow @kabri15 now.", "en", "fr").placeholders
    assert restore("Suis à\x01maintenant.", placeholders).text == "Suis à @kabri15 maintenant."
    assert restore("Suis l'\x01.", placeholders).text == "Suis l'@kabri15."


def test_a_span_ending_in_a_period_does_not_double_the_sentences_period():
    placeholders = protect("Come before 5:30 p.m.", "en", "fr").placeholders
    assert [p.text for p in placeholders] == ["5:30 p.m."]
    assert restore("Viens avant \x01.", placeholders).text == "Viens avant 5:30 p.m."


def test_a_left_out_placeholder_goes_after_the_word_that_looked_at_it_most():
    placeholders = protect("Use #Tuvali2027 when you post.", "en", "fr").placeholders
    source = ["▁Use", "▁", "<0x01>", "▁when", "▁you", "▁post", ".", "</s>"]
    target = ["▁Utilise", "▁quand", "▁tu", "▁post", "es", ".", "</s>"]
    attention = [[0.0] * len(source) for _ in target]
    for row, column in enumerate([0, 3, 4, 5, 5, 6, 7]):
        attention[row][column] = 0.7
    attention[1][2] = 0.9  # "quand" looked at the placeholder most
    placed = place_by_attention("Utilise quand tu postes.", target, source, attention, placeholders)
    assert restore(placed, placeholders).text == "Utilise quand #Tuvali2027 tu postes."
    attention[1][2], attention[3][2] = 0.0, 0.9  # "post" (+ "es"): after the whole word
    placed = place_by_attention("Utilise quand tu postes.", target, source, attention, placeholders)
    assert restore(placed, placeholders).text == "Utilise quand tu postes #Tuvali2027."
    # pieces that do not spell the translation: left as it is (restore then puts the span at the end)
    assert place_by_attention("Autre chose.", target, source, attention, placeholders) == "Autre chose."
