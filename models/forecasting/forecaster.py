"""A loaded forecaster: checkpoint + network, price lists in, price paths with intervals and
attention out (the service side; the network itself is ``models.forecasting.forecast_net``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.checkpoint import Checkpoint, load_network
from models.forecasting.forecast_net import ForecastNet, ForecastNetConfig, window_features

OPTIONAL = ("open", "high", "low", "volume")  # the Bars fields beside close


@dataclass
class Bars:
    """One series of daily bars, oldest first, all of one length. ``close`` is required, finite
    and > 0 every day; the others are optional: None when not given at all, and a given array
    may hold NaN on the days it lacks, so only those days lose that field (the features and
    their availability flags are per day: a day's range needs its open, high and low). A model
    that reads only closes ignores the rest."""

    close: np.ndarray
    open: np.ndarray | None = None
    high: np.ndarray | None = None
    low: np.ndarray | None = None
    volume: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.close)

    def window(self, end: int, size: int) -> Bars:
        """The (at most) ``size`` bars before index ``end``: rows max(0, end - size) .. end - 1."""
        rows = slice(max(0, end - size), end)
        extra = {f: None if getattr(self, f) is None else getattr(self, f)[rows] for f in OPTIONAL}
        return Bars(self.close[rows], **extra)


def stack_bars(series: list[Bars]) -> dict[str, np.ndarray | None]:
    """Bars of one length -> {open, high, low, volume: (N, length) with NaN for a series that
    lacks the field, or None where none has it}."""
    out: dict[str, np.ndarray | None] = {}
    for name in OPTIONAL:
        given = [getattr(b, name) for b in series]
        out[name] = (
            None
            if all(g is None for g in given)
            else np.stack(
                [np.full(len(b), np.nan) if g is None else np.asarray(g, np.float64) for b, g in zip(series, given)]
            )
        )
    return out


def as_bars(series: np.ndarray | Bars) -> Bars:
    return series if isinstance(series, Bars) else Bars(np.asarray(series, dtype=np.float64))


@dataclass
class Forecast:
    forecast: list[float]  # median price path, H values
    lower: list[float]
    upper: list[float]
    interval: float
    attention: list[list[float]]  # H x L, column j = the j-th of the last L prices
    naive: list[float]  # the last price, H times


class StockForecaster:
    """The service wrapper around a ``ForecastNet`` (``.net``) and the checkpoint it came from."""

    def __init__(self, net: ForecastNet, checkpoint: Checkpoint | None = None):
        self.net = net.eval()
        self.config = net.config
        self.checkpoint = checkpoint

    @classmethod
    def load(cls, directory: str | Path) -> StockForecaster:
        checkpoint, net = load_network(
            directory, "forecast", lambda arch: ForecastNet(ForecastNetConfig.from_dict(arch))
        )
        return cls(net, checkpoint)

    def quantile_pair(self, interval: float) -> tuple[int, int]:
        qs = self.config.quantiles
        for i in range(len(qs) // 2):
            if math.isclose(qs[-1 - i] - qs[i], interval, abs_tol=1e-6):
                return i, len(qs) - 1 - i
        raise ValueError(f"interval {interval} is not served; levels: {self.config.intervals}")

    def _check(self, series: list[Bars], horizon: int) -> None:
        cfg = self.config
        if not 1 <= horizon <= cfg.horizon:
            raise ValueError(f"horizon must be between 1 and {cfg.horizon} (the trained maximum), got {horizon}")
        for i, s in enumerate(series):
            if len(s) < cfg.lookback:
                raise ValueError(f"series {i}: needs at least {cfg.lookback} prices (the model's window), got {len(s)}")

    @torch.no_grad()
    def quantile_paths(self, series: Sequence[np.ndarray | Bars], horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """series: close-price arrays or Bars (each >= L, oldest first) -> price quantiles
        (N, horizon, Q) in ``config.quantiles`` order and attention (N, horizon, L).

        Raises ``ValueError`` for a series shorter than L or a horizon outside 1..H."""
        cfg = self.config
        bars = [as_bars(s) for s in series]
        self._check(bars, horizon)
        windows = [b.window(len(b), cfg.lookback + 1) for b in bars]
        groups: dict[int, list[int]] = {}
        for i, w in enumerate(windows):  # windows with and without the earlier price
            groups.setdefault(len(w), []).append(i)
        paths = np.zeros((len(bars), horizon, len(cfg.quantiles)))
        weights = np.zeros((len(bars), horizon, cfg.lookback))
        for _, members in groups.items():
            group = [windows[i] for i in members]
            feats = torch.from_numpy(
                window_features(
                    np.stack([w.close for w in group]), cfg.lookback, cfg.scale, cfg.features, stack_bars(group)
                )
            )  # (N, L, F)
            z, attention = self.net(feats, horizon)  # (N, H, Q), (N, H, L)
            q = self.net.log_return_quantiles(z, self.net.closes_only_rows(feats)).double().numpy()  # (N, H, Q)
            last = np.array([w.close[-1] for w in group], dtype=np.float64)
            paths[members] = last[:, None, None] * np.exp(q)
            weights[members] = attention.double().numpy()
        return paths, weights

    def predict(self, series: Sequence[np.ndarray | Bars], horizon: int, interval: float) -> list[Forecast]:
        """series: close-price arrays or Bars (each >= L, oldest first) -> one Forecast each.

        Raises ``ValueError`` for a series shorter than L, a horizon outside 1..H or an
        interval the quantiles do not give."""
        lo, hi = self.quantile_pair(interval)
        median = self.config.quantiles.index(0.5)
        paths, attention = self.quantile_paths(series, horizon)
        return [
            Forecast(
                path[:, median].tolist(),
                path[:, lo].tolist(),
                path[:, hi].tolist(),
                interval,
                weights.tolist(),
                [float(as_bars(s).close[-1])] * horizon,
            )
            for s, path, weights in zip(series, paths, attention)
        ]
