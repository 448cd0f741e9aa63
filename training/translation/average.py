"""Checkpoint averaging: the mean of a run's newest weight snapshots, written as a checkpoint.

    python -m training.translation.average --run work/tr-copy --last 4 --out checkpoints/translator-en-fr \\
        --dev work/splits-copy/dev.tsv

The run must have been trained with ``--snapshot-every`` (snapshots live in <run>/.train/snapshots).
Config and tokenizer come from the run's checkpoint folder; config.json records the averaged steps,
the run's training history from its saved state (every command that trained it, up to the
newest snapshot, and its steps and minutes then: the best checkpoint may be older), and, for a
translator given --dev, the averaged weights' greedy dev BLEU/chrF replace the run's.

``--best`` writes the run's best checkpoint instead (its own weights, no snapshots needed), named
after --out and with the same history, for when it beats the mean on a held-out set:

    python -m training.translation.average --run work/tr-multi3 --best --out checkpoints/translator-multi
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch
from safetensors.torch import load_file

from models.checkpoint import CARD, CONFIG, MANIFEST, WEIGHTS, save_checkpoint
from models.translation.translator import Translator
from training.card import render_card, update_metrics
from training.cli import parser
from training.common import command_line, run_main, setup_logging
from training.state import snapshot_paths
from training.translation.data import read_pairs
from training.translation.evaluate import score_pairs

log = logging.getLogger("training.translation.average")


def average_snapshots(paths: list[Path]) -> dict[str, torch.Tensor]:
    """Element-wise mean of the float tensors of ``paths`` (same names and shapes in each)."""
    total: dict[str, torch.Tensor] = {}
    for path in paths:
        tensors = load_file(str(path))
        if total and set(tensors) != set(total):
            raise ValueError(f"{path}: its tensors differ from the first snapshot's")
        for name, tensor in tensors.items():
            total[name] = total[name] + tensor.double() if name in total else tensor.double()
    return {name: (tensor / len(paths)).float() for name, tensor in total.items()}


def run_history(train_dir: Path) -> dict:
    """The run's saved training state -> {commands, run_steps, run_minutes}: what trained the
    snapshots, which can be newer than the best checkpoint's config. {} without a state."""
    if not (train_dir / "state.json").is_file():
        return {}
    progress = json.loads((train_dir / "state.json").read_text())["progress"]
    history = {"run_steps": progress["step"], "run_minutes": round(progress["train_seconds"] / 60, 1)}
    return {"commands": progress["commands"], **history} if progress.get("commands") else history


def parse_args(argv=None) -> argparse.Namespace:
    p = parser("training.translation.average", __doc__)
    p.add_argument("--run", required=True, help="a training run's --out folder (checkpoint + .train/snapshots)")
    p.add_argument("--last", type=int, default=4, help="average the newest N snapshots")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--steps", default=None, help="comma-separated snapshot steps to average instead of the newest --last"
    )
    which.add_argument(
        "--best", action="store_true", help="copy the run's best checkpoint instead of averaging snapshots"
    )
    p.add_argument("--out", required=True, help="where the averaged checkpoint goes")
    p.add_argument("--dev", default=None, help="dev pairs (source<TAB>target) to score the averaged translator on")
    p.add_argument(
        "--no-repeat-ngram",
        type=int,
        default=None,
        help="n-gram blocking the averaged checkpoint decodes with (config.json decoding; default: the run's)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads for --dev scoring")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    setup_logging()
    run = Path(args.run)
    found = [] if args.best else snapshot_paths(run / ".train")
    if args.steps:
        wanted = {int(step) for step in args.steps.split(",")}
        snapshots = [(step, path) for step, path in found if step in wanted]
        if len(snapshots) < len(wanted):
            have = ", ".join(str(step) for step, _ in found) or "none"
            raise ValueError(f"{run}/.train/snapshots has steps {have}; --steps asks for {args.steps}")
    elif not args.best:
        snapshots = found[-args.last :]
        if len(snapshots) < args.last:
            raise ValueError(f"{run}/.train/snapshots holds {len(snapshots)} snapshots, --last asks for {args.last}")
    config = json.loads((run / CONFIG).read_text())
    if args.best:  # the run's best checkpoint, saved at the step its config names
        snapshots = [(config["training"]["steps"], run / WEIGHTS)]
    if args.dev and config.get("directions"):
        raise ValueError(
            "--dev scores one direction; score a multilingual checkpoint per direction with "
            "python -m training.translation.evaluate --direction a-b"
        )
    steps = [step for step, _ in snapshots]
    config["id"] = Path(args.out).name  # as training names a checkpoint: after its folder
    how = "best" if args.best else "averaged"  # best: {"steps": [the best checkpoint's step]}
    config["training"][how] = {"steps": steps, "command": command_line("training.translation.average", argv)}
    config["training"].update(run_history(run / ".train"))
    if args.no_repeat_ngram is not None:
        config.setdefault("decoding", {})["no_repeat_ngram"] = args.no_repeat_ngram
    extra = {
        p.name: p.read_bytes()
        for p in run.iterdir()
        if p.is_file() and p.name not in (CONFIG, WEIGHTS, CARD, MANIFEST) and not p.name.startswith(".")
    }
    weights = average_snapshots([path for _, path in snapshots])
    out = save_checkpoint(args.out, weights, config, render_card(config), extra)
    log.info("%s steps %s of %s into %s", "best checkpoint at" if args.best else "averaged", steps, run, out)
    if args.dev and config["task"] == "translation":
        if args.threads:
            torch.set_num_threads(args.threads)
        pairs = read_pairs(args.dev)
        bleu, chrf = score_pairs(Translator.load(out), pairs, beam_size=1)
        sources = len({s for s, _ in pairs})  # all of them (the run's figures may have covered fewer)
        update_metrics(
            out,
            {
                "dev_bleu_greedy": round(bleu, 2),
                "dev_chrf_greedy": round(chrf, 2),
                "dev_eval_sources": sources,
                "dev_eval_sources_planned": sources,
            },
        )
        log.info("averaged weights: dev BLEU %.2f, chrF %.2f (greedy)", bleu, chrf)
        return {"steps": steps, "dev_bleu_greedy": bleu, "dev_chrf_greedy": chrf}
    return {"steps": steps}


if __name__ == "__main__":
    run_main(main)
