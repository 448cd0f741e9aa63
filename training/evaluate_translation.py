"""Score a translator checkpoint on a test file with sacreBLEU.

    python -m training.evaluate_translation --checkpoint checkpoints/translator-en-fr \
        --test data/splits/test.tsv

FILE holds ``source<TAB>reference`` lines. A source with several lines is translated once
and scored against all its references (sacreBLEU multi-reference). Prints BLEU and chrF for
greedy and beam 5 (and single-reference figures, every line scored against its own reference)
and writes the hypotheses beside the test file (or to --hyp-dir).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from sacrebleu.metrics import BLEU, CHRF

from models.translator import Translator
from training.data import group_references, read_pairs


def translate_all(translator: Translator, sources: list[str], beam_size: int,
                  batch_size: int = 64) -> list[str]:
    """Translate in length-sorted batches; returns hypotheses in input order."""
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    out: list[str] = [""] * len(sources)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        for i, result in zip(chunk, translator.translate([sources[i] for i in chunk], beam_size)):
            out[i] = result.translation
    return out


def score_pairs(translator: Translator, pairs: list[tuple[str, str]], beam_size: int,
                hyp_path: Path | None = None, single: dict | None = None) -> tuple[float, float]:
    """-> (BLEU, chrF) of the translator on pairs, multi-reference by source. If ``single`` is
    given, it receives the single-reference figures too: every pair scored on its own line."""
    sources, streams = group_references(pairs)
    hyps = translate_all(translator, sources, beam_size)
    if hyp_path:
        hyp_path.write_text("".join(f"{s}\t{h}\n" for s, h in zip(sources, hyps)), encoding="utf-8")
    if single is not None:
        by_source = dict(zip(sources, hyps))
        line_hyps, line_refs = [by_source[s] for s, _ in pairs], [[t for _, t in pairs]]
        single.update(bleu=BLEU().corpus_score(line_hyps, line_refs).score,
                      chrf=CHRF().corpus_score(line_hyps, line_refs).score)
    return BLEU().corpus_score(hyps, streams).score, CHRF().corpus_score(hyps, streams).score


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--test", required=True, help="source<TAB>reference lines")
    p.add_argument("--beams", default="1,5", help="beam sizes to score (1 = greedy)")
    p.add_argument("--hyp-dir", default=None, help="where hypotheses go (default: beside --test)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--limit", type=int, default=None, help="score only the first N sources")
    p.add_argument("--write-metrics", action="store_true",
                   help="store the figures in the checkpoint's config.json and model card")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    translator = Translator.load(args.checkpoint)
    pairs = read_pairs(args.test)
    if args.limit:
        keep = set(list(dict.fromkeys(s for s, _ in pairs))[: args.limit])
        pairs = [pair for pair in pairs if pair[0] in keep]
    hyp_dir = Path(args.hyp_dir) if args.hyp_dir else Path(args.test).parent
    hyp_dir.mkdir(parents=True, exist_ok=True)
    name = translator.checkpoint.id
    metrics: dict = {"test_file": Path(args.test).name, "test_sources": len({s for s, _ in pairs}),
                     "test_pairs": len(pairs)}
    print(f"| {name} | decoding | BLEU | chrF | BLEU 1-ref | chrF 1-ref | sentences/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for beam in [int(b) for b in args.beams.split(",")]:
        tag = "greedy" if beam == 1 else f"beam{beam}"
        tick = time.time()
        single: dict = {}
        bleu, chrf = score_pairs(translator, pairs, beam, hyp_dir / f"{name}.{tag}.hyp.tsv", single)
        rate = metrics["test_sources"] / (time.time() - tick)
        metrics[f"test_bleu_{tag}"], metrics[f"test_chrf_{tag}"] = round(bleu, 2), round(chrf, 2)
        metrics[f"test_bleu_{tag}_1ref"] = round(single["bleu"], 2)
        metrics[f"test_chrf_{tag}_1ref"] = round(single["chrf"], 2)
        print(f"| {name} | {tag} | {bleu:.2f} | {chrf:.2f} | {single['bleu']:.2f} | {single['chrf']:.2f} "
              f"| {rate:.1f} |", flush=True)
    if args.write_metrics:
        from training.card import update_metrics
        update_metrics(Path(args.checkpoint), metrics)
    print(json.dumps(metrics))
    return metrics


if __name__ == "__main__":
    main()
