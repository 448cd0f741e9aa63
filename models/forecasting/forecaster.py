"""A loaded forecaster: checkpoint + network, price lists in, price paths with intervals and
attention out (the service side; the network itself is ``models.forecasting.forecast_net``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from torch import nn

from models.checkpoint import Checkpoint, fit_network, read_checkpoint, read_config
from models.forecasting.features import window_features
from models.forecasting.forecast_net import ForecastNet, ForecastNetConfig
from models.served import Dropped, InputError, ServedModel, Steps

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


def uniformity(attention: np.ndarray) -> list[float]:
    """Per row of an H x L attention matrix, its entropy over log L: 1.0 when every day weighs
    1/L (uniform: the row points at nothing), 0.0 when one day takes all the weight. (H,)"""
    weights = np.clip(np.asarray(attention, dtype=np.float64), 0.0, None)  # (H, L)
    days = weights.shape[1] if weights.ndim == 2 else 0
    if days < 2:
        return [1.0] * len(attention)
    p = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-300)
    entropy = -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1)
    return [round(float(u), 6) for u in np.clip(entropy / np.log(days), 0.0, 1.0)]


@dataclass
class Forecast:
    forecast: list[float]  # median price path, H values
    lower: list[float]
    upper: list[float]
    interval: float
    attention: list[list[float]]  # H x L, column j = the j-th of the last L prices
    naive: list[float]  # the last price, H times
    uniformity: list[float]  # per step: the attention row's entropy / log L (1.0: uniform)
    # per step: each day's share of the variance behind the interval (H x L), for a network whose
    # attention makes the width (``models.forecasting.variance``); None otherwise
    shares: list[list[float]] | None = None
    long_run: list[float] | None = None  # per step: the long-run level's share of that variance


@dataclass
class ForecasterConfig:
    """A forecast checkpoint's config.json (its fields are the schema, ``models.schema``); other
    keys (training, metrics) are the card's and ride along."""

    EXTRA: ClassVar[bool] = True
    task: str
    architecture: ForecastNetConfig
    id: str | None = None


class ForecastKey(NamedTuple):
    """Series batch together only when these are equal."""

    horizon: int
    interval: float  # exactly one of the model's served levels (``StockForecaster.key``)

    @property
    def rows(self) -> int:
        return 1


