"""What the forecaster reads: per-day columns of a price window, and the ticker's longer history.

Inputs per day (``window_features``; ``config.features`` names the columns, in this order):
    return:       the daily log return into the day, / scale (0 for the first day of the window
                  when no earlier close is given);
    shape:        log(close_j / last close) / (scale * sqrt(L)), the window's shape seen from today;
    parkinson:    Parkinson volatility sqrt((ln H/L)^2 / (4 ln 2)), / scale;
    garman_klass: Garman-Klass volatility sqrt(max(0, (ln H/L)^2 / 2 - (2 ln 2 - 1)(ln C/O)^2)),
                  / scale;
    gap:          overnight gap ln(open / previous close), / scale;
    volume:       ln(1 + volume) minus its mean over the window's days that have a volume;
    bars_flag:    1 where the day's open, high and low are given (positive, high >= low), else 0;
    volume_flag:  1 where the day's volume is given, else 0;
    history_<p>:  for each variance proxy p the network reads (return, parkinson, garman_klass,
                  gap), the mean of its square over the ticker's last D days (``history_days``;
                  fewer when fewer are given), in scale^2: the long-run level of a longer past
                  than the window. The same value on every day of the window.
A day without open/high/low (or without volume) gets the closes-only values: both volatilities
|return|, gap 0 (volume 0) and flag 0, so one network serves closes alone and full bars
(``closes_only`` turns full-bar features into exactly those). Checkpoints from before the bar
features have ``features = ["return", "shape"]``. ``scale`` is the standard deviation of daily
log returns on the training rows only; it is part of the checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from torch import Tensor

CLOSE_FEATURES = ("return", "shape")
BAR_FEATURES = (*CLOSE_FEATURES, "parkinson", "garman_klass", "gap", "volume", "bars_flag", "volume_flag")
RETURN_LIKE = ("return", "shape", "parkinson", "garman_klass", "gap")
PROXIES = ("return", "parkinson", "garman_klass", "gap")  # squared, they estimate a day's variance
HISTORY_FEATURES = tuple(f"history_{p}" for p in PROXIES)
ALL_FEATURES = (*BAR_FEATURES, *HISTORY_FEATURES)


def history_names(features: list[str] | tuple[str, ...]) -> list[str]:
    """The history columns that go with a network's per-day ``features``: one per proxy it reads."""
    return [f"history_{p}" for p in PROXIES if p in features]


