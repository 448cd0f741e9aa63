"""Daily bars: loading (Kaggle multi-ticker, Yahoo single-ticker, or arch's bundled S&P 500) with
the upload's reader and rules (``models.forecasting.price_file``), splits by time and by ticker,
and training windows that never cross a split boundary."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from models.forecasting.features import history_columns, history_names
from models.forecasting.forecaster import Bars
from models.forecasting.price_file import PriceFileError, PriceTable, read_tickers

log = logging.getLogger(__name__)


BAR_COLUMNS = ("close", "open", "high", "low", "volume")
UNIX_DAY_ONE = date(1970, 1, 1).toordinal()


def read_prices(path: str | Path | None = None) -> dict[str, PriceTable]:
    """-> {ticker: its whole history as the upload reads a file (``models.forecasting.price_file``:
    the same columns, missing figures, dropped rows and bars that cannot be), except that a figure
    that is not one is missing rather than an error}; what was dropped or left out is logged.

    Format is detected from the header: ``date,open,high,low,close,volume,Name`` (Kaggle S&P 500,
    one file, many tickers) or ``Date,Open,High,Low,Close,Adj Close,Volume`` (Yahoo, one ticker
    named after the file; the dividend-adjusted ``Adj Close`` is the close, and open, high and
    low are adjusted by the same factor). No path: arch's bundled S&P 500 index series."""
    if path is None:
        from arch.data import sp500  # seconds to import (scipy, statsmodels): only for the bundled series

        data, name = sp500.load().to_csv(index_label="Date", date_format="%Y-%m-%d").encode(), "SP500"
    else:
        data, name = Path(path).read_bytes(), Path(path).name
    try:
        tables = read_tickers(data, name)
    except PriceFileError as error:
        raise PriceFileError(error.where, f"{path or name}: {error}") from None
    for ticker, table in tables.items():
        for warning in table.warnings:
            log.info("%s: %s", ticker, warning)
    return tables


def load_frames(path: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """-> {ticker: daily bars (columns ``BAR_COLUMNS``; NaN where the file has none) indexed by
    date, oldest first} (see ``read_prices``)."""
    frames = {}
    for name, table in read_prices(path).items():
        missing = np.full(len(table.dates), np.nan)
        columns = {c: missing if getattr(table.bars, c) is None else getattr(table.bars, c) for c in BAR_COLUMNS}
        days = np.fromiter(map(date.toordinal, table.dates), np.int64, len(table.dates)) - UNIX_DAY_ONE
        index = pd.DatetimeIndex(days.astype("datetime64[D]").astype("datetime64[ns]"), name=name)
        frames[name] = pd.DataFrame(columns, index=index)
    return frames


def load_prices(path: str | Path | None = None) -> dict[str, pd.Series]:
    """-> {ticker: close prices indexed by date, oldest first} (see ``read_prices``)."""
    return {name: frame["close"].rename(name) for name, frame in load_frames(path).items()}


def load_bars(path: str | Path | None = None) -> dict[str, tuple[Bars, list[str]]]:
    """-> {ticker: (its bars, oldest first; a column the file lacks, or has on no day, is None, a
    missing figure NaN), ISO dates of its rows} (see ``read_prices``)."""
    return {name: (table.bars, [d.isoformat() for d in table.dates]) for name, table in read_prices(path).items()}


def with_history(frames: dict[str, pd.DataFrame], scale: float, days: int, features: list[str]) -> dict:
    """``load_frames``' frames with the history columns (``models.forecasting.features``) after
    ``BAR_COLUMNS``: each day's from the ticker's series up to that day (never a later one), so a
    window anywhere in a split reads what serving computes from the same past."""
    out = {}
    for name, frame in frames.items():
        bars = {c: frame[c].to_numpy()[None] for c in BAR_COLUMNS[1:]}
        history = history_columns(frame["close"].to_numpy()[None], scale, days, features, bars)[0]  # (T, K)
        out[name] = frame.assign(**dict(zip(history_names(features), history.T)))
    return out


@dataclass
class PriceSplits:
    """Segments of each ticker's price array (T,) or bar array (T, 5: ``BAR_COLUMNS``, close
    first); ``heldout`` tickers are in no training segment."""

    train: dict[str, np.ndarray] = field(default_factory=dict)
    val: dict[str, np.ndarray] = field(default_factory=dict)
    test: dict[str, np.ndarray] = field(default_factory=dict)
    heldout: list[str] = field(default_factory=list)
    val_start: str = ""
    test_start: str = ""


def split_prices(
    series: dict[str, pd.Series] | dict[str, pd.DataFrame],
    val_frac: float = 0.1,
    test_frac: float = 0.2,
    heldout_frac: float = 0.1,
    seed: int = 1234,
) -> PriceSplits:
    """By time (the last ``test_frac`` of dates test, ``val_frac`` before it validation) and by
    ticker (``heldout_frac`` of tickers kept out of training entirely; none if only one).
    Series give (T,) segments, frames of ``load_frames`` (T, 5) ones (more with ``with_history``)."""
    dates = np.array(sorted(set().union(*(s.index for s in series.values()))))
    val_start = dates[int(len(dates) * (1 - test_frac - val_frac))]
    test_start = dates[int(len(dates) * (1 - test_frac))]
    tickers = sorted(series)
    n_held = int(round(len(tickers) * heldout_frac)) if len(tickers) > 1 else 0
    heldout = sorted(random.Random(seed).sample(tickers, n_held))
    splits = PriceSplits(
        heldout=heldout, val_start=str(pd.Timestamp(val_start).date()), test_start=str(pd.Timestamp(test_start).date())
    )
    for name in tickers:
        s = series[name]
        if name in heldout:
            splits.test[name] = s.values
            continue
        splits.train[name] = s[s.index < val_start].values
        splits.val[name] = s[(s.index >= val_start) & (s.index < test_start)].values
        splits.test[name] = s[s.index >= test_start].values
    return splits


def return_scale(train: dict[str, np.ndarray]) -> float:
    """Standard deviation of daily log returns over the training segments only (of their close
    column when they are bars)."""
    closes = [p[:, 0] if p.ndim == 2 else p for p in train.values()]
    returns = np.concatenate([np.diff(np.log(p)) for p in closes if len(p) > 1])
    return float(returns.std())


def make_windows(segments: dict[str, np.ndarray], lookback: int, horizon: int, stride: int = 1) -> np.ndarray:
    """All (L + 1 + H)-day windows lying wholly inside one segment -> (N, L + 1 + H), or
    (N, L + 1 + H, 5) for bar segments (T, 5).

    The first L + 1 days are the input (L days and the one before, for the first return); the
    last H are the targets. Segments shorter than a window give none.
    """
    size = lookback + 1 + horizon
    parts = [
        np.moveaxis(np.lib.stride_tricks.sliding_window_view(p, size, axis=0), -1, 1)[::stride]
        for p in segments.values()
        if len(p) >= size
    ]
    if parts:
        return np.concatenate(parts).astype(np.float64)
    first = next(iter(segments.values()), np.zeros(0))
    return np.zeros((0, size, *first.shape[1:]))
