"""Do names and numbers the model never saw pass through? A substitution probe.

    python -m bench.copy_probe --checkpoint checkpoints/translator-en-fr --data ../shared/data/fra.txt

The test sets have few numbers and their names are mostly "Tom" and "Mary", which every model
has seen thousands of times. The probe takes the test pairs (novel set for names, whole test
split for numbers) where the source and every
reference share a name (Tom, Mary, John, Alice) or a digit string, and puts in its place, in the
source and the references alike, a name that occurs nowhere in the training data (checked against
``--data``) or a random number of 2-4 digits. It reports the share of probes whose translation
keeps the substitute verbatim, beside the same share for the originals (same sentences, the names
and numbers the model knows).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import torch

from models.translation.translator import Translator
from training.cli import parser
from training.translation.data import read_pairs
from training.translation.evaluate import hypotheses

KNOWN = ("Tom", "Mary", "John", "Alice")
# Names from many languages; those found anywhere in --data are dropped before use.
CANDIDATES = (
    "Nkechi Oluwaseun Aurelio Siobhan Dagny Teodoro Ingrid Kwabena Yevgenia Anouk Radhika Mateusz Ximena Bartholomew "
    "Thandiwe Leopoldine Hamish Zuzana Kaito Esperanza Rukmini Florentin Ignatius Saoirse Benedikt Marisol Tancredi "
    "Oyelaran Priyanka Wojciech Ottoline Cassius Ludmila Evander Henrike Jurgis Solveig Amadou Perpetua Quillon"
).split()
_NUMBER = re.compile(r"(?<![\d:.,])\d+(?![\d:.,])")


def unseen_names(data: Path) -> list[str]:
    text = Path(data).read_text(encoding="utf-8")
    return [name for name in CANDIDATES if not re.search(rf"\b{name}\b", text, flags=re.IGNORECASE)]


def probes(pairs: list[tuple[str, str]], names: list[str], seed: int) -> list[dict]:
    """-> [{kind, source, original, substitute, probe_source}] for every source whose references all
    keep one of its names (or numbers); each such source once."""
    rng = random.Random(seed)
    references: dict[str, list[str]] = {}
    for source, target in pairs:
        references.setdefault(source, []).append(target)
    found = []
    for source, refs in references.items():
        known = [n for n in KNOWN if re.search(rf"\b{n}\b", source) and all(re.search(rf"\b{n}\b", r) for r in refs)]
        if known:
            name = rng.choice(names)
            probe = re.sub(rf"\b{known[0]}\b", name, source)
            found.append({"kind": "names", "source": source, "original": known[0], "substitute": name, "probe": probe})
        numbers = [m for m in _NUMBER.findall(source) if all(re.search(rf"(?<!\d){m}(?!\d)", r) for r in refs)]
        if numbers:
            number = str(rng.randint(10, 9999))
            probe = re.sub(rf"(?<!\d){numbers[0]}(?!\d)", number, source)
            found.append(
                {"kind": "numbers", "source": source, "original": numbers[0], "substitute": number, "probe": probe}
            )
    return found


def kept(text: str, token: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(token)}(?![\w])", text) is not None


def main(argv: list[str] | None = None) -> dict:
    p = parser("bench.copy_probe", __doc__)
    p.add_argument("--checkpoint", default="checkpoints/translator-en-fr", help="translator checkpoint folder")
    p.add_argument("--data", default="../shared/data/fra.txt", help="the training data, to pick unseen names")
    p.add_argument("--test", default="data/splits/test_novel.tsv", help="source<TAB>reference lines for names")
    p.add_argument(
        "--numbers-test",
        default="data/splits/test.tsv",
        help="pairs for the number probes (the whole test split: the novel one has only 7 such sources)",
    )
    p.add_argument("--beam", type=int, default=5, help="beam size")
    p.add_argument("--seed", type=int, default=7, help="seed of the substitutes")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    translator = Translator.load(args.checkpoint)
    names = unseen_names(Path(args.data))
    items = [item for item in probes(read_pairs(args.test), names, args.seed) if item["kind"] == "names"]
    items += [item for item in probes(read_pairs(args.numbers_test), names, args.seed) if item["kind"] == "numbers"]
    originals = hypotheses(translator, [item["source"] for item in items], args.beam)
    substituted = hypotheses(translator, [item["probe"] for item in items], args.beam)
    name = translator.id
    print(f"{name}: names in {Path(args.test).name}, numbers in {Path(args.numbers_test).name}, beam {args.beam}\n")
    print("| kind | probes | original kept | unseen substitute kept |")
    print("|---|---:|---:|---:|")
    result = {}
    for kind in ("names", "numbers"):
        rows = [(i, item) for i, item in enumerate(items) if item["kind"] == kind]
        before = sum(kept(originals[i], item["original"]) for i, item in rows) / max(1, len(rows))
        after = sum(kept(substituted[i], item["substitute"]) for i, item in rows) / max(1, len(rows))
        result[kind] = {"probes": len(rows), "original_kept": before, "substitute_kept": after}
        print(f"| {kind} | {len(rows)} | {before:.1%} | {after:.1%} |")
    misses = [
        (item["probe"], substituted[i]) for i, item in enumerate(items) if not kept(substituted[i], item["substitute"])
    ]
    print("\nfirst misses:")
    for probe, translation in misses[:8]:
        print(f"- {probe} -> {translation}")
    return result


if __name__ == "__main__":
    main()