def _positive_log(x: np.ndarray) -> np.ndarray:
    """log of x where x > 0, NaN elsewhere (missing figures are NaN)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)


def _bar_columns(
    logc: np.ndarray, prev: np.ndarray, returns: np.ndarray, scale: float, bars: Mapping[str, np.ndarray | None]
) -> dict[str, np.ndarray]:
    """Range, gap and volume columns (N, L) from log closes (N, L), the log close before each
    day (N, L; NaN if none), the returns and ``bars`` {open, high, low, volume: (N, L) or None}."""
    shape = logc.shape

    def column(name: str) -> np.ndarray:
        value = bars.get(name)
        return np.full(shape, np.nan) if value is None else np.asarray(value, dtype=np.float64)

    logo, logh, logl = (_positive_log(column(k)) for k in ("open", "high", "low"))
    given = np.isfinite(logo) & np.isfinite(logh) & np.isfinite(logl) & (logh >= logl)
    hl = np.where(given, logh - logl, 0.0)
    co = np.where(given, logc - np.where(given, logo, 0.0), 0.0)
    fallback = np.abs(returns) / scale
    gk = np.sqrt(np.maximum(0.0, 0.5 * hl**2 - (2 * math.log(2) - 1) * co**2))
    gap = np.where(given & np.isfinite(prev), np.where(given, logo, 0.0) - np.nan_to_num(prev), 0.0)
    volume = column("volume")
    has_volume = np.isfinite(volume) & (volume >= 0)
    logv = np.log1p(np.where(has_volume, volume, 0.0))
    count = has_volume.sum(1, keepdims=True)
    mean_logv = (logv * has_volume).sum(1, keepdims=True) / np.maximum(count, 1)
    return {
        "parkinson": np.where(given, hl / (2 * math.sqrt(math.log(2))) / scale, fallback),
        "garman_klass": np.where(given, gk / scale, fallback),
        "gap": gap / scale,
        "volume": np.where(has_volume, logv - mean_logv, 0.0),
        "bars_flag": given.astype(np.float64),
        "volume_flag": has_volume.astype(np.float64),
    }


def _day_columns(
    prices: np.ndarray, days: int, scale: float, features: Sequence[str], bars: Mapping[str, np.ndarray | None] | None
) -> dict[str, np.ndarray]:
    """prices (N, T >= days) -> the per-day columns ``features`` asks for, (N, days) each, of the
    last ``days`` days (the close before them, where given, makes the first day's return)."""
    logp = np.log(prices[:, -(days + 1) :])
    returns = np.diff(logp, axis=1)  # (N, days) if an earlier price exists, else (N, days - 1)
    prev = logp[:, :-1]
    if returns.shape[1] < days:
        returns = np.concatenate([np.zeros((len(prices), 1)), returns], axis=1)
        prev = np.concatenate([np.full((len(prices), 1), np.nan), logp[:, :-1]], axis=1)
    logc = logp[:, -days:]
    columns = {"return": returns / scale, "shape": (logc - logc[:, -1:]) / (scale * math.sqrt(days))}
    if set(features) - set(columns):
        last_days = {k: None if v is None else np.asarray(v, np.float64)[:, -days:] for k, v in (bars or {}).items()}
        columns.update(_bar_columns(logc, prev, returns, scale, last_days))
    return columns


def history_columns(
    prices: np.ndarray,
    scale: float,
    days: int,
    features: Sequence[str],
    bars: Mapping[str, np.ndarray | None] | None = None,
) -> np.ndarray:
    """prices (N, T) oldest first -> (N, T, K): at each day t, the mean of each proxy's square
    (``history_names(features)``, K of them) over days max(1, t - days + 1) .. t, in scale^2.
    Day 0 has no earlier close (no return, no gap) and counts only when it is the only day. The
    value at a series' last day is what the network reads, so serving (the last D + 1 days given)
    and training (each day of a ticker's whole series) compute the same numbers."""
    prices = np.asarray(prices, dtype=np.float64)
    total = prices.shape[1]
    proxies = [p for p in PROXIES if p in features]
    columns = _day_columns(prices, total, scale, proxies, bars)
    squares = np.stack([columns[p] ** 2 for p in proxies], axis=-1)  # (N, T, K)
    sums = np.concatenate([np.zeros_like(squares[:, :1]), np.cumsum(squares, axis=1)], axis=1)  # (N, T + 1, K)
    t = np.arange(total)
    start = np.clip(t - days + 1, 1, None)
    start = np.where(t == 0, 0, start)
    counts = (t + 1 - start).reshape(1, -1, 1)
    means: np.ndarray = (sums[:, t + 1] - sums[:, start]) / counts
    return means


def window_features(
    prices: np.ndarray,
    lookback: int,
    scale: float,
    features: tuple[str, ...] | list[str] = CLOSE_FEATURES,
    bars: Mapping[str, np.ndarray | None] | None = None,
    history_days: int = 0,
    history: np.ndarray | None = None,
) -> np.ndarray:
    """prices (N, T >= L) oldest first -> features (N, L, F) float32 for the last L days.

    ``bars``: optional {open, high, low, volume} arrays shaped like ``prices`` (NaN: a missing
    figure; None or absent: none given). History columns (when ``features`` has them): from
    ``history`` (N, K) when given (training computes them once per ticker), else over the last
    ``history_days`` + 1 prices given (``history_columns``). Raises ``ValueError`` when a row has
    fewer than L prices."""
    prices = np.asarray(prices, dtype=np.float64)
    if prices.ndim != 2 or prices.shape[1] < lookback:
        raise ValueError(f"need at least {lookback} prices per series (the window), got shape {prices.shape}")
    names = [f for f in features if f not in HISTORY_FEATURES]
    columns = _day_columns(prices, lookback, scale, names, bars)
    out = np.stack([columns[f] for f in names], axis=-1)
    wanted = [f for f in features if f in HISTORY_FEATURES]
    if wanted:
        if history is None:
            given = prices[:, -(history_days + 1) :]
            rows = {k: None if v is None else np.asarray(v)[:, -given.shape[1] :] for k, v in (bars or {}).items()}
            history = history_columns(given, scale, history_days, names, rows)[:, -1]
        out = np.concatenate([out, np.repeat(np.asarray(history)[:, None, :], lookback, axis=1)], axis=-1)
    return out.astype(np.float32)


def closes_only(features: Tensor, names: list[str] | tuple[str, ...]) -> Tensor:
    """Full-bar features (B, L, F) -> the features of the same closes without any bar (B, L, F),
    as ``window_features`` makes them from closes alone."""
    out = features.clone()
    absolute = features[..., names.index("return")].abs()
    for j, name in enumerate(names):
        if name in ("parkinson", "garman_klass"):
            out[..., j] = absolute
        elif name in ("history_parkinson", "history_garman_klass"):
            out[..., j] = features[..., names.index("history_return")]
        elif name not in CLOSE_FEATURES and name != "history_return":
            out[..., j] = 0.0
    return out
