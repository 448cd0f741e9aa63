"""Finished hypotheses of a search and how they are ranked: the best per sentence, and the n-best after it.

Beam search ranks finished hypotheses by ``score / lp(n)``, ``n`` the tokens produced (the
end-of-sentence token included when produced), with the GNMT length penalty
``lp(n) = ((5 + n) / 6) ** length_penalty``; ``length_penalty=0`` ranks by score. The best is
the highest ranked (the first one finished among equals); an n-best search also hands over the
others, ranked the same way, in the best's ``alternatives``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Hypothesis:
    tokens: list[int]  # produced ids, end-of-sentence excluded
    ended: bool  # True when the end-of-sentence token was produced
    score: float  # sum of log-probabilities
    attention: np.ndarray  # (len(tokens) + ended, S) float32, rows sum to 1
    p_gen: np.ndarray | None = None  # (len(tokens) + ended,) generate-vs-copy gate; None without copying
    alternatives: list[Hypothesis] = field(default_factory=list)  # next-best finished ones, best first (n-best only)

    @property
    def produced(self) -> int:
        """Tokens produced, end-of-sentence included when produced: the rows of ``attention``."""
        return len(self.tokens) + self.ended


def hypothesis(
    tokens: list[int], ended: bool, score: float, rows: np.ndarray, length: int, copying: bool
) -> Hypothesis:
    """rows (len(tokens) + ended, S + 1): attention over the padded source, then p_gen;
    ``length``: the source's true length S' <= S, the columns kept."""
    return Hypothesis(tokens, ended, score, rows[:, :length].copy(), rows[:, -1].copy() if copying else None)


def length_normalised(score: float, produced: int, length_penalty: float) -> float:
    """``score / ((5 + produced) / 6) ** length_penalty``: what beam search ranks by."""
    return score / float(((5 + produced) / 6) ** length_penalty)


class Finished:
    """The finished hypotheses of every sentence of a batch, each with the score it is ranked by."""

    def __init__(self, sentences: int, length_penalty: float):
        self.length_penalty = length_penalty
        self.kept: list[list[tuple[float, Hypothesis]]] = [[] for _ in range(sentences)]

    def add(self, sentence: int, hyp: Hypothesis) -> None:
        self.kept[sentence].append((length_normalised(hyp.score, hyp.produced, self.length_penalty), hyp))

    def count(self, sentence: int) -> int:
        return len(self.kept[sentence])

    def winners(self, n_best: bool = False) -> list[Hypothesis]:
        """Per sentence its best hypothesis; with ``n_best`` each carries every other finished
        hypothesis of its sentence in ``alternatives``, best first. Without it nothing is sorted."""
        if not n_best:
            return [max(kept, key=lambda item: item[0])[1] for kept in self.kept]
        winners = []
        for kept in self.kept:
            ranked = [hyp for _, hyp in sorted(kept, key=lambda item: -item[0])]  # stable: ties as max() picks
            ranked[0].alternatives = ranked[1:]
            winners.append(ranked[0])
        return winners
