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
