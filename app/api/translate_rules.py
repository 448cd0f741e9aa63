"""The rules a translate request must keep beyond its schema (``app.api.translate_jobs.check_texts``
runs them all, with the language plan of ``app.api.language_plan`` and the cost caps). Each broken
rule is an ``InvalidField`` naming the field and the rule.

A text must hold a visible character and be at most ``ATTNSERVE_MAX_TEXT_CHARS`` long;
``alternatives`` below ``beam_size``; a glossary within its limits.
"""

from __future__ import annotations

import unicodedata

from app.api.errors import InvalidField
from app.core.config import Settings
from app.schemas.translate import DecodingOptions

# ---- the texts themselves --------------------------------------------------------------------

# letters and symbols that render as blank space: the Hangul fillers and the blank braille cell
BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def visible(char: str) -> bool:
    """A letter, number, punctuation or symbol (Unicode categories L, N, P, S) that is not drawn
    blank: not a space (Z), control, format or zero-width character (C), not a combining mark (M,
    which only decorates the character before it) and not one of ``BLANK_GLYPHS``."""
    return unicodedata.category(char)[0] in "LNPS" and char not in BLANK_GLYPHS


def check_text(text: str, loc: tuple, settings: Settings) -> None:
    if not any(visible(char) for char in text):
        raise InvalidField(
            loc,
            "must contain at least one visible character (a letter, digit, punctuation mark or symbol; "
            "not only spaces, zero-width, control or combining characters)",
        )
    if len(text) > settings.max_text_chars:
        raise InvalidField(
            loc, f"must be at most {settings.max_text_chars} characters (got {len(text)})", "string_too_long"
        )


def check_glossary(options: DecodingOptions, settings: Settings) -> None:
    """A glossary's size and terms: at most ``max_glossary_terms``, none blank or longer than
    ``max_glossary_term_chars``, no two sources the same once case is ignored."""
    glossary = options.glossary or {}
    if len(glossary) > settings.max_glossary_terms:
        raise InvalidField(
            ("body", "glossary"),
            f"holds {len(glossary)} terms, over the {settings.max_glossary_terms} one request may send "
            "(ATTNSERVE_MAX_GLOSSARY_TERMS)",
            "too_long",
        )
    seen: dict[str, str] = {}
    for term, target in glossary.items():
        loc = ("body", "glossary", term)
        for what, value in (("term", term), ("target term", target)):
            if not value.strip():
                raise InvalidField(loc, f"the {what} must not be blank")
            if len(value) > settings.max_glossary_term_chars:
                raise InvalidField(
                    loc,
                    f"the {what} must be at most {settings.max_glossary_term_chars} characters (got {len(value)}; "
                    "ATTNSERVE_MAX_GLOSSARY_TERM_CHARS)",
                    "string_too_long",
                )
        folded = " ".join(term.split()).casefold()
        if folded in seen:
            raise InvalidField(loc, f"is the same term as {seen[folded]!r} once case is ignored; send it once")
        seen[folded] = term


def check_alternatives(options: DecodingOptions) -> None:
    if options.alternatives >= options.beam_size:
        raise InvalidField(
            ("body", "alternatives"),
            f"must be less than beam_size ({options.alternatives} >= {options.beam_size}): the beam's "
            "next-best hypotheses are at most beam_size - 1; raise beam_size or ask for fewer",
        )
