"""Near-duplicate detection: which held-out sentences are new, not paraphrases of training ones.

    python -m training.translation.novelty --data ../shared/data/fra.txt --splits-dir data/splits

Tatoeba is full of templates: "Tom is a teacher." in test beside "Tom was a teacher." in
training. A random split by sentence keeps such pairs apart and so overstates quality on new
text. This module finds, for every held-out English sentence, its most similar training
sentence, and keeps as "novel" only those with none at or above a Jaccard threshold.

Definition. English is normalised (lowercase, apostrophes dropped so "I'm" -> "im", every other
non-letter/digit a space, spaces collapsed) and padded with a space at each end; a sentence is
the *set of its character 4-grams*. Two sentences are near-duplicates when the Jaccard
similarity of these sets is >= ``threshold`` (default 0.5). Why characters, not words: the
paraphrases that leak are inflections and one-word swaps ("teacher"/"teachers", "is"/"was",
"Tom"/"Mary"); 4-grams across word boundaries keep word order and partial-word overlap, while
a word-unigram set ignores order and treats "teacher"/"teachers" as unrelated.

Why 0.5 (4-gram Jaccard): "Tom is a teacher." / "Tom was a teacher." 0.55, / "Mary is a
teacher." 0.55, / "Tom is not a teacher." 0.62, "He helps her." / "He helps us." 0.50,
"I'm joking." / "I am joking." 0.50; but "The sea is blue." / "The sea is calm." 0.47,
"Tom is a teacher." / "Tom is a doctor." 0.32, "I'm tired." / "I'm very tired." 0.36 (one added
word in a two-word sentence escapes: a known limit). In samples of fra.txt test sources by
their best training match, nearly every pair at 0.5-0.6 was a one-edit paraphrase; at 0.4-0.5 about
two in three were, the rest shared only a frame ("We were supposed to protect Tom." / "... meet
at 2:30."); at 0.3-0.4 most shared only a frame. Test sources kept of 5,000 (seed 1234 split):
596 at 0.3, 1,577 at 0.4, 2,605 at 0.5, 3,652 at 0.6, 4,384 at 0.7 (--threshold/--report 0.4
reproduce the lower ones; below 0.5 rows drop to 2 per band and the search gets slow).

Search. MinHash signatures (``num_perm`` multiply-shift hashes of 4-gram ids, numpy,
vectorised over all 4-grams at once) and LSH banding (``bands`` x ``rows``). A corpus sentence
that shares a band with a query and whose signature agreement is >= ``prefilter`` (5 standard
errors under the threshold) is verified with the exact Jaccard of the 4-gram sets, so nothing
is flagged that is not truly >= threshold. A true pair at similarity s escapes every band with
probability (1 - s^rows)^bands; the banding is chosen so that this stays <= 1e-3 at s =
threshold (and falls fast above it: 256 hashes, 85 bands of 3 rows at 0.5). No all-pairs loop:
the 110k distinct training sentences index in about 7 s of CPU time and the 6,500 dev and test
sources are searched in about 5 s.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.cli import parser
from training.translation.data import add_split_flags, read_pairs, split_by_source, write_pairs

NGRAM = 4
THRESHOLD = 0.5
_APOSTROPHE = re.compile(r"['\u2019]")
_NON_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """Lowercase, apostrophes dropped, every other punctuation/space run -> one space."""
    return _NON_WORD.sub(" ", _APOSTROPHE.sub("", text.lower())).strip()


def shingles(text: str, n: int = NGRAM) -> frozenset[str]:
    """The set of character n-grams of `` normalised text `` (never empty)."""
    padded = f" {normalise(text)} "
    if len(padded) <= n:
        return frozenset([padded])
    return frozenset(padded[i : i + n] for i in range(len(padded) - n + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


@dataclass(frozen=True)
class Banding:
    bands: int
    rows: int

    def miss_probability(self, similarity: float) -> float:
        """Chance that a pair at this Jaccard similarity shares no band (LSH false negative)."""
        return (1.0 - similarity**self.rows) ** self.bands


def choose_banding(threshold: float, num_perm: int, max_miss: float = 1e-3) -> Banding:
    """The most rows per band (fewest false candidates) whose miss chance at ``threshold``
    stays <= ``max_miss``."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    for rows in range(num_perm, 0, -1):
        banding = Banding(num_perm // rows, rows)
        if banding.miss_probability(threshold) <= max_miss:
            return banding
    raise ValueError(f"{num_perm} permutations cannot reach miss chance {max_miss} at {threshold}")


class MinHasher:
    """``num_perm`` multiply-shift hash functions h(x) = ((a x + b) mod 2^64) >> 32 over ids."""

    def __init__(self, num_perm: int = 256, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, 2**63, num_perm, dtype=np.uint64) | np.uint64(1)
        self.b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)

    def signatures(self, ids: np.ndarray, starts: np.ndarray, chunk_elems: int = 1 << 24) -> np.ndarray:
        """ids: (total,) uint64 shingle ids of all sets concatenated; starts: (n,) offset of each
        (non-empty) set -> (n, num_perm) uint32 minimum hash per set and function."""
        out = np.empty((len(self.a), len(starts)), dtype=np.uint32)
        step = max(1, chunk_elems // max(1, len(ids)))
        for j in range(0, len(self.a), step):
            hashed = np.multiply(self.a[j : j + step, None], ids[None, :])  # (step, total), wraps mod 2^64
            hashed += self.b[j : j + step, None]
            hashed >>= np.uint64(32)
            out[j : j + step] = np.minimum.reduceat(hashed, starts, axis=1)
        return np.ascontiguousarray(out.T)


def _band_keys(signatures: np.ndarray, banding: Banding, seed: int) -> np.ndarray:
    """(n, num_perm) uint32 -> (n, bands) uint64: each band's rows mixed into one key."""
    mix = np.random.default_rng(seed + 1).integers(1, 2**63, banding.rows, dtype=np.uint64) | np.uint64(1)
    used = signatures[:, : banding.bands * banding.rows].astype(np.uint64)
    return (used.reshape(len(signatures), banding.bands, banding.rows) * mix).sum(axis=2)


class NearDuplicateIndex:
    """A MinHash-LSH index of ``corpus`` sentences for Jaccard >= ``threshold`` look-ups."""

    def __init__(self, corpus: list[str], threshold: float = THRESHOLD, num_perm: int = 256, seed: int = 0):
        self.threshold, self.seed = threshold, seed
        self.banding = choose_banding(threshold, num_perm)
        # a pair at s >= threshold has a signature agreement below this with chance < 1e-6
        self.prefilter = threshold - 5 * (threshold * (1 - threshold) / num_perm) ** 0.5
        self.hasher = MinHasher(num_perm, seed)
        self.vocab: dict[str, int] = {}
        self.sets = [shingles(text) for text in corpus]
        self.signatures = self._signatures(self.sets)  # (n, num_perm)
        keys = _band_keys(self.signatures, self.banding, seed)  # (n, bands)
        self.order = np.argsort(keys, axis=0, kind="stable")  # (n, bands)
        self.sorted_keys = np.take_along_axis(keys, self.order, axis=0)  # (n, bands)

    def _signatures(self, sets: list[frozenset[str]]) -> np.ndarray:
        if not sets:
            return np.empty((0, len(self.hasher.a)), dtype=np.uint32)
        ids = np.fromiter((self.vocab.setdefault(g, len(self.vocab)) for s in sets for g in sorted(s)), dtype=np.uint64)
        starts = np.cumsum([0] + [len(s) for s in sets[:-1]])
        return self.hasher.signatures(ids, starts)

    def _candidates(self, keys: np.ndarray) -> np.ndarray:
        """keys: (m, bands) query band keys -> (k, 2) int64 distinct (query row, corpus index)
        pairs that share at least one band."""
        found = []
        for band in range(self.banding.bands):
            column = self.sorted_keys[:, band]
            lo = np.searchsorted(column, keys[:, band], "left")
            counts = np.searchsorted(column, keys[:, band], "right") - lo
            query = np.repeat(np.arange(len(keys)), counts)
            slot = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            found.append(query * len(self.sets) + self.order[slot, band])
        flat = np.unique(np.concatenate(found))
        return np.stack([flat // len(self.sets), flat % len(self.sets)], axis=1)

    def best_matches(self, queries: list[str], block: int = 128) -> tuple[np.ndarray, np.ndarray]:
        """-> (similarity, match), each (len(queries),): for every query the highest exact
        Jaccard among its candidates and that corpus index; (0.0, -1) where none reaches
        ``threshold``. Candidates: shared LSH band, then MinHash agreement >= ``prefilter``."""
        query_sets = [shingles(text) for text in queries]
        signatures = self._signatures(query_sets)
        keys = _band_keys(signatures, self.banding, self.seed)
        best, match = np.zeros(len(queries)), np.full(len(queries), -1)
        for start in range(0, len(queries), block):
            pairs = self._candidates(keys[start : start + block])
            pairs[:, 0] += start
            for part in np.array_split(pairs, 1 + len(pairs) // 32768):
                agree = (signatures[part[:, 0]] == self.signatures[part[:, 1]]).mean(axis=1)
                for q, i in part[agree >= self.prefilter]:
                    sim = jaccard(query_sets[q], self.sets[i])
                    if sim >= self.threshold and sim > best[q]:
                        best[q], match[q] = sim, i
        return best, match


def novel_subset(
    pairs: list[tuple[str, str]], train_sources: list[str], threshold: float = THRESHOLD
) -> list[tuple[str, str]]:
    """The pairs whose source has no training source with 4-gram Jaccard >= ``threshold``."""
    sources = list(dict.fromkeys(s for s, _ in pairs))
    best, _ = NearDuplicateIndex(list(dict.fromkeys(train_sources)), threshold).best_matches(sources)
    keep = {s for s, sim in zip(sources, best) if sim < threshold}
    return [pair for pair in pairs if pair[0] in keep]


def _mean_words(sources: list[str]) -> float:
    return sum(len(s.split()) for s in sources) / max(1, len(sources))


def summary_table(name: str, pairs: list[tuple[str, str]], kept: list[tuple[str, str]], threshold: float) -> list[str]:
    """Markdown rows: the full split beside its novel subset (sources, pairs, mean source words)."""
    rows = []
    for label, subset in ((f"{name} (full)", pairs), (f"{name} novel (J < {threshold:g})", kept)):
        sources = list(dict.fromkeys(s for s, _ in subset))
        rows.append(f"| {label} | {len(sources):,} | {len(subset):,} | {_mean_words(sources):.2f} |")
    return rows


def ensure_split_file(path: Path, pairs: list[tuple[str, str]]) -> None:
    """Write the full split file if absent (as training.translation.train does); if present it must
    hold exactly these pairs, else the novel subset would not belong to it."""
    if not path.exists():
        write_pairs(path, pairs)
    elif read_pairs(path) != pairs:
        raise ValueError(f"{path} is not the split reproduced here (other --data, sizes or --seed?)")


def parse_args(argv=None) -> argparse.Namespace:
    p = parser("training.translation.novelty", __doc__)
    p.add_argument("--data", required=True, help="source<TAB>target[<TAB>attribution] lines")
    p.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help="a source is a near-duplicate at char-4-gram Jaccard >= this with a training source",
    )
    p.add_argument(
        "--report",
        default="0.5,0.6,0.7,0.8",
        help="thresholds for the survival table (below 0.5 the search gets much slower)",
    )
    add_split_flags(p, written="{test,dev}_novel.tsv (and {test,dev}.tsv when absent)")
    p.add_argument(
        "--examples",
        type=int,
        default=0,
        help="print this many test sources flagged just above --threshold, with their match",
    )
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    """Split, search, write {test,dev}_novel.tsv, print the tables -> counts per split."""
    report = sorted({float(t) for t in args.report.split(",")} | {args.threshold})
    splits = split_by_source(read_pairs(args.data), args.dev_size, args.test_size, args.seed)
    out, figures = Path(args.splits_dir), {}
    ensure_split_file(out / "test.tsv", splits.test)
    ensure_split_file(out / "dev.tsv", splits.dev)
    train = list(dict.fromkeys(s for s, _ in splits.train))
    index = NearDuplicateIndex(train, min(report))
    table = ["| split | sources | pairs | mean source words |", "|---|---:|---:|---:|"]
    survival = ["| threshold | " + " | ".join(f"{n} sources kept" for n in ("test", "dev")) + " |", "|---:|---:|---:|"]
    kept_at: dict[str, list[int]] = {}
    for name, pairs in (("test", splits.test), ("dev", splits.dev)):
        sources = list(dict.fromkeys(s for s, _ in pairs))
        best, match = index.best_matches(sources)
        keep = {s for s, sim in zip(sources, best) if sim < args.threshold}
        kept = [pair for pair in pairs if pair[0] in keep]
        write_pairs(out / f"{name}_novel.tsv", kept)
        table += summary_table(name, pairs, kept, args.threshold)
        kept_at[name] = [int((best < t).sum()) for t in report]
        figures[name] = {"sources": len(sources), "novel_sources": len(keep), "novel_pairs": len(kept)}
        if name == "test" and args.examples:
            near = np.argsort(np.where(best >= args.threshold, best, np.inf))[: args.examples]
            print("\n".join(f"{best[q]:.2f} | {sources[q]} | {train[match[q]]}" for q in near), "\n")
    survival += [f"| {t:g} | {kept_at['test'][k]:,} | {kept_at['dev'][k]:,} |" for k, t in enumerate(report)]
    print("\n".join(table), "\n", "\n".join(survival), sep="\n")
    print(f"\nwrote {out / 'test_novel.tsv'} and {out / 'dev_novel.tsv'}")
    return figures


def main(argv=None) -> dict:
    try:
        return run(parse_args(argv))
    except (ValueError, OSError) as error:
        raise SystemExit(f"training.translation.novelty: {error}") from None


if __name__ == "__main__":
    main()
