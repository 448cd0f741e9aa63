"""Train the attention LSTM/GRU stock forecaster (one global model across tickers).

    python -m training.forecast --data ../shared/data/all_stocks_5yr.csv --out checkpoints/forecaster-sp500

Without --data it trains on the S&P 500 index series bundled with the ``arch`` package.
Loss: pinball (quantile) loss on the cumulative log return to each horizon step. Early
stopping on validation loss; the best checkpoint is kept.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter

from models.checkpoint import loaded_checkpoint, save_checkpoint
from models.encoder import CELL_TYPES
from models.forecast_net import ForecastNet, ForecastNetConfig, window_features
from models.forecaster import StockForecaster
from training.card import render_card
from training.cli import parser
from training.common import command_line, run_main, start_run
from training.loop import Progress, Run, add_run_flags, fit
from training.losses import pinball_loss
from training.prices import load_prices, make_windows, return_scale, split_prices

log = logging.getLogger("training.forecast")
CREDITS = {
    "all_stocks_5yr.csv": 'Kaggle "S&P 500 stock data" by Cam Nugent (camnugent/sandp500; IEX prices), CC0 1.0',
    None: "S&P 500 index series bundled with the arch package (Yahoo Finance)",
}


def parse_args(argv=None) -> argparse.Namespace:
    p = parser("training.forecast", __doc__)
    p.add_argument("--data", default=None, help="Kaggle multi-ticker or Yahoo CSV (default: arch's S&P 500 index)")
    p.add_argument("--out", default="checkpoints/forecaster-sp500", help="checkpoint folder to write")
    p.add_argument("--id", default=None, help="model id (default: the --out folder's name)")
    p.add_argument("--cell", choices=CELL_TYPES, default="lstm", help="recurrent cell")
    p.add_argument("--lookback", type=int, default=60, help="days of prices the model reads")
    p.add_argument("--horizon", type=int, default=20, help="days ahead it forecasts at most")
    p.add_argument("--hidden-size", type=int, default=64, help="recurrent state size")
    p.add_argument("--attention-size", type=int, default=32, help="attention layer size")
    p.add_argument("--layers", type=int, default=1, help="encoder and decoder layers")
    p.add_argument("--dropout", type=float, default=0.1, help="dropout probability")
    p.add_argument("--quantiles", default="0.05,0.1,0.5,0.9,0.95", help="quantiles the model emits")
    p.add_argument("--batch-size", type=int, default=256, help="global batch (split across ranks under torchrun)")
    p.add_argument("--stride", type=int, default=2, help="step between training windows")
    p.add_argument(
        "--no-calibration",
        action="store_true",
        help="skip the split-conformal widening of the intervals on validation windows",
    )
    p.add_argument(
        "--calibrate-only",
        action="store_true",
        help="(re)calibrate the checkpoint in --out on this data's validation windows; no training",
    )
    add_run_flags(p, epochs=4, lr=3e-4, patience=3, eval_every=None)
    return p.parse_args(argv)


def targets_z(windows: np.ndarray, lookback: int, scale: float) -> np.ndarray:
    """windows (N, L+1+H) -> cumulative log return to each step in units of scale*sqrt(h), (N, H)."""
    last = windows[:, lookback]
    future = windows[:, lookback + 1 :]
    h = np.sqrt(np.arange(1, future.shape[1] + 1))
    return (np.log(future / last[:, None]) / (scale * h)).astype(np.float32)


def tensors(windows: np.ndarray, cfg: ForecastNetConfig) -> tuple[torch.Tensor, torch.Tensor]:
    inputs = windows[:, : cfg.lookback + 1]
    return (
        torch.from_numpy(window_features(inputs, cfg.lookback, cfg.scale)),
        torch.from_numpy(targets_z(windows, cfg.lookback, cfg.scale)),
    )


@torch.no_grad()
def evaluate(model: ForecastNet, x: torch.Tensor, y: torch.Tensor, device, batch: int = 2048) -> float:
    model.eval()
    total = 0.0
    for i in range(0, len(x), batch):
        z, _ = model(x[i : i + batch].to(device))
        total += float(pinball_loss(z.float(), y[i : i + batch].to(device), model.config.quantiles)) * len(
            x[i : i + batch]
        )
    model.train()
    return total / max(1, len(x))


@torch.no_grad()
def calibrate(model: ForecastNet, x: torch.Tensor, y: torch.Tensor, device) -> tuple[list[float], list[list[float]]]:
    """Post-hoc fits on validation windows, in this order:

    1. median shrinkage (H,): per horizon, the factor a in {0, 0.05, ..., 1} whose median
       a * z_median has the lowest validation MAE (a = 0 is the naive forecast: on daily prices
       the learnt median may carry no skill, and then it should not add noise);
    2. split-conformal factors (H, Q): for quantile q above the (shrunk) median, the factor f
       makes the share of targets under median + f * (z_q - median) equal q (mirror below).
       Monotone quantiles stay monotone since every f > 0."""
    model.eval()
    z = torch.cat([model(x[i : i + 4096].to(device))[0].float().cpu() for i in range(0, len(x), 4096)])
    model.train()
    qs = model.config.quantiles
    grid = torch.linspace(0, 1, 21)
    median = z[..., qs.index(0.5)]  # (N, H)
    mae = torch.stack([(y - a * median).abs().mean(0) for a in grid])  # (A, H)
    shrink = grid[mae.argmin(0)]  # (H,)
    z = z - ((1 - shrink) * median).unsqueeze(-1)
    median = z[..., qs.index(0.5)]
    factors = torch.ones(z.size(1), len(qs))
    for j, q in enumerate(qs):
        if q == 0.5:
            continue
        spread = (z[..., j] - median).abs().clamp_min(1e-6)  # (N, H)
        excess = (y - median) / spread * (1 if q > 0.5 else -1)
        factors[:, j] = torch.quantile(excess, 0.5 + abs(q - 0.5), dim=0).clamp_min(0.05)
    return shrink.tolist(), factors.tolist()


def calibrate_checkpoint(out: Path, x_val: torch.Tensor, y_val: torch.Tensor, device) -> None:
    """Fit the conformal factors of the checkpoint in ``out`` and save it again."""
    loaded = StockForecaster.load(out)
    model = loaded.net.to(device)
    model.config.calibration = model.config.median_shrink = None
    model.config.median_shrink, model.config.calibration = calibrate(model, x_val, y_val, device)
    config = loaded_checkpoint(loaded.checkpoint).config
    config["architecture"] = model.config.to_dict()
    config["training"]["calibration"] = (
        f"median shrinkage and split-conformal interval factors fitted on "
        f"{len(x_val):,} validation windows (the windows early stopping "
        "also used)"
    )
    save_checkpoint(out, model, config, render_card(config), dtype=torch.float32)
    log.info(
        "calibrated %s: median shrink %s; interval factors at h=1 %s",
        out,
        [round(a, 2) for a in model.config.median_shrink[:5]],
        [round(f, 3) for f in model.config.calibration[0]],
    )


class ForecastTask:
    """The forecaster's side of ``training.loop.fit``: shuffled windows, the pinball loss,
    validation pinball (lower is better), and the fp32 checkpoint."""

    higher_is_better = False
    halve_lr_on_plateau = False

    def __init__(
        self, args: argparse.Namespace, model: ForecastNet, data: tuple[torch.Tensor, ...], dist, config: dict
    ):
        self.args, self.model, self.dist, self.config = args, model, dist, config
        self.x_train, self.y_train, self.x_val, self.y_val = data
        self.device = next(model.parameters()).device

    def epoch_batches(self, epoch: int) -> list[torch.Tensor]:
        order = torch.randperm(
            len(self.x_train), generator=torch.Generator().manual_seed(self.args.seed * 1000 + epoch)
        )
        size = self.args.batch_size
        return [
            order[i : i + size] for i in range(0, len(order), size) if len(order) - i >= self.dist.world
        ]  # every rank needs at least one window

    def batch_loss(self, trainer: torch.nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        idx = batch[self.dist.rank :: self.dist.world]  # the global batch is the same on every rank
        z, _ = trainer(self.x_train[idx].to(self.device))
        # The shard's mean weighted by its share of the global batch, times the ranks DDP
        # averages over: the gradient equals one process's mean over the global batch.
        loss = pinball_loss(z.float(), self.y_train[idx].to(self.device), self.model.config.quantiles)
        return loss * (len(idx) * self.dist.world / len(batch)), len(batch)

    def evaluate(self) -> float:
        return evaluate(self.model, self.x_val, self.y_val, self.device)

    def save_best(self, progress: Progress) -> None:
        self.config["training"].update(
            epochs=round(progress.epochs_done, 2),
            steps=progress.step,
            minutes=round(progress.train_seconds / 60, 1),
            commands=progress.commands,
        )
        self.config["metrics"]["val_pinball"] = round(progress.best or 0.0, 5)
        save_checkpoint(self.args.out, self.model, self.config, render_card(self.config), dtype=torch.float32)

    def state_files(self) -> dict[str, bytes]:
        return {}


def build_config(
    args: argparse.Namespace,
    argv,
    cfg: ForecastNetConfig,
    model: ForecastNet,
    series: dict,
    splits,
    windows: dict,
    device: torch.device,
    precision,
    dist,
) -> dict:
    """config.json of the checkpoint: architecture, data, split and how it was trained."""
    name = Path(args.data).name if args.data else None
    return {
        "task": "forecast",
        "id": args.id or Path(args.out).name,
        "architecture": cfg.to_dict(),
        "parameters": model.num_parameters(),
        "training": {
            "data": name or "arch.data.sp500 (S&P 500 index, Adj Close)",
            "tickers": len(series),
            "heldout_tickers": splits.heldout,
            "credit": CREDITS.get(name, "see the data's own license"),
            "split": f"by time: validation from {splits.val_start}, test from {splits.test_start}; "
            f"{len(splits.heldout)} tickers held out of training entirely (seed {args.seed})",
            "windows": windows,
            "scaler": "daily log-return std on training rows only",
            "device": str(device),
            "precision": precision.name,
            "batch_size": args.batch_size,
            "ranks": dist.world,
            "lr": args.lr,
            "clip": args.clip,
            "command": command_line("training.forecast", argv),
        },
        "metrics": {},
    }


def main(argv=None) -> dict:
    args = parse_args(argv)
    device, precision, dist = start_run(args)
    out = Path(args.out)
    series = load_prices(args.data)
    splits = split_prices(series, seed=args.seed)
    scale = return_scale(splits.train)
    cfg = ForecastNetConfig(
        cell=args.cell,
        lookback=args.lookback,
        horizon=args.horizon,
        hidden_size=args.hidden_size,
        attention_size=args.attention_size,
        layers=args.layers,
        dropout=args.dropout,
        quantiles=[float(q) for q in args.quantiles.split(",")],
        scale=scale,
    )
    train_w = make_windows(splits.train, cfg.lookback, cfg.horizon, args.stride)
    val_w = make_windows(splits.val, cfg.lookback, cfg.horizon, 1)
    if not len(train_w) or not len(val_w):
        raise ValueError(
            f"not enough history for one training and one validation window of {cfg.lookback + 1 + cfg.horizon} days"
        )
    log.info(
        "%d tickers (%d held out), scale %.5f, %d train / %d val windows; val from %s, test from %s",
        len(series),
        len(splits.heldout),
        scale,
        len(train_w),
        len(val_w),
        splits.val_start,
        splits.test_start,
    )
    x_val, y_val = tensors(val_w, cfg)
    if args.calibrate_only:
        if dist.is_main:
            calibrate_checkpoint(out, x_val, y_val, device)
        dist.close()
        return {}
    model = ForecastNet(cfg).to(device)
    config = build_config(
        args, argv, cfg, model, series, splits, {"train": len(train_w), "val": len(val_w)}, device, precision, dist
    )
    task = ForecastTask(args, model, (*tensors(train_w, cfg), x_val, y_val), dist, config)
    writer = SummaryWriter(args.logdir or f"runs/{config['id']}") if dist.is_main else None
    run = Run(device, precision, dist, out / ".train", writer, config["training"]["command"])
    progress = fit(task, dist.wrap(model, device), torch.optim.Adam(model.parameters(), lr=args.lr), run, args)
    dist.verify_replicas(model)
    dist.close()
    if not dist.is_main:
        return {}
    if writer:  # rank 0 has one
        writer.close()
    if not args.no_calibration:
        calibrate_checkpoint(out, x_val, y_val, device)
    return {"best_val_pinball": progress.best, "steps": progress.step, **progress.to_dict()}


if __name__ == "__main__":
    run_main(main)
