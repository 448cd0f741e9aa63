"""Real text through the server: paragraphs and line layouts, built from the novel test sets.

    .venv/bin/python -m bench.real_text [--paragraphs 120] [--layouts 60] [--beam 5] [--seed 0]

Starts our server (shipped checkpoints, default settings) and, per direction, draws sentences
of 4+ words from that direction's novel test set (``data/splits/test_novel.tsv`` for en->fr,
``data/splits-multi/<d>/test_novel.tsv`` for the others; sources no training sentence is near),
first reference each:

- **paragraphs**: 2-5 sentences joined by a space, translated three ways: whole by the model
  alone (``Translator.translate``: what the server did before it split sentences), whole through
  ``POST /translate/batch`` (the text pipeline: sentence by sentence in one call), and each
  sentence sent as its own text. BLEU (sacreBLEU, one reference: the sentences' references joined)
  and the hypothesis/reference length ratio over the same paragraphs;
- **layouts**: texts of three lines (``- `` bullets, ``1. `` numbers, plain lines, blank-line
  paragraphs; en->fr): kept when the answer has the same lines, each with the same indentation,
  marker and trailing spaces, and the blank lines where they were.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import httpx
import sacrebleu

from bench.common import BenchError, attnserve
from training.cli import parser

DIRECTIONS = ["en-fr", "en-de", "en-es", "fr-en", "de-en", "es-en"]
LAYOUTS = {
    "bullets": lambda s: "\n".join(f"- {x}" for x in s),
    "numbered": lambda s: "\n".join(f"{i}. {x}" for i, x in enumerate(s, 1)),
    "plain lines": lambda s: "\n".join(s),
    "blank-line paragraphs": lambda s: "\n\n".join(s),
}
_SHAPE = re.compile(r"^(\s*(?:[-*•]\s+|\d+[.)]\s+)?)(.*?)(\s*)$")


def novel_pairs(direction: str) -> list[tuple[str, str]]:
    path = Path(
        "data/splits/test_novel.tsv" if direction == "en-fr" else f"data/splits-multi/{direction}/test_novel.tsv"
    )
    if not path.exists():
        raise BenchError(f"{path} is missing: write the splits first (docs/training.md)")
    first: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        source, reference = line.split("\t")[:2]
        first.setdefault(source, reference)
    return [(s, r) for s, r in first.items() if len(s.split()) >= 4]


def groups(pairs: list[tuple[str, str]], n: int, rng: random.Random) -> list[list[tuple[str, str]]]:
    pool = pairs[:]
    rng.shuffle(pool)
    out: list[list[tuple[str, str]]] = []
    at = 0
    while len(out) < n and at < len(pool):
        size = rng.randint(2, 5)
        out.append(pool[at : at + size])
        at += size
    return out


def answers(client: httpx.Client, texts: list[str], source: str, target: str, beam: int) -> list[dict]:
    """Each text's /translate answer, through /translate/batch 16 texts at a time."""
    out = []
    for i in range(0, len(texts), 16):
        body = {"texts": texts[i : i + 16], "source_lang": source, "target_lang": target, "beam_size": beam}
        response = client.post("/translate/batch", json=body)
        if response.status_code != 200:
            raise BenchError(f"/translate/batch answered {response.status_code}: {response.text[:300]}")
        out += response.json()["results"]
    return out


def translate(client: httpx.Client, texts: list[str], source: str, target: str, beam: int) -> list[str]:
    return [answer["translation"] for answer in answers(client, texts, source, target, beam)]


def model_alone(direction: str, paragraphs: list[str], beam: int) -> list[str]:
    """The paragraphs whole through the model, as the server translated before the text pipeline."""
    from models.translation.translator import Translator

    source, target = direction.split("-")
    name = "translator-en-fr" if direction == "en-fr" else "translator-multi"
    translator = Translator.load(Path("checkpoints") / name).quantized()
    if translator.multilingual:
        translator = translator.towards(source, target)
    return [
        t.translation for i in range(0, len(paragraphs), 16) for t in translator.translate(paragraphs[i : i + 16], beam)
    ]


