"""Train the attention LSTM/GRU stock forecaster (one global model across tickers).

    python -m training.forecasting.train --data ../shared/data/all_stocks_5yr.csv --out work/forecaster-sp500

Without --data it trains on the S&P 500 index series bundled with the ``arch`` package.
Inputs: closes plus, where the data has them, open/high/low (range volatility, overnight gap)
and volume (``--features bars``, the default; ``models.forecasting.features`` lists the columns); a
share of the training windows (``--closes-only-share``) is shown as closes alone so one model
serves both. Loss: pinball (quantile) loss on the cumulative log return to each horizon step.
Early stopping on validation loss (full bars and closes only, equally weighted); the best
checkpoint is kept, then calibrated on the validation windows (per mode: full bars, closes only).
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter

from models.checkpoint import save_checkpoint
from models.forecasting.features import BAR_FEATURES, CLOSE_FEATURES, closes_only, history_names, window_features
from models.forecasting.forecast_net import VARIANCE_MODES, ForecastNet, ForecastNetConfig
from models.forecasting.forecaster import StockForecaster
from models.translation.encoder import CELL_TYPES
from training.card import render_card
from training.cli import parser
from training.common import check_out, command_line, run_main, start_run
from training.forecasting.prices import (
    BAR_COLUMNS,
    load_frames,
    make_windows,
    return_scale,
    split_prices,
    with_history,
)
from training.limits import Evaluation, Limits, spread_order
from training.loop import Progress, Run, add_run_flags, fit
from training.losses import pinball_loss

log = logging.getLogger("training.forecasting.train")
EVAL_BATCH = 2048  # validation windows a forward pass
MIN_CALIBRATION = 1024  # validation windows calibration uses at least, however little time is left
SAFETY = 1.25  # work starts only if the rate so far says it takes this much less than the time left
CREDITS = {
    "all_stocks_5yr.csv": 'Kaggle "S&P 500 stock data" by Cam Nugent (camnugent/sandp500; IEX prices), CC0 1.0',
    None: "S&P 500 index series bundled with the arch package (Yahoo Finance)",
}


def parse_args(argv=None) -> argparse.Namespace:
    p = parser("training.forecasting.train", __doc__)
    p.add_argument("--data", default=None, help="Kaggle multi-ticker or Yahoo CSV (default: arch's S&P 500 index)")
    p.add_argument(
        "--out", default="work/forecaster-sp500", help="checkpoint folder to write (serve it: docs/training.md)"
    )
    p.add_argument(
        "--force", action="store_true", help="let --out be a shipped checkpoint (checkpoints/<name>) and replace it"
    )
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
        "--features",
        choices=("bars", "closes"),
        default="bars",
        help="bars: closes plus range volatility, overnight gap and volume where given; closes: closes only",
    )
    p.add_argument(
        "--normalize",
        action="store_true",
        help="scale each window by its own volatility (in and out; the network also reads its log)",
    )
    p.add_argument(
        "--variance",
        choices=VARIANCE_MODES,
        default=None,
        help="make the interval's width a weighted mean of per-day variance proxies, the weights the "
        "attention's (uniform or exponential: the same network with those weights, to compare); omitted: "
        "the first models' quantile head",
    )
    p.add_argument(
        "--long-run",
        action="store_true",
        help="with --variance: a learned long-run variance level takes a learned share of each step's "
        "estimate (GARCH's omega)",
    )
    p.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="also read each proxy's mean square over the ticker's last N days (from its whole series, "
        "not only the window); with --long-run the long-run level is a learned multiple of it (0: none)",
    )
    p.add_argument(
        "--closes-only-share",
        type=float,
        default=0.3,
        help="share of training windows shown as closes alone (bars features only)",
    )
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
    """windows (N, L+1+H, 5 + K) of bars (``BAR_COLUMNS``, close first, then the K history
    columns of ``with_history`` when the network reads them) or (N, L+1+H) of closes ->
    features (N, L, F), targets (N, H)."""
    closes = windows[..., 0] if windows.ndim == 3 else windows
    bars = {c: windows[:, : cfg.lookback + 1, i] for i, c in enumerate(BAR_COLUMNS) if i} if windows.ndim == 3 else {}
    history = windows[:, cfg.lookback, len(BAR_COLUMNS) :] if cfg.history_days else None  # at the last input day
    features = window_features(
        closes[:, : cfg.lookback + 1], cfg.lookback, cfg.scale, cfg.features, bars, history=history
    )
    return torch.from_numpy(features), torch.from_numpy(targets_z(closes, cfg.lookback, cfg.scale))


def both_modes(cfg: ForecastNetConfig, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Validation windows as given and as closes alone, (2N, L, F) and (2N, H), for a network with
    bar features; unchanged for a closes-only one."""
    if not cfg.reads_bars:
        return x, y
    return torch.cat([x, closes_only(x, cfg.features)]), torch.cat([y, y])


