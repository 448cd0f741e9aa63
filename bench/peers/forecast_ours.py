"""Our shipped forecaster on the forecasting peers' origins: its forecasts in their CSV format, and
``StockForecaster.predict`` timed the way the peers' predictions are.

    .venv/bin/python -m bench.peers.forecast_ours [--checkpoint checkpoints/forecaster-sp500] [--threads 1]
        [--data ../shared/data/all_stocks_5yr.csv] [--closes-only]

Per scored held-out ticker, one ``predict(histories, 5, 0.8)`` call on the last L + 1 days up to
each of its 250 origins, as ``training.forecasting.backtest`` gives them: bars (open, high, low, volume
beside the close, ``training.forecasting.prices.load_bars``) for a checkpoint that reads them, else (or with
--closes-only) closes; timed. The CSV's 80% and 90% bounds come from ``quantile_paths`` (the
same network pass, every quantile), so it scores exactly as the backtest's ``model`` row (with
--closes-only: as its ``--closes-only`` one). Fit seconds are the checkpoint's own training
minutes (``config.json`` training.minutes), not measured here. Writes
``work/peers/attnserve.csv`` and ``.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.peers.forecast_data import CHECKPOINT, DATA, HORIZON, LEVELS, PeerRun, load_split, origins, rel
from models.forecasting.forecaster import Bars, StockForecaster
from training.cli import parser
from training.forecasting.prices import load_bars


def histories_of(series: pd.Series, bars: tuple[Bars, list[str]] | None, at: np.ndarray, days: int) -> list:
    """The last ``days`` days up to each origin in ``at`` (what the checkpoint reads): Bars from
    ``bars`` (its dates must be the split's, else ValueError), or closes of ``series`` when ``bars``
    is None."""
    if bars is None:
        prices = series.values.astype(np.float64)
        return [prices[max(0, t + 1 - days) : t + 1] for t in at]
    found, dates = bars
    if dates != [str(d.date()) for d in series.index]:
        raise ValueError("the price file's dates differ from the exported split's: rerun bench.peers.forecast_data")
    return [found.window(t + 1, days) for t in at]


def run(checkpoint: Path, threads: int, data: Path = DATA, closes_only: bool = False) -> PeerRun:
    torch.set_num_threads(threads)
    fc = StockForecaster.load(checkpoint)
    training = json.loads((checkpoint / "config.json").read_text())["training"]
    qs = fc.config.quantiles
    columns = {"point": qs.index(0.5)}
    for level in LEVELS:
        lo, hi = fc.quantile_pair(level / 100)
        columns[f"lower{level}"], columns[f"upper{level}"] = lo, hi
    bars = {} if closes_only or not fc.config.reads_bars else load_bars(data)
    inputs = "bars" if bars else "closes"
    settings = {"library": "attnserve", "model": checkpoint.name, "threads": threads, "inputs": inputs}
    result = PeerRun("attnserve", settings | {"fit_seconds_from": "config.json training.minutes"})
    result.fit_seconds = 60 * float(training["minutes"])
    split = load_split()
    for ticker in split.scored():
        series = split.series[ticker]
        at = origins(len(series))
        if bars and ticker not in bars:
            raise ValueError(f"{ticker} is in the exported split but not in {data}")
        histories = histories_of(series, bars[ticker] if bars else None, at, fc.config.days_read)
        with result.timing("predict"):
            fc.predict(histories, HORIZON, 0.8)
        paths, *_ = fc.quantile_paths(histories, HORIZON)  # (origins, HORIZON, Q) prices
        for t, path in zip(at, np.log(paths)):
            result.add(ticker, series.index, int(t), {k: path[:, q] for k, q in columns.items()})
    return result


def main(argv=None) -> PeerRun:
    p = parser("bench.peers.forecast_ours", __doc__)
    p.add_argument("--checkpoint", default=rel(CHECKPOINT), help="forecaster checkpoint folder")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--data", default=rel(DATA), help="the Kaggle price file (bars for a checkpoint that reads them)")
    p.add_argument("--closes-only", action="store_true", help="give the model closes only")
    args = p.parse_args(argv)
    try:
        result = run(Path(args.checkpoint), args.threads, Path(args.data), args.closes_only)
        path = result.write()
    except (ValueError, OSError) as error:
        raise SystemExit(f"bench.peers.forecast_ours: {error}") from None
    rate = result.forecasts / result.predict_seconds
    print(f"{result.method} ({result.settings['inputs']}): {result.forecasts} forecasts, {rate:.1f} forecasts/s")
    print(f"-> {path}")
    return result


if __name__ == "__main__":
    main()
