"""Train the attention Seq2Seq translator.

    python -m training.translation.train --data ../shared/data/fra.txt --out work/translator-en-fr

Defaults produce the shipped model. Writes the best checkpoint (by dev BLEU) to --out,
the dev/test splits to --splits-dir, TensorBoard events to --logdir, and resumable
training state to <out>/.train/. The loop itself is ``training.loop.fit``.
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.tensorboard import SummaryWriter

from models.checkpoint import Checkpoint, save_checkpoint
from models.text.marks import PIECES
from models.translation.attention import ATTENTION_TYPES
from models.translation.encoder import CELL_TYPES
from models.translation.seq2seq import Seq2Seq, Seq2SeqConfig, source_order
from models.translation.tokenizer import Tokenizer, normalize_input
from models.translation.translator import Translator, pad_batch
from training.card import render_translation_card
from training.cli import parser
from training.common import check_out, command_line, run_main, start_run
from training.limits import Evaluation
from training.loop import Progress, Run, add_run_flags, fit
from training.losses import translation_loss
from training.state import load_state
from training.translation.augment import concatenated, hide_words, substitute_copies, typing_noise, with_placeholders
from training.translation.data import (
    Splits,
    add_split_flags,
    bucket_batches,
    read_pairs,
    split_by_source,
    spread,
    write_pairs,
)
from training.translation.directions import (
    DirectionSplits,
    language_token,
    name,
    parse_data,
    parse_directions,
    split_directions,
    write_splits,
)
from training.translation.evaluate import corpus_scores, hypotheses_within
from training.translation.vocab import train_sentencepiece
from training.translation.warm_start import provenance, read_start, start_from

log = logging.getLogger("training.translation.train")
CREDIT = "Tatoeba Project sentence pairs (tatoeba.org), as exported by manythings.org/anki; licensed CC-BY 2.0 FR"


def parse_args(argv=None) -> argparse.Namespace:
    p = parser("training.translation.train", __doc__)
    add_data_flags(p)
    add_architecture_flags(p)
    add_regularisation_flags(p)
    p.add_argument("--max-len", type=int, default=64, help="length filter (pieces) on training pairs")
    add_split_flags(p, written="dev.tsv and test.tsv", seed=False)  # --seed: add_run_flags' (the split's too)
    p.add_argument("--compile", action="store_true", help="torch.compile the training model")
    add_run_flags(p, epochs=12, lr=1e-3, patience=4, eval_every=1000, warmup=500)
    args = p.parse_args(argv)
    if not args.directions and len(args.data) != 1:
        p.error("--data takes one file unless --directions is given")
    if args.init_from and args.resume:
        p.error("--init-from starts a new run; --resume continues the one in --out: give one of them")
    args.oversample = parse_oversample(p, args.oversample, args.directions or [])
    if args.copy and args.attention == "none":
        args.copy = False  # nothing to copy through: the fixed-vector baseline generates only
    return args


def add_data_flags(p: argparse.ArgumentParser) -> None:
    """What the run reads and writes: data, directions, dev scoring, a start, the output."""
    p.add_argument(
        "--data",
        nargs="+",
        required=True,
        help="source<TAB>target[<TAB>attribution] lines; with --directions, LANG=PATH files pairing English with "
        "LANG (training.translation.directions)",
    )
    p.add_argument(
        "--directions",
        nargs="+",
        default=None,
        help="train one multilingual network on these a-b directions (e.g. fr-en en-de de-en), each source read "
        "after a target-language token; default: the one direction --source-lang -> --target-lang",
    )
    p.add_argument(
        "--dev-eval-sources",
        type=int,
        default=0,
        help="score only N dev sources (per direction) at each evaluation (0 = all), picked by --dev-eval-pick",
    )
    p.add_argument(
        "--dev-eval-pick",
        choices=("spread", "first"),
        default="spread",
        help="which --dev-eval-sources sources: spread evenly over the dev set (its short and long sentences "
        "alike), or the first N (the shortest in Tatoeba's order: an easier, higher-scoring subset; kept for "
        "resuming runs started with it)",
    )
    p.add_argument(
        "--oversample",
        nargs="+",
        default=None,
        metavar="DIRECTION=K",
        help="with --directions: train on every pair of these directions K times an epoch (e.g. en-de=2), each "
        "copy noised on its own: more of the budget for the directions furthest from their goal; the others once",
    )
    p.add_argument(
        "--init-from",
        default=None,
        metavar="CHECKPOINT",
        help="start from this translator checkpoint folder's weights and tokenizer, with a new optimizer at step "
        "0 (when a run's --resume state is gone, or to fine-tune a shipped model); the architecture flags and "
        "--directions must be the checkpoint's",
    )
    p.add_argument(
        "--out", default="work/translator-en-fr", help="checkpoint folder to write (serve it: docs/training.md)"
    )
    p.add_argument(
        "--force", action="store_true", help="let --out be a shipped checkpoint (checkpoints/<name>) and replace it"
    )
    p.add_argument("--id", default=None, help="model id (default: the --out folder's name)")
    p.add_argument("--source-lang", default="en", help="language code of the sources")
    p.add_argument("--target-lang", default="fr", help="language code of the targets")


def add_architecture_flags(p: argparse.ArgumentParser) -> None:
    """The network (``Seq2SeqConfig``) and the vocabulary size."""
    p.add_argument("--cell", choices=CELL_TYPES, default="gru", help="recurrent cell")
    p.add_argument(
        "--attention", choices=ATTENTION_TYPES, default="bahdanau", help="attention (none: the fixed-vector baseline)"
    )
    p.add_argument(
        "--copy",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pointer-generator: copy source pieces through the attention (not with attention none)",
    )
    p.add_argument("--reverse-source", action="store_true", help="feed the source backwards")
    p.add_argument("--vocab-size", type=int, default=8000, help="SentencePiece pieces")
    p.add_argument("--embed-size", type=int, default=256, help="piece embedding size")
    p.add_argument("--hidden-size", type=int, default=512, help="decoder state size (encoder: half each way)")
    p.add_argument("--attention-size", type=int, default=256, help="attention layer size")
    p.add_argument("--layers", type=int, default=1, help="encoder and decoder layers")
    p.add_argument("--dropout", type=float, default=0.2, help="dropout probability")


def add_regularisation_flags(p: argparse.ArgumentParser) -> None:
    """Batches, the loss, and what training does to its sources (noise, unknown words, copies)."""
    p.add_argument(
        "--batch-tokens",
        type=int,
        default=2000,
        help="padded tokens per global batch (split across ranks under torchrun)",
    )
    p.add_argument("--label-smoothing", type=float, default=0.1, help="label smoothing of the loss")
    p.add_argument(
        "--noise",
        type=float,
        default=0.1,
        help="probability of each typing-noise edit on a training source (lower case, no final punctuation)",
    )
    p.add_argument(
        "--sample-alpha",
        type=float,
        default=0.0,
        help="subword regularisation: sample source segmentations with this alpha (0 = off)",
    )
    p.add_argument(
        "--copy-trains-attention",
        action="store_true",
        help="let the copy term's gradient train the attention too (default: off, it learns from generating)",
    )
    p.add_argument(
        "--source-unk",
        type=float,
        default=0.0,
        help="probability that the encoder reads <unk> for every piece of a source word while the copy term "
        "still copies the true pieces: teaches copying what the model cannot read, e.g. unseen names (0 = off)",
    )
    p.add_argument(
        "--substitute",
        type=float,
        default=0.0,
        help="probability that a name or number found verbatim on both sides of a training pair is swapped for "
        "a made-up name or a random number, in both, each epoch: copying becomes the only way to get it right "
        "(0 = off)",
    )
    p.add_argument(
        "--placeholders",
        type=float,
        default=0.0,
        help="probability that a name or number found verbatim on both sides of a pair becomes a placeholder mark "
        "in both (and half of it that a mark is put into both sides), each epoch: teaches the model to carry the "
        "marks the service puts where URLs, numbers and codes stand (models.text.marks); the encoder then reads "
        "the marks' pieces (0 = off)",
    )
    p.add_argument(
        "--concat",
        type=float,
        default=0.0,
        help="probability that a training pair is joined with 1-2 other pairs of its direction, each epoch: long "
        "inputs and unsplit sentences degrade gracefully (0 = off)",
    )
    p.add_argument(
        "--read-bytes-as-unk",
        action="store_true",
        help="the encoder reads byte-fallback pieces as <unk> (a copying decoder still copies them): characters "
        "the vocabulary lacks look alike, so copying learnt on --source-unk carries over",
    )
    p.add_argument(
        "--no-repeat-ngram",
        type=int,
        default=0,
        help="n-gram blocking the checkpoint decodes with unless a request says otherwise "
        "(config.json decoding; 0 = off)",
    )


def parse_oversample(p: argparse.ArgumentParser, specs: list[str] | None, directions: list[str]) -> dict[str, int]:
    """``["en-de=2"]`` -> {"en-de": 2}; each a trained direction, K a whole number >= 1."""
    factors: dict[str, int] = {}
    for spec in specs or []:
        direction, _, k = spec.partition("=")
        if direction not in directions:
            p.error(f"--oversample {spec!r}: {direction!r} is not one of --directions {directions}")
        if not k.isdigit() or int(k) < 1:
            p.error(f"--oversample {spec!r}: K must be a whole number >= 1, as in en-de=2")
        factors[direction] = int(k)
    return factors


class TranslationTask:
    """The translator's side of ``training.loop.fit``: bucketed batches of (noised) pairs,
    the label-smoothed loss, greedy dev BLEU, and the checkpoint with its tokenizer."""

    higher_is_better = True
    halve_lr_on_plateau = True

    def __init__(
        self,
        args: argparse.Namespace,
        splits: Splits,
        tokenizer: Tokenizer,
        model: Seq2Seq,
        dist,
        config: dict,
        directions: DirectionSplits | None = None,
    ):
        """``directions``: a multilingual run's splits (``splits.train`` is then its training
        pairs, and each source is read after the token of the language its pair writes)."""
        self.args, self.splits, self.tokenizer, self.model, self.dist = args, splits, tokenizer, model, dist
        self.config, self.device, self.directions = config, next(model.parameters()).device, directions
        token_ids = {}
        if directions:
            token_ids = {b: tokenizer.sp.PieceToId(language_token(b)) for _, b in directions.directions}
        pair_directions = directions.train_directions if directions else [None] * len(splits.train)
        self.clean_src, self.tgt_ids, self.tgt_texts, self.prefixes = [], [], [], []
        self.filtered = 0
        for (src, tgt), direction in zip(splits.train, pair_directions):
            prefix = [token_ids[direction[1]]] if direction else []
            s, t = self.encode_source(src, prefix=prefix), [tokenizer.bos_id] + tokenizer.encode(tgt)
            if len(s) > args.max_len or len(t) - 1 > args.max_len:
                self.filtered += 1
                continue
            for _ in range(args.oversample.get(name(direction), 1) if direction else 1):
                self.clean_src.append((src, s))
                self.tgt_ids.append(t)
                self.tgt_texts.append(tgt)
                self.prefixes.append(prefix)
        self.clean_tgt = list(self.tgt_ids)
        self.src_ids = [s for _, s in self.clean_src]
        self.word_starts = torch.tensor(tokenizer.word_starts())  # (V,) bool
        # never hidden: special ids, a bare '▁', the language tokens
        self.kept_ids = torch.tensor(
            [*tokenizer.special_ids, tokenizer.sp.PieceToId("▁"), *token_ids.values(), *mark_ids(tokenizer)]
        )
        self.partners: dict[tuple[int, ...], list[int]] = {}  # pairs of one direction, for --concat
        self.sources: dict[str, tuple[int, int]] = {}  # of the last evaluation: {direction: (scored, planned)}
        self.hyps: dict[str, dict[str, str]] = {}  # of the last evaluation: {direction: {source: hypothesis}}
        self.best_hyps: dict[str, dict[str, str]] | None = None  # of the evaluation that wrote the checkpoint
        for i, prefix in enumerate(self.prefixes):
            self.partners.setdefault(tuple(prefix), []).append(i)

    def encode_source(self, text: str, sample_alpha: float | None = None, prefix: Sequence[int] = ()) -> list[int]:
        """Source ids in the order the network reads them, casing normalised as the service
        does, after ``prefix`` (a multilingual run's language token)."""
        ids = [*prefix, *self.tokenizer.encode(normalize_input(text, marks=self.args.placeholders > 0), sample_alpha)]
        return [ids[i] for i in source_order(len(ids), self.model.config.reverse_source)]

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """Re-noise the sources (join pairs, swap names and numbers or put placeholder marks in
        both sides), seeded by epoch, then cut length buckets."""
        rng = random.Random(self.args.seed * 1000 + epoch)
        a = self.args
        if a.noise or a.sample_alpha or a.substitute or a.placeholders or a.concat:
            self.src_ids, self.tgt_ids = [], []
            for (text, clean), target, clean_tgt, prefix in zip(
                self.clean_src, self.tgt_texts, self.clean_tgt, self.prefixes
            ):
                tgt, new_target = clean_tgt, target
                if a.concat and rng.random() < a.concat:
                    others = self.partners[tuple(prefix)]
                    picked = [rng.choice(others) for _ in range(rng.randint(1, 2))]
                    text, new_target = concatenated(
                        [(text, target), *((self.clean_src[j][0], self.tgt_texts[j]) for j in picked)]
                    )
                if a.substitute:
                    text, new_target = substitute_copies(text, new_target, rng, a.substitute)
                text, new_target = with_placeholders(text, new_target, rng, a.placeholders)
                if new_target != target:
                    tgt = [self.tokenizer.bos_id] + self.tokenizer.encode(new_target)
                ids = self.encode_source(typing_noise(text, rng, a.noise), a.sample_alpha, prefix)
                fits = len(ids) <= 2 * a.max_len and len(tgt) - 1 <= 2 * a.max_len
                self.src_ids.append(ids if fits else clean)
                self.tgt_ids.append(tgt if fits else clean_tgt)
        lengths = [(len(s), len(t)) for s, t in zip(self.src_ids, self.tgt_ids)]
        # The same global batches on every rank; each rank trains on its shard.
        return [b for b in bucket_batches(lengths, a.batch_tokens, rng) if len(b) >= self.dist.world]

    def batch_loss(self, trainer: torch.nn.Module, batch: list[int]) -> tuple[torch.Tensor, int]:
        tokens = sum(len(self.tgt_ids[i]) - 1 for i in batch)  # target tokens in the global batch
        shard = self.dist.shard(batch)
        src, src_len = pad_batch([self.src_ids[i] for i in shard], self.tokenizer.pad_id)
        tgt, _ = pad_batch([self.tgt_ids[i] for i in shard], self.tokenizer.pad_id)
        src, tgt = src.to(self.device, non_blocking=True), tgt.to(self.device, non_blocking=True)
        read, copy_ids = src, None
        if self.args.source_unk and self.model.config.copy:
            if self.word_starts.device != src.device:
                self.word_starts, self.kept_ids = self.word_starts.to(src.device), self.kept_ids.to(src.device)
            hidden = hide_words(src, self.word_starts, self.kept_ids, self.tokenizer.unk_id, self.args.source_unk)
            read, copy_ids = hidden, src
        log_probs, _, generated = trainer(read, src_len, tgt[:, :-1], generator=True, copy_ids=copy_ids)
        # Summed over the shard, divided by the global batch's tokens, times the ranks DDP
        # averages over: the gradient equals one process's token-mean over the global batch.
        loss = translation_loss(log_probs, tgt[:, 1:], self.tokenizer.pad_id, self.args.label_smoothing, generated)
        return loss * (self.dist.world / tokens), tokens

    def dev_sets(self) -> dict[str, tuple[Translator, list[tuple[str, str]]]]:
        """{direction name: (translator, dev pairs)}, limited to --dev-eval-sources sources each."""
        translator = Translator(self.model, self.tokenizer, config=self.config)
        if self.directions:
            sets = {name(d): (translator.towards(*d), self.directions.dev[d]) for d in self.directions.directions}
        else:
            sets = {"": (translator, self.splits.dev)}
        limit = self.args.dev_eval_sources
        if limit:
            for key, (t, pairs) in sets.items():
                sources = list(dict.fromkeys(s for s, _ in pairs))
                keep = set(spread(sources, limit) if self.args.dev_eval_pick == "spread" else sources[:limit])
                sets[key] = (t, [p for p in pairs if p[0] in keep])
        return sets

    def evaluate(self, seconds_left: Callable[[], float]) -> Evaluation:
        """Greedy dev BLEU; a multilingual run's is the mean over its directions. When the time
        runs out first, of the dev sources translated by then (``hypotheses_within``: a sample
        spread over each direction's dev set), said as such in the log and the checkpoint."""
        sets = self.dev_sets()
        jobs = {key: (t, list(dict.fromkeys(s for s, _ in pairs))) for key, (t, pairs) in sets.items()}
        hyps = hypotheses_within(jobs, 1, seconds_left)
        scored = {key: [p for p in pairs if p[0] in hyps[key]] for key, (_, pairs) in sets.items()}
        scores = {key: corpus_scores(scored[key], hyps[key], single=False) for key in sets}
        self.per_direction = {key: round(s["bleu"], 2) for key, s in scores.items() if key}
        self.bleu = sum(s["bleu"] for s in scores.values()) / len(scores)
        self.chrf = sum(s["chrf"] for s in scores.values()) / len(scores)
        self.sources = {key: (len(hyps[key]), len(sources)) for key, (_, sources) in jobs.items()}
        self.hyps = hyps
        result = Evaluation(
            self.bleu, sum(n for n, _ in self.sources.values()), sum(n for _, n in self.sources.values())
        )
        if self.per_direction:
            log.info("dev BLEU by direction: %s", self.per_direction)
        if result.cut:
            log.info(
                "dev evaluation cut by the time limit: greedy BLEU %.2f on %d of the %d dev sources it was to score "
                "(spread over the dev set%s)",
                self.bleu,
                result.scored,
                result.planned,
                f"; by direction {self.sources}" if self.per_direction else "",
            )
            best = self.best_hyps
            if best is not None and all(set(hyps[key]) <= set(best.get(key, {})) for key in hyps):
                result.best_on_scored = sum(
                    corpus_scores(scored[key], best[key], single=False)["bleu"] for key in sets
                ) / len(sets)
        return result

    def save_best(self, progress: Progress) -> None:
        self.best_hyps = self.hyps  # a later cut evaluation compares with these on its own sources
        self.config["training"].update(
            steps=progress.step,
            epochs=round(progress.epochs_done, 2),
            minutes=round(progress.train_seconds / 60, 1),
            target_tokens_per_second=round(progress.items / max(1e-9, progress.train_seconds)),
            commands=progress.commands,
        )
        scored, planned = (sum(counts) for counts in zip(*self.sources.values()))
        self.config["metrics"].update(
            dev_bleu_greedy=round(self.bleu, 2),
            dev_chrf_greedy=round(self.chrf, 2),
            dev_eval_sources=scored,  # the dev sources behind the two figures ...
            dev_eval_sources_planned=planned,  # ... of those the evaluation was to score (--dev-eval-sources)
        )
        for key, bleu in self.per_direction.items():
            self.config["metrics"][f"{key}.dev_bleu_greedy"] = bleu
            self.config["metrics"][f"{key}.dev_eval_sources"] = self.sources[key][0]
        save_checkpoint(
            self.args.out, self.model, self.config, render_translation_card(self.config), self.state_files()
        )

    def state_files(self) -> dict[str, bytes]:
        return {"spm.model": self.tokenizer.proto}


def mark_ids(tokenizer: Tokenizer) -> list[int]:
    """The ids of the placeholder marks' pieces (``models.text.marks``)."""
    return [tokenizer.sp.PieceToId(piece) for piece in PIECES]


def unread_ids(tokenizer: Tokenizer, args: argparse.Namespace) -> tuple[int, int] | None:
    """The byte-fallback pieces the encoder reads as <unk> under --read-bytes-as-unk: all of them,
    or with --placeholders those after the marks' (<0x09>.. : the marks are read as themselves)."""
    if not args.read_bytes_as_unk:
        return None
    low, high = tokenizer.byte_id_range()
    return (max(mark_ids(tokenizer)) + 1, high) if args.placeholders > 0 else (low, high)


def build_config(
    args: argparse.Namespace,
    argv,
    arch: Seq2SeqConfig,
    model: Seq2Seq,
    tokenizer: Tokenizer,
    counts: dict,
    directions: DirectionSplits | None,
    device: torch.device,
    precision,
    dist,
    start: Checkpoint | None = None,
) -> dict:
    """config.json of the checkpoint: architecture, vocabulary, data and how it was trained.
    ``counts``: the ``pairs`` entry: ``load_splits``' pair counts with the length filter's count."""
    languages: dict = {"source_lang": args.source_lang, "target_lang": args.target_lang}
    if directions:
        languages = {  # no source_lang/target_lang: a multilingual network has no single pair
            "directions": [name(d) for d in directions.directions],
            "language_tokens": {b: language_token(b) for b in sorted({b for _, b in directions.directions})},
        }
    return {
        "task": "translation",
        "id": args.id or Path(args.out).name,
        **languages,
        "architecture": arch.to_dict(),
        "vocabulary": {
            "file": "spm.model",
            "type": "sentencepiece-unigram",
            "joint": True,
            "size": len(tokenizer),
            "split_digits": True,
            "byte_fallback": True,
            "normalization": "identity",
        },
        "parameters": model.num_parameters(),
        "training": {
            "data": ", ".join(Path(spec.partition("=")[2] if directions else spec).name for spec in args.data),
            "credit": CREDIT,
            "license": "CC-BY 2.0 FR",
            "pairs": counts,
            "split": (
                f"each file by English sentence, seed {args.seed}: {args.dev_size} dev and {args.test_size} test "
                "English sentences; training pairs touching a held-out sentence of any file dropped"
                if directions
                else f"by source sentence, seed {args.seed}: {args.dev_size} dev and {args.test_size} test sources"
            ),
            "length_filter": f"training pairs with more than {args.max_len} pieces on a side dropped",
            "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
            "precision": precision.name,
            "threads": torch.get_num_threads(),
            "batch_tokens": args.batch_tokens,
            "ranks": dist.world,
            "lr": args.lr,
            "warmup": args.warmup,
            "label_smoothing": args.label_smoothing,
            "clip": args.clip,
            "seed": args.seed,
            "noise": args.noise,
            "sample_alpha": args.sample_alpha,
            "copy_trains_attention": args.copy_trains_attention,
            "source_unk": args.source_unk,
            "substitute": args.substitute,
            "placeholders": args.placeholders,
            "concat": args.concat,
            **({"oversample": args.oversample} if args.oversample else {}),
            **({"init_from": provenance(start)} if start else {}),
            "command": command_line("training.translation.train", argv),
        },
        "decoding": {"no_repeat_ngram": args.no_repeat_ngram},
        **({"placeholders": {"marks": list(PIECES)}} if args.placeholders > 0 else {}),
        "metrics": {},
    }


def load_tokenizer(
    args: argparse.Namespace,
    splits: Splits,
    dist,
    device: torch.device,
    directions: DirectionSplits | None,
    start: Tokenizer | None = None,
) -> Tokenizer:
    """The resumed run's tokenizer, the --init-from checkpoint's (``start``), or a new one: rank 0
    trains it, the other ranks receive it. A multilingual one learns each distinct sentence once,
    plus the language tokens."""
    if start is not None:
        return start
    if args.resume:
        return Tokenizer(load_state(Path(args.out) / ".train").extra["spm.model"])
    proto = None
    if dist.is_main and directions:
        sentences = list(dict.fromkeys(s for pair in splits.train for s in pair))
        tokens = [language_token(b) for b in sorted({b for _, b in directions.directions})]
        proto = train_sentencepiece(sentences, args.vocab_size, args.seed, control_symbols=tokens)
    elif dist.is_main:
        proto = train_sentencepiece([s for pair in splits.train for s in pair], args.vocab_size, args.seed)
    return Tokenizer(dist.broadcast_bytes(proto, device))


def load_splits(args: argparse.Namespace, dist) -> tuple[Splits, DirectionSplits | None, dict]:
    """Read and split the data, write the dev/test files (rank 0) -> the training pairs, a
    multilingual run's per-direction splits, and the pair counts for config.json."""
    if not args.directions:
        pairs = read_pairs(args.data[0])
        splits = split_by_source(pairs, args.dev_size, args.test_size, args.seed)
        if dist.is_main:
            write_pairs(Path(args.splits_dir) / "dev.tsv", splits.dev)
            write_pairs(Path(args.splits_dir) / "test.tsv", splits.test)
        log.info("split by source sentence: %d train / %d dev / %d test pairs", *map(len, splits.__dict__.values()))
        sizes = {"unique": len(pairs), "train": len(splits.train), "dev": len(splits.dev), "test": len(splits.test)}
        return splits, None, sizes
    files = parse_data(args.data)
    directions = split_directions(
        files, parse_directions(args.directions, list(files)), args.dev_size, args.test_size, args.seed
    )
    if dist.is_main:
        write_splits(directions, Path(args.splits_dir))
    per_direction = {
        name(d): {
            "train": directions.train_directions.count(d),
            "dev": len(directions.dev[d]),
            "test": len(directions.test[d]),
        }
        for d in directions.directions
    }
    log.info("pairs by direction: %s", per_direction)
    counts: dict[str, Any] = {
        "unique": sum(directions.unique.values()),
        "train": len(directions.train),
        "dev": sum(len(p) for p in directions.dev.values()),
        "test": sum(len(p) for p in directions.test.values()),
        "unique_by_file": directions.unique,
        "removed_as_held_out_elsewhere": directions.removed,
        "by_direction": per_direction,
    }
    return Splits(directions.train, [], []), directions, counts


def main(argv=None) -> dict:
    args = parse_args(argv)
    args.started = time.time()  # --max-minutes counts from here
    check_out(args.out, args.force)
    device, precision, dist = start_run(args)
    started = time.time()
    splits, directions, counts = load_splits(args, dist)
    start, start_tokenizer = read_start(args.init_from) if args.init_from else (None, None)
    tokenizer = load_tokenizer(args, splits, dist, device, directions, start_tokenizer)
    arch = Seq2SeqConfig(
        vocab_size=len(tokenizer),
        pad_id=tokenizer.pad_id,
        unk_id=tokenizer.unk_id,
        bos_id=tokenizer.bos_id,
        eos_id=tokenizer.eos_id,
        cell=args.cell,
        attention=args.attention,
        embed_size=args.embed_size,
        hidden_size=args.hidden_size,
        attention_size=args.attention_size,
        encoder_layers=args.layers,
        decoder_layers=args.layers,
        dropout=args.dropout,
        copy=args.copy,
        reverse_source=args.reverse_source,
        unread_ids=unread_ids(tokenizer, args),
    )
    model = Seq2Seq(arch).to(device)
    model.decoder.copy_trains_attention = args.copy_trains_attention
    if start:
        start_from(model, arch, start, args.directions)
        log.info("weights and tokenizer from %s (%s)", args.init_from, start.id)
    task = TranslationTask(args, splits, tokenizer, model, dist, {}, directions)
    log.info("length filter (<= %d pieces a side) removed %d training pairs", args.max_len, task.filtered)
    counts["removed_by_length_filter"] = task.filtered
    task.config = build_config(args, argv, arch, model, tokenizer, counts, directions, device, precision, dist, start)
    trainer = dist.wrap(model, device)  # DDP all-reduces gradients; `model` stays for evaluation
    if args.compile:
        trainer = torch.compile(trainer)  # type: ignore[assignment]  # a compiled Module is a Module (stub: callable)
    writer = SummaryWriter(args.logdir or f"runs/{task.config['id']}") if dist.is_main else None
    command = task.config["training"]["command"]
    run = Run(device, precision, dist, Path(args.out) / ".train", writer, command)
    progress = fit(task, trainer, torch.optim.Adam(model.parameters(), lr=args.lr), run, args)
    if writer:
        writer.close()
    dist.verify_replicas(model)
    dist.close()
    log.info(
        "done: best dev BLEU %.2f%s, %d steps, %.1f min",
        progress.best or 0.0,
        f" (on {progress.best_covers[0]} of {progress.best_covers[1]} dev sources: the time limit cut the evaluation)"
        if progress.best_covers
        else "",
        progress.step,
        (time.time() - started) / 60,
    )
    return progress.to_dict()


if __name__ == "__main__":
    run_main(main)
