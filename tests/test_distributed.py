"""torchrun/DDP: both training commands under 2 CPU processes (gloo) end with identical weights
on every rank, and with the weights one process reaches on the same global batches.

Also `make ddp-smoke`. Dropout is 0 so the two runs see the same arithmetic up to the order of
floating-point sums (DDP adds the two shards' gradients; one process sums the whole batch).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from conftest import reverse_pairs, synthetic_csv, write_tsv
from safetensors.torch import load_file

TOLERANCE = 1e-4  # max |weight difference| between 2 ranks and 1 process after a few Adam steps


def run_training(module: str, args: list[str], ranks: int, cwd: Path) -> str:
    """Run ``python -m module args`` as one process or under torchrun; returns its log."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}", "-m"]
        if ranks > 1
        else [sys.executable, "-m"]
    )
    done = subprocess.run(
        [*launcher, module, *args, "--threads", "1", "--device", "cpu"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], prefix: str = "") -> float:
    keys = [k for k in a if k.startswith(prefix)]
    assert keys and set(keys) == {k for k in b if k.startswith(prefix)}
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in keys)


def test_translator_two_ranks_match_one_process(tmp_path):
    data = write_tsv(tmp_path / "pairs.tsv", reverse_pairs(800, seed=3))
    logs, states = {}, {}
    for ranks in (1, 2):
        out = tmp_path / f"ranks{ranks}"
        logs[ranks] = run_training(
            "training.translation.train",
            [
                "--data",
                str(data),
                "--out",
                str(out),
                "--vocab-size",
                "400",
                "--embed-size",
                "16",
                "--hidden-size",
                "32",
                "--attention-size",
                "16",
                "--dropout",
                "0",
                "--batch-tokens",
                "400",
                "--max-steps",
                "6",
                "--eval-every",
                "6",
                "--warmup",
                "2",
                "--dev-size",
                "20",
                "--test-size",
                "20",
                "--splits-dir",
                str(tmp_path / f"splits{ranks}"),
                "--logdir",
                str(tmp_path / "runs"),
                "--no-progress",
            ],
            ranks,
            tmp_path,
        )
        states[ranks] = load_file(str(out / ".train" / "state.safetensors"))
    assert "all 2 ranks end with identical weights" in logs[2]
    assert "distributed: 2 ranks, backend gloo" in logs[2]
    assert "distributed" not in logs[1]
    assert (tmp_path / "ranks2" / "config.json").is_file()  # rank 0 saved the checkpoint
    for ranks in (1, 2):  # both really trained the 6 global batches
        progress = json.loads((tmp_path / f"ranks{ranks}" / ".train" / "state.json").read_text())["progress"]
        assert progress["step"] == 6 and progress["items"] > 0
    moved = max_difference(states[1], states[2], "model.")
    print(f"translator: 2 gloo ranks vs 1 process after 6 steps, max |weight diff| {moved:.1e}")
    assert moved <= TOLERANCE, f"2 ranks vs 1 process: max |diff| {moved:g}"


def test_forecaster_two_ranks_match_one_process(tmp_path):
    data = synthetic_csv(tmp_path / "walks.csv", "walk", tickers=6)
    weights = {}
    for ranks in (1, 2):
        out = tmp_path / f"ranks{ranks}"
        log = run_training(
            "training.forecasting.train",
            [
                "--data",
                str(data),
                "--out",
                str(out),
                "--cell",
                "lstm",
                "--lookback",
                "20",
                "--horizon",
                "5",
                "--hidden-size",
                "16",
                "--attention-size",
                "8",
                "--dropout",
                "0",
                "--batch-size",
                "64",
                "--epochs",
                "1",
                "--max-steps",
                "5",
                "--lr",
                "0.01",
                "--no-calibration",
                "--logdir",
                str(tmp_path / "runs"),
                "--no-progress",
            ],
            ranks,
            tmp_path,
        )
        if ranks == 2:
            assert "all 2 ranks end with identical weights" in log
        weights[ranks] = load_file(str(out / "model.safetensors"))
    moved = max_difference(weights[1], weights[2])
    print(f"forecaster: 2 gloo ranks vs 1 process after 5 steps, max |weight diff| {moved:.1e}")
    assert moved <= TOLERANCE, f"2 ranks vs 1 process: max |diff| {moved:g}"
