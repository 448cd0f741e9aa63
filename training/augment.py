"""Training-time source noise: the ways people type that the Tatoeba text never shows.

The service normalises casing before translating (``models.tokenizer.normalize_casing``: a
sentence in capitals becomes sentence case, a lower-case start gets its capital), so what the
network still meets is lower-case words where names and "I" should be capitalised, and
sentences without their final punctuation. The noise produces exactly those inputs; the
target sentence is never changed.
"""

from __future__ import annotations

import random

from models.tokenizer import normalize_casing

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
