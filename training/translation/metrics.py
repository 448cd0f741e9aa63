"""Translation figures beyond corpus BLEU: BLEU by source length, and how often numbers and
names that a reference copies verbatim are copied by the hypothesis too.

All functions take plain strings: sources, hypotheses (one per distinct source) and sacreBLEU
reference streams, or (source, reference, hypothesis) triples for the single-reference rates.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from sacrebleu.metrics import BLEU

# (label, fewest words, most words or None): source length in whitespace-separated words
BUCKETS = (("1-4", 1, 4), ("5-8", 5, 8), ("9-12", 9, 12), ("13+", 13, None))
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"[^\W\d_]+")  # runs of letters: "Tom's" -> "Tom", "s"; "I'm" -> "I", "m"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def bucket_label(source: str) -> str:
    words = len(source.split())
    for label, low, high in BUCKETS:
        if words >= low and (high is None or words <= high):
            return label
    return BUCKETS[0][0]  # an empty source counts as short


def bleu_by_length(
    sources: list[str], hyps: list[str], streams: list[list[str | None]]
) -> dict[str, tuple[int, float | None]]:
    """-> {bucket label: (sources in it, multi-reference BLEU over them or None if empty)}.
    ``streams`` are sacreBLEU reference streams aligned with ``sources`` (None = no reference)."""
    members: dict[str, list[int]] = {label: [] for label, _, _ in BUCKETS}
    for i, source in enumerate(sources):
        members[bucket_label(source)].append(i)
    out: dict[str, tuple[int, float | None]] = {}
    for label, rows in members.items():
        if not rows:
            out[label] = (0, None)
            continue
        refs = [[stream[i] for i in rows] for stream in streams]
        refs = [r for r in refs if any(x is not None for x in r)]
        out[label] = (len(rows), BLEU().corpus_score([hyps[i] for i in rows], refs).score)  # type: ignore[arg-type]  # sacrebleu skips None references
    return out


def digit_strings(text: str) -> Counter:
    """Maximal digit runs: "at 7:45, 12 people" -> {"7", "45", "12"} (a multiset)."""
    return Counter(_DIGITS.findall(text))


def name_candidates(source: str) -> Counter:
    """Capitalised words that do not open a sentence, "I" (and so I'm, I'll) excluded."""
    names: Counter = Counter()
    for sentence in _SENTENCE_END.split(source):
        for word in _WORD.findall(sentence)[1:]:
            if word[0].isupper() and word != "I":
                names[word] += 1
    return names


def words(text: str) -> Counter:
    return Counter(_WORD.findall(text))


@dataclass
class CopyRate:
    """Of ``eligible`` items (in the source and kept verbatim by the reference), ``kept`` are
    in the hypothesis too."""

    kept: int = 0
    eligible: int = 0

    @property
    def rate(self) -> float | None:
        return self.kept / self.eligible if self.eligible else None

    def add(self, in_source: Counter, reference: Counter, hypothesis: Counter) -> None:
        expected = in_source & reference
        self.eligible += sum(expected.values())
        self.kept += sum((expected & hypothesis).values())


def copy_rates(triples: list[tuple[str, str, str]]) -> dict[str, CopyRate]:
    """(source, reference, hypothesis) triples, one per reference -> {"numbers": ..., "names": ...}
    pooled over all triples (counts, not a mean of per-sentence rates)."""
    numbers, names = CopyRate(), CopyRate()
    for source, reference, hypothesis in triples:
        numbers.add(digit_strings(source), digit_strings(reference), digit_strings(hypothesis))
        names.add(name_candidates(source), words(reference), words(hypothesis))
    return {"numbers": numbers, "names": names}


LOOP_N = 4


def repeats_ngram(text: str, n: int = LOOP_N) -> bool:
    """Whether a word n-gram (lower-cased words, punctuation left out) occurs twice in ``text``."""
    tokens = [w.lower() for w in _WORD.findall(text)]
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) < len(grams)


def loop_rate(pairs: list[tuple[str, str]]) -> float | None:
    """Of (source, hypothesis) pairs, the share whose hypothesis repeats a word 4-gram where the
    source repeats none: the decoder going round in a loop ("be able to be able to be able to")."""
    if not pairs:
        return None
    return sum(repeats_ngram(h) and not repeats_ngram(s) for s, h in pairs) / len(pairs)