def shape(text: str) -> list[tuple[str, str]]:
    """Each line's indentation + marker and trailing spaces (blank lines as ('', ''))."""
    return [(m.group(1), m.group(3)) if (m := _SHAPE.match(line)) else ("", "") for line in text.split("\n")]


def paragraph_rows(client: httpx.Client, args) -> list[str]:
    rows = []
    for direction in DIRECTIONS:
        source, target = direction.split("-")
        chosen = groups(novel_pairs(direction), args.paragraphs, random.Random(args.seed))
        paragraphs = [" ".join(s for s, _ in g) for g in chosen]
        references = [" ".join(r for _, r in g) for g in chosen]
        whole = translate(client, paragraphs, source, target, args.beam)
        sentences = translate(client, [s for g in chosen for s, _ in g], source, target, args.beam)
        joined, at = [], 0
        for g in chosen:
            joined.append(" ".join(sentences[at : at + len(g)]))
            at += len(g)
        alone = model_alone(direction, paragraphs, args.beam)
        bleu = {
            k: sacrebleu.corpus_bleu(h, [references]) for k, h in (("alone", alone), ("whole", whole), ("one", joined))
        }
        ref_len = sum(len(r.split()) for r in references)
        rows.append(
            f"| {direction} | {len(chosen)} | {bleu['alone'].score:.2f} | {bleu['whole'].score:.2f} | "
            f"{bleu['one'].score:.2f} | {bleu['whole'].score / bleu['one'].score:.2f} | "
            f"{sum(len(h.split()) for h in alone) / ref_len:.2f} | {sum(len(h.split()) for h in whole) / ref_len:.2f} |"
        )
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def layout_rows(client: httpx.Client, args) -> list[str]:
    rng = random.Random(args.seed + 1)
    pairs = novel_pairs("en-fr")
    rows = []
    for name, make in LAYOUTS.items():
        texts = [make([s for s, _ in rng.sample(pairs, 3)]) for _ in range(args.layouts // len(LAYOUTS))]
        answers = translate(client, texts, "en", "fr", args.beam)
        kept = sum(shape(a) == shape(t) for a, t in zip(answers, texts))
        rows.append(f"| {name} | {len(texts)} | {kept} | {kept / len(texts):.0%} |")
    return rows


def main(argv: list[str] | None = None) -> None:
    p = parser("bench.real_text", __doc__)
    p.add_argument("--paragraphs", type=int, default=120, help="paragraphs per direction")
    p.add_argument("--layouts", type=int, default=60, help="multi-line texts in all (en->fr)")
    p.add_argument("--beam", type=int, default=5, help="beam size")
    p.add_argument("--seed", type=int, default=0, help="which sentences are drawn")
    p.add_argument("--checkpoint-dir", default="checkpoints", help="checkpoints the server serves")
    args = p.parse_args(argv)
    try:
        with (
            attnserve(args.checkpoint_dir, 32, None) as server,
            httpx.Client(base_url=server.url, timeout=300) as client,
        ):
            paragraphs = paragraph_rows(client, args)
            layouts = layout_rows(client, args)
    except BenchError as exc:
        sys.exit(f"bench.real_text: {exc}")
    print(f"Paragraphs of 2-5 novel sentences, beam {args.beam}, BLEU against the sentences' references joined:\n")
    print(
        "| direction | paragraphs | whole, model alone (before) | whole, through the server | sentence by sentence "
        "| server / sentence by sentence | length ratio before | length ratio now |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(paragraphs))
    print("\nMulti-line texts of three novel sentences (en->fr): lines, markers, indentation and blank lines kept:\n")
    print("| layout | texts | kept | share |\n|---|---:|---:|---:|")
    print("\n".join(layouts))


if __name__ == "__main__":
    main()
