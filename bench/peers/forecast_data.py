"""What the forecasting peers share: our data and split, our backtest's origins, and their output.

    .venv/bin/python -m bench.peers.forecast_data [--data ../shared/data/all_stocks_5yr.csv]

Run with our venv, it writes our split of the price file to ``work/peers/forecast-split/``:
``closes.csv`` (ticker, date, close: every ticker's closes as ``training.forecasting.prices.load_prices``
reads and cleans them) and ``split.json`` (the checkpoint's held-out tickers, checked against
``training.forecasting.prices.split_prices``, and its validation and test start dates). The peers' scripts
run in their own venvs (numpy and pandas, no torch) and read those files with ``load_split``.

Origins mirror ``training.forecasting.backtest.ticker_forecasts`` (which the peers' venvs cannot import: it
needs torch and our models): with N prices, indices ``max(L, N - last_days - H) .. N - H - 1``,
each forecasting h = 1..H from prices up to and including the origin; tickers with fewer than
``L + last_days // 2`` prices are not scored.

Output, per peer, ``work/peers/<method>.csv`` (columns ``CSV_COLUMNS``, prices, ``origin_date`` the
ISO date of the last price seen) and ``work/peers/<method>.json`` (fit seconds, forecasts/s and
the settings).
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from training.cli import parser

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "all_stocks_5yr.csv"
CHECKPOINT = ROOT / "checkpoints" / "forecaster-sp500"
OUT = ROOT / "work" / "peers"
SPLIT = OUT / "forecast-split"
LOOKBACK, HORIZON, LAST_DAYS = 60, 5, 250  # our checkpoint's lookback; the backtest's defaults
LEVELS = (80, 90)
CSV_COLUMNS = ["method", "ticker", "origin_date", "h", "point", "lower80", "upper80", "lower90", "upper90"]


def rel(path: str | Path) -> str:
    """``path`` as typed from the repository root (the commands' working directory)."""
    return os.path.relpath(Path(path).resolve(), ROOT)


@dataclass
class Split:
    """Our forecaster's split of the price file: ``series`` every ticker's closes (oldest first),
    ``heldout`` the tickers it never trained on, ``val_start``/``test_start`` its time split."""

    series: dict[str, pd.Series]
    heldout: list[str]
    val_start: str
    test_start: str

    @property
    def training_tickers(self) -> list[str]:
        held = set(self.heldout)
        return [t for t in sorted(self.series) if t not in held]

    def scored(self) -> list[str]:
        """The held-out tickers the backtest scores (enough history for its window)."""
        return [t for t in self.heldout if t in self.series and len(self.series[t]) >= LOOKBACK + LAST_DAYS // 2]


def export(data: str | Path = DATA, checkpoint: Path = CHECKPOINT, out: Path = SPLIT) -> Path:
    """Our reading and split of ``data`` into ``out`` (needs our venv). Raises ValueError if our
    split does not hold out the checkpoint's tickers."""
    from training.forecasting.prices import load_prices, split_prices

    heldout = list(json.loads((checkpoint / "config.json").read_text())["training"]["heldout_tickers"])
    series = load_prices(data)
    splits = split_prices(series)  # our defaults and seed: the dates the checkpoint trained with
    if splits.heldout != heldout:
        raise ValueError(f"{data}: our split holds out other tickers than {checkpoint.name}")
    out.mkdir(parents=True, exist_ok=True)
    frames = [pd.DataFrame({"ticker": t, "date": s.index.date, "close": s.values}) for t, s in series.items()]
    pd.concat(frames).to_csv(out / "closes.csv", index=False)
    split = {"data": str(data), "heldout": heldout, "val_start": splits.val_start, "test_start": splits.test_start}
    (out / "split.json").write_text(json.dumps(split, indent=1) + "\n")
    return out


def load_split(folder: Path = SPLIT) -> Split:
    """What ``export`` wrote. Raises OSError naming the command that writes it when absent."""
    if not (folder / "split.json").exists():
        raise OSError(f"no {folder}/split.json: run `.venv/bin/python -m bench.peers.forecast_data` first")
    split = json.loads((folder / "split.json").read_text())
    frame = pd.read_csv(folder / "closes.csv", parse_dates=["date"])
    groups = frame.groupby("ticker")
    series = {str(t): pd.Series(g["close"].values, index=pd.DatetimeIndex(g["date"])) for t, g in groups}
    return Split(series, split["heldout"], split["val_start"], split["test_start"])


def origins(n: int) -> np.ndarray:
    """Backtest origins (indices of the last price seen) of a ticker with ``n`` prices."""
    return np.arange(max(LOOKBACK, n - LAST_DAYS - HORIZON), n - HORIZON)


@dataclass
class PeerRun:
    """One peer's forecasts (log-price quantiles per origin) and timings, written as CSV + JSON."""

    method: str
    settings: dict
    rows: list[list] = field(default_factory=list)
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    forecasts: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # "fit"/"predict": this process's CPU time

    def add(self, ticker: str, dates: pd.DatetimeIndex, origin: int, paths: dict[str, np.ndarray]) -> None:
        """``paths``: ``point``, ``lower80``, ... each (HORIZON,) log prices for one origin."""
        day = str(dates[origin].date())
        prices = {k: np.exp(np.asarray(v, dtype=np.float64)) for k, v in paths.items()}
        for h in range(1, HORIZON + 1):
            self.rows.append([self.method, ticker, day, h, *(f"{prices[k][h - 1]:.6f}" for k in CSV_COLUMNS[4:])])
        self.forecasts += 1

    @contextmanager
    def timing(self, what: str) -> Iterator[None]:
        """Adds the block's wall seconds to ``fit_seconds`` or ``predict_seconds``, and its CPU
        seconds (this process, all its threads: on a shared machine the wall time moves with the
        load, the CPU time much less) to ``cpu_seconds[what]``."""
        start, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            setattr(self, f"{what}_seconds", getattr(self, f"{what}_seconds") + time.perf_counter() - start)
            self.cpu_seconds[what] = self.cpu_seconds.get(what, 0.0) + time.process_time() - cpu

    def write(self, out: Path = OUT) -> Path:
        """-> the CSV's path; the JSON beside it."""
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{self.method}.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(self.rows)
        summary = {
            "method": self.method,
            "forecasts": self.forecasts,
            "horizons": HORIZON,
            "fit_seconds": round(self.fit_seconds, 2),
            "predict_seconds": round(self.predict_seconds, 2),
            "forecasts_per_second": round(self.forecasts / self.predict_seconds, 1) if self.predict_seconds else None,
            **{f"{what}_cpu_seconds": round(seconds, 2) for what, seconds in self.cpu_seconds.items()},
            "forecasts_per_cpu_second": (
                round(self.forecasts / self.cpu_seconds["predict"], 1) if self.cpu_seconds.get("predict") else None
            ),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),  # the machine is shared: timings move
            **self.settings,
        }
        path.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
        return path


def main(argv=None) -> Path:
    p = parser("bench.peers.forecast_data", __doc__)
    p.add_argument("--data", default=rel(DATA), help="the Kaggle price file")
    args = p.parse_args(argv)
    try:
        out = export(args.data)
    except (ValueError, OSError) as error:
        raise SystemExit(f"bench.peers.forecast_data: {error}") from None
    print(f"wrote {out.relative_to(ROOT)}/closes.csv and split.json")
    return out


if __name__ == "__main__":
    main()
