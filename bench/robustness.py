"""How people type, measured: each test source as written and in four typed variants.

    python -m bench.robustness --checkpoint checkpoints/translator-en-fr --test data/splits/test_novel.tsv

Variants: all lower case, ALL CAPS, no final punctuation, extra spaces (doubled, and a tab).
For each variant: the share of sources whose translation is exactly the one of the source as
written, and BLEU against the references (multi-reference, sacreBLEU), beside the as-written row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from sacrebleu.metrics import BLEU

from models.translation.translator import Translator
from training.cli import parser
from training.translation.augment import FINAL_PUNCTUATION
from training.translation.data import group_references, read_pairs
from training.translation.evaluate import hypotheses

VARIANTS: dict[str, Callable[[str], str]] = {
    "as written": lambda s: s,
    "lower case": str.lower,
    "ALL CAPS": str.upper,
    "no final punctuation": lambda s: s.rstrip(FINAL_PUNCTUATION + " ") or s,
    "extra spaces": lambda s: "  " + s.replace(" ", "  ", 2).replace(" ", "\t", 1) + " ",
}


def main(argv: list[str] | None = None) -> list[dict]:
    p = parser("bench.robustness", __doc__)
    p.add_argument("--checkpoint", default="checkpoints/translator-en-fr", help="translator checkpoint folder")
    p.add_argument("--test", default="data/splits/test_novel.tsv", help="source<TAB>reference lines")
    p.add_argument("--limit", type=int, default=1000, help="first N distinct sources")
    p.add_argument("--beam", type=int, default=5, help="beam size (1 = greedy)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    translator = Translator.load(args.checkpoint)
    sources, streams = group_references(read_pairs(args.test))
    sources, streams = sources[: args.limit], [s[: args.limit] for s in streams]
    rows, canonical = [], None
    model_id = translator.id
    print(f"{model_id} on {Path(args.test).name}, {len(sources)} sources, beam {args.beam}\n")
    print("| variant | same translation as written | BLEU | x as written |")
    print("|---|---:|---:|---:|")
    for name, variant in VARIANTS.items():
        hyps = hypotheses(translator, [variant(s) for s in sources], args.beam)
        canonical = canonical or hyps
        same = sum(h == c for h, c in zip(hyps, canonical)) / len(hyps)
        bleu = BLEU().corpus_score(hyps, streams).score  # type: ignore[arg-type]  # sacrebleu skips None references
        rows.append({"variant": name, "same": same, "bleu": bleu})
        print(f"| {name} | {same:.1%} | {bleu:.2f} | {bleu / max(rows[0]['bleu'], 1e-9):.2f} |", flush=True)
    return rows


if __name__ == "__main__":
    main()
