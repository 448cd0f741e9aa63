"""The text pipeline's layout and sentences (models.text): what goes to the model, and the text
put back around the translations exactly as it was laid out."""

from __future__ import annotations

import pytest

from models.text.layout import plan, rebuild
from models.text.sentences import sentence_spans

LAYOUTS = [
    "Shopping list:\n- milk\n- bread\n- three apples",
    "Hi Anna,\n\nthanks for your email. I will be in Paris next Tuesday.\r\nCan we meet?\n",
    "  1. First item here.\n  2) Second one.\n(a) Third.\n\n\n* last\n• really last",
    "   Hello there.   \n\tIndented line.\r\rOld Mac breaks.",
]


def pieces(text: str, lang: str = "en") -> list[str]:
    return [text[a:b] for a, b in plan(text, lang)]


@pytest.mark.parametrize("text", LAYOUTS)
def test_every_character_outside_the_sentences_comes_back(text):
    spans = plan(text, "en")
    marked = rebuild(text, spans, [f"<{i}>" for i in range(len(spans))])
    assert rebuild(text, spans, [text[a:b] for a, b in spans]) == text  # identity: nothing lost or added
    # the same lines, breaks, markers and spaces around what was replaced
    assert marked.count("\n") == text.count("\n") and marked.count("\r") == text.count("\r")
    for marker in ("- ", "1. ", "2) ", "(a) ", "* ", "• ", "  ", "\t"):
        assert marked.count(marker) == text.count(marker) or marker not in text


def test_markers_and_indentation_are_not_translated():
    assert pieces(LAYOUTS[0]) == ["Shopping list:", "milk", "bread", "three apples"]
    assert pieces(LAYOUTS[2]) == ["First item here.", "Second one.", "Third.", "last", "really last"]
    assert rebuild(LAYOUTS[0], plan(LAYOUTS[0], "en"), ["A:", "b", "c", "d"]) == "A:\n- b\n- c\n- d"


def test_a_paragraph_goes_sentence_by_sentence():
    assert pieces("I live in London. My sister lives in Paris! Do we meet? Yes.") == [
        "I live in London.",
        "My sister lives in Paris!",
        "Do we meet?",
        "Yes.",
    ]


def test_lines_without_words_pass_through():
    text = "https://www.example.org/help/769\njohn.smith@example.com\n42.5\n---\nSee you."
    assert pieces(text) == ["See you."]


@pytest.mark.parametrize(
    ("lang", "text", "sentences"),
    [
        ("en", "Dr. Smith came at 5 p.m. today. He left.", ["Dr. Smith came at 5 p.m. today.", "He left."]),
        ("fr", "M. Dupont est arrivé. Il était fatigué.", ["M. Dupont est arrivé.", "Il était fatigué."]),
        ("de", "Bring Obst, z. B. Äpfel. Danke!", ["Bring Obst, z. B. Äpfel.", "Danke!"]),
        ("es", "Vi a la Sra. Ruiz, cf. el acta. ¿Vienes?", ["Vi a la Sra. Ruiz, cf. el acta.", "¿Vienes?"]),
    ],
)
def test_abbreviations_do_not_end_a_sentence(lang, text, sentences):
    assert [text[a:b] for a, b in sentence_spans(text, lang)] == sentences


@pytest.mark.parametrize(
    ("lang", "text", "sentences"),
    [
        ("en", "I waited… Nobody came.", ["I waited…", "Nobody came."]),
        ("en", "We won (finally!) Then we slept.", ["We won (finally!)", "Then we slept."]),
        ("en", "Ask J. R. Miller by Fri. if you can.", ["Ask J. R. Miller by Fri. if you can."]),
        ("fr", "Des pommes, des poires, etc. Le reste est là.", ["Des pommes, des poires, etc.", "Le reste est là."]),
        ("fr", "Trois couleurs, c.-à-d. noir et blanc. Voilà.", ["Trois couleurs, c.-à-d. noir et blanc.", "Voilà."]),
        ("de", "Der 3. Versuch kostet 5 € inkl. MwSt. Gut so.", ["Der 3. Versuch kostet 5 € inkl. MwSt.", "Gut so."]),
        ("es", "Pon aprox. 200 g y mezcla bien. Deja reposar.", ["Pon aprox. 200 g y mezcla bien.", "Deja reposar."]),
    ],
)
def test_boundaries_sentencex_misses_and_periods_that_end_nothing(lang, text, sentences):
    assert [text[a:b] for a, b in sentence_spans(text, lang)] == sentences


def test_rebuild_needs_one_translation_per_span():
    with pytest.raises(ValueError, match="2 spans but 1 translations"):
        rebuild("a. b.", [(0, 2), (3, 5)], ["x"])
