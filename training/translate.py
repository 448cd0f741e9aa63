"""Train the attention Seq2Seq translator.

    python -m training.translate --data ../shared/data/fra.txt --out checkpoints/translator-en-fr

Defaults produce the shipped model. Writes the best checkpoint (by dev BLEU) to --out,
the dev/test splits to --splits-dir, TensorBoard events to --logdir, and resumable
training state to <out>/.train/.
"""
from __future__ import annotations

import argparse
import logging
import math
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from models.attention import ATTENTION_TYPES
from models.checkpoint import save_checkpoint
from models.encoder import CELL_TYPES
from models.seq2seq import Seq2Seq, Seq2SeqConfig
from models.tokenizer import Tokenizer
from models.translator import Translator, pad_batch
from training.card import render_translation_card
from training.common import command_line, start_run
from training.data import bucket_batches, read_pairs, split_by_source, write_pairs
from training.evaluate_translation import score_pairs
from training.state import load_state, save_state
from training.vocab import train_sentencepiece

log = logging.getLogger("training.translate")
CREDIT = ("Tatoeba Project sentence pairs (tatoeba.org), as exported by manythings.org/anki; "
          "licensed CC-BY 2.0 FR")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="source<TAB>target[<TAB>attribution] lines")
    p.add_argument("--out", default="checkpoints/translator-en-fr")
    p.add_argument("--id", default=None, help="model id (default: the --out folder's name)")
    p.add_argument("--source-lang", default="en")
    p.add_argument("--target-lang", default="fr")
    p.add_argument("--cell", choices=CELL_TYPES, default="gru")
    p.add_argument("--attention", choices=ATTENTION_TYPES, default="bahdanau")
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--embed-size", type=int, default=256)
    p.add_argument("--hidden-size", type=int, default=512)
    p.add_argument("--attention-size", type=int, default=256)
    p.add_argument("--layers", type=int, default=1, help="encoder and decoder layers")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--batch-tokens", type=int, default=2000,
                   help="padded tokens per global batch (split across ranks under torchrun)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--max-minutes", type=float, default=None, help="stop training after this wall time")
    p.add_argument("--max-steps", type=int, default=None, help="stop training after this many steps")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=500, help="linear warm-up steps")
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--max-len", type=int, default=64, help="length filter (pieces) on training pairs")
    p.add_argument("--dev-size", type=int, default=1500, help="distinct source sentences in dev")
    p.add_argument("--test-size", type=int, default=5000, help="distinct source sentences in test")
    p.add_argument("--eval-every", type=int, default=1000, help="steps between dev evaluations")
    p.add_argument("--patience", type=int, default=4, help="evaluations without gain before stopping")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--splits-dir", default="data/splits", help="where dev.tsv and test.tsv go")
    p.add_argument("--logdir", default=None, help="TensorBoard folder (default runs/<id>)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/.train/")
    p.add_argument("--compile", action="store_true", help="torch.compile the training model")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    device, precision, dist = start_run(args)
    out = Path(args.out)
    model_id = args.id or out.name
    state_dir = out / ".train"
    started = time.time()

    pairs = read_pairs(args.data)
    splits = split_by_source(pairs, args.dev_size, args.test_size, args.seed)
    if dist.is_main:
        write_pairs(Path(args.splits_dir) / "dev.tsv", splits.dev)
        write_pairs(Path(args.splits_dir) / "test.tsv", splits.test)
    log.info("split by source sentence: %d train / %d dev / %d test pairs",
             len(splits.train), len(splits.dev), len(splits.test))

    resumed = load_state(state_dir) if args.resume else None
    if resumed:
        proto = resumed.extra["spm.model"]
    else:  # rank 0 trains the vocabulary, the other ranks receive it
        proto = dist.broadcast_bytes(train_sentencepiece(
            [s for pair in splits.train for s in pair], args.vocab_size, args.seed)
            if dist.is_main else None, device)
    tokenizer = Tokenizer(proto)
    src_ids, tgt_ids = [], []
    for src, tgt in splits.train:
        s, t = tokenizer.encode(src), [tokenizer.bos_id] + tokenizer.encode(tgt)
        if len(s) <= args.max_len and len(t) - 1 <= args.max_len:
            src_ids.append(s)
            tgt_ids.append(t)
    filtered = len(splits.train) - len(src_ids)
    log.info("length filter (<= %d pieces a side) removed %d training pairs", args.max_len, filtered)

    arch = Seq2SeqConfig(vocab_size=len(tokenizer), pad_id=tokenizer.pad_id, unk_id=tokenizer.unk_id,
                         bos_id=tokenizer.bos_id, eos_id=tokenizer.eos_id, cell=args.cell,
                         attention=args.attention, embed_size=args.embed_size,
                         hidden_size=args.hidden_size, attention_size=args.attention_size,
                         encoder_layers=args.layers, decoder_layers=args.layers, dropout=args.dropout)
    model = Seq2Seq(arch).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    progress = {"step": 0, "epoch": 0, "best_bleu": -1.0, "bad_evals": 0, "lr_scale": 1.0,
                "train_seconds": 0.0, "target_tokens": 0}
    if resumed:
        resumed.restore(model, optimizer)
        progress.update(resumed.progress)
        log.info("resumed at step %d (best dev BLEU %.2f)", progress["step"], progress["best_bleu"])
    trainer = dist.wrap(model, device)  # DDP all-reduces gradients; `model` stays for evaluation
    if args.compile:
        trainer = torch.compile(trainer)

    def lr_at(step: int) -> float:
        return args.lr * progress["lr_scale"] * min(1.0, (step + 1) / max(1, args.warmup))

    config = {
        "task": "translation", "id": model_id,
        "source_lang": args.source_lang, "target_lang": args.target_lang,
        "architecture": arch.to_dict(),
        "vocabulary": {"file": "spm.model", "type": "sentencepiece-unigram", "joint": True,
                       "size": len(tokenizer)},
        "parameters": model.num_parameters(),
        "training": {
            "data": Path(args.data).name, "credit": CREDIT, "license": "CC-BY 2.0 FR",
            "pairs": {"unique": len(pairs), "train": len(splits.train), "dev": len(splits.dev),
                      "test": len(splits.test), "removed_by_length_filter": filtered},
            "split": f"by source sentence, seed {args.seed}: {args.dev_size} dev and "
                     f"{args.test_size} test sources",
            "length_filter": f"training pairs with more than {args.max_len} pieces on a side dropped",
            "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
            "precision": precision.name, "threads": torch.get_num_threads(),
            "batch_tokens": args.batch_tokens, "ranks": dist.world, "lr": args.lr, "warmup": args.warmup,
            "label_smoothing": args.label_smoothing, "clip": args.clip, "seed": args.seed,
            "command": command_line("training.translate", argv),
        },
        "metrics": {},
    }
    writer = SummaryWriter(args.logdir or f"runs/{model_id}") if dist.is_main else None
    dev_sources_pairs = splits.dev
    lengths = [(len(s), len(t)) for s, t in zip(src_ids, tgt_ids)]
    rng = random.Random(args.seed + progress["step"])
    deadline = started + args.max_minutes * 60 if args.max_minutes else math.inf
    stop = False

    def evaluate_and_keep() -> None:
        """Rank 0 scores dev, keeps the best checkpoint and decides; every rank gets the decision."""
        nonlocal stop
        if dist.is_main:
            evaluate_on_main()
        shared = dist.broadcast([float(stop), progress["lr_scale"], progress["best_bleu"],
                                 progress["bad_evals"]], device)
        stop = bool(shared[0])
        progress.update(lr_scale=shared[1], best_bleu=shared[2], bad_evals=int(shared[3]))

    def evaluate_on_main() -> None:
        nonlocal stop
        model.eval()
        bleu, chrf = score_pairs(Translator(model, tokenizer), dev_sources_pairs, beam_size=1)
        model.train()
        step = progress["step"]
        writer.add_scalar("dev/bleu", bleu, step)
        writer.add_scalar("dev/chrf", chrf, step)
        if bleu > progress["best_bleu"]:
            progress.update(best_bleu=bleu, bad_evals=0)
            config["training"].update(steps=step, epochs=round(progress["epoch"], 2),
                                      minutes=round(progress["train_seconds"] / 60, 1),
                                      target_tokens_per_second=round(progress["target_tokens"] / max(1e-9, progress["train_seconds"])))
            config["metrics"].update(dev_bleu_greedy=round(bleu, 2), dev_chrf_greedy=round(chrf, 2))
            save_checkpoint(out, model, config, render_translation_card(config),
                            {"spm.model": tokenizer.proto})
            log.info("step %d: dev BLEU %.2f chrF %.2f (best, saved to %s)", step, bleu, chrf, out)
        else:
            progress["bad_evals"] += 1
            progress["lr_scale"] *= 0.5
            log.info("step %d: dev BLEU %.2f chrF %.2f (best %.2f; lr halved to %.2e; %d/%d)",
                     step, bleu, chrf, progress["best_bleu"], lr_at(step), progress["bad_evals"], args.patience)
            if progress["bad_evals"] >= args.patience:
                stop = True
        save_state(state_dir, model, optimizer, progress, {"spm.model": tokenizer.proto})

    model.train()
    while progress["epoch"] < args.epochs and not stop:
        # The same global batches on every rank (same seed); each rank trains on its shard.
        batches = [b for b in bucket_batches(lengths, args.batch_tokens, rng) if len(b) >= dist.world]
        bar = tqdm(batches, desc=f"epoch {int(progress['epoch']) + 1}",
                   disable=args.no_progress or not dist.is_main, mininterval=2.0)
        for number, batch in enumerate(bar):
            tick = time.time()
            tokens = sum(len(tgt_ids[i]) - 1 for i in batch)  # target tokens in the global batch
            shard = dist.shard(batch)
            src, src_len = pad_batch([src_ids[i] for i in shard], arch.pad_id)
            tgt, _ = pad_batch([tgt_ids[i] for i in shard], arch.pad_id)
            src, tgt = src.to(device, non_blocking=True), tgt.to(device, non_blocking=True)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(progress["step"])
            with precision.autocast():
                logits, _ = trainer(src, src_len, tgt[:, :-1])
            # Summed over the shard, divided by the global batch's tokens, times the ranks DDP
            # averages over: the gradient equals one process's token-mean over the global batch.
            loss = F.cross_entropy(logits.float().reshape(-1, arch.vocab_size), tgt[:, 1:].reshape(-1),
                                   ignore_index=arch.pad_id, label_smoothing=args.label_smoothing,
                                   reduction="sum") * (dist.world / tokens)
            norm = precision.step(loss, optimizer, model.parameters(), args.clip)
            progress["step"] += 1
            progress["target_tokens"] += tokens
            progress["train_seconds"] += time.time() - tick
            progress["epoch"] = int(progress["epoch"]) + (number + 1) / len(batches)
            rate = progress["target_tokens"] / max(1e-9, progress["train_seconds"])
            bar.set_postfix(loss=f"{loss.item():.3f}", tok_s=f"{rate:.0f}", refresh=False)
            if writer and progress["step"] % 50 == 0:
                writer.add_scalar("train/loss", loss.item(), progress["step"])
                writer.add_scalar("train/grad_norm", norm, progress["step"])
                writer.add_scalar("train/lr", lr_at(progress["step"]), progress["step"])
                writer.add_scalar("train/target_tokens_per_s", rate, progress["step"])
            timed_out = bool(dist.broadcast([float(time.time() > deadline or progress["step"] == args.max_steps)],
                                            device)[0])
            if progress["step"] % args.eval_every == 0 or timed_out:
                evaluate_and_keep()
            if timed_out:
                log.info("time or step limit reached at step %d", progress["step"])
                stop = True
            if stop:
                break
        else:
            if progress["step"] % args.eval_every:
                evaluate_and_keep()
    if writer:
        writer.close()
    dist.verify_replicas(model)
    dist.close()
    log.info("done: best dev BLEU %.2f, %d steps, %.1f min", progress["best_bleu"], progress["step"],
             (time.time() - started) / 60)
    return progress


if __name__ == "__main__":
    main()
