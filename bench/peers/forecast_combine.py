"""Our forecaster's intervals averaged with GARCH(1,1)-t's, per origin: a measurement, not a
shipped method.

    .venv/bin/python -m bench.peers.forecast_combine --choose CHOOSE.csv --apply TEST.csv
        [--data ../shared/data/all_stocks_5yr.csv] [--out work/peers]

Both files are ``training.forecasting.backtest --write-forecasts`` output (methods ``model`` and ``garch``,
the same origins for both). Per origin, horizon and level the combined bounds are
w x ours + (1 - w) x GARCH's (quantile averaging; the point likewise, with w = 0.5). The
weight w of each horizon and level is the one (of 0, 0.05, ..., 1) with the lowest mean interval
score on the ``--choose`` origins, whose outcomes are read from ``--data`` by date; those must
lie before the test year (a backtest on the price file cut before the checkpoint's test start,
say), so the test year never picks the weight. Writes two forecast files for the backtest's
``--peers`` on the ``--apply`` origins: ``combo-equal.csv`` (w = 0.5) and ``combo-chosen.csv``
(the chosen weights), and prints the weights with their scores on the choice origins.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.peers.forecast_data import DATA, OUT, rel
from training.cli import parser
from training.forecasting.forecast_csv import (
    LEVELS,
    HorizonForecast,
    Key,
    forecast_rows,
    read_forecasts,
    write_forecasts,
)
from training.forecasting.forecast_scores import interval_score
from training.forecasting.prices import load_prices

GRID = np.round(np.arange(0, 1.0001, 0.05), 2)

Rows = dict[Key, tuple[float, dict[float, tuple]]]  # {(ticker, origin_date, h): (point, {level: (lower, upper)})}


def pair(path: str | Path) -> tuple[Rows, Rows, list[Key]]:
    """(ours, GARCH's, their shared keys in order) from a --write-forecasts file; ValueError when
    it lacks either method or they differ in origins."""
    found = read_forecasts([path])
    if not {"model", "garch"} <= set(found):
        raise ValueError(f"{path}: needs methods model and garch (training.forecasting.backtest --write-forecasts)")
    ours, garch = found["model"], found["garch"]
    if set(ours) != set(garch):
        raise ValueError(f"{path}: model and garch forecast different origins")
    return ours, garch, sorted(ours)


def bounds(rows: Rows, keys: list[Key], level: float) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) at ``level`` for ``keys``, each (N,)."""
    return np.array([rows[k][1][level][0] for k in keys]), np.array([rows[k][1][level][1] for k in keys])


def outcomes(keys: list[Key], prices: dict[str, pd.Series]) -> tuple[np.ndarray, np.ndarray]:
    """(price h rows after each origin, the origin's price), each (N,), from ``load_prices``' series;
    ValueError naming an origin the data does not reach."""
    actual, last = np.empty(len(keys)), np.empty(len(keys))
    where = {t: {str(d.date()): i for i, d in enumerate(s.index)} for t, s in prices.items()}
    for n, (ticker, day, h) in enumerate(keys):
        i = where.get(ticker, {}).get(day)
        if i is None or i + h >= len(prices[ticker]):
            raise ValueError(f"the data has no outcome for {ticker} {day} h={h}")
        actual[n], last[n] = prices[ticker].values[i + h], prices[ticker].values[i]
    return actual, last


def mixed_scores(ours: tuple, garch: tuple, actual: np.ndarray, last: np.ndarray, level: float) -> np.ndarray:
    """Mean interval score (% of the origin price) of w x ours + (1 - w) x GARCH's bounds, for
    each w in GRID -> (len(GRID),); bounds (lower, upper) each (N,), outcomes and origin prices (N,)."""
    out = []
    for w in GRID:
        lower, upper = w * ours[0] + (1 - w) * garch[0], w * ours[1] + (1 - w) * garch[1]
        out.append((100 * interval_score(lower, upper, actual, level) / last).mean())
    return np.array(out)


def choose(path: str | Path, prices: dict[str, pd.Series]) -> dict[tuple[int, float], tuple[float, float, float]]:
    """{(h, level): (chosen w, its mean score / GARCH's, w = 0.5's)} on the origins of ``path``:
    mean interval score in % of the origin price over every origin (pooled)."""
    ours, garch, keys = pair(path)
    chosen = {}
    for h in sorted({k[2] for k in keys}):
        at = [k for k in keys if k[2] == h]
        actual, last = outcomes(at, prices)
        for level in LEVELS:
            mixes = mixed_scores(bounds(ours, at, level), bounds(garch, at, level), actual, last, level)
            best = int(np.argmin(mixes))
            equal = int(np.flatnonzero(GRID == 0.5)[0])
            chosen[(h, level)] = (float(GRID[best]), mixes[best] / mixes[0], mixes[equal] / mixes[0])
    return chosen


def combined(path: str | Path, weights: dict[tuple[int, float], float], method: str) -> list[dict]:
    """Forecast-file rows of ``method``: ours and GARCH's in ``path`` mixed with ``weights``
    {(h, level): w of ours}; the point with w = 0.5."""
    ours, garch, keys = pair(path)
    rows = []
    for ticker, day, h in keys:
        point = 0.5 * ours[(ticker, day, h)][0] + 0.5 * garch[(ticker, day, h)][0]
        intervals = {}
        for level in LEVELS:
            w = weights[(h, level)]
            (lo_m, hi_m), (lo_g, hi_g) = ours[(ticker, day, h)][1][level], garch[(ticker, day, h)][1][level]
            intervals[level] = (np.array([w * lo_m + (1 - w) * lo_g]), np.array([w * hi_m + (1 - w) * hi_g]))
        rows += forecast_rows(method, ticker, [day], h, HorizonForecast(np.array([point]), intervals))
    return rows


def main(argv=None) -> dict:
    p = parser("bench.peers.forecast_combine", __doc__)
    p.add_argument("--choose", required=True, help="forecast file whose origins pick the weights (before the test)")
    p.add_argument("--apply", required=True, help="forecast file of the test origins to combine")
    p.add_argument("--data", default=rel(DATA), help="price file with the outcomes of the --choose origins")
    p.add_argument("--out", default=rel(OUT), help="folder for combo-equal.csv and combo-chosen.csv")
    args = p.parse_args(argv)
    try:
        chosen = choose(args.choose, load_prices(args.data))
        weights = {key: w for key, (w, _, _) in chosen.items()}
        for name, mix in (("combo-equal", {key: 0.5 for key in chosen}), ("combo-chosen", weights)):
            write_forecasts(Path(args.out) / f"{name}.csv", combined(args.apply, mix, name))
    except (ValueError, OSError, KeyError) as error:
        raise SystemExit(f"bench.peers.forecast_combine: {error}") from None
    print("On the --choose origins, mean interval score / GARCH's (pooled over origins):\n")
    print("| h | level | chosen w of ours | its score / GARCH's | w = 0.5: score / GARCH's |")
    print("|---:|---:|---:|---:|---:|")
    for (h, level), (w, best, equal) in sorted(chosen.items()):
        print(f"| {h} | {level:.0%} | {w:.2f} | {best:.4f} | {equal:.4f} |")
    print(
        f"-> {args.out}/combo-equal.csv, {args.out}/combo-chosen.csv "
        "(score them: training.forecasting.backtest --peers)"
    )
    return chosen


if __name__ == "__main__":
    main()
