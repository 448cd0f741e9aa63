"""Which direction each text of a translate request goes, and through which models.

- ``source_lang`` named (not ``"auto"``): that language; ``target_lang`` as given, else into the
  default source language (en), or for that language itself into ``ATTNSERVE_DEFAULT_TARGET_LANG``
  (fr).
- ``source_lang`` omitted or ``"auto"``: detected per text among the served languages
  (``app.core.language``); the target as given, else by the rule above for the detected language.
  A confident detection (``ATTNSERVE_DETECT_MIN_CONFIDENCE``) equal to the target, or not served
  into it, is a 422 at the text; a detection below it is used with a warning (or, when it cannot
  go into the target, the most likely language that can; when nothing in the text tells the
  languages apart, "OK.", "123", the default source language). Text the identifier gives to a
  language that is not served is a 422 at that confidence, a warning from
  ``ATTNSERVE_UNSERVED_WARN_CONFIDENCE``.
- Whatever the fields, a text whose letters are mostly in a script none of the served languages is
  written in (Han, Arabic, Cyrillic, ...) is a 422 naming the script.
- A pair no model serves whose two legs through ``ATTNSERVE_PIVOT_LANG`` (en) are served goes
  through it: a ``Route`` with a second leg (``then``).
- A pair served neither way: 422 at ``source_lang`` listing the pairs served; but 503 naming the
  model when a configured translator that failed to load serves it (the directions its
  config.json states, read once at load: ``registry.failed_directions``; when those cannot be
  told, any failed model that may be a translator): a server fault, never the client's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError

from app.api.errors import InvalidField, NotLoaded, echo
from app.core.config import Settings
from app.core.language import Detection, LanguageDetector, Scripts
from app.core.registry import ModelRegistry
from app.schemas.translate import DecodingOptions
from models.translation.translator import Translator

AUTO = "auto"
TIE = 0.01  # detections this close to the most likely one are as likely


@dataclass(frozen=True)
class Leg:
    """One model's part of a route: ``source_lang`` -> ``target_lang`` by ``translator``."""

    source_lang: str
    target_lang: str
    translator: Translator


@dataclass(frozen=True)
class Route:
    """Where one text goes, and what the answer says about how that was decided. ``translator``
    reads ``source_lang``: into ``target_lang``, or, with ``then``, into the pivot language that
    ``then`` translates into ``target_lang``."""

    source_lang: str
    target_lang: str
    translator: Translator
    detected: Detection | None = None
    warnings: tuple[str, ...] = ()
    then: Leg | None = None

    @property
    def first(self) -> Leg:
        return Leg(self.source_lang, self.then.source_lang if self.then else self.target_lang, self.translator)


