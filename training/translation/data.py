"""Sentence pairs: reading, cleaning, splitting by source sentence (and the options that fix the
split), bucketed batches."""

from __future__ import annotations

import argparse
import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)
_SPACE = re.compile(r"\s+")


def clean(text: str) -> str:
    """Every Unicode space (NBSP, narrow NBSP, tabs) becomes one ASCII space; ends stripped."""
    return _SPACE.sub(" ", text).strip()


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """``source<TAB>target[<TAB>attribution]`` lines -> unique (source, target) pairs, file order.

    Lines without two non-empty fields are skipped and counted in the log.
    """
    pairs, seen, bad, dupes = [], set(), 0, 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 2 or not clean(fields[0]) or not clean(fields[1]):
                bad += 1
                continue
            pair = (clean(fields[0]), clean(fields[1]))
            if pair in seen:
                dupes += 1
                continue
            seen.add(pair)
            pairs.append(pair)
    log.info("%s: %d unique pairs, %d duplicates removed, %d malformed lines skipped", path, len(pairs), dupes, bad)
    return pairs


@dataclass
class Splits:
    train: list[tuple[str, str]]
    dev: list[tuple[str, str]]
    test: list[tuple[str, str]]


def split_by_source(pairs: list[tuple[str, str]], dev_sources: int, test_sources: int, seed: int = 1234) -> Splits:
    """Shuffle the distinct source sentences with ``seed``; every pair of one source sentence
    lands in the same split, so no source sentence is shared between splits."""
    sources = sorted({src for src, _ in pairs})
    random.Random(seed).shuffle(sources)
    if dev_sources + test_sources >= len(sources):
        raise ValueError(
            f"{len(sources)} distinct sources cannot give {dev_sources} dev "
            f"+ {test_sources} test and still leave training data"
        )
    test = set(sources[:test_sources])
    dev = set(sources[test_sources : test_sources + dev_sources])
    splits = Splits([], [], [])
    for pair in pairs:
        (splits.test if pair[0] in test else splits.dev if pair[0] in dev else splits.train).append(pair)
    return splits


def add_split_flags(
    p: argparse.ArgumentParser,
    *,
    written: str,
    splits_dir: str = "data/splits",
    sentences: str = "distinct source sentences",
    seed: bool = True,
) -> None:
    """The options that fix the dev/test split (``split_by_source``), with one set of defaults,
    so that every command reproduces training.translation.train's split: ``--dev-size``,
    ``--test-size``, ``--seed`` (unless ``seed`` is False: the command's own seeds the split too)
    and ``--splits-dir`` (default ``splits_dir``), where the ``written`` files go."""
    p.add_argument("--dev-size", type=int, default=1500, help=f"{sentences} in dev")
    p.add_argument("--test-size", type=int, default=5000, help=f"{sentences} in test")
    if seed:
        p.add_argument("--seed", type=int, default=1234, help="seed of the split")
    p.add_argument("--splits-dir", default=splits_dir, help=f"where {written} go")


def write_pairs(path: str | Path, pairs: list[tuple[str, str]]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")


def group_references(pairs: list[tuple[str, str]]) -> tuple[list[str], list[list[str | None]]]:
    """Pairs -> distinct sources (first-seen order) and sacreBLEU reference streams
    (stream i holds each source's i-th reference, ``None`` where it has fewer)."""
    refs: dict[str, list[str]] = {}
    for src, tgt in pairs:
        refs.setdefault(src, []).append(tgt)
    sources = list(refs)
    depth = max(len(r) for r in refs.values())
    streams = [[refs[s][i] if i < len(refs[s]) else None for s in sources] for i in range(depth)]
    return sources, streams


def bucket_batches(
    lengths: list[tuple[int, int]], max_tokens: int, rng: random.Random, pool: int = 100
) -> list[list[int]]:
    """Indices grouped into batches of similar length.

    Shuffle, sort each pool of ``pool`` * ~batch examples by length, cut batches whose
    padded size (sentences x longest side) stays within ``max_tokens``, shuffle batches.
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    approx = max(1, max_tokens // 20)
    for start in range(0, len(order), approx * pool):
        chunk = sorted(order[start : start + approx * pool], key=lambda i: lengths[i])
        batch: list[int] = []
        longest = 0
        for i in chunk:
            longest_next = max(longest, *lengths[i])
            if batch and longest_next * (len(batch) + 1) > max_tokens:
                batches.append(batch)
                batch, longest_next = [], max(lengths[i])
            batch.append(i)
            longest = longest_next
        if batch:
            batches.append(batch)
    rng.shuffle(batches)
    return batches


def spread(items: Sequence[T], n: int) -> list[T]:
    """``n`` of ``items`` spread evenly from the first on, in order (all of them when ``n`` >= their count)."""
    if n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]
