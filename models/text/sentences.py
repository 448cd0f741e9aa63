"""Sentences of a line of text: sentencex (chosen over pysbd on our gold set, ``bench.segmenters``:
texts split exactly 90% vs 85%, 100x faster), plus repairs for what it splits wrongly.

- A title that a name follows (``M. Dupont``, ``St. Louis``, ``Sra. Ruiz``) does not end a sentence;
- nor does a common abbreviation (``janv.``, ``cf.``, ``vgl.``, ``ene.``) when what follows starts
  with a lower-case letter, a digit or a hyphen (``janv. et févr. cette année``, ``c.-à-d.``), nor,
  in German, an ordinal (``der 2. Weltkrieg``) or an abbreviation before a capital (``inkl. MwSt.``:
  German nouns have capitals).
- A boundary sentencex missed is made where a sentence's punctuation (``.``, ``!``, ``?``, ``…``,
  then any closing bracket or quote) is followed by a capital (or ``¿``, ``¡``, an opening quote),
  unless the word before it is a title, an abbreviation, an initial or a German ordinal; ``etc.``
  and ``usw.`` before a capital do end one. (The second gold set, ``bench.segmenters``, showed these.)
"""

from __future__ import annotations

import re

import sentencex

# per language: titles that a name follows, never a sentence's end
TITLES: dict[str, frozenset[str]] = {
    "en": frozenset({"mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "mt.", "sr.", "jr."}),
    "fr": frozenset({"m.", "mm.", "mme.", "mlle.", "dr.", "pr.", "st.", "ste.", "me.", "av.", "bd."}),
    "de": frozenset({"hr.", "fr.", "dr.", "prof.", "st.", "nr."}),
    "es": frozenset({"sr.", "sra.", "srta.", "dr.", "dra.", "d.", "dña.", "sto.", "sta.", "núm.", "av.", "avda."}),
}
_MONTHS = "jan. feb. mar. apr. jun. jul. aug. sep. sept. oct. nov. dec."
# per language: abbreviations that end a sentence only before a capital
ABBREVIATIONS: dict[str, frozenset[str]] = {
    "en": frozenset(
        f"{_MONTHS} mon. tue. tues. wed. thu. thur. thurs. fri. sat. sun. etc. approx. vs. cf. e.g. i.e. no. fig. "
        "vol. ch. pp. p. inc. ltd. co. corp. a.m. p.m.".split()
    ),
    "fr": frozenset("janv. févr. avr. juil. sept. oct. nov. déc. cf. env. etc. ex. p. vol. chap. n°. c.-à-d.".split()),
    "de": frozenset(
        f"{_MONTHS} märz. okt. dez. bzw. ca. vgl. usw. etc. z. b. s. nr. bd. abs. inkl. zzgl. ggf. d. h. u. a. "
        "str. tel. evtl. min. max.".split()
    ),
    "es": frozenset("ene. feb. mar. abr. jun. jul. ago. sept. oct. nov. dic. cf. etc. aprox. ej. p. pág. vol.".split()),
}
# abbreviations that, before a capital, end their sentence
ENDINGS = frozenset({"etc.", "usw.", "u.s.w."})
_LAST_WORD = re.compile(r"(\S+)\s*$")
_MISSED = re.compile(r"[.!?…]+[)\]»”\"’']*\s+(?=[¿¡«„“\"(]?[A-ZÀ-ÖØ-Þ])")
_ORDINAL = re.compile(r"\d{1,2}\.")


def sentence_spans(text: str, lang: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the sentences of ``text``, whitespace around them left out,
    in order; ``lang``: an ISO 639-1 code (languages sentencex does not know fall back to its
    generic rules)."""
    spans: list[tuple[int, int]] = []
    at = 0
    for piece in sentencex.segment(lang, text):
        start = text.find(piece, at)
        if start < 0:  # sentencex returns pieces of the text, in order; never otherwise seen
            start = at
        end = start + len(piece)
        at = end
        stripped = piece.strip()
        if not stripped:
            continue
        start += len(piece) - len(piece.lstrip())
        end = start + len(stripped)
        if spans and _continues(text[spans[-1][0] : spans[-1][1]], stripped, lang):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return [part for span in spans for part in _split_missed(text, span, lang)]


def _split_missed(text: str, span: tuple[int, int], lang: str) -> list[tuple[int, int]]:
    """``span`` cut where a sentence ends that sentencex did not cut (see the module docstring)."""
    parts, start = [], span[0]
    for match in _MISSED.finditer(text, span[0], span[1]):
        before = text[start : match.start() + len(match.group().rstrip())]
        last = _LAST_WORD.search(before)
        word = last.group(1).lower() if last else ""
        plain = word.rstrip(")]»”\"’'")
        if plain.endswith(".") and plain not in ENDINGS and _abbreviated(plain, lang):
            continue
        parts.append((start, match.start() + len(match.group().rstrip())))
        start = match.end()
    return [*parts, (start, span[1])]


def _abbreviated(word: str, lang: str) -> bool:
    """Whether ``word`` (lower case, ending in '.') is a title, an abbreviation, an initial
    ("j.", "u.s.") or a German ordinal, whose period ends no sentence."""
    if word in TITLES.get(lang, frozenset()) or word in ABBREVIATIONS.get(lang, frozenset()):
        return True
    if re.fullmatch(r"(?:\w\.)+", word) and len(word) <= 4:  # an initial, or letters like "u.s."
        return True
    return lang == "de" and _ORDINAL.fullmatch(word) is not None


def _continues(previous: str, sentence: str, lang: str) -> bool:
    """Whether ``sentence`` goes on the one before (see the module docstring)."""
    last = _LAST_WORD.search(previous)
    if last is None:
        return False
    word = last.group(1).lower()
    if word in TITLES.get(lang, frozenset()):
        return True
    if lang == "de" and _ORDINAL.fullmatch(word):
        return True
    starts = sentence[0].islower() or sentence[0].isdigit() or sentence[0] == "-"
    if lang == "de" and word not in ENDINGS:  # German nouns have capitals: "inkl. MwSt.", "z. B. Äpfel"
        starts = True
    return starts and (word in ABBREVIATIONS.get(lang, frozenset()) or word.endswith("c."))
