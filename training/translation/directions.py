"""Several translation directions in one network (Johnson et al., 2017).

Each data file pairs English with one other language (``en<TAB>xx``, as Tatoeba's exports);
``--data fr=fra.txt de=deu.txt es=spa.txt`` names the language of each. A direction ``a-b`` trains
on the file of its non-English side, turned around when it reads into English. The source gets
a token naming the language to write (``<2de>``), so one encoder-decoder learns them all.

Held-out text is held out in every direction: each file is split by its English sentence exactly
as a single-direction run splits it (same sizes and seed, so fra.txt's test set is the en->fr
model's), and then a training pair is dropped when its English sentence is held out in any file,
or its other side is held out in its own file. No dev or test sentence, on either side, is ever
read or written in training.

    python -m training.translation.directions --data fr=../shared/data/fra.txt de=../shared/data/deu.txt \\
        es=../shared/data/spa.txt --directions fr-en en-de de-en en-es es-en --splits-dir data/splits-multi

writes ``<splits-dir>/<a>-<b>/{dev,test}.tsv`` (what training writes too) and the novel subsets
``{dev,test}_novel.tsv``: the pairs whose source has no near-duplicate (``training.translation.novelty``)
among the training sentences of its language, from every file.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from pathlib import Path

from training.cli import parser
from training.translation.data import add_split_flags, read_pairs, split_by_source, write_pairs
from training.translation.novelty import THRESHOLD, novel_subset, summary_table

log = logging.getLogger("training.translation.directions")
PIVOT = "en"
Direction = tuple[str, str]


def language_token(lang: str) -> str:
    """The control piece that asks for output in ``lang``."""
    return f"<2{lang}>"


def parse_data(specs: list[str]) -> dict[str, Path]:
    """``["fr=path", "de=path"]`` -> {language: file}; the files pair English with that language."""
    files: dict[str, Path] = {}
    for spec in specs:
        lang, sep, path = spec.partition("=")
        if not sep or not lang or not path:
            raise ValueError(f"--data {spec!r}: write LANG=PATH, e.g. de=../shared/data/deu.txt")
        if lang == PIVOT or lang in files:
            raise ValueError(f"--data {spec!r}: {lang} given twice, or is the pivot language {PIVOT}")
        files[lang] = Path(path)
    return files


def parse_directions(names: list[str], languages: list[str]) -> list[Direction]:
    """``["fr-en", "en-de"]`` -> [("fr", "en"), ("en", "de")]; each pairs English with a language
    that has a data file."""
    directions: list[Direction] = []
    for name in names:
        a, _, b = name.partition("-")
        if PIVOT not in (a, b) or a == b or ({a, b} - {PIVOT}).pop() not in languages:
            raise ValueError(f"direction {name!r}: write a-b with one side {PIVOT} and the other one of {languages}")
        if (a, b) in directions:
            raise ValueError(f"direction {name!r} given twice")
        directions.append((a, b))
    return directions


def name(direction: Direction) -> str:
    return "-".join(direction)


@dataclass
class DirectionSplits:
    """Training pairs of every direction (each with its direction) and the held-out pairs per
    direction, oriented source -> target."""

    directions: list[Direction]
    train: list[tuple[str, str]] = field(default_factory=list)
    train_directions: list[Direction] = field(default_factory=list)  # per training pair
    dev: dict[Direction, list[tuple[str, str]]] = field(default_factory=dict)
    test: dict[Direction, list[tuple[str, str]]] = field(default_factory=dict)
    unique: dict[str, int] = field(default_factory=dict)  # pairs per file
    removed: dict[str, int] = field(default_factory=dict)  # training pairs dropped as held out elsewhere

    def train_sentences(self, lang: str) -> list[str]:
        """Distinct training sentences of ``lang``, on either side of any direction."""
        out: dict[str, None] = {}
        for (src, tgt), (a, b) in zip(self.train, self.train_directions):
            if a == lang:
                out[src] = None
            if b == lang:
                out[tgt] = None
        return list(out)


def split_directions(
    files: dict[str, Path], directions: list[Direction], dev_size: int, test_size: int, seed: int
) -> DirectionSplits:
    """Split every file by English sentence (as ``training.translation.data.split_by_source``), drop training
    pairs that touch a held-out sentence, and orient each file's pairs for its directions."""
    splits = DirectionSplits(directions)
    by_file = {}
    for lang, path in files.items():
        pairs = read_pairs(path)
        splits.unique[lang] = len(pairs)
        by_file[lang] = split_by_source(pairs, dev_size, test_size, seed)
    held_en = {en for s in by_file.values() for en, _ in s.dev + s.test}
    for lang, s in by_file.items():
        held = {x for _, x in s.dev + s.test}
        train = [(en, x) for en, x in s.train if en not in held_en and x not in held]
        splits.removed[lang] = len(s.train) - len(train)
        for a, b in directions:
            if lang not in (a, b):
                continue
            turn = (lambda p: p) if a == PIVOT else (lambda p: (p[1], p[0]))
            splits.train += [turn(p) for p in train]
            splits.train_directions += [(a, b)] * len(train)
            splits.dev[(a, b)] = [turn(p) for p in s.dev]
            splits.test[(a, b)] = [turn(p) for p in s.test]
    return splits


