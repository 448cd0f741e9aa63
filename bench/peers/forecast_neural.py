"""NeuralForecast's NHITS, one global model, on our backtest's origins with 80% and 90% intervals.

    work/peers/neuralforecast-venv/bin/python -m bench.peers.forecast_neural [--max-steps 1000]
        [--threads 1] [--seed 1234] [--scaler robust] [--tickers AMZN,GOOG]

Needs ``bash bench/peers/setup_forecast_peers.sh neuralforecast`` and
``.venv/bin/python -m bench.peers.forecast_data`` first. Trained as our forecaster was: on log
closes of the training tickers (every ticker but the checkpoint's held-out ones) before our test
start, the last ``val_size`` = our validation period's trading days of each series for
validation (pinball loss, early stopping), the rest for training; input 60 days, horizon 5,
``MQLoss`` at levels 80 and 90 (median and four quantiles), robust window scaling (--scaler:
NeuralForecast's per-window ``scaler_type``). Early stopping ends training but keeps the last
weights (NeuralForecast restores no best checkpoint). Then, without
refitting, ``predict(df=...)`` on each held-out ticker's last 60 log closes up to each origin
(one call per ticker, its 250 origins as 250 series). Quantiles are exponentiated back to prices.
Writes ``work/peers/neuralforecast-nhits.csv`` and ``.json`` (a --scaler or --seed other than the
default is added to the name: ``neuralforecast-nhits-standard-seed1``).
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import pandas as pd

from bench.peers.forecast_data import HORIZON, LEVELS, LOOKBACK, PeerRun, Split, load_split, origins
from training.cli import parser

SEED, SCALER = 1234, "robust"


def training_frame(split: Split) -> tuple[pd.DataFrame, int]:
    """-> (unique_id, ds, y) log closes of the training tickers before the test start, and the
    validation size (trading days from the validation start to the test start)."""
    val_start, test_start = pd.Timestamp(split.val_start), pd.Timestamp(split.test_start)
    days = sorted(set().union(*(s.index for s in split.series.values())))
    val_size = sum(val_start <= d < test_start for d in days)
    frames = []
    for ticker in split.training_tickers:
        s = split.series[ticker]
        if (s.index < val_start).sum() < LOOKBACK + 1 + HORIZON:  # as make_windows: no window
            continue
        y = np.log(s[s.index < test_start].values.astype(np.float64))
        frames.append(pd.DataFrame({"unique_id": ticker, "ds": np.arange(len(y)), "y": y}))
    return pd.concat(frames, ignore_index=True), val_size


def histories(logp: np.ndarray, at: np.ndarray) -> pd.DataFrame:
    """The last LOOKBACK log closes up to each origin, one series per origin (unique_id = its index)."""
    windows = np.stack([logp[t + 1 - LOOKBACK : t + 1] for t in at])  # (origins, LOOKBACK)
    return pd.DataFrame(
        {
            "unique_id": np.repeat(at.astype(str), LOOKBACK),
            "ds": np.tile(np.arange(LOOKBACK), len(at)),
            "y": windows.reshape(-1),
        }
    )


def build(max_steps: int, seed: int, scaler: str):
    from neuralforecast import NeuralForecast  # type: ignore[import-not-found]  # the peer's venv only
    from neuralforecast.losses.pytorch import MQLoss  # type: ignore[import-not-found]
    from neuralforecast.models import NHITS  # type: ignore[import-not-found]

    model = NHITS(
        h=HORIZON,
        input_size=LOOKBACK,
        loss=MQLoss(level=list(LEVELS)),
        max_steps=max_steps,
        val_check_steps=50,
        early_stop_patience_steps=4,
        scaler_type=scaler,
        batch_size=32,
        windows_batch_size=512,
        random_seed=seed,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return NeuralForecast(models=[model], freq=1)


def method_name(args) -> str:
    """``neuralforecast-nhits``, with a non-default scaler and seed added."""
    scaler = f"-{args.scaler}" if args.scaler != SCALER else ""
    return f"neuralforecast-nhits{scaler}{f'-seed{args.seed}' if args.seed != SEED else ''}"


def add_forecasts(run: PeerRun, nf, series: pd.Series) -> None:
    """Forecast one ticker at every backtest origin (one predict call, timed) into ``run``."""
    logp = np.log(series.values.astype(np.float64))
    at = origins(len(logp))
    with run.timing("predict"):
        out = nf.predict(df=histories(logp, at))
    for t, rows in out.groupby("unique_id", sort=False):
        rows = rows.sort_values("ds")
        paths = {"point": rows["NHITS-median"].to_numpy()}
        for level in LEVELS:
            paths[f"lower{level}"] = rows[f"NHITS-lo-{level}"].to_numpy()
            paths[f"upper{level}"] = rows[f"NHITS-hi-{level}"].to_numpy()
        run.add(str(series.name), series.index, int(t), paths)


def run(args) -> PeerRun:
    import torch

    torch.set_num_threads(args.threads)
    split = load_split()
    frame, val_size = training_frame(split)
    nf = build(args.max_steps, args.seed, args.scaler)
    settings: dict[str, object] = {"library": "neuralforecast", "model": "NHITS", "loss": "MQLoss(level=[80, 90])"}
    settings |= {"threads": args.threads, "seed": args.seed, "input_size": LOOKBACK, "scaler_type": args.scaler}
    settings |= {
        "max_steps": args.max_steps,
        "val_size": val_size,
        "training_series": int(frame["unique_id"].nunique()),
    }
    run = PeerRun(method_name(args), settings | {"training_rows": len(frame)})
    print(f"training on {settings['training_series']} series, {len(frame):,} rows, val_size {val_size}", flush=True)
    with run.timing("fit"):
        nf.fit(df=frame, val_size=val_size)
    model = nf.models[0]
    steps = [int(step) for step, _ in model.train_trajectories]
    run.settings["steps"] = max(steps) if steps else None
    run.settings["val_loss"] = [[int(step), round(float(loss), 5)] for step, loss in model.valid_trajectories]
    run.settings["parameters"] = sum(p.numel() for p in model.parameters())
    print(f"fit {run.fit_seconds:.1f} s, {run.settings['steps']} steps", flush=True)
    for ticker in args.tickers.split(",") if args.tickers else split.scored():
        add_forecasts(run, nf, split.series[ticker].rename(ticker))
        print(f"{ticker}: {len(origins(len(split.series[ticker])))} origins", flush=True)
    return run


def main(argv=None) -> PeerRun:
    p = parser("bench.peers.forecast_neural", __doc__)
    p.add_argument("--max-steps", type=int, default=1000, help="training steps at most (early stopping may end it)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--seed", type=int, default=SEED, help="NHITS random_seed")
    p.add_argument("--scaler", default=SCALER, help="NHITS scaler_type (robust, standard, minmax, identity, ...)")
    p.add_argument("--tickers", default=None, help="a few of the scored tickers, comma-separated (a smoke run)")
    args = p.parse_args(argv)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    warnings.simplefilter("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    logging.getLogger("lightning").setLevel(logging.WARNING)
    try:
        result = run(args)
        path = result.write()
    except (ValueError, OSError) as error:
        raise SystemExit(f"bench.peers.forecast_neural: {error}") from None
    print(
        f"{result.method}: {result.forecasts} forecasts, fit {result.fit_seconds:.1f} s, "
        f"{result.forecasts / result.predict_seconds:.1f} forecasts/s -> {path}",
        flush=True,
    )
    return result


if __name__ == "__main__":
    main()
