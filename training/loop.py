"""The training loop both models share.

A model's training command describes its task with a ``Task`` (its batches, the loss of one
batch, how to score and keep a checkpoint) and hands it to ``fit``, which owns the rest:
the learning-rate schedule (linear warm-up, halving on a plateau), one train step under
mixed precision, the time and step limits, evaluation every ``--eval-every`` steps and at
each epoch's end, early stopping, TensorBoard, and resumable state after every evaluation.

``--max-minutes M`` (``training.limits.Limits``): training steps stop at M minutes from the command's start; the
run then has a grace, the larger of 30 s and 10% of M, for its last evaluation and its checkpoint.
An evaluation stops scoring when the grace runs out (having scored at least a first batch) and
says what it covered (``Evaluation``): the log, the history and the checkpoint's metrics give the
items scored and those planned, and a cut score is compared with the best checkpoint's on the
same items, never with its score on all of them.

Resuming is exact: an epoch's batches are a function of (seed, epoch), the position inside
the epoch and torch's RNG are saved, so a run stopped and resumed at an evaluation takes the
same steps as one that never stopped.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from training.common import Precision
from training.distributed import Dist
from training.limits import Evaluation, Limits
from training.state import drop_snapshots_after, load_state, save_snapshot, save_state

log = logging.getLogger(__name__)


def add_run_flags(
    p: argparse.ArgumentParser, *, epochs: int, lr: float, patience: int, eval_every: int | None, warmup: int = 0
) -> None:
    """The flags every training command shares, with that command's defaults."""
    p.add_argument("--epochs", type=int, default=epochs, help="passes over the training data at most")
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop after this wall time, counted from the command's start (data preparation included)",
    )
    p.add_argument(
        "--log-every",
        type=int,
        default=100,
        help="steps between progress lines in the log (step, loss, items/s, minutes), with or without --no-progress",
    )
    p.add_argument("--max-steps", type=int, default=None, help="stop training after this many steps")
    p.add_argument("--lr", type=float, default=lr, help="peak learning rate (Adam)")
    p.add_argument("--warmup", type=int, default=warmup, help="linear warm-up steps")
    p.add_argument("--clip", type=float, default=1.0, help="gradient norm clipping")
    p.add_argument(
        "--eval-every",
        type=int,
        default=eval_every,
        help="steps between evaluations; there is always one at each epoch's end",
    )
    p.add_argument("--patience", type=int, default=patience, help="evaluations without gain before stopping")
    p.add_argument(
        "--snapshot-every",
        type=int,
        default=0,
        help="steps between fp32 weight snapshots in <out>/.train/snapshots for checkpoint averaging (0: none)",
    )
    p.add_argument("--keep-snapshots", type=int, default=8, help="newest snapshots kept")
    p.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to train (auto: cuda when present)"
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=1234, help="seed of the data split, the weights and the batch order")
    p.add_argument("--logdir", default=None, help="TensorBoard folder (default: runs/<id>)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/.train/")
    p.add_argument(
        "--lr-scale",
        type=float,
        default=None,
        help="with --resume: restart the learning-rate scale (halved on each plateau) at this value "
        "instead of the saved one (default: keep the saved one)",
    )
    p.add_argument(
        "--reset-best",
        action="store_true",
        help="with --resume: forget the best score and the evaluations without gain (after changing how "
        "the dev score is measured, e.g. --dev-eval-pick, old and new scores do not compare); the next "
        "evaluation then writes the checkpoint",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")


class EarlyStopping:
    """Tracks the best score; ``patience`` evaluations in a row without a gain mean stop."""

    def __init__(self, patience: int, higher_is_better: bool = True, best: float | None = None, bad: int = 0):
        self.patience, self.higher_is_better, self.best, self.bad = patience, higher_is_better, best, bad

    def update(self, score: float, against: float | None = None) -> tuple[bool, bool]:
        """-> (improved, stop). ``against``: the score to beat instead of the best (the best
        checkpoint's score on the same items, for a score that covers only some)."""
        reference = self.best if against is None else against
        better = reference is None or (score > reference if self.higher_is_better else score < reference)
        if better:
            self.best, self.bad = score, 0
        else:
            self.bad += 1
        return better, self.bad >= self.patience


@dataclass
class Progress:
    """Where a run stands; saved with the training state and restored by ``--resume``."""

    step: int = 0
    epoch: int = 0  # epochs completed
    batch_in_epoch: int = 0  # batches of the current epoch already trained
    epoch_batches: int = 0  # batches in the current epoch
    lr_scale: float = 1.0  # halved on each plateau when the task asks for it
    train_seconds: float = 0.0
    items: int = 0  # what the loss is averaged over: target tokens, or windows
    best: float | None = None
    best_covers: list[int] | None = None  # [scored, planned] when the best score is of a cut evaluation
    bad_evals: int = 0
    history: list[dict] = field(default_factory=list)  # one entry per evaluation
    commands: list[str] = field(default_factory=list)  # the command of each process that trained this run

    @property
    def epochs_done(self) -> float:
        return self.epoch + (self.batch_in_epoch / self.epoch_batches if self.epoch_batches else 0.0)

    def to_dict(self) -> dict:
        return asdict(self)


class Task(Protocol):
    """What ``fit`` needs to know about one model's training."""

    @property
    def model(self) -> torch.nn.Module: ...  # read-only here, so a task may hold a subclass

    higher_is_better: bool  # of ``evaluate``'s score
    halve_lr_on_plateau: bool

    def epoch_batches(self, epoch: int) -> list[Any]:
        """The global batches of epoch ``epoch``: the same on every rank, a function of (seed, epoch)."""

    def batch_loss(self, trainer: torch.nn.Module, batch: Any) -> tuple[torch.Tensor, int]:
        """This rank's loss on its shard of ``batch``, weighted so DDP's average is one process's
        mean over the global batch; and the items (tokens, windows) in the global batch."""

    def evaluate(self, seconds_left: Callable[[], float]) -> Evaluation:
        """Rank 0: the validation score. Scoring stops when ``seconds_left()`` reaches 0 (after
        at least a first batch); the result says what was scored."""

    def save_best(self, progress: Progress) -> None:
        """Rank 0: write the checkpoint; called when the score improved."""

    def state_files(self) -> dict[str, bytes]:
        """Files to keep beside the training state (e.g. the tokenizer)."""


@dataclass
class Run:
    """The surroundings of one training process."""

    device: torch.device
    precision: Precision
    dist: Dist
    state_dir: Path
    writer: SummaryWriter | None
    command: str = ""  # this process's command line, appended to ``Progress.commands``


def _restore(task: Task, optimizer: torch.optim.Optimizer, run: Run, resume: bool) -> Progress:
    if not resume:
        return Progress()
    state = load_state(run.state_dir)
    state.restore(task.model, optimizer)
    progress = Progress(**state.progress)
    if "rng.torch" in state.tensors:
        torch.set_rng_state(state.tensors["rng.torch"])
    drop_snapshots_after(run.state_dir, progress.step)
    log.info("resumed at step %d (epoch %d, batch %d)", progress.step, progress.epoch + 1, progress.batch_in_epoch)
    if progress.best_covers:
        log.info(
            "best score %s covers %d of %d items (an evaluation the time limit cut): forgotten, the next "
            "evaluation writes the checkpoint",
            progress.best,
            *progress.best_covers,
        )
        progress.best, progress.best_covers, progress.bad_evals = None, None, 0
    return progress


def _checkpoint_state(task: Task, optimizer: torch.optim.Optimizer, run: Run, progress: Progress) -> None:
    save_state(
        run.state_dir,
        task.model,
        optimizer,
        progress.to_dict(),
        task.state_files(),
        {"rng.torch": torch.get_rng_state()},
    )


def _judge(stopper: EarlyStopping, result: Evaluation) -> tuple[bool, bool, str]:
    """-> (improved, stop, what the score was compared with). A cut evaluation's score is
    compared with the best checkpoint's on the same items; when the task cannot tell that, with
    nothing: the checkpoint stays (the latest weights are in the training state)."""
    if not result.cut or stopper.best is None:
        improved, stop = stopper.update(result.score)
        return improved, stop, "best" if improved else f"best {stopper.best:.4f}"
    if result.best_on_scored is not None:
        improved, stop = stopper.update(result.score, against=result.best_on_scored)
        return improved, stop, f"{'was ' if improved else ''}{result.best_on_scored:.4f} on the same items"
    return False, False, f"not comparable with the best {stopper.best:.4f}: the checkpoint stays"


def _evaluate(
    task: Task,
    optimizer: torch.optim.Optimizer,
    run: Run,
    progress: Progress,
    stopper: EarlyStopping,
    limits: Limits,
    share: float = 1.0,
) -> tuple[bool, bool]:
    """Rank 0 scores (until ``share`` of the grace after the deadline) and keeps the best; every
    rank gets its decisions. -> (stop, the deadline passed)."""
    stop = improved = past = False
    if run.dist.is_main:
        task.model.eval()
        result = task.evaluate(limits.seconds_left(share))
        task.model.train()
        score = result.score
        bad_before = stopper.bad
        improved, stop, compared = _judge(stopper, result)
        if not improved and stopper.bad > bad_before and task.halve_lr_on_plateau:
            progress.lr_scale *= 0.5
        if improved:
            progress.best_covers = [result.scored, result.planned] if result.cut else None
        progress.best, progress.bad_evals = stopper.best, stopper.bad
        entry: dict[str, Any] = {"step": progress.step, "score": round(score, 4)}
        if result.cut:
            entry.update(scored=result.scored, planned=result.planned)
        progress.history.append(entry)
        if run.writer:
            run.writer.add_scalar("eval/score_cut" if result.cut else "eval/score", score, progress.step)
        log.info(
            "step %d: score %.4f%s (%s; %d/%d without gain; lr scale %.3g)",
            progress.step,
            score,
            result.coverage(),
            compared,
            stopper.bad,
            stopper.patience,
            progress.lr_scale,
        )
        if improved:
            task.save_best(progress)
        past = time.time() > limits.deadline
    shared = run.dist.broadcast([float(stop), progress.lr_scale, float(stopper.bad), float(past)], run.device)
    progress.lr_scale, stopper.bad, progress.bad_evals = shared[1], int(shared[2]), int(shared[2])
    if run.dist.is_main:
        _checkpoint_state(task, optimizer, run, progress)
    return bool(shared[0]), bool(shared[3])


def train_step(
    task: Task,
    trainer: torch.nn.Module,
    batch: Any,
    optimizer: torch.optim.Optimizer,
    precision: Precision,
    clip: float,
) -> tuple[float, float, int]:
    """Forward under autocast, backward, clip, step. -> (loss, gradient norm, items)."""
    with precision.autocast():
        loss, items = task.batch_loss(trainer, batch)
    norm = precision.step(loss, optimizer, task.model.parameters(), clip)
    return float(loss.detach()), norm, items


def fit(
    task: Task,
    trainer: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    run: Run,
    args: argparse.Namespace,
    keep_after: float = 0.0,
) -> Progress:
    """Train until the epochs, the patience, ``--max-minutes`` or ``--max-steps`` run out.
    ``keep_after``: the share of the grace after the ``--max-minutes`` deadline the caller keeps
    for its own work after ``fit`` (the forecaster's calibration); evaluations get the rest."""
    progress = _restore(task, optimizer, run, args.resume)
    if args.resume and getattr(args, "lr_scale", None) is not None:
        log.info("learning-rate scale %.3g -> %.3g (--lr-scale)", progress.lr_scale, args.lr_scale)
        progress.lr_scale = args.lr_scale
    if args.resume and getattr(args, "reset_best", False):
        log.info("best score %s forgotten (--reset-best): the next evaluation is the new best", progress.best)
        progress.best, progress.bad_evals = None, 0
    if run.command:
        progress.commands.append(run.command)
    stopper = EarlyStopping(args.patience, task.higher_is_better, progress.best, progress.bad_evals)
    started = getattr(args, "started", time.time())  # the command's start: set by its main
    limits = Limits.of(args)
    stop = bool(progress.best is not None and stopper.bad >= stopper.patience)
    task.model.train()
    while progress.epoch < args.epochs and not stop:
        batches = task.epoch_batches(progress.epoch)
        progress.epoch_batches = len(batches)
        bar = tqdm(
            batches[progress.batch_in_epoch :],
            desc=f"epoch {progress.epoch + 1}",
            mininterval=2.0,
            disable=args.no_progress or not run.dist.is_main,
        )
        for batch in bar:
            tick = time.time()
            for group in optimizer.param_groups:
                group["lr"] = args.lr * progress.lr_scale * min(1.0, (progress.step + 1) / max(1, args.warmup))
            loss, norm, items = train_step(task, trainer, batch, optimizer, run.precision, args.clip)
            progress.step += 1
            progress.batch_in_epoch += 1
            progress.items += items
            progress.train_seconds += time.time() - tick
            rate = progress.items / max(1e-9, progress.train_seconds)
            if args.snapshot_every and progress.step % args.snapshot_every == 0 and run.dist.is_main:
                save_snapshot(run.state_dir, task.model, progress.step, args.keep_snapshots)
            bar.set_postfix(loss=f"{loss:.3f}", items_s=f"{rate:.0f}", refresh=False)
            if args.log_every and progress.step % args.log_every == 0 and run.dist.is_main:
                minutes = (time.time() - started) / 60
                log.info("step %d: loss %.3f, %.0f items/s, %.1f min", progress.step, loss, rate, minutes)
            if run.writer and progress.step % 50 == 0:
                for name, value in (
                    ("loss", loss),
                    ("grad_norm", norm),
                    ("items_per_s", rate),
                    ("lr", optimizer.param_groups[0]["lr"]),
                ):
                    run.writer.add_scalar(f"train/{name}", value, progress.step)
            limit = bool(
                run.dist.broadcast(
                    [float(time.time() > limits.deadline or progress.step == args.max_steps)], run.device
                )[0]
            )
            if progress.batch_in_epoch == len(batches):
                progress.epoch, progress.batch_in_epoch = progress.epoch + 1, 0
            if limit or (args.eval_every and progress.step % args.eval_every == 0) or progress.batch_in_epoch == 0:
                stopped, past = _evaluate(task, optimizer, run, progress, stopper, limits, 1.0 - keep_after)
                stop = stopped or stop
                if past and not limit:
                    log.info("time limit passed during the evaluation at step %d: that was the last", progress.step)
                    return progress
            if limit:
                log.info("time or step limit reached at step %d", progress.step)
                return progress
            if stop:
                break
    return progress
