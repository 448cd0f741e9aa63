"""Spans of a sentence that must come back exactly: found, replaced by placeholder marks
(``models.text.marks``) that a model trained with them carries, and put back after decoding.

The kinds, in the order they claim characters: glossary terms (a request's own), URLs, e-mail
addresses, @handles, #hashtags, phone numbers, times, version numbers, prices, codes that mix
letters and digits, and numbers. A number keeps every digit; with ``number_format="target"`` its
separators are written the target language's way (Babel's CLDR symbols: "1,299.99" in English is
"1 299,99" in French, with a narrow no-break space, and "1.299,99" in German and Spanish); it is
grouped in thousands when the source grouped it. With ``"source"`` it comes back as typed. A
sentence holds at most eight placeholders; spans after the eighth stay text.

``protect(sentence, source_lang, target_lang, ...)`` -> ``Protected``;
``restore(translation, placeholders)`` -> ``Restored`` (the text, and the placeholders the model
dropped, which are put at the end of the translation so nothing is lost).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from babel.numbers import get_decimal_symbol, get_group_symbol

from models.text.marks import MARKS, PIECES

_END = r"(?![\w@]|[.,]\d)"  # a span ends before a word character or a separator with digits after it
_GROUP = {"en": ",", "fr": "[\u00a0\u202f ]", "de": r"\.", "es": "[.\u00a0\u202f ]"}
_DECIMAL = {"en": r"\.", "fr": ",", "de": ",", "es": ","}


def _number(lang: str) -> str:
    """A number as ``lang`` writes it: grouped thousands and/or a decimal part, or plain digits."""
    group, decimal = _GROUP.get(lang, ","), _DECIMAL.get(lang, r"\.")
    return rf"\d{{1,3}}(?:{group}\d{{3}})+(?:{decimal}\d+)?|\d+{decimal}\d+|\d+"


_CURRENCY = r"[$€£¥]|(?:US|CA|AU)\$"
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th|er|re|e|ème|eme|o|a|º|ª|te|ten|ter|tes|s)", re.IGNORECASE)
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("url", r"(?<![\w@])(?:https?://|www\.)[^\s<>\"]+"),
    ("e-mail", r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?!\w)"),
    ("handle", r"(?<![\w@])@[A-Za-z0-9_]{1,30}(?![\w@])"),
    ("hashtag", r"(?<![\w#&])#\w*[^\W\d_]\w*"),
    ("phone", r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?!\w)|(?<![\w(])\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\w)"),
    ("time", r"(?<![\w:.,])(?:[01]?\d|2[0-3])(?::[0-5]\d(?::[0-5]\d)?|h[0-5]\d)(?:\s?[AaPp]\.?[Mm]\b\.?)?(?![\w:])"),
    ("version", r"(?<![\w.])(?:v\d+(?:\.\d+)*|\d+(?:\.\d+){2,})" + _END),
)
_CODE = r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[^\W\d_])[^\W_]+(?:[-_/][^\W_]+)*(?![\w-])"
_URL_TAIL = ".,;:!?'\"»)]}"


@dataclass(frozen=True)
class Placeholder:
    """One protected span: its mark, kind, text in the sentence (``start``..``end``), and what the
    translation gets in its place."""

    mark: str
    kind: str
    text: str
    start: int
    end: int
    output: str

    @property
    def piece(self) -> str:
        """The mark's piece, as the source and target tokens show it ("<0x01>")."""
        return PIECES[MARKS.index(self.mark)]


@dataclass(frozen=True)
class Protected:
    text: str  # the sentence with each span replaced by its mark
    placeholders: list[Placeholder] = field(default_factory=list)


@dataclass(frozen=True)
class Restored:
    text: str
    dropped: list[Placeholder] = field(default_factory=list)  # marks the translation lacked (put at its end)


def format_number(number: str, source_lang: str, target_lang: str) -> str:
    """``number`` as ``source_lang`` writes it -> the same digits with ``target_lang``'s
    separators; unchanged when it has no separator (a year, a count) or does not parse."""
    group, decimal = _GROUP.get(source_lang, ","), _DECIMAL.get(source_lang, r"\.")
    match = re.fullmatch(rf"(\d{{1,3}}(?:{group}\d{{3}})*|\d+)(?:{decimal}(\d+))?", number)
    if match is None or number.isdigit():
        return number
    whole, fraction = re.sub(r"\D", "", match.group(1)), match.group(2)
    if len(whole) < len(match.group(1)):  # the source grouped the thousands
        head = len(whole) % 3 or 3
        groups = [whole[:head]] + [whole[i : i + 3] for i in range(head, len(whole), 3)]
        whole = get_group_symbol(target_lang).join(groups)
    return whole + (get_decimal_symbol(target_lang) + fraction if fraction else "")


def _url_end(url: str) -> str:
    """A URL without the punctuation after it (a closing bracket stays when the URL opened it)."""
    while url and url[-1] in _URL_TAIL and not (url[-1] == ")" and url.count("(") >= url.count(")")):
        url = url[:-1]
    return url


def _glossary_pattern(glossary: dict[str, str]) -> str | None:
    terms = sorted((t for t in glossary if t.strip()), key=len, reverse=True)
    return "|".join(rf"(?<!\w){re.escape(t.strip())}(?!\w)" for t in terms) or None


def _glossary_target(found: str, glossary: dict[str, str]) -> str:
    """The target term of the glossary term that matched ``found``."""
    return next(t for s, t in glossary.items() if re.fullmatch(re.escape(s.strip()), found, re.IGNORECASE))


