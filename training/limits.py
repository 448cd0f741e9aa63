"""The time a training run may take (``--max-minutes``) and what an evaluation cut by it covers.

``--max-minutes M`` (``Limits``): training steps stop at M minutes from the command's start; the
run then has a grace, the larger of 30 s and 10% of M, for its last evaluation and its checkpoint.
An evaluation stops scoring when the grace runs out (having scored at least a first batch) and
says what it covered (``Evaluation``); ``spread_order`` makes whatever prefix it scored a sample of
the whole validation set.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

GRACE_MIN_S = 30.0  # after the --max-minutes deadline: the last evaluation and the checkpoint ...
GRACE_SHARE = 0.1  # ... get the larger of these two (30 s, 10% of the limit)
WRITE_S = 5.0  # of the grace, kept for writing the checkpoint and the training state


@dataclass(frozen=True)
class Limits:
    """``--max-minutes`` as clock times (``time.time``): training steps stop at ``deadline``,
    counted from the command's start; the run ends by ``end``, the deadline plus the grace for its
    last evaluation and checkpoint. Without a limit both are infinite."""

    deadline: float = math.inf
    end: float = math.inf

    @classmethod
    def of(cls, args: argparse.Namespace) -> Limits:
        if not args.max_minutes:
            return cls()
        seconds = args.max_minutes * 60
        deadline = getattr(args, "started", time.time()) + seconds  # the command's start: set by its main
        return cls(deadline, deadline + max(GRACE_MIN_S, GRACE_SHARE * seconds))

    @property
    def grace(self) -> float:
        return self.end - self.deadline if self.deadline < math.inf else math.inf

    def seconds_left(self, share: float = 1.0) -> Callable[[], float]:
        """A clock for an evaluation: the seconds left until ``share`` of the grace has passed,
        less WRITE_S for what is written after it (math.inf without a limit)."""
        until = self.deadline + share * self.grace - WRITE_S if self.deadline < math.inf else math.inf
        return lambda: until - time.time()


def spread_order(n: int) -> list[int]:
    """0..n-1 in bit-reversed order: every prefix is spread evenly over the range (its first 2^k
    are every (n/2^k)-th item), so an evaluation cut after a prefix still samples the whole
    validation set (Tatoeba's dev set runs from short to long sentences; the forecaster's windows
    come ticker by ticker)."""
    bits = max(1, (n - 1).bit_length())
    return sorted(range(n), key=lambda i: int(f"{i:0{bits}b}"[::-1], 2))


@dataclass
class Evaluation:
    """A validation score and what it covers: ``scored`` of the ``planned`` items (dev sources,
    windows); fewer when the time limit cut the evaluation, and then ``best_on_scored``, when the
    task kept what it takes, is the best checkpoint's score on the same items."""

    score: float
    scored: int = 0
    planned: int = 0
    best_on_scored: float | None = None

    @property
    def cut(self) -> bool:
        return self.scored < self.planned

    def coverage(self) -> str:
        """'' for a complete evaluation, else ' on 640 of 1,500 items (...)'."""
        if not self.cut:
            return ""
        return f" on {self.scored:,} of {self.planned:,} items (the time limit cut the evaluation)"
