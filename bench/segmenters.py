"""Sentence segmenters on our own gold set: which one splits real text where a person would.

    .venv/bin/python -m bench.segmenters [--gold bench/data/segmentation_gold.jsonl] [--repeat 20]

The gold set (``bench/data/segmentation_gold.jsonl``, written for this project, 88 texts in en, fr,
de and es) holds texts as lists of sentences: abbreviations (Dr., p.m., z. B., Sra.), decimals and
prices (3,50 €, 1.299,99), version numbers, e-mail addresses and URLs, ellipses, "?!", quotes
(« », „ “), ordinals ("am 3. Mai") and Spanish ¿ ¡. A text is the sentences joined by one space.
Per segmenter and language: texts split exactly right, boundary precision and recall, and
sentences per second (the whole set ``--repeat`` times). The candidates: pysbd and sentencex, and
what the server uses: sentencex with two repairs (``models.text.sentences``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from training.cli import parser

Splitter = Callable[[str, str], list[str]]


def pysbd_splitter() -> Splitter:
    import pysbd

    segmenters: dict[str, pysbd.Segmenter] = {}

    def split(text: str, lang: str) -> list[str]:
        if lang not in segmenters:
            segmenters[lang] = pysbd.Segmenter(language=lang, clean=False)
        return [s.strip() for s in segmenters[lang].segment(text) if s.strip()]

    return split


def sentencex_splitter() -> Splitter:
    import sentencex

    return lambda text, lang: [s.strip() for s in sentencex.segment(lang, text) if s.strip()]


def ours_splitter() -> Splitter:
    from models.text.sentences import sentence_spans

    return lambda text, lang: [text[a:b] for a, b in sentence_spans(text, lang)]


def boundaries(sentences: list[str]) -> set[int]:
    """Character offsets where a sentence ends inside the joined text (the last end excluded)."""
    ends, at = set(), 0
    for sentence in sentences[:-1]:
        at += len(sentence)
        ends.add(at)
        at += 1
    return ends


def score(split: Splitter, gold: list[dict], repeat: int) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    for lang in sorted({g["lang"] for g in gold}):
        cases = [g for g in gold if g["lang"] == lang]
        exact = hit = predicted = wanted = 0
        for case in cases:
            text = " ".join(case["sentences"])
            got = split(text, lang)
            exact += got == case["sentences"]
            mine, theirs = boundaries(got), boundaries(case["sentences"])
            hit, predicted, wanted = hit + len(mine & theirs), predicted + len(mine), wanted + len(theirs)
        tick = time.perf_counter()
        for _ in range(repeat):
            for case in cases:
                split(" ".join(case["sentences"]), lang)
        seconds = time.perf_counter() - tick
        rows[lang] = {
            "texts": len(cases),
            "exact": exact / len(cases),
            "precision": hit / predicted if predicted else 1.0,
            "recall": hit / wanted if wanted else 1.0,
            "sentences_per_s": repeat * sum(len(c["sentences"]) for c in cases) / seconds,
        }
    return rows


def main(argv: list[str] | None = None) -> None:
    p = parser("bench.segmenters", __doc__)
    p.add_argument("--gold", default="bench/data/segmentation_gold.jsonl", help="the gold set (JSON lines)")
    p.add_argument("--repeat", type=int, default=20, help="passes over the set for the speed figure")
    args = p.parse_args(argv)
    gold = [json.loads(line) for line in Path(args.gold).read_text(encoding="utf-8").splitlines() if line.strip()]
    print("| segmenter | language | texts | texts split exactly | boundary precision | boundary recall | sentences/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    candidates = (
        ("pysbd 0.3.4", pysbd_splitter),
        ("sentencex 1.0.32", sentencex_splitter),
        ("sentencex + repairs (models.text.sentences)", ours_splitter),
    )
    for name, make in candidates:
        for lang, r in score(make(), gold, args.repeat).items():
            print(
                f"| {name} | {lang} | {r['texts']:.0f} | {r['exact']:.1%} | {r['precision']:.1%} | {r['recall']:.1%} "
                f"| {r['sentences_per_s']:,.0f} |"
            )


if __name__ == "__main__":
    main()