def _candidates(sentence: str, source_lang: str, glossary: dict[str, str]) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every span each kind finds, in the kinds' order of precedence."""
    number = _number(source_lang)
    patterns = [
        *(("glossary", p) for p in [_glossary_pattern(glossary)] if p),
        *_PATTERNS,
        ("price", rf"(?:{_CURRENCY})\s?(?:{number})|(?<![\w.,])(?:{number})\s?(?:{_CURRENCY}|USD|EUR|GBP)(?!\w)"),
        ("code", _CODE),
        ("number", rf"(?<![\w.,])(?:{number}){_END}"),
    ]
    found = []
    for kind, pattern in patterns:
        for m in re.finditer(pattern, sentence, re.IGNORECASE if kind == "glossary" else 0):
            start, end = m.span()
            if kind == "url":
                end = start + len(_url_end(m.group()))
            if kind == "code" and _ORDINAL.fullmatch(m.group()):
                continue
            found.append((start, end, kind))
    return found


def protect(
    sentence: str,
    source_lang: str,
    target_lang: str,
    glossary: dict[str, str] | None = None,
    number_format: str = "target",
) -> Protected:
    """``sentence`` with its spans replaced by marks, in order (the first span gets U+0001).
    Marks the sentence already holds (control characters a user sent) become spaces first.
    ``glossary``: source term -> target term, matched case-insensitively on word boundaries,
    longest first; the target term is what the translation gets."""
    sentence = re.sub(f"[{MARKS}]", " ", sentence)
    taken: list[tuple[int, int, str]] = []
    for start, end, kind in _candidates(sentence, source_lang, glossary or {}):
        if end > start and all(end <= a or start >= b for a, b, _ in taken):
            taken.append((start, end, kind))
    taken = sorted(taken)[: len(MARKS)]
    placeholders, parts, at = [], [], 0
    for mark, (start, end, kind) in zip(MARKS, taken):
        text = sentence[start:end]
        output = text
        if kind == "glossary":
            output = _glossary_target(text, glossary or {})
        elif kind in ("number", "price") and number_format == "target":
            output = re.sub(_number(source_lang), lambda m: format_number(m.group(), source_lang, target_lang), text)
        placeholders.append(Placeholder(mark, kind, text, start, end, output))
        parts += [sentence[at:start], mark]
        at = end
    return Protected("".join(parts) + sentence[at:], placeholders)


def restore(translation: str, placeholders: list[Placeholder]) -> Restored:
    """The translation with each mark replaced by its placeholder's output (a mark the model wrote
    twice: its first place only; a mark no placeholder has: removed; a mark written against a word:
    a space between). Placeholders the translation
    lacks are put at its end, before its final punctuation, and listed in ``dropped``."""
    by_mark = {p.mark: p for p in placeholders}
    seen: set[str] = set()

    def put(match: re.Match[str]) -> str:
        space, mark = match.groups()
        if mark not in by_mark or mark in seen:
            return ""
        seen.add(mark)
        return space + by_mark[mark].output

    # a mark the model wrote against a word ("à\x01": it left out the word-start piece) gets its space
    translation = re.sub(rf"(?<=\w)(?=[{MARKS}])|(?<=[{MARKS}])(?=\w)", " ", translation)
    text = re.sub(f"( ?)([{MARKS}])", put, translation)
    for p in placeholders:  # "5:30 p.m." ending the sentence, the model's own period after it: one period
        if p.output.endswith(".") and p.mark in seen:
            text = text.replace(p.output + ".", p.output)
    text = re.sub(r" {2,}", " ", text).strip()
    dropped = [p for p in placeholders if p.mark not in seen]
    if dropped:
        body = text.rstrip(".!?…。 ")
        text = " ".join([body, *(p.output for p in dropped)]).strip() + text[len(body) :].strip()
    return Restored(text, dropped)


_BYTE = re.compile(r"<0x([0-9A-F]{2})>")


def _spelled(pieces: list[str]) -> tuple[str, list[int]] | None:
    """The text SentencePiece pieces spell (the leading space dropped) and where each piece ends in
    it; None when a byte piece other than a mark makes the spelling uncertain."""
    text, ends = "", []
    for piece in pieces:
        byte = _BYTE.fullmatch(piece)
        if byte and chr(int(byte.group(1), 16)) not in MARKS:
            return None
        text += chr(int(byte.group(1), 16)) if byte else "" if piece == "</s>" else piece.replace("▁", " ")
        ends.append(len(text))
    lead = len(text) - len(text.lstrip(" "))
    return text[lead:], [max(0, end - lead) for end in ends]


def place_by_attention(
    translation: str,
    target_tokens: list[str],
    source_tokens: list[str],
    attention: list[list[float]],
    placeholders: list[Placeholder],
) -> str:
    """``translation`` (marks in it, as decoded) with each placeholder the model left out put
    after the word whose pieces looked at the placeholder's piece the most (attention: target
    rows x source columns): where the model translated around it. Unchanged when nothing is
    missing or the pieces do not spell the translation."""
    missing = [p for p in placeholders if p.mark not in translation and p.piece in source_tokens]
    if not missing:  # the usual case: nothing to spell out
        return translation
    spelled = _spelled(target_tokens)
    if spelled is None or spelled[0] != translation:
        return translation
    ends = spelled[1]
    rows = [i for i, piece in enumerate(target_tokens) if piece != "</s>"]
    inserts = []
    for p in missing:
        column = source_tokens.index(p.piece)
        i = max(rows, key=lambda r: attention[r][column], default=None)
        if i is None:
            continue
        while i + 1 in rows and target_tokens[i + 1][:1].isalnum():  # to the end of the word
            i += 1
        inserts.append((ends[i], p.mark))
    for at, mark in sorted(inserts, reverse=True):
        translation = translation[:at] + " " + mark + translation[at:]
    return translation