def write_splits(splits: DirectionSplits, out: Path) -> None:
    """``<out>/<a>-<b>/{dev,test}.tsv`` for every direction."""
    for direction in splits.directions:
        write_pairs(out / name(direction) / "dev.tsv", splits.dev[direction])
        write_pairs(out / name(direction) / "test.tsv", splits.test[direction])


def write_novel(splits: DirectionSplits, out: Path, threshold: float = THRESHOLD) -> dict[str, dict]:
    """``<out>/<a>-<b>/{dev,test}_novel.tsv``: held-out pairs whose source has no near-duplicate
    among the training sentences of the source's language. Prints one table per direction."""
    figures: dict[str, dict] = {}
    by_lang: dict[str, list[str]] = {}
    for direction in splits.directions:
        src_lang = direction[0]
        if src_lang not in by_lang:
            by_lang[src_lang] = splits.train_sentences(src_lang)
        table = ["| split | sources | pairs | mean source words |", "|---|---:|---:|---:|"]
        for part, pairs in (("test", splits.test[direction]), ("dev", splits.dev[direction])):
            kept = novel_subset(pairs, by_lang[src_lang], threshold)
            write_pairs(out / name(direction) / f"{part}_novel.tsv", kept)
            table += summary_table(part, pairs, kept, threshold)
            figures.setdefault(name(direction), {})[part] = {
                "sources": len({s for s, _ in pairs}),
                "novel_sources": len({s for s, _ in kept}),
                "novel_pairs": len(kept),
            }
        print(f"\n{name(direction)} (novel against {len(by_lang[src_lang]):,} training sentences in {src_lang})")
        print("\n".join(table))
    return figures


def parse_args(argv=None) -> argparse.Namespace:
    p = parser("training.translation.directions", __doc__)
    p.add_argument("--data", nargs="+", required=True, help="LANG=PATH files pairing English with LANG")
    p.add_argument("--directions", nargs="+", required=True, help="a-b directions, e.g. fr-en en-de")
    p.add_argument("--threshold", type=float, default=THRESHOLD, help="near-duplicate char-4-gram Jaccard")
    add_split_flags(
        p,
        written="<a>-<b>/{dev,test}[_novel].tsv",
        splits_dir="data/splits-multi",
        sentences="distinct English sentences per file",
    )
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        files = parse_data(args.data)
        directions = parse_directions(args.directions, list(files))
        splits = split_directions(files, directions, args.dev_size, args.test_size, args.seed)
    except (ValueError, OSError) as error:
        raise SystemExit(f"training.translation.directions: {error}") from None
    out = Path(args.splits_dir)
    write_splits(splits, out)
    print("removed from training as held out elsewhere:", splits.removed)
    return write_novel(splits, out, args.threshold)


if __name__ == "__main__":
    main()
