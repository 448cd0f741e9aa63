"""Our shipped forecaster on the forecasting peers' origins: its forecasts in their CSV format, and
``StockForecaster.predict`` timed the way the peers' predictions are.

    .venv/bin/python -m bench.peers.forecast_ours [--checkpoint checkpoints/forecaster-sp500] [--threads 1]

Per scored held-out ticker, one ``predict(histories, 5, 0.8)`` call on the closes up to each of its
250 origins (as ``training.backtest`` calls it), timed; the CSV's 80% and 90% bounds come from
``quantile_paths`` (the same network pass, every quantile). Fit seconds are the checkpoint's own
training minutes (``config.json`` training.minutes), not measured here. Writes
``work/peers/attnserve.csv`` and ``.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from bench.peers.forecast_data import CHECKPOINT, HORIZON, LEVELS, PeerRun, load_split, origins, rel
from models.forecaster import StockForecaster
from training.cli import parser


def run(checkpoint: Path, threads: int) -> PeerRun:
    torch.set_num_threads(threads)
    fc = StockForecaster.load(checkpoint)
    training = json.loads((checkpoint / "config.json").read_text())["training"]
    qs = fc.config.quantiles
    columns = {"point": qs.index(0.5)}
    for level in LEVELS:
        lo, hi = fc.quantile_pair(level / 100)
        columns[f"lower{level}"], columns[f"upper{level}"] = lo, hi
    settings = {"library": "attnserve", "model": checkpoint.name, "threads": threads}
    result = PeerRun("attnserve", settings | {"fit_seconds_from": "config.json training.minutes"})
    result.fit_seconds = 60 * float(training["minutes"])
    split = load_split()
    for ticker in split.scored():
        series = split.series[ticker]
        prices = series.values.astype(np.float64)
        at = origins(len(prices))
        histories = [prices[: t + 1] for t in at]
        with result.timing("predict"):
            fc.predict(histories, HORIZON, 0.8)
        paths, _ = fc.quantile_paths(histories, HORIZON)  # (origins, HORIZON, Q) prices
        for t, path in zip(at, np.log(paths)):
            result.add(ticker, series.index, int(t), {k: path[:, q] for k, q in columns.items()})
    return result


def main(argv=None) -> PeerRun:
    p = parser("bench.peers.forecast_ours", __doc__)
    p.add_argument("--checkpoint", default=rel(CHECKPOINT), help="forecaster checkpoint folder")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = p.parse_args(argv)
    try:
        result = run(Path(args.checkpoint), args.threads)
        path = result.write()
    except (ValueError, OSError) as error:
        raise SystemExit(f"bench.peers.forecast_ours: {error}") from None
    print(f"{result.method}: {result.forecasts} forecasts, {result.forecasts / result.predict_seconds:.1f} forecasts/s")
    print(f"-> {path}")
    return result


if __name__ == "__main__":
    main()
