"""Shared training plumbing: device choice, mixed precision, seeds, logging."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from training.distributed import Dist, init_distributed


def setup_logging(main: bool = True) -> None:
    """INFO on rank 0 (or a single process); other ranks only warn."""
    logging.basicConfig(
        level=logging.INFO if main else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def pick_device(choice: str) -> torch.device:
    """``auto`` -> cuda when present, else cpu."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device(choice)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Precision:
    """Mixed precision on CUDA: bf16 autocast where supported, else fp16 with a grad scaler.
    On CPU: plain fp32."""

    def __init__(self, device: torch.device):
        self.device = device
        self.dtype = None
        if device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.dtype == torch.float16)

    @property
    def name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, params, clip: float) -> float:
        """Backward, unscale, clip, step; returns the gradient norm before clipping."""
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(optimizer)
        norm = torch.nn.utils.clip_grad_norm_(params, clip)
        self.scaler.step(optimizer)
        self.scaler.update()
        optimizer.zero_grad(set_to_none=True)
        return float(norm)


def start_run(args) -> tuple[torch.device, Precision, Dist]:
    """Process group (under torchrun), logging, seeds, CPU threads, device and precision from
    the common CLI options. Every rank gets the same seed, so the same model and batches."""
    dist, device_choice = init_distributed(args.device)
    setup_logging(dist.is_main)
    seed_everything(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(device_choice)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 matmuls outside autocast
        torch.backends.cudnn.allow_tf32 = True
    if dist.enabled:
        logging.getLogger(__name__).info(
            "distributed: %d ranks, backend %s", dist.world, "nccl" if device.type == "cuda" else "gloo"
        )
    return device, Precision(device), dist


SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints"
"""The repository's checkpoints/: the models the service ships."""


def check_out(out: str | Path, force: bool) -> None:
    """Refuse to write a run into a shipped checkpoint's folder (checkpoints/<name> holding a
    config.json) unless ``force``: a two-minute try would replace the model the service ships."""
    folder = Path(out).resolve()
    if not force and folder.parent == SHIPPED and (folder / "config.json").exists():
        raise ValueError(
            f"--out {out} is the shipped checkpoint checkpoints/{folder.name}: a run would replace it; "
            "write to another folder (the default is under work/) or add --force"
        )


def run_main(main: Callable[[], object]) -> None:
    """A command's entry point: the library raises, this turns what it raised into a one-line
    message on stderr and exit status 2 (a bug still ends with its traceback)."""
    try:
        main()
    except (OSError, ValueError, RuntimeError) as exc:
        logging.getLogger("training").error("%s", exc)
        raise SystemExit(2) from exc
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # under torchrun, a rank whose work is done (its files written and closed, the process
        # group left) now and then aborted in the interpreter's teardown of torch's native threads
        # ("terminate called without an active exception", exit -6, on a loaded 2-core machine),
        # failing the whole run after it had succeeded: leave without that teardown
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def command_line(module: str, argv) -> str:
    """The command that reproduces this run, for config.json and the model card."""
    return f"python -m {module} " + " ".join(argv if argv is not None else sys.argv[1:])
