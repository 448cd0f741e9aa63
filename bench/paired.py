"""Is one translator really better than another on a test set? Paired bootstrap resampling.

    python -m bench.paired --test data/splits/test_novel.tsv \\
        --hyps work/eval/hyps/translator-en-fr.test_novel.beam5.hyp.tsv work/eval/hyps/tr-copy.test_novel.beam5.hyp.tsv

``--test`` holds ``source<TAB>reference`` lines (several lines per source = several references);
each ``--hyps`` file holds ``source<TAB>hypothesis`` lines as ``training.translation.evaluate``
writes them. The distinct sources are resampled with replacement ``--samples`` times (Koehn,
2004); on every sample both systems' multi-reference corpus BLEU and chrF are computed from the
same sentences. Printed per metric: each system's score on the full set, the difference B - A
with its 95% bootstrap interval, and the share of samples where B scores below A. A difference
whose interval holds 0 is not one a new test set would be expected to repeat.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sacrebleu.metrics import BLEU, CHRF

from training.cli import parser
from training.translation.data import group_references, read_pairs


def read_hypotheses(path: Path) -> dict[str, str]:
    """``source<TAB>hypothesis`` lines -> {source: hypothesis}."""
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        src, _, hyp = line.partition("\t")
        out[src] = hyp
    return out


def sentence_stats(metric: BLEU | CHRF, hyps: list[str], streams: list[list[str | None]]) -> np.ndarray:
    """-> (n_sentences, n_stats) sufficient statistics; a corpus score is a function of their sum."""
    stats = metric._extract_corpus_statistics(hyps, streams)  # type: ignore[arg-type]  # sacrebleu skips None references
    return np.asarray(stats, dtype=np.float64)


def corpus_score(metric: BLEU | CHRF, stats: np.ndarray) -> float:
    """stats (n, n_stats) -> the corpus score of those sentences."""
    return float(metric._compute_score_from_stats(list(stats.sum(axis=0))).score)


def paired_bootstrap(
    metric: BLEU | CHRF, stats_a: np.ndarray, stats_b: np.ndarray, samples: int, seed: int = 0
) -> dict:
    """Both systems' sentence stats (n, n_stats) -> full-set scores, the B - A differences of
    ``samples`` resamplings of the n sentences (the same resample for both), its 95% interval
    and the share of resamples where B < A."""
    rng = np.random.default_rng(seed)
    n = len(stats_a)
    diffs = np.empty(samples)
    for i in range(samples):
        idx = rng.integers(0, n, n)
        diffs[i] = corpus_score(metric, stats_b[idx]) - corpus_score(metric, stats_a[idx])
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {
        "a": corpus_score(metric, stats_a),
        "b": corpus_score(metric, stats_b),
        "diff_low": float(low),
        "diff_high": float(high),
        "b_below_a": float((diffs < 0).mean()),
    }


def main(argv: list[str] | None = None) -> None:
    ap = parser("bench.paired", __doc__)
    ap.add_argument("--test", type=Path, required=True, help="source<TAB>reference file")
    ap.add_argument("--hyps", type=Path, nargs=2, required=True, metavar=("A", "B"), help="two hypothesis files")
    ap.add_argument("--samples", type=int, default=1000, help="bootstrap resamples")
    args = ap.parse_args(argv)
    sources, streams = group_references(read_pairs(args.test))
    a, b = (read_hypotheses(p) for p in args.hyps)
    missing = [s for s in sources if s not in a or s not in b]
    if missing:
        raise SystemExit(f"{len(missing)} test sources have no hypothesis, e.g. {missing[0]!r}")
    print(f"A = {args.hyps[0]}\nB = {args.hyps[1]}\n{len(sources)} sources, {args.samples} resamples\n")
    print("| metric | A | B | B - A | 95% interval of B - A | resamples with B < A |")
    print("|---|---:|---:|---:|---|---:|")
    for name, metric in (("BLEU", BLEU()), ("chrF", CHRF())):
        stats_a = sentence_stats(metric, [a[s] for s in sources], streams)
        stats_b = sentence_stats(metric, [b[s] for s in sources], streams)
        r = paired_bootstrap(metric, stats_a, stats_b, args.samples)
        print(
            f"| {name} | {r['a']:.2f} | {r['b']:.2f} | {r['b'] - r['a']:+.2f} | "
            f"{r['diff_low']:+.2f} .. {r['diff_high']:+.2f} | {100 * r['b_below_a']:.1f}% |"
        )


if __name__ == "__main__":
    main()
