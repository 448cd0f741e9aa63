"""Translator speed: training target tokens/s and translation sentences/s.

    .venv/bin/python -m bench.translate_speed [--checkpoint checkpoints/translator-en-fr]
        [--data ../shared/data/fra.txt] [--threads 2]

Sentences are real Tatoeba English (a fixed random sample of --data) when the file is
there, else synthetic word strings. Baselines measured in the same run:
- training: the same network with ``attention=none`` (the fixed-vector Seq2Seq);
- decoding: greedy search at batch 1.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import torch

from models.translation.seq2seq import Seq2Seq, Seq2SeqConfig
from models.translation.translator import Translator, pad_batch
from training.cli import parser
from training.losses import translation_loss


def sample_pairs(path: Path, n: int, seed: int = 0) -> list[tuple[str, str]]:
    if path.is_file():
        lines = [line.split("\t")[:2] for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line]
        return [(pair[0], pair[1]) for pair in random.Random(seed).sample(lines, n)]
    rng = random.Random(seed)
    words = ["the", "cat", "is", "on", "a", "table", "we", "go", "home", "now", "I", "like", "tea"]
    return [(" ".join(rng.choices(words, k=rng.randint(4, 12))),) * 2 for _ in range(n)]


def train_rate(config: Seq2SeqConfig, translator: Translator, pairs, steps: int, batch: int) -> float:
    """Target tokens per second of forward + backward + Adam on real batches, with training's
    loss (label smoothing 0.1, token mean)."""
    model = Seq2Seq(config).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    tok = translator.tokenizer
    src_all = [tok.encode(s) for s, _ in pairs]
    tgt_all = [[tok.bos_id] + tok.encode(t) for _, t in pairs]
    tokens, elapsed = 0, 0.0
    for step in range(steps + 1):
        idx = [(step * batch + i) % len(pairs) for i in range(batch)]
        src, lengths = pad_batch([src_all[i] for i in idx], config.pad_id)
        tgt, _ = pad_batch([tgt_all[i] for i in idx], config.pad_id)
        tick = time.perf_counter()
        scores, _ = model(src, lengths, tgt[:, :-1])  # (B, T, V)
        # log_softmax makes log-probabilities of logits and leaves log-probabilities as they are
        log_probs = torch.log_softmax(scores.float(), dim=-1)
        target = tgt[:, 1:]  # (B, T)
        real = int(target.ne(config.pad_id).sum())
        loss = translation_loss(log_probs, target, config.pad_id, label_smoothing=0.1) / real
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step:  # the first step warms up allocators
            elapsed += time.perf_counter() - tick
            tokens += real
    return tokens / elapsed


def decode_rate(translator: Translator, sources: list[str], beam: int, batch: int) -> float:
    tick = time.perf_counter()
    for start in range(0, len(sources), batch):
        translator.translate(sources[start : start + batch], beam_size=beam)
    return len(sources) / (time.perf_counter() - tick)


def main(argv=None) -> None:
    p = parser("bench.translate_speed", __doc__)
    p.add_argument("--checkpoint", default="checkpoints/translator-en-fr", help="translator checkpoint folder")
    p.add_argument("--data", default="../shared/data/fra.txt", help="sentences to sample (synthetic ones if absent)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--sentences", type=int, default=128, help="sentences per decoding measurement")
    p.add_argument("--train-steps", type=int, default=10, help="training steps per measurement")
    p.add_argument("--train-batch", type=int, default=64, help="sentence pairs per training step")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    translator = Translator.load(args.checkpoint)
    pairs = sample_pairs(Path(args.data), max(args.sentences, args.train_batch * 4))
    sources = [s for s, _ in pairs[: args.sentences]]
    arch = translator.model.config
    print(
        f"checkpoint {args.checkpoint}: {arch.cell} {arch.attention}, "
        f"{translator.model.num_parameters():,} parameters, torch threads {torch.get_num_threads()}"
    )
    print(f"\n| training (fwd+bwd+Adam, batch {args.train_batch}) | target tokens/s | x baseline |")
    print("|---|---:|---:|")
    base_cfg = Seq2SeqConfig.from_dict({**arch.to_dict(), "attention": "none"})
    base = train_rate(base_cfg, translator, pairs, args.train_steps, args.train_batch)
    ours = train_rate(arch, translator, pairs, args.train_steps, args.train_batch)
    print(f"| attention=none (baseline) | {base:,.0f} | 1.00 |")
    print(f"| attention={arch.attention} | {ours:,.0f} | {ours / base:.2f} |")
    print("\n| decoding | batch | sentences/s | x greedy batch 1 |")
    print("|---|---:|---:|---:|")
    baseline = None
    for beam, batch in [(1, 1), (1, 32), (5, 1), (5, 32)]:
        rate = decode_rate(translator, sources, beam, batch)
        baseline = baseline or rate
        name = "greedy" if beam == 1 else f"beam {beam}"
        print(f"| {name} | {batch} | {rate:.1f} | {rate / baseline:.2f} |", flush=True)


if __name__ == "__main__":
    main()
