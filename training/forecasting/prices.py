"""Daily bars: loading (Kaggle multi-ticker, Yahoo single-ticker, or arch's bundled S&P 500),
splits by time and by ticker, and training windows that never cross a split boundary."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from models.forecasting.forecaster import Bars

log = logging.getLogger(__name__)


BAR_COLUMNS = ("close", "open", "high", "low", "volume")


def _clean(name: str, dates: pd.Series, columns: dict[str, pd.Series]) -> pd.DataFrame:
    """-> frame of ``BAR_COLUMNS`` indexed by date, oldest first; rows without a positive close
    dropped (counted in the log), other missing or non-positive figures NaN (volume: negative)."""
    frame = pd.DataFrame(
        {c: pd.to_numeric(columns[c], errors="coerce").values if c in columns else np.nan for c in BAR_COLUMNS},
        index=pd.to_datetime(dates.values),
    ).sort_index()
    frame.index.name = name
    bad = ~np.isfinite(frame["close"].values) | (frame["close"].values <= 0)
    if bad.any():
        log.info("%s: dropped %d rows with missing or non-positive prices", name, int(bad.sum()))
    frame = frame[~bad]
    for column in ("open", "high", "low"):
        frame.loc[~(frame[column] > 0), column] = np.nan
    frame.loc[~(frame["volume"] >= 0), "volume"] = np.nan
    return frame


def load_frames(path: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """-> {ticker: daily bars (columns close, open, high, low, volume; NaN where the file has
    none) indexed by date, oldest first}.

    Format is detected from the header: ``date,open,high,low,close,volume,Name`` (Kaggle S&P 500,
    one file, many tickers) or ``Date,Open,High,Low,Close,Adj Close,Volume`` (Yahoo, one ticker
    named after the file; the dividend-adjusted ``Adj Close`` is the close, and open, high and
    low are adjusted by the same factor). No path: arch's bundled S&P 500 index series."""
    if path is None:
        from arch.data import sp500

        frame = sp500.load()
        return {"SP500": _clean("SP500", frame.index.to_series(), _yahoo_columns(frame))}
    frame = pd.read_csv(path, na_values=["null", ""])
    columns = set(frame.columns)
    if {"date", "close", "Name"} <= columns:
        return {
            str(name): _clean(str(name), group["date"], {c: group[c] for c in BAR_COLUMNS if c in columns})
            for name, group in frame.groupby("Name", sort=True)
        }
    if {"Date", "Close"} <= columns:
        name = Path(path).stem.upper()
        return {name: _clean(name, frame["Date"], _yahoo_columns(frame))}
    raise ValueError(f"{path}: unknown CSV format; columns {sorted(columns)}")


def _yahoo_columns(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Yahoo's columns as bars: ``Adj Close`` the close where given, open/high/low scaled alike."""
    close = pd.to_numeric(frame["Close"], errors="coerce")
    adjusted = pd.to_numeric(frame["Adj Close"], errors="coerce") if "Adj Close" in frame else close
    factor = adjusted / close
    out = {"close": adjusted}
    for column in ("open", "high", "low", "volume"):
        if column.title() in frame:
            value = pd.to_numeric(frame[column.title()], errors="coerce")
            out[column] = value if column == "volume" else value * factor
    return out


def load_prices(path: str | Path | None = None) -> dict[str, pd.Series]:
    """-> {ticker: close prices indexed by date, oldest first} (see ``load_frames``)."""
    return {name: frame["close"].rename(name) for name, frame in load_frames(path).items()}


def load_bars(path: str | Path | None = None) -> dict[str, tuple[Bars, list[str]]]:
    """-> {ticker: (its bars, oldest first; a column the file lacks entirely is None, a missing
    figure NaN), ISO dates of its rows}."""
    out = {}
    for name, frame in load_frames(path).items():
        arrays = {c: frame[c].to_numpy(np.float64) for c in BAR_COLUMNS}
        given = {c: (a if np.isfinite(a).any() else None) for c, a in arrays.items()}
        out[name] = (Bars(**given), [d.date().isoformat() for d in frame.index])  # type: ignore[arg-type]
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
    Series give (T,) segments, frames of ``load_frames`` (T, 5) ones."""
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
