"""Training-time source noise: the ways people type that the Tatoeba text never shows; source
words hidden from the encoder so that a copying decoder learns to copy what it cannot read; and
names and numbers swapped for new ones in both sentences, so that copying is the only way to get
them right (Tatoeba's names are nearly all "Tom" and "Mary", which a generator learns by heart).

The service normalises casing before translating (``models.translation.tokenizer.normalize_casing``: a
sentence in capitals becomes sentence case, a lower-case start gets its capital), so what the
network still meets is lower-case words where names and "I" should be capitalised, and
sentences without their final punctuation. The noise produces exactly those inputs; the
target sentence is never changed.
"""

from __future__ import annotations

import random
import re

import torch

from models.text.marks import MARKS
from models.translation.tokenizer import normalize_casing

FINAL_PUNCTUATION = ".!?…"


def typing_noise(text: str, rng: random.Random, rate: float) -> str:
    """With probability ``rate`` each, independently: lower-case the sentence (then normalise
    it as the service would), and drop its final punctuation."""
    if rate <= 0:
        return text
    if rng.random() < rate:
        text = normalize_casing(text.lower())
    if rng.random() < rate:
        stripped = text.rstrip(FINAL_PUNCTUATION + " ")
        text = stripped or text
    return text


def hide_words(src: torch.Tensor, word_starts: torch.Tensor, kept: torch.Tensor, unk_id: int, p: float) -> torch.Tensor:
    """src (B, S) ids -> the same ids with each word (a piece starting with '▁' and the pieces
    after it) replaced by ``unk_id`` with probability ``p``; ``word_starts`` (V,) bool marks
    the pieces that start a word, and ids in ``kept`` (special ids, a bare '▁') are never
    replaced: the tokenizer spells what it lacks (digits or letters it never saw, emoji) as
    a bare '▁' and byte pieces, which is what a hidden word then looks like to the encoder."""
    words = word_starts[src].long().cumsum(dim=1).clamp(max=src.size(1) - 1)  # (B, S) word index
    hidden_word = torch.rand(src.shape, device=src.device) < p  # (B, S): one draw per word index
    return src.masked_fill(hidden_word.gather(1, words) & ~torch.isin(src, kept), unk_id)


_SYLLABLES = (
    "ka lo mi ran te vu sel dor bri na zu fen ko lia mar tho gus pe wen ash iro bel qui ny oz da rek sim".split()
)
_NAME = re.compile(r"\b[A-Z][a-z]+\b")
_NUMBER = re.compile(r"(?<!\d)\d+(?!\d)")


def pseudo_name(rng: random.Random) -> str:
    """A made-up capitalised name of 2-3 syllables (e.g. "Kamiran"): one no model has seen."""
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def substitute_copies(source: str, target: str, rng: random.Random, p: float) -> tuple[str, str]:
    """Each capitalised word ("Tom", "Paris"; not "I") and each digit string of ``source`` that
    ``target`` holds verbatim is, with probability ``p``, replaced in both by a made-up name or a
    random number of 1-4 digits. -> (source, target)."""
    for pattern, make in ((_NAME, pseudo_name), (_NUMBER, lambda r: str(r.randint(0, 10 ** r.randint(1, 4) - 1)))):
        for word in dict.fromkeys(pattern.findall(source)):
            if word == "I" or rng.random() >= p:
                continue
            exact = re.compile(rf"(?<![\w]){re.escape(word)}(?![\w])")
            if exact.search(target):
                new = make(rng)
                source, target = exact.sub(new, source), exact.sub(new, target)
    return source, target


_SHARED = re.compile(r"(?<![\w])(?:[A-Z][a-z]+|\d+(?:[.,:]\d+)*)(?![\w])")
_TEMPORARY = 0xE000  # private-use characters stand for the marks until their order is known


def with_placeholders(source: str, target: str, rng: random.Random, p: float) -> tuple[str, str]:
    """Teach a translator to carry placeholder marks (``models.text.marks``). Each capitalised word
    (not "I") and number of ``source`` that ``target`` holds verbatim is, with probability ``p``,
    replaced in both by one mark; and with probability ``p / 2`` a mark is put into both sides at
    the same place: at the start ("<m>: ..."), before the final punctuation ("... <m>."), or there
    in brackets ("... (<m>)."), where a link, an address or a code stands in real text. The marks
    are distinct, drawn at random from the eight and given in ascending order of their first
    place in the source, as the service gives them. -> (source, target)."""
    if p <= 0:
        return source, target
    spans = 0
    for word in dict.fromkeys(_SHARED.findall(source)):
        exact = re.compile(rf"(?<![\w]){re.escape(word)}(?![\w])")
        if word != "I" and spans < len(MARKS) - 1 and rng.random() < p and exact.search(target):
            source, target = (exact.sub(chr(_TEMPORARY + spans), side) for side in (source, target))
            spans += 1
    if rng.random() < p / 2:
        source, target = _insert(source, target, chr(_TEMPORARY + spans), rng.randrange(3))
        spans += 1
    if not spans:
        return source, target
    temporary = sorted({c for c in source if _TEMPORARY <= ord(c) < _TEMPORARY + spans}, key=source.index)
    marks = sorted(rng.sample(MARKS, len(temporary)))
    table = {ord(t): m for t, m in zip(temporary, marks)}
    return source.translate(table), target.translate(table)


def _insert(source: str, target: str, mark: str, where: int) -> tuple[str, str]:
    """``mark`` put into both sentences at the start (0), before the final punctuation (1), or
    there in brackets (2)."""
    out = []
    for side in (source, target):
        if where == 0:
            out.append(f"{mark}: {side}")
            continue
        body = side.rstrip(FINAL_PUNCTUATION + " ")
        tail = side[len(body) :].strip()
        out.append(f"{body} {mark}{tail}" if where == 1 else f"{body} ({mark}){tail}")
    return out[0], out[1]


def concatenated(pairs: list[tuple[str, str]]) -> tuple[str, str]:
    """Consecutive sentence pairs joined into one (source, target) pair, a space between: so long
    inputs, and two sentences a segmenter failed to split, are met in training."""
    return " ".join(s for s, _ in pairs), " ".join(t for _, t in pairs)