@torch.no_grad()
def window_losses(
    model: ForecastNet,
    x: torch.Tensor,
    y: torch.Tensor,
    device,
    seconds_left: Callable[[], float] = lambda: math.inf,
    batch: int = EVAL_BATCH,
) -> tuple[torch.Tensor, float | None]:
    """-> (the pinball loss of each window in ``spread_order``, (n,), seconds a window). When
    ``seconds_left()`` would run out before the next batch ends (the rate so far says), the
    windows scored by then (at least a batch): a prefix of that order, so windows of every ticker,
    date and mode. Seconds a window: None without a limit (not measured)."""
    model.eval()
    order = torch.tensor(spread_order(len(x)), dtype=torch.long)
    losses, first = [], seconds_left()
    for i in range(0, len(x), batch):
        left = seconds_left()
        if i and first < math.inf and left < SAFETY * (first - left) / i * min(batch, len(x) - i):
            break
        idx = order[i : i + batch]
        z, _ = model(x[idx].to(device))
        losses.append(pinball_loss(z.float(), y[idx].to(device), model.config.quantiles, per_item=True).cpu())
    model.train()
    out = torch.cat(losses)
    return out, (first - seconds_left()) / len(out) if first < math.inf else None


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


def calibrate_checkpoint(
    out: Path, x_val: torch.Tensor, y_val: torch.Tensor, device, windows: int | None = None
) -> None:
    """Fit the median shrinkage and conformal factors of the checkpoint in ``out`` on the
    validation windows (N, L, F) and targets (N, H), and save it again. A network with bar
    features gets a second pair fitted on the same windows shown as closes alone. ``windows``:
    fit on that many of them only, spread over all (``spread_order``; what the time left allows)."""
    planned = len(x_val)
    if windows is not None and windows < planned:
        keep = torch.tensor(sorted(spread_order(planned)[:windows]), dtype=torch.long)
        x_val, y_val = x_val[keep], y_val[keep]
    loaded = StockForecaster.load(out)
    model = loaded.net.to(device)
    cfg = model.config
    cfg.median_shrink, cfg.calibration = calibrate(model, x_val, y_val, device)
    cfg.median_shrink_closes = cfg.calibration_closes = None
    bars = cfg.reads_bars
    if bars:
        cfg.median_shrink_closes, cfg.calibration_closes = calibrate(
            model, closes_only(x_val, cfg.features), y_val, device
        )
    config = loaded.loaded.config
    config["architecture"] = cfg.to_dict()
    config["training"]["calibration"] = (
        f"median shrinkage and split-conformal interval factors (every quantile, so the 80% and 90% "
        f"intervals) fitted on {len(x_val):,} validation windows "
        + (
            "(the windows early stopping also used)"
            if len(x_val) == planned
            else f"(of the {planned:,} early stopping used, spread over them: the time limit allowed no more)"
        )
        + ("; a second set on the same windows shown as closes alone, used for inputs without bars" if bars else "")
    )
    save_checkpoint(out, model, config, render_card(config), dtype=torch.float32)
    log.info(
        "calibrated %s: median shrink %s; interval factors at h=1 %s; closes alone %s",
        out,
        [round(a, 2) for a in cfg.median_shrink[:5]],
        [round(f, 3) for f in cfg.calibration[0]],
        cfg.calibration_closes and [round(f, 3) for f in cfg.calibration_closes[0]],
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
        self.mask_share = args.closes_only_share if model.config.reads_bars else 0.0
        self.masks = torch.Generator().manual_seed(args.seed + 1)
        self.losses = torch.zeros(0)  # of the last evaluation, each window's in spread_order ...
        self.planned = 0  # ... of the windows it was to score
        self.best_losses: torch.Tensor | None = None  # of the evaluation that wrote the checkpoint
        self.seconds_per_window: float | None = None  # measured by an evaluation under a time limit

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
        x = self.x_train[idx]
        if self.mask_share > 0:  # some windows shown as closes alone (same draw on every rank)
            hide = torch.rand(len(batch), generator=self.masks)[self.dist.rank :: self.dist.world] < self.mask_share
            x = torch.where(hide.view(-1, 1, 1), closes_only(x, self.model.config.features), x)
        z, _ = trainer(x.to(self.device))
        # The shard's mean weighted by its share of the global batch, times the ranks DDP
        # averages over: the gradient equals one process's mean over the global batch.
        loss = pinball_loss(z.float(), self.y_train[idx].to(self.device), self.model.config.quantiles)
        return loss * (len(idx) * self.dist.world / len(batch)), len(batch)

    def evaluate(self, seconds_left: Callable[[], float]) -> Evaluation:
        """Validation pinball loss (full bars and closes only, equally weighted); when the time
        runs out first, of the windows scored by then (``window_losses``)."""
        x, y = both_modes(self.model.config, self.x_val, self.y_val)
        self.losses, seconds = window_losses(self.model, x, y, self.device, seconds_left, EVAL_BATCH)
        self.seconds_per_window = seconds or self.seconds_per_window
        self.planned = len(x)
        result = Evaluation(float(self.losses.mean()), len(self.losses), self.planned)
        if result.cut:
            log.info(
                "validation cut by the time limit: pinball %.5f on %d of %d windows (spread over them)",
                result.score,
                result.scored,
                result.planned,
            )
            if self.best_losses is not None and len(self.best_losses) >= result.scored:
                result.best_on_scored = float(self.best_losses[: result.scored].mean())
        return result

    def save_best(self, progress: Progress) -> None:
        self.best_losses = self.losses  # a later cut evaluation compares with a prefix of these
        self.config["training"].update(
            epochs=round(progress.epochs_done, 2),
            steps=progress.step,
            minutes=round(progress.train_seconds / 60, 1),
            commands=progress.commands,
        )
        self.config["metrics"]["val_pinball"] = round(progress.best or 0.0, 5)
        self.config["metrics"].update(
            val_windows=len(self.losses),  # the windows behind val_pinball (both modes) ...
            val_windows_planned=self.planned,  # ... of those the evaluation was to score
        )
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
            "closes_only_share": args.closes_only_share if cfg.reads_bars else None,
            "device": str(device),
            "precision": precision.name,
            "batch_size": args.batch_size,
            "ranks": dist.world,
            "lr": args.lr,
            "clip": args.clip,
            "command": command_line("training.forecasting.train", argv),
        },
        "metrics": {},
    }