def served(pairs: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{s}->{t}" for s, t in sorted(pairs))


def default_pair(pairs: Iterable[tuple[str, str]], settings: Settings) -> tuple[str, str] | None:
    """The direction of a request that names no language when detection cannot be run: the
    configured default pair when it is served, else the only pair served, else none."""
    pairs = set(pairs)
    default = (settings.default_source_lang, settings.default_target_lang)
    if default in pairs:
        return default
    return next(iter(pairs)) if len(pairs) == 1 else None


def language_name(code: str) -> str:
    """ "it" -> "Italian (it)"; the code alone when Babel does not know it."""
    try:
        return f"{Locale.parse(code).english_name} ({code})"
    except (UnknownLocaleError, ValueError):
        return code


def _names(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


class LanguagePlan:
    """One request's language fields, checked once; ``route(text)`` then gives each text's direction."""

    def __init__(self, options: DecodingOptions, registry: ModelRegistry, settings: Settings):
        self.pairs, self.pivots = registry.pairs, registry.pivots
        self.directions = sorted({*self.pairs, *self.pivots})
        self.languages = sorted({lang for pair in self.directions for lang in pair})
        self.registry, self.settings = registry, settings
        if not self.pairs:
            failed = sorted(registry.failed_directions)
            why = f" ({_names(failed)} failed to load)" if failed else ""
            raise NotLoaded(f"no translator is loaded{why}; see /readyz")
        self.asked = (options.source_lang, options.target_lang)
        source, target = options.source_lang, options.target_lang
        self.target = target
        self.fixed: Route | None = None
        if source is not None and source != AUTO:
            self.fixed = self._named(source, target or self.target_for(source), defaulted=target is None)
            return
        if target is not None and not self.sources_into(target):  # detect: the target must be one some pair writes
            raise self._unserved((None, target))
        if registry.detector is None:
            if source == AUTO:
                raise NotLoaded("the language detector is not loaded; see /readyz (or name source_lang)")
            self.fixed = self._default_pair(target)
            return
        self.detector: LanguageDetector = registry.detector

    @property
    def detects(self) -> bool:
        return self.fixed is None

    def sources_into(self, target: str) -> list[str]:
        return sorted(s for s, t in self.directions if t == target)

    def target_for(self, source: str) -> str:
        """The target when only the source is known: the default source language, or for that
        language itself the default target."""
        s = self.settings
        return s.default_target_lang if source == s.default_source_lang else s.default_source_lang

    def make(self, source: str, target: str, detected: Detection | None = None, warnings: tuple = ()) -> Route:
        """The route of a served pair: its model, or its two legs through the pivot language."""
        if (source, target) in self.pairs:
            return Route(source, target, self.pairs[(source, target)], detected, warnings)
        first, second = self.pivots[(source, target)]
        return Route(source, target, first, detected, warnings, Leg(self.settings.pivot_lang, target, second))

    def _not_loaded(self, wanted: tuple[str | None, str | None], unknown: bool = True) -> NotLoaded | None:
        """503 when ``wanted`` (a direction not served; None: any language) would be served by a
        configured translator that failed to load, or, with ``unknown``, when one whose directions
        cannot be told failed; else None."""
        failed = self.registry.failed_directions
        source, target = wanted
        pair = f"{echo(source or '*')}->{echo(target or '*')}"
        now = f"pairs served now: {served(self.directions)}"
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
        """The answer for a direction not served: 503 when a model that failed to load would
        (``_not_loaded``), else 422 at ``source_lang``."""
        if (fault := self._not_loaded(wanted)) is not None:
            return fault
        source, target = self.asked
        asked = f"{echo(source or '*')}->{echo(target or '*')}"
        return InvalidField(
            ("body", "source_lang"),
            f"language pair {asked} is not served; pairs served: {served(self.directions)}{note}",
        )

    def _default_pair(self, target: str | None) -> Route:
        """No detector: the default pair (or the default source into ``target``), with a warning."""
        s = self.settings
        wanted = (s.default_source_lang, target or s.default_target_lang)
        if wanted not in self.directions and (fault := self._not_loaded(wanted, unknown=False)) is not None:
            raise fault  # a healthy server would translate en->fr, not fall back to the one pair served
        pair = wanted if target else default_pair(self.directions, s)
        if pair is None or pair not in self.directions:
            raise self._unserved(
                wanted,
                f" (the language detector is not loaded and {'->'.join(wanted)} is not among them: name source_lang)",
            )
        warning = (
            f"the language detector is not loaded (see /readyz): translated as {pair[0]}->{pair[1]}; name source_lang"
        )
        return self.make(*pair, warnings=(warning,))

    def _named(self, source: str, target: str, defaulted: bool) -> Route:
        if (source, target) not in self.directions:
            s = self.settings
            rule = f"into {s.default_source_lang} from any other language, from it into {s.default_target_lang}"
            raise self._unserved((source, target), f" (target_lang omitted: {target}, {rule})" if defaulted else "")
        return self.make(source, target)

    def check_script(self, text: str, loc: tuple) -> None:
        """422 when most of the letters of ``text`` are in a script no served language is written in."""
        unserved = Scripts.of(text).unserved(self.languages)
        if unserved is not None:
            script, letters, total = unserved
            raise InvalidField(
                loc,
                f"is written mostly in the {script} script ({letters} of its {total} letters), which none of the "
                f"languages served ({', '.join(self.languages)}) is written in; it cannot be translated here",
            )

    def route(self, text: str, loc: tuple) -> Route:
        """The direction of ``text`` (its field at ``loc``): the request's fixed one, or by detection."""
        self.check_script(text, loc)
        if self.fixed is not None:
            return self.fixed
        ranking = self.detector.rank(text)
        if not ranking:
            raise InvalidField(
                loc,
                "its language cannot be detected: the identifier knows none of the served languages; name source_lang",
            )
        top, threshold = ranking[0], self.settings.detect_min_confidence
        warnings: tuple[str, ...] = ()
        other = self.detector.unserved(text, min(threshold, self.settings.unserved_warn_confidence))
        if other is not None:
            said = (
                f"{language_name(other.language)} with confidence {other.confidence:.2f} (among the "
                f"{self.detector.known} languages the identifier knows)"
            )
            if other.confidence >= threshold:
                raise InvalidField(
                    loc,
                    f"detected {said}, which is not served; languages served: {', '.join(self.languages)}; "
                    "name source_lang if the detection is wrong",
                )
            warnings = (
                f"the text looks like {said}, which is not served: expect a poor translation; "
                "name source_lang if it is in a served language",
            )
        said = f"detected {top.language} with confidence {top.confidence:.2f}"
        if top.confidence < threshold:
            return self._uncertain(
                ranking, loc, f"{said}, below {threshold:g} (ATTNSERVE_DETECT_MIN_CONFIDENCE)", warnings
            )
        target = self.target or self.target_for(top.language)
        if top.language == target:
            raise InvalidField(
                loc,
                f"already looks like {target}, the target language ({said}); if it is in another language, "
                f"name that in source_lang (sources served into {target}: "
                f"{', '.join(self.sources_into(target)) or 'none'})",
            )
        if (top.language, target) not in self.directions:
            if (fault := self._not_loaded((top.language, target))) is not None:
                raise fault
            raise InvalidField(
                loc,
                f"{said}, which is not served as a source into {target}; sources served into {target}: "
                f"{', '.join(self.sources_into(target)) or 'none'} (pairs served: {served(self.directions)}); "
                "name source_lang if the detection is wrong",
            )
        return self.make(top.language, target, top, warnings)

    def _uncertain(self, ranking: list[Detection], loc: tuple, said: str, warnings: tuple[str, ...]) -> Route:
        """A detection below the threshold: the most likely language that can go into the target;
        among languages as likely as the most likely one, the default source language first."""
        default = self.settings.default_source_lang
        tied = [d for d in ranking if ranking[0].confidence - d.confidence < TIE]
        candidates = sorted(tied, key=lambda d: d.language != default) + ranking[len(tied) :]
        for candidate in candidates:
            target = self.target or self.target_for(candidate.language)
            if candidate.language != target and (candidate.language, target) in self.directions:
                source = candidate.language
                instead = (
                    ""
                    if candidate is ranking[0]
                    else f" ({source}: as likely as any, the default source language)"
                    if candidate in tied
                    else f" ({source}: the most likely served into {target})"
                )
                warning = (
                    f"source language uncertain: {said}; translated as {source}->{target}{instead}; "
                    "name source_lang if the text is in another language"
                )
                return self.make(source, target, ranking[0], (*warnings, warning))
        raise InvalidField(loc, f"its language is uncertain ({said}) and none is served here; name source_lang")
