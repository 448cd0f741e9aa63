"""Which language a text is in: py3langid's naive Bayes identifier, restricted to the languages
the service serves.

py3langid ships its model inside the package (``py3langid/data/model.npz.xz``: numpy arrays in
an LZMA file, read with ``allow_pickle=False``; no pickle, and no file a user provides is ever
loaded). Chosen over lingua by ``bench/language_id.py`` (docs/api.md): on the held-out test
sources of en/fr/de/es it is the more accurate (0.998 vs 0.993; 0.985 vs 0.966 on texts of at
most 20 characters), about three times faster per text with half the memory, and at confidence 0.9 its
low-confidence band holds all of its errors.

Two questions are asked of it. Which served language is the text most likely in: its confidence
is a probability over the served languages only (softmax of the naive Bayes scores at temperature
sqrt(bytes)), so text in another language comes out as the nearest served one, and text without
a letter the model knows ("123", "OK.") gets an even share. And is the text in a language that
is not served: the same classifier over every language it knows (``unserved``).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

SCRIPTS = {"en": "Latin", "fr": "Latin", "de": "Latin", "es": "Latin", "it": "Latin", "pt": "Latin", "nl": "Latin"}
"""The script each language the service may serve is written in (a served code not listed here turns
the script check off: nothing is known of what it writes)."""

_SCRIPT_NAMES = {"CJK": "Han", "HIRAGANA": "Kana", "KATAKANA": "Kana", "HALFWIDTH": "Kana", "FULLWIDTH": "Latin"}


def script_of(char: str) -> str | None:
    """The script of a letter, from the first word of its Unicode name ("CYRILLIC SMALL LETTER
    PE" -> "Cyrillic", "CJK UNIFIED IDEOGRAPH-5317" -> "Han"); None for a character that is not a
    letter or whose name tells no script ("MODIFIER LETTER ...")."""
    if not unicodedata.category(char).startswith("L"):
        return None
    first = unicodedata.name(char, "").split(" ", 1)[0]
    if not first or first == "MODIFIER":
        return None
    return _SCRIPT_NAMES.get(first, first.title())


@dataclass(frozen=True)
class Scripts:
    """How many letters of a text each script writes."""

    counts: Counter[str]

    @classmethod
    def of(cls, text: str) -> Scripts:
        return cls(Counter(script for script in map(script_of, text) if script is not None))

    def unserved(self, languages: Iterable[str]) -> tuple[str, int, int] | None:
        """(script, its letters, all letters) when most letters are in scripts none of ``languages``
        is written in; None when they are not, when the text has no letters, or when the script of
        some language is not known (``SCRIPTS``)."""
        written = {SCRIPTS.get(lang) for lang in languages}
        total = sum(self.counts.values())
        if None in written or not total:
            return None
        outside = {script: n for script, n in self.counts.items() if script not in written}
        if 2 * sum(outside.values()) <= total:
            return None
        script = max(outside, key=lambda s: outside[s])
        return script, outside[script], total


@dataclass(frozen=True)
class Detection:
    language: str
    confidence: float  # 0..1: the identifier's probability of ``language`` among the candidates


class LanguageDetector:
    """Detects among ``languages``; codes the identifier does not know are left out (``languages``
    lists those it detects). Thread-safe: detection reads the model, never changes it."""

    def __init__(self, languages: Iterable[str]):
        everything: Any = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        known = set(everything.nb_classes)
        self.known = len(known)  # languages the identifier tells apart
        self.languages: list[str] = sorted({lang for lang in languages if lang in known})
        served: Any = LanguageIdentifier(  # the same arrays, then a copy of the served languages' columns
            everything.nb_ptc,
            everything.nb_pc,
            everything.nb_classes,
            everything.tk_nextmove,
            everything.tk_output,
            norm_probs=True,
            tk_row=everything.tk_row,
        )
        if len(self.languages) > 1:
            served.set_languages(self.languages)
        self._everything, self._served = everything, served

    def rank(self, text: str) -> list[Detection]:
        """Every language of ``languages``, most likely first (confidences sum to 1). One
        language: it, at confidence 1. None: an empty list."""
        if len(self.languages) < 2:
            return [Detection(lang, 1.0) for lang in self.languages]
        scores = self._served.rank(text)
        return [Detection(str(lang), float(np.float32(p))) for lang, p in scores]

    def unserved(self, text: str, min_confidence: float) -> Detection | None:
        """The language of ``text`` when the identifier, choosing among every language it knows,
        names one that is not served with at least ``min_confidence``; else None. (On the held-out
        test sources of en/fr/de/es it names another language at 0.9 for none of 23,991 texts;
        Portuguese, Italian and Dutch sentences it names at 0.95-1.0.)"""
        language, confidence = self._everything.classify(text)
        if language in self.languages or confidence < min_confidence:
            return None
        return Detection(str(language), float(confidence))

    def detect(self, text: str) -> Detection:
        """The most likely language; ValueError when there is none to choose from."""
        ranking = self.rank(text)
        if not ranking:
            raise ValueError("no language to detect: none of the served languages is known to the identifier")
        return ranking[0]


@lru_cache(maxsize=8)
def detector_for(languages: frozenset[str]) -> LanguageDetector:
    """One detector per set of languages, loaded once per process (about 0.5-1 s, 74 MB)."""
    return LanguageDetector(languages)