class StockForecaster(ServedModel[ForecastKey, Bars, Forecast]):
    """The service wrapper around a ``ForecastNet`` (``.net``) and the checkpoint it came from."""

    task = "forecast"

    def __init__(self, net: ForecastNet, checkpoint: Checkpoint | None = None):
        self.net = net.eval()
        self.config = net.config
        self.checkpoint = checkpoint

    @classmethod
    def load(cls, directory: str | Path) -> StockForecaster:
        return cls.from_checkpoint(read_checkpoint(directory))

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> StockForecaster:
        config = read_config(checkpoint, cls.task, ForecasterConfig)
        return cls(fit_network(checkpoint, ForecastNet(config.architecture)), checkpoint)

    @property
    def network(self) -> nn.Module:
        return self.net

    def info(self) -> dict[str, Any]:
        """The recurrent cell, and the decoder's attention over the window (additive; with
        ``variance``, what weighs the days' variance proxies)."""
        variance = self.config.variance
        attention = "bahdanau" if variance in (None, "attention") else variance
        return {"cell": self.config.cell, "attention": attention}

    # ---- the model's limits: each broken one an InputError naming the input ----

    def key(self, horizon: int, interval: float) -> ForecastKey:
        """The batch key of a request: ``horizon`` within 1..H and ``interval`` one of the served
        levels (snapped to the listed one)."""
        self.check_horizon(horizon)
        level = self.config.level(interval)
        if level is None:
            raise InputError("interval", f"{interval} is not served; levels served: {self.config.intervals}")
        return ForecastKey(horizon, level)

    def check_horizon(self, horizon: int) -> None:
        """Steps ahead: 1 .. the trained maximum H."""
        if horizon > self.config.horizon:
            raise InputError(
                "horizon",
                f"must be at most {self.config.horizon} (the trained maximum)",
                "less_than_equal",
            )
        if horizon < 1:
            raise InputError("horizon", f"must be at least 1, got {horizon}", "greater_than_equal")

    def check_length(self, prices: int) -> None:
        """A series needs at least the window's ``lookback`` prices."""
        if prices < self.config.lookback:
            raise InputError(
                "prices",
                f"needs at least {self.config.lookback} prices (the model's window), got {prices}",
                "too_short",
            )

    def quantile_pair(self, interval: float) -> tuple[int, int]:
        return self.config.quantile_pair(interval)

    def _check(self, series: list[Bars], horizon: int) -> None:
        self.check_horizon(horizon)
        for i, s in enumerate(series):
            try:
                self.check_length(len(s))
            except InputError as error:
                raise InputError(error.field, f"series {i}: {error.message}", error.kind) from None

    def steps(self, key: ForecastKey, items: list[Bars], dropped: Dropped) -> Steps[list[Forecast]]:
        """The scheduler's model call: one step, a single forward pass over ``items``."""
        yield from ()
        return self.predict(items, key.horizon, key.interval)

    @torch.no_grad()
    def quantile_paths(
        self, series: Sequence[np.ndarray | Bars], horizon: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """series: close-price arrays or Bars (each >= L, oldest first) -> price quantiles
        (N, horizon, Q) in ``config.quantiles`` order, attention (N, horizon, L) and each day's
        share of the interval's variance, then the long-run level's (N, horizon, L + 1; None unless
        the attention makes the width).

        Raises ``ValueError`` for a series shorter than L or a horizon outside 1..H."""
        cfg = self.config
        bars = [as_bars(s) for s in series]
        self._check(bars, horizon)
        windows = [b.window(len(b), cfg.days_read) for b in bars]
        groups: dict[int, list[int]] = {}
        for i, w in enumerate(windows):  # series of one length together (with or without the earlier price)
            groups.setdefault(len(w), []).append(i)
        paths = np.zeros((len(bars), horizon, len(cfg.quantiles)))
        weights = np.zeros((len(bars), horizon, cfg.lookback))
        shares = np.zeros((len(bars), horizon, cfg.lookback + 1)) if self.net.variance is not None else None
        for _, members in groups.items():
            group = [windows[i] for i in members]
            feats = torch.from_numpy(
                window_features(
                    np.stack([w.close for w in group]),
                    cfg.lookback,
                    cfg.scale,
                    cfg.features,
                    stack_bars(group),
                    cfg.history_days,
                )
            )  # (N, L, F)
            z, attention, explained = self.net.explain(feats, horizon)  # (N, H, Q), (N, H, L), shares
            q = self.net.log_return_quantiles(z, self.net.closes_only_rows(feats)).double().numpy()  # (N, H, Q)
            last = np.array([w.close[-1] for w in group], dtype=np.float64)
            paths[members] = last[:, None, None] * np.exp(q)
            weights[members] = attention.double().numpy()
            if shares is not None and explained is not None:  # the days' shares, then the long-run level's
                days, long_run = explained
                shares[members] = torch.cat([days, long_run.unsqueeze(-1)], dim=-1).double().numpy()
        return paths, weights, shares

    def predict(self, series: Sequence[np.ndarray | Bars], horizon: int, interval: float) -> list[Forecast]:
        """series: close-price arrays or Bars (each >= L, oldest first) -> one Forecast each.

        Raises ``ValueError`` for a series shorter than L, a horizon outside 1..H or an
        interval the quantiles do not give."""
        lo, hi = self.quantile_pair(interval)
        median = self.config.quantiles.index(0.5)
        paths, attention, shares = self.quantile_paths(series, horizon)
        return [
            Forecast(
                path[:, median].tolist(),
                path[:, lo].tolist(),
                path[:, hi].tolist(),
                interval,
                weights.tolist(),
                [float(as_bars(s).close[-1])] * horizon,
                uniformity(weights),
                None if shares is None else np.round(shares[k, :, :-1], 6).tolist(),
                None if shares is None else np.round(shares[k, :, -1], 6).tolist(),
            )
            for k, (s, path, weights) in enumerate(zip(series, paths, attention))
        ]