def calibration_windows(task: ForecastTask, limits: Limits, planned: int) -> int | None:
    """How many validation windows calibration can use in the time left before the run's end
    (at least MIN_CALIBRATION); None (all) without a limit or a measured rate. Its forward
    passes cost what an evaluation's do: one a window, two for a bar network."""
    left, rate = limits.seconds_left()(), task.seconds_per_window
    if left == math.inf or not rate:
        return None
    passes = 2 if task.model.config.reads_bars else 1
    windows = max(MIN_CALIBRATION, int(max(0.0, left) / (SAFETY * passes * rate)))
    if windows < planned:
        log.info("calibration on %d of the %d validation windows: what the time limit leaves", windows, planned)
    return min(windows, planned)


def features_of(args: argparse.Namespace) -> list[str]:
    """The input columns --features and --history-days ask for."""
    features = list(BAR_FEATURES if args.features == "bars" else CLOSE_FEATURES)
    return features + (history_names(features) if args.history_days else [])


def main(argv=None) -> dict:
    args = parse_args(argv)
    args.started = time.time()  # --max-minutes counts from here
    check_out(args.out, args.force)
    device, precision, dist = start_run(args)
    out = Path(args.out)
    series = load_frames(args.data)
    splits = split_prices(series, seed=args.seed)
    scale = return_scale(splits.train)
    cfg = (
        StockForecaster.load(out).config
        if args.calibrate_only
        else ForecastNetConfig(
            cell=args.cell,
            lookback=args.lookback,
            horizon=args.horizon,
            hidden_size=args.hidden_size,
            attention_size=args.attention_size,
            layers=args.layers,
            dropout=args.dropout,
            quantiles=[float(q) for q in args.quantiles.split(",")],
            scale=scale,
            features=features_of(args),
            normalize=args.normalize,
            variance=args.variance,
            long_run=args.long_run,
            history_days=args.history_days,
        )
    )
    if cfg.history_days:  # each day's history columns, from the ticker's whole series up to that day
        splits = split_prices(with_history(series, cfg.scale, cfg.history_days, cfg.features), seed=args.seed)
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
    x_train, y_train = tensors(train_w, cfg)
    del train_w, val_w  # the raw windows (float64 bars) are no longer needed
    task = ForecastTask(args, model, (x_train, y_train, x_val, y_val), dist, config)
    writer = SummaryWriter(args.logdir or f"runs/{config['id']}") if dist.is_main else None
    run = Run(device, precision, dist, out / ".train", writer, config["training"]["command"])
    # the last evaluation gets half the grace after the --max-minutes deadline, calibration the rest
    progress = fit(task, dist.wrap(model, device), torch.optim.Adam(model.parameters(), lr=args.lr), run, args, 0.5)
    dist.verify_replicas(model)
    dist.close()
    if not dist.is_main:
        return {}
    if writer:  # rank 0 has one
        writer.close()
    if not args.no_calibration:
        calibrate_checkpoint(out, x_val, y_val, device, calibration_windows(task, Limits.of(args), len(x_val)))
    return {"best_val_pinball": progress.best, "steps": progress.step, **progress.to_dict()}


if __name__ == "__main__":
    run_main(main)
