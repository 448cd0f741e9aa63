"""What translating through English costs: each of the six pairs no model serves (fr<->de,
fr<->es, de<->es), served as X -> en -> Y, beside its two legs.

    .venv/bin/python -m bench.pivot [--beam 5] [--samples 1000]

Starts our server (shipped checkpoints, default settings) and sends every text through
``POST /translate/batch`` as a user would. Sentences: the English sentences held out from both
legs' training, i.e. in the test split of the X-English file (``data/splits-multi/<x>-en``) and
in the test split of the English-Y file (``data/splits/test.tsv`` for the en->fr model,
``data/splits-multi/en-<y>`` for the others) -- Tatoeba's three files share some English
sentences, and that is where an X sentence and a Y sentence are translations of each other. For
each such English sentence e: its first X translation x (the source) and its first Y translation y
(the one reference). The "novel" rows keep only those whose x is in the X-en novel test set and
whose e is in the en-Y novel test set (no near-duplicate of a training source, J < 0.5).

Printed per pair: n; the pivot's BLEU x -> y; the first leg's BLEU x -> en (reference e); the
second leg's BLEU e -> y (from the reference English, what the second model does on these
sentences); and the pivot's loss, second leg minus pivot, with its 95% paired-bootstrap interval
(sentences resampled, both systems scored on the same sample).
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import numpy as np
from sacrebleu.metrics import BLEU

from bench.common import BenchError, attnserve
from bench.paired import corpus_score, sentence_stats
from bench.real_text import translate
from training.cli import parser

LANGS = ("fr", "de", "es")


def into_english(x: str, name: str) -> Path:
    return Path(f"data/splits-multi/{x}-en/{name}.tsv")


def out_of_english(y: str, name: str) -> Path:
    return Path(f"data/splits/{name}.tsv" if y == "fr" else f"data/splits-multi/en-{y}/{name}.tsv")


def by_english(path: Path, english_first: bool) -> dict[str, str]:
    """English sentence -> its first translation in the file."""
    if not path.exists():
        raise BenchError(f"{path} is missing: write the splits first (docs/training.md)")
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        a, b = line.split("\t")[:2]
        english, other = (a, b) if english_first else (b, a)
        out.setdefault(english, other)
    return out


def triples(x: str, y: str, novel: bool) -> list[tuple[str, str, str]]:
    """(x sentence, English, y sentence) for the English sentences held out from both legs."""
    name = "test_novel" if novel else "test"
    sources = by_english(into_english(x, name), english_first=False)
    references = by_english(out_of_english(y, name), english_first=True)
    return [(sources[e], e, references[e]) for e in sorted(set(sources) & set(references))]


def bleu(hyps: list[str], refs: list[str]) -> float:
    return BLEU().corpus_score(hyps, [refs]).score


def loss_interval(second: list[str], pivot: list[str], refs: list[str], samples: int) -> tuple[float, float]:
    """95% paired-bootstrap interval of BLEU(second) - BLEU(pivot) on the same resampled sentences."""
    metric = BLEU()
    streams: list[list[str | None]] = [list(refs)]
    a, b = sentence_stats(metric, second, streams), sentence_stats(metric, pivot, streams)
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(samples):
        pick = rng.integers(0, len(refs), len(refs))
        diffs.append(corpus_score(metric, a[pick]) - corpus_score(metric, b[pick]))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(low), float(high)


def rows(client: httpx.Client, beam: int, samples: int, novel: bool) -> list[str]:
    out = []
    for x in LANGS:
        for y in LANGS:
            if x == y:
                continue
            chosen = triples(x, y, novel)
            if not chosen:
                continue
            xs, es, ys = (list(column) for column in zip(*chosen))
            pivot = translate(client, xs, x, y, beam)
            first = translate(client, xs, x, "en", beam)
            second = translate(client, es, "en", y, beam)
            p, f, s = bleu(pivot, ys), bleu(first, es), bleu(second, ys)
            low, high = loss_interval(second, pivot, ys, samples)
            loss = f"{s - p:+.2f} ({low:+.2f}..{high:+.2f})"
            out.append(f"| {x}->en->{y} | {len(chosen)} | {p:.2f} | {f:.2f} | {s:.2f} | {loss} |")
            print(out[-1], file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = parser("bench.pivot", __doc__)
    ap.add_argument("--beam", type=int, default=5, help="beam size of every translation")
    ap.add_argument("--samples", type=int, default=1000, help="bootstrap samples for the loss's interval")
    ap.add_argument("--checkpoints", default="checkpoints", help="folder of the checkpoints the server loads")
    args = ap.parse_args(argv)
    header = (
        "| pair | n | pivot BLEU | first leg x->en | second leg en->y (from the reference English) | "
        "pivot loss (second leg - pivot, 95%) |\n|---|---|---|---|---|---|"
    )
    with attnserve(args.checkpoints, 32, None) as server, httpx.Client(base_url=server.url, timeout=600) as client:
        for novel in (False, True):
            title = "novel to both legs (J < 0.5)" if novel else "held out from both legs (test splits)"
            print(f"\n{title}, beam {args.beam}, BLEU 1-ref (sacreBLEU)\n\n{header}")
            print("\n".join(rows(client, args.beam, args.samples, novel)))


if __name__ == "__main__":
    main()
