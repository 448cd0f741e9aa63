"""The rules a translate request must keep beyond its schema, and which direction each text goes
(``app.api.translate_jobs.check_texts`` runs them all, with the cost caps). Each broken rule is an
``InvalidField`` naming the field and the rule.

A text must hold a visible character and be at most ``ATTNSERVE_MAX_TEXT_CHARS`` long;
``alternatives`` below ``beam_size``.

Directions: the source language named, defaulted or detected, and the target named or defaulted.

- Neither language given: the default pair (``ATTNSERVE_DEFAULT_SOURCE_LANG`` ->
  ``ATTNSERVE_DEFAULT_TARGET_LANG``, en->fr), else the one pair served when only one is.
- ``source_lang`` given alone: into the default source language (en), or from it into the default
  target (en->fr).
- ``source_lang`` omitted or ``"auto"``: detected per text among the served languages
  (``app.core.language``); the target as given, else by the rule above for the detected language.
  A confident detection (``ATTNSERVE_DETECT_MIN_CONFIDENCE``) equal to the target, or not served
  as a source into it, is a 422 at the text; a detection below it is used with a warning (or,
  when it cannot go into the target, the most likely language that can).
- A pair no loaded model serves: 422 at ``source_lang`` listing the pairs served; but 503 naming
  the model when a configured translator that failed to load serves it (the directions its
  config.json states, read once at load: ``registry.failed_directions``; when those cannot be
  told, any failed model that may be a translator): a server fault, never the client's.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from app.api.errors import InvalidField, NotLoaded, echo
from app.core.config import Settings
from app.core.language import Detection, LanguageDetector
from app.core.registry import ModelRegistry
from app.schemas.translate import DecodingOptions
from models.translation.translator import Translator

AUTO = "auto"
Pairs = Mapping[tuple[str, str], Translator]


@dataclass(frozen=True)
class Route:
    """Where one text goes, and what the answer says about how that was decided."""

    source_lang: str
    target_lang: str
    translator: Translator  # serves source_lang -> target_lang
    detected: Detection | None = None
    warnings: tuple[str, ...] = ()


def served(pairs: Pairs) -> str:
    return ", ".join(f"{s}->{t}" for s, t in sorted(pairs))


def sources_into(target: str, pairs: Pairs) -> list[str]:
    return sorted(s for s, t in pairs if t == target)


def default_pair(pairs: Pairs, settings: Settings) -> tuple[str, str] | None:
    """The direction of a request that names no language: the configured default pair when it
    is served, else the only pair served, else none."""
    default = (settings.default_source_lang, settings.default_target_lang)
    if default in pairs:
        return default
    return next(iter(pairs)) if len(pairs) == 1 else None


def _names(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


class LanguagePlan:
    """One request's language fields, checked once; ``route(text)`` then gives each text's direction."""

    def __init__(self, options: DecodingOptions, registry: ModelRegistry, settings: Settings):
        self.pairs = registry.pairs
        self.registry, self.settings = registry, settings
        if not self.pairs:
            failed = sorted(registry.failed_directions)
            why = f" ({_names(failed)} failed to load)" if failed else ""
            raise NotLoaded(f"no translator is loaded{why}; see /readyz")
        self.asked = (options.source_lang, options.target_lang)
        source, target = options.source_lang, options.target_lang
        self.target = target
        self.fixed: Route | None = None
        if source is None and target is None:
            self.fixed = self._default_pair()
        elif source is not None and source != AUTO:
            self.fixed = self._named(source, target or self.target_for(source), defaulted=target is None)
        else:  # detect: the target must be one some pair writes
            if target is not None and not sources_into(target, self.pairs):
                raise self._unserved((None, target))
            if registry.detector is None:
                raise NotLoaded("the language detector is not loaded; see /readyz (or name source_lang)")
            self.detector: LanguageDetector = registry.detector

    @property
    def detects(self) -> bool:
        return self.fixed is None

    def target_for(self, source: str) -> str:
        """The target when only the source is known: the default source language, or for that
        language itself the default target."""
        s = self.settings
        return s.default_target_lang if source == s.default_source_lang else s.default_source_lang

    def _not_loaded(self, wanted: tuple[str | None, str | None], unknown: bool = True) -> NotLoaded | None:
        """503 when ``wanted`` (a direction not served; None: any language) would be served by a
        configured translator that failed to load, or, with ``unknown``, when one whose directions
        cannot be told failed; else None."""
        failed = self.registry.failed_directions
        source, target = wanted
        pair = f"{echo(source or '*')}->{echo(target or '*')}"
        now = f"pairs served now: {served(self.pairs)}"
        serving = [
            name
            for name, directions in failed.items()
            if directions and any(source in (None, a) and target in (None, b) for a, b in directions)
        ]
        if serving:
            return NotLoaded(
                f"language pair {pair} is served by model {_names(serving)}, which failed to load (see /readyz); {now}"
            )
        unknown_names = [name for name, directions in failed.items() if directions is None]
        if unknown and unknown_names:
            return NotLoaded(
                f"language pair {pair} is not served now: model {_names(unknown_names)} failed to load and may "
                f"serve it (see /readyz); {now}"
            )
        return None

    def _unserved(self, wanted: tuple[str | None, str | None], note: str = "") -> InvalidField | NotLoaded:
        """The answer for a direction no loaded model serves: 503 when a model that failed to load
        would (``_not_loaded``), else 422 at ``source_lang``."""
        if (fault := self._not_loaded(wanted)) is not None:
            return fault
        source, target = self.asked
        asked = f"{echo(source or '*')}->{echo(target or '*')}"
        return InvalidField(
            ("body", "source_lang"), f"language pair {asked} is not served; pairs served: {served(self.pairs)}{note}"
        )

    def _default_pair(self) -> Route:
        s = self.settings
        default = (s.default_source_lang, s.default_target_lang)
        if default not in self.pairs and (fault := self._not_loaded(default, unknown=False)) is not None:
            raise fault  # a healthy server would translate en->fr, not fall back to the one pair served
        pair = default_pair(self.pairs, s)
        if pair is None:
            raise self._unserved(
                default, f" (the default pair {'->'.join(default)} is not among them: name target_lang)"
            )
        return Route(*pair, self.pairs[pair])

    def _named(self, source: str, target: str, defaulted: bool) -> Route:
        if (source, target) not in self.pairs:
            s = self.settings
            rule = f"into {s.default_source_lang} from any other language, from it into {s.default_target_lang}"
            raise self._unserved((source, target), f" (target_lang omitted: {target}, {rule})" if defaulted else "")
        return Route(source, target, self.pairs[(source, target)])

    def route(self, text: str, loc: tuple) -> Route:
        """The direction of ``text`` (its field at ``loc``): the request's fixed one, or by detection."""
        if self.fixed is not None:
            return self.fixed
        ranking = self.detector.rank(text)
        if not ranking:
            raise InvalidField(
                loc,
                "its language cannot be detected: the identifier knows none of the served languages; name source_lang",
            )
        top, threshold = ranking[0], self.settings.detect_min_confidence
        other = self.detector.unserved(text, threshold)
        if other is not None:
            raise InvalidField(
                loc,
                f"detected {other.language} with confidence {other.confidence:.2f} (among the {self.detector.known} "
                f"languages the identifier knows), which is not served; languages served: "
                f"{', '.join(sorted({lang for pair in self.pairs for lang in pair}))}; "
                "name source_lang if the detection is wrong",
            )
        said = f"detected {top.language} with confidence {top.confidence:.2f}"
        if top.confidence >= threshold:
            target = self.target or self.target_for(top.language)
            if top.language == target:
                raise InvalidField(
                    loc,
                    f"already looks like {target}, the target language ({said}); if it is in another language, "
                    f"name that in source_lang (sources served into {target}: "
                    f"{', '.join(sources_into(target, self.pairs)) or 'none'})",
                )
            if (top.language, target) not in self.pairs:
                if (fault := self._not_loaded((top.language, target))) is not None:
                    raise fault
                raise InvalidField(
                    loc,
                    f"{said}, which is not served as a source into {target}; sources served into {target}: "
                    f"{', '.join(sources_into(target, self.pairs)) or 'none'} (pairs served: {served(self.pairs)}); "
                    "name source_lang if the detection is wrong",
                )
            return Route(top.language, target, self.pairs[(top.language, target)], top)
        return self._uncertain(ranking, loc, f"{said}, below {threshold:g} (ATTNSERVE_DETECT_MIN_CONFIDENCE)")

    def _uncertain(self, ranking: list[Detection], loc: tuple, said: str) -> Route:
        """A detection below the threshold: the most likely language that can go into the target."""
        for candidate in ranking:
            target = self.target or self.target_for(candidate.language)
            if candidate.language != target and (candidate.language, target) in self.pairs:
                source = candidate.language
                instead = "" if candidate is ranking[0] else f" ({source}: the most likely served into {target})"
                warning = (
                    f"source language uncertain: {said}; translated as {source}->{target}{instead}; "
                    "name source_lang if the text is in another language"
                )
                return Route(source, target, self.pairs[(source, target)], ranking[0], (warning,))
        raise InvalidField(loc, f"its language is uncertain ({said}) and none is served here; name source_lang")


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
