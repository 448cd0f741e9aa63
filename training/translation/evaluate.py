"""Score a translator checkpoint on one or more test files with sacreBLEU.

    python -m training.translation.evaluate --checkpoint checkpoints/translator-en-fr \\
        --test data/splits/test.tsv data/splits/test_novel.tsv

A FILE holds ``source<TAB>reference`` lines. A source with several lines is translated once
and scored against all its references (sacreBLEU multi-reference). For every file and decoding
(greedy and beam 5 by default) one markdown row: BLEU and chrF multi-reference and 1-ref (every
line against its own reference), multi-reference BLEU by source length (1-4, 5-8, 9-12, 13+
words), and copy rates: of the digit strings / capitalised non-initial words of a source that
its reference keeps verbatim, the share the hypothesis keeps (per line, single reference).
Hypotheses are written beside each test file (or to --hyp-dir). Sources shared by several
files are decoded once. A progress line goes to stderr every --progress-every sources.

The split files exist once a model is trained (``training.translation.train --splits-dir``); without
training, ``python -m training.translation.novelty --data ../shared/data/fra.txt --splits-dir data/splits``
writes the same ``{dev,test}.tsv`` (same seed and sizes) and ``{dev,test}_novel.tsv``.

A multilingual checkpoint is scored one direction at a time (``--direction de-en``); its keys
then start with the direction (``de-en.test_novel_bleu_beam5``).

--write-metrics stores the figures in the checkpoint's config.json under keys prefixed by the
file's stem: ``test_bleu_beam5`` for test.tsv, ``test_novel_bleu_beam5``,
``test_novel_bleu_beam5_len_13plus``, ``test_novel_numbers_kept_pct_beam5``, ... for
test_novel.tsv.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from sacrebleu.metrics import BLEU, CHRF

from models.translation.translator import Translator
from training.card import update_metrics
from training.cli import parser
from training.limits import spread_order
from training.translation.data import group_references, read_pairs
from training.translation.metrics import BUCKETS, bleu_by_length, copy_rates, loop_rate


def hypotheses(
    translator: Translator,
    sources: list[str],
    beam_size: int,
    batch_size: int = 64,
    no_repeat_ngram: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """The translator's hypothesis of each source, in input order, translated in length-sorted
    batches. ``progress``, if given, is called with the number of sources done after each batch."""
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    out: list[str] = [""] * len(sources)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        for i, result in zip(
            chunk, translator.translate([sources[i] for i in chunk], beam_size, no_repeat_ngram=no_repeat_ngram)
        ):
            out[i] = result.translation
        if progress is not None:
            progress(start + len(chunk))
    return out


SAFETY = 1.25  # a chunk starts only if the rate so far says it takes this much less than the time left


def hypotheses_within(
    jobs: dict[str, tuple[Translator, list[str]]],
    beam_size: int,
    seconds_left: Callable[[], float],
    batch_size: int = 64,
    max_chunk: int = 1024,
) -> dict[str, dict[str, str]]:
    """{job: (translator, sources)} -> {job: {source: hypothesis}}, translated while
    ``seconds_left()`` is positive. With no limit (math.inf), every source, as ``hypotheses``.

    Otherwise each job's sources go in ``spread_order``, in chunks, the jobs taking turns: a first
    chunk of one batch each (always translated: the least an evaluation scores), then chunks twice
    as large (up to ``max_chunk``), each sorted by length into batches. A chunk starts only when
    the rate so far says it ends in time (cut to the sources that fit, at least a batch), and a
    chunk the time runs out in is dropped whole. So what comes back is a prefix of each job's
    spread order: the whole range of lengths, never only the short end."""
    if seconds_left() == math.inf:
        return {key: dict(zip(sources, hypotheses(t, sources, beam_size))) for key, (t, sources) in jobs.items()}
    orders = {key: [sources[i] for i in spread_order(len(sources))] for key, (_, sources) in jobs.items()}
    done: dict[str, dict[str, str]] = {key: {} for key in jobs}
    size, spent, count, first = batch_size, 0.0, 0, True
    while any(len(done[key]) < len(orders[key]) for key in jobs):
        for key, (translator, _) in jobs.items():
            rest = orders[key][len(done[key]) :]
            n = min(size, len(rest))
            if not n:
                continue
            before = seconds_left()
            if not first:
                rate = SAFETY * spent / max(1, count)  # seconds a source
                if rate > 0:
                    n = min(n, int(max(0.0, before) / rate))
                if n < min(batch_size, len(rest)):
                    return done
            chunk, hyps = rest[:n], dict[str, str]()
            order = sorted(range(n), key=lambda i: len(chunk[i]))
            for start in range(0, n, batch_size):
                if not first and seconds_left() <= 0:
                    return done  # this chunk dropped: the others are a prefix of the spread order
                batch = [chunk[i] for i in order[start : start + batch_size]]
                hyps.update(zip(batch, (r.translation for r in translator.translate(batch, beam_size))))
            done[key].update(hyps)
            spent, count = spent + before - seconds_left(), count + n
        first, size = False, min(2 * size, max_chunk)
    return done


def corpus_scores(pairs: list[tuple[str, str]], hyp_of: dict[str, str], single: bool = True) -> dict:
    """pairs and a hypothesis for each distinct source -> {bleu, chrf} multi-reference by source,
    and with ``single`` {bleu_1ref, chrf_1ref}: every pair scored on its own line."""
    sources, streams = group_references(pairs)
    hyps = [hyp_of[s] for s in sources]
    bleu = BLEU().corpus_score(hyps, streams).score  # type: ignore[arg-type]  # sacrebleu skips None references
    chrf = CHRF().corpus_score(hyps, streams).score  # type: ignore[arg-type]  # as above
    out = {"bleu": bleu, "chrf": chrf}
    if single:
        line_hyps, line_refs = [hyp_of[s] for s, _ in pairs], [[t for _, t in pairs]]
        out.update(
            bleu_1ref=BLEU().corpus_score(line_hyps, line_refs).score,
            chrf_1ref=CHRF().corpus_score(line_hyps, line_refs).score,
        )
    return out


def score_hypotheses(pairs: list[tuple[str, str]], hyp_of: dict[str, str]) -> dict:
    """corpus_scores plus by_length {bucket: (sources, multi-ref BLEU)} and copy
    {"numbers"|"names": CopyRate} (per line, single reference)."""
    sources, streams = group_references(pairs)
    return {
        **corpus_scores(pairs, hyp_of),
        "by_length": bleu_by_length(sources, [hyp_of[s] for s in sources], streams),
        "copy": copy_rates([(s, t, hyp_of[s]) for s, t in pairs]),
        "loops": loop_rate([(s, hyp_of[s]) for s in sources]),
    }


def score_pairs(
    translator: Translator,
    pairs: list[tuple[str, str]],
    beam_size: int,
    hyp_path: Path | None = None,
    single: dict | None = None,
) -> tuple[float, float]:
    """-> (BLEU, chrF) of the translator on pairs, multi-reference by source. If ``single`` is
    given, it receives the single-reference figures too: every pair scored on its own line."""
    sources = list(dict.fromkeys(s for s, _ in pairs))
    hyp_of = dict(zip(sources, hypotheses(translator, sources, beam_size)))
    if hyp_path:
        write_hypotheses(hyp_path, hyp_of)
    scores = corpus_scores(pairs, hyp_of, single=single is not None)
    if single is not None:
        single.update(bleu=scores["bleu_1ref"], chrf=scores["chrf_1ref"])
    return scores["bleu"], scores["chrf"]


def write_hypotheses(path: Path, hyp_of: dict[str, str]) -> None:
    path.write_text("".join(f"{s}\t{h}\n" for s, h in hyp_of.items()), encoding="utf-8")


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{100 * rate:.1f}%"


def _bucket_key(label: str) -> str:
    return "len_" + label.replace("-", "_").replace("+", "plus")


def table_header(label: str, sources: int, pairs: int, scores: dict) -> list[str]:
    """Title line and markdown header; bucket sizes and eligible copies are the file's, so they
    sit in the header and every decoding (or baseline model) adds one row below."""
    buckets = " | ".join(f"BLEU {b} (n={scores['by_length'][b][0]:,})" for b, _, _ in BUCKETS)
    copies = " | ".join(f"{kind} kept (of {scores['copy'][kind].eligible:,})" for kind in ("numbers", "names"))
    return [
        f"{label}: {sources:,} sources, {pairs:,} references",
        "",
        f"| model | decoding | BLEU | chrF | BLEU 1-ref | chrF 1-ref | {buckets} | {copies} | loops |",
        "|---|---|" + "---:|" * (4 + len(BUCKETS) + 3),
    ]


def table_row(model: str, tag: str, scores: dict) -> str:
    buckets = " | ".join("n/a" if v is None else f"{v:.2f}" for _, v in scores["by_length"].values())
    copies = " | ".join(_pct(scores["copy"][kind].rate) for kind in ("numbers", "names"))
    return (
        f"| {model} | {tag} | {scores['bleu']:.2f} | {scores['chrf']:.2f} | {scores['bleu_1ref']:.2f} "
        f"| {scores['chrf_1ref']:.2f} | {buckets} | {copies} | {_pct(scores['loops'])} |"
    )


def flat_metrics(prefix: str, tag: str, scores: dict) -> dict:
    """Scores of one file and decoding -> config.json keys ``{prefix}_{figure}_{tag}...``."""
    out = {
        f"{prefix}_bleu_{tag}": round(scores["bleu"], 2),
        f"{prefix}_chrf_{tag}": round(scores["chrf"], 2),
        f"{prefix}_bleu_{tag}_1ref": round(scores["bleu_1ref"], 2),
        f"{prefix}_chrf_{tag}_1ref": round(scores["chrf_1ref"], 2),
    }
    for label, (count, bleu) in scores["by_length"].items():
        out[f"{prefix}_{_bucket_key(label)}_sources"] = count
        out[f"{prefix}_bleu_{tag}_{_bucket_key(label)}"] = None if bleu is None else round(bleu, 2)
    for kind, copy in scores["copy"].items():
        out[f"{prefix}_{kind}_eligible"] = copy.eligible
        out[f"{prefix}_{kind}_kept_pct_{tag}"] = None if copy.rate is None else round(100 * copy.rate, 1)
    out[f"{prefix}_loops_pct_{tag}"] = None if scores["loops"] is None else round(100 * scores["loops"], 2)
    return out


SPLIT_FILES = ("test.tsv", "dev.tsv", "test_novel.tsv", "dev_novel.tsv")


def missing_message(path: Path) -> str:
    """One line: the file is missing and, for a split file, the command that writes it."""
    if path.name not in SPLIT_FILES:
        return f"{path}: no such file"
    return (
        f"{path} does not exist: the splits are written by training, or without training from its data "
        f"(same seed and sizes) by: python -m training.translation.novelty --data ../shared/data/fra.txt "
        f"--splits-dir {path.parent}"
    )


def progress_lines(tag: str, total: int, every: int) -> Callable[[int], None] | None:
    """A ``hypotheses`` progress callback: a stderr line each time another ``every`` sources are
    done (none at the end, where the caller prints its own line); None when ``every`` is 0."""
    if every <= 0:
        return None
    started, reported = time.time(), [0]

    def report(done: int) -> None:
        if done < total and done // every > reported[0] // every:
            print(f"{tag}: {done:,}/{total:,} sources, {time.time() - started:.0f} s", file=sys.stderr, flush=True)
        reported[0] = done

    return report


def load_tests(paths: list[str], limit: int | None) -> dict[str, list[tuple[str, str]]]:
    """-> {path: pairs}; ``limit`` keeps the first N distinct sources of each file. Files name
    their metric keys by stem, so two files with one stem are refused."""
    stems = [Path(path).stem for path in dict.fromkeys(paths)]
    if len(set(stems)) < len(stems):
        raise ValueError(f"--test files must have distinct names (metric keys use them): {stems}")
    missing = [Path(path) for path in paths if not Path(path).exists()]
    if missing:
        raise ValueError(missing_message(missing[0]))
    tests = {}
    for path in paths:
        pairs = read_pairs(path)
        if limit:
            keep = set(list(dict.fromkeys(s for s, _ in pairs))[:limit])
            pairs = [pair for pair in pairs if pair[0] in keep]
        tests[path] = pairs
    return tests


def hyp_file(hyp_dir: Path | None, test: Path, model: str, tag: str) -> Path:
    """test.tsv keeps the historical ``<model>.<tag>.hyp.tsv``; other files add their stem."""
    directory = hyp_dir or test.parent
    directory.mkdir(parents=True, exist_ok=True)
    middle = "" if test.stem == "test" else f".{test.stem}"
    return directory / f"{model}{middle}.{tag}.hyp.tsv"


def pick_direction(translator: Translator, direction: str | None) -> tuple[Translator, str | None]:
    """The translator fixed to ``direction`` ("a-b"): required for a multilingual checkpoint,
    optional (and checked) for a single-direction one. -> (translator, direction or None)."""
    if direction is None:
        if translator.multilingual:
            served = " ".join(f"{a}-{b}" for a, b in translator.directions)
            raise ValueError(f"the checkpoint serves several directions; choose one with --direction ({served})")
        return translator, None
    source, _, target = direction.partition("-")
    return translator.towards(source, target), direction


def metric_prefix(path: str, direction: str | None) -> str:
    """config.json key prefix of a test file: its stem, after the direction when one is named."""
    return f"{direction}.{Path(path).stem}" if direction else Path(path).stem


def parse_args(argv=None) -> argparse.Namespace:
    p = parser("training.translation.evaluate", __doc__)
    p.add_argument("--checkpoint", required=True, help="translator checkpoint folder")
    p.add_argument(
        "--direction",
        default=None,
        help="a-b: the direction of a multilingual checkpoint to score (its metric keys and hypothesis files "
        "are prefixed with it)",
    )
    p.add_argument("--test", required=True, nargs="+", help="files of source<TAB>reference lines")
    p.add_argument("--beams", default="1,5", help="beam sizes to score, comma-separated (1 = greedy)")
    p.add_argument(
        "--no-repeat-ngram",
        default=None,
        help="n-gram blocking sizes to score with each beam (0 = off; e.g. 0,3 scores both; default: the "
        "checkpoint's decoding setting); tags gain _nr<n>",
    )
    p.add_argument("--hyp-dir", default=None, help="where hypotheses go (default: beside each --test)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--limit", type=int, default=None, help="score only the first N sources of each file")
    p.add_argument(
        "--progress-every", type=int, default=500, help="a progress line on stderr every N sources decoded (0: none)"
    )
    p.add_argument(
        "--write-metrics", action="store_true", help="store the figures in the checkpoint's config.json and model card"
    )
    p.add_argument(
        "--int8",
        action="store_true",
        help="score the int8 weights the server decodes with (ATTNSERVE_WEIGHTS=int8, models.quantize); "
        "not with --write-metrics",
    )
    args = p.parse_args(argv)
    if args.int8 and args.write_metrics:
        p.error("--int8 scores the served int8 copy; --write-metrics stores the checkpoint's own figures")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        tests = load_tests(args.test, args.limit)
    except (ValueError, OSError) as error:
        raise SystemExit(f"training.translation.evaluate: {error}") from None
    translator = Translator.load(args.checkpoint)
    if args.int8:
        translator = translator.quantized()
        if translator.weights != "int8":
            raise SystemExit("training.translation.evaluate: this torch cannot quantize to int8 (models.quantize)")
    name = translator.id
    try:
        translator, direction = pick_direction(translator, args.direction)
    except ValueError as error:
        raise SystemExit(f"training.translation.evaluate: {error}") from None
    if direction:
        name = f"{name}.{direction}"
    hyp_dir = Path(args.hyp_dir) if args.hyp_dir else None
    union = list(dict.fromkeys(s for pairs in tests.values() for s, _ in pairs))
    metrics: dict = {}
    for path, pairs in tests.items():
        prefix = metric_prefix(path, direction)
        metrics.update(
            {
                f"{prefix}_file": Path(path).name,
                f"{prefix}_sources": len({s for s, _ in pairs}),
                f"{prefix}_pairs": len(pairs),
            }
        )
    rows: dict[str, list[str]] = {path: [] for path in tests}
    blocks = [int(n) for n in args.no_repeat_ngram.split(",")] if args.no_repeat_ngram else [translator.no_repeat_ngram]
    settings = [(int(b), n) for b in args.beams.split(",") for n in blocks]
    for beam, block in settings:
        tag = ("greedy" if beam == 1 else f"beam{beam}") + (f"_nr{block}" if block else "")
        tick = time.time()
        progress = progress_lines(f"{name} {tag}", len(union), args.progress_every)
        hyp_of = dict(zip(union, hypotheses(translator, union, beam, no_repeat_ngram=block, progress=progress)))
        seconds = time.time() - tick
        print(
            f"{name} {tag}: {len(union):,} sources decoded in {seconds:.0f} s ({len(union) / seconds:.1f} sentences/s)",
            flush=True,
        )
        for path, pairs in tests.items():
            prefix, scores = metric_prefix(path, direction), score_hypotheses(pairs, {s: hyp_of[s] for s, _ in pairs})
            write_hypotheses(hyp_file(hyp_dir, Path(path), name, tag), {s: hyp_of[s] for s, _ in pairs})
            if not rows[path]:
                rows[path] = table_header(path, metrics[f"{prefix}_sources"], len(pairs), scores)
            rows[path].append(table_row(name, tag, scores))
            metrics.update(flat_metrics(prefix, tag, scores))
    print("\n\n".join("\n".join(table) for table in rows.values()))
    if args.write_metrics:
        update_metrics(Path(args.checkpoint), metrics)
    print(json.dumps(metrics))
    return metrics


if __name__ == "__main__":
    main()
