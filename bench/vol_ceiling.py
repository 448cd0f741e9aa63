"""How far can a range-based volatility forecast get below GARCH(1,1)-t's interval score? An
oracle ceiling on the backtest's own origins.

    python -m training.forecasting.backtest --checkpoint checkpoints/forecaster-sp500 \\
        --data ../shared/data/all_stocks_5yr.csv --write-forecasts work/forecasts.csv
    python -m bench.vol_ceiling --data ../shared/data/all_stocks_5yr.csv --forecasts work/forecasts.csv

For each origin the interval is last close x exp(+-c sqrt(h v)), centred on no change, where v
mixes means of the daily Parkinson variance (ln H/L)^2 / (4 ln 2) over the last 1, 5, 22, 60
and 250 days (``--windows``; weights 0, 0.5 or 1 each) and of squared close-to-close returns
over the longest of them.
The weights and c are chosen on the scored outcomes themselves, per horizon and level: no
forecaster of this family can score lower on these origins. Printed: that lowest score over
GARCH's (from the forecast file: the same origins), beside the best mix's weights and c.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from training.cli import parser
from training.forecasting.forecast_csv import LEVELS
from training.forecasting.forecast_scores import interval_score
from training.forecasting.prices import load_bars


def trailing_means(x: np.ndarray, origins: np.ndarray, window: int) -> np.ndarray:
    """Mean of x over the ``window`` days up to each origin (NaN skipped), (N,)."""
    return np.array([np.nanmean(x[max(1, t - window + 1) : t + 1]) for t in origins])


def components(bars, origins: np.ndarray, windows: list[int]) -> np.ndarray:
    """(N, W + 1) variance estimates at each origin: Parkinson means over each window, squared
    returns over the longest."""
    with np.errstate(invalid="ignore", divide="ignore"):
        parkinson = np.log(bars.high / bars.low) ** 2 / (4 * np.log(2))
    squared = np.concatenate([[np.nan], np.diff(np.log(bars.close)) ** 2])
    longest = trailing_means(squared, origins, max(windows))
    return np.stack([*(trailing_means(parkinson, origins, w) for w in windows), longest], 1)


def ceiling(var: np.ndarray, last: np.ndarray, actual: np.ndarray, h: int, level: float, garch: float) -> tuple:
    """-> (lowest mean score / GARCH's, weights, c) over the weight grid and c in 0.8..2.4."""
    best: tuple = (np.inf, None, None)
    for weights in itertools.product((0.0, 0.5, 1.0), repeat=var.shape[1]):
        if not any(weights):
            continue
        sd = np.sqrt(h * (var @ np.array(weights)) / sum(weights))
        for c in np.linspace(0.8, 2.4, 17):
            lower, upper = last * np.exp(-c * sd), last * np.exp(c * sd)
            score = float((100 * interval_score(lower, upper, actual, level) / last).mean())
            if score < best[0]:
                best = (score, weights, c)
    return best[0] / garch, best[1], best[2]


def main(argv=None) -> list[str]:
    p = parser("bench.vol_ceiling", __doc__)
    p.add_argument("--data", required=True, help="price CSV with open/high/low")
    p.add_argument(
        "--forecasts", required=True, help="forecast file of training.forecasting.backtest --write-forecasts"
    )
    p.add_argument("--windows", default="1,5,22,60,250", help="days of the trailing means, comma-separated")
    args = p.parse_args(argv)
    windows = [int(w) for w in args.windows.split(",")]
    data = load_bars(args.data)
    garch = pd.read_csv(args.forecasts).query("method == 'garch'")
    names = [f"parkinson {w}d" for w in windows] + [f"returns {max(windows)}d"]
    lines = [
        "| h | level | lowest score / GARCH's | weights (" + ", ".join(names) + ") | c |",
        "|---:|---:|---:|---|---:|",
    ]
    for h, rows in garch.groupby("h"):
        parts = []
        for ticker, group in rows.groupby("ticker"):
            bars, dates = data[ticker]
            index = {d: i for i, d in enumerate(dates)}
            origins = np.array([index[d] for d in group["origin_date"]])
            parts.append((components(bars, origins, windows), bars.close[origins], bars.close[origins + int(h)], group))
        var, last, actual = (np.concatenate([part[i] for part in parts]) for i in range(3))
        frame = pd.concat([part[3] for part in parts])
        for level, (lo, hi) in LEVELS.items():
            garch_score = float((100 * interval_score(frame[lo].values, frame[hi].values, actual, level) / last).mean())
            ratio, weights, c = ceiling(var, last, actual, int(h), level, garch_score)
            lines.append(f"| {h} | {level:.0%} | {ratio:.3f} | {', '.join(f'{w:g}' for w in weights)} | {c:.2f} |")
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
