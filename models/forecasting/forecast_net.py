"""The forecaster network: a recurrent encoder over the last L days and a decoder that, at each
of H horizon steps, attends over the L encoder states (the translator's additive attention,
aimed at time) and emits quantiles of the cumulative log return to that step.

Inputs: ``models.forecasting.features``. Quantile q of horizon h is
``scale * sqrt(h) * z_hq``, where z is the network's output made monotone in q (a base plus
cumulative softplus steps), so quantiles never cross.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from models.forecasting.features import (
    ALL_FEATURES,
    CLOSE_FEATURES,
    HISTORY_FEATURES,
    PROXIES,
    RETURN_LIKE,
    history_names,
)
from models.forecasting.variance import VarianceHead
from models.schema import parse, rule
from models.translation.attention import BahdanauAttention, Memory
from models.translation.rnn import CELL_TYPES, build_rnn, final_hidden, initial_state

SIZE = rule(ge=1)
# the weights that form the variance estimate: learned attention, or (to measure what it earns) the
# same network with uniform weights, or with exponentially decaying ones (one learned decay rate)
VARIANCE_MODES = ("attention", "uniform", "exponential")
VARIANCE_FLOOR = 0.01  # in scale^2: a window of flat prices still gets an interval
# each day's share of each step's interval variance (B, H, L), and the long-run level's (B, H)
Shares = tuple[Tensor, Tensor]
# the one tolerance for interval levels: a request's level is a served one within it
LEVEL_TOLERANCE = 1e-6


@dataclass
class ForecastNetConfig:
    """Architecture plus the output scaling and the post-hoc calibration fitted after training
    (``config.json``'s ``architecture``)."""

    cell: str = "lstm"
    lookback: int = field(default=60, metadata=SIZE)
    horizon: int = field(default=20, metadata=SIZE)
    hidden_size: int = field(default=64, metadata=SIZE)
    attention_size: int = field(default=32, metadata=SIZE)
    layers: int = field(default=1, metadata=SIZE)
    dropout: float = field(default=0.1, metadata=rule(ge=0, lt=1))
    quantiles: list[float] = field(
        default_factory=lambda: [0.05, 0.1, 0.5, 0.9, 0.95], metadata=rule(min_items=1, items=rule(gt=0, lt=1))
    )
    scale: float = field(default=0.015, metadata=rule(gt=0))  # std of daily log returns on training rows
    # the input columns, a subset of BAR_FEATURES in its order (old checkpoints: closes only)
    features: list[str] = field(default_factory=lambda: list(CLOSE_FEATURES))
    # conformal widening: (H, Q) factors on each quantile's distance from the median, fitted on
    # validation windows after training (None: the raw quantiles)
    calibration: list[list[float]] | None = None
    # per-horizon shrinkage of the median towards "no change" (H,), fitted on validation MAE
    median_shrink: list[float] | None = None
    # the same two fitted on closes-only inputs, for windows without any bar (None: use the above)
    calibration_closes: list[list[float]] | None = None
    median_shrink_closes: list[float] | None = None
    # divide the window's return-like columns by its own volatility v (B,), give the network
    # log v as one more column, and multiply its output z by v (False: the first models)
    normalize: bool = False
    # how the interval's width is made (``VARIANCE_MODES``; None: the first models, whose decoder reads
    # an attention context and emits every quantile from it): the attention weights over the days
    # form the variance estimate as a weighted mean of per-day variance proxies (module docstring)
    variance: str | None = None
    # with variance: a learned long-run level (GARCH's omega) takes a learned share of each step's estimate
    long_run: bool = False
    # days of the ticker's past the history columns average over (``features``' history_*; 0: none);
    # with long_run, the long-run level is a learned multiple of that history's variance
    history_days: int = field(default=0, metadata=rule(ge=0))

    def __post_init__(self) -> None:
        if self.cell not in CELL_TYPES:
            raise ValueError(f"cell must be one of {CELL_TYPES}, got {self.cell!r}")
        if self.variance is not None and self.variance not in VARIANCE_MODES:
            raise ValueError(f"variance must be one of {VARIANCE_MODES} or null, got {self.variance!r}")
        if self.history_days and self.normalize:
            raise ValueError("history columns and normalize do not go together: normalize must be off")
        if self.variance is not None and self.normalize:
            raise ValueError("a variance-attention network scales by its own variance estimate: normalize must be off")
        if list(self.quantiles) != sorted(self.quantiles) or 0.5 not in self.quantiles:
            raise ValueError("quantiles must be increasing and include the median 0.5")
        if [f for f in ALL_FEATURES if f in self.features] != list(self.features) or "return" not in self.features:
            raise ValueError(f"features must include 'return' and be a subset of {list(ALL_FEATURES)} in its order")
        history = [f for f in self.features if f in HISTORY_FEATURES]
        if history != (history_names(self.features) if self.history_days else []):
            raise ValueError(
                "history columns go with history_days > 0, one for each variance proxy the features hold: "
                f"{history_names(self.features) if self.history_days else []}, got {history}"
            )
        for suffix in ("", "_closes"):
            calibration, shrink = getattr(self, f"calibration{suffix}"), getattr(self, f"median_shrink{suffix}")
            if calibration is not None and (
                len(calibration) != self.horizon or any(len(row) != len(self.quantiles) for row in calibration)
            ):
                raise ValueError(
                    f"calibration{suffix} must be {self.horizon} rows (horizon) of {len(self.quantiles)} factors "
                    "(quantiles)"
                )
            if shrink is not None and len(shrink) != self.horizon:
                raise ValueError(
                    f"median_shrink{suffix} must hold {self.horizon} values (one per horizon step), got {len(shrink)}"
                )

    @property
    def reads_bars(self) -> bool:
        """Whether any input column comes from open, high, low or volume."""
        return any(f not in (*CLOSE_FEATURES, "history_return") for f in self.features)

    @property
    def days_read(self) -> int:
        """Prices of a series the network reads at most: its window and the close before it, or
        the history's days and the close before them."""
        return max(self.lookback, self.history_days) + 1

    @property
    def intervals(self) -> list[float]:
        """Central interval levels the quantiles give, e.g. 0.1/0.9 -> 0.8 (rounded to 6 decimals)."""
        qs = self.quantiles
        return sorted(
            {round(qs[-1 - i] - qs[i], 6) for i in range(len(qs) // 2) if math.isclose(qs[i] + qs[-1 - i], 1.0)}
        )

    def level(self, interval: float) -> float | None:
        """The listed level ``interval`` asks for, within ``LEVEL_TOLERANCE``; None if not served."""
        return next((level for level in self.intervals if abs(interval - level) <= LEVEL_TOLERANCE), None)

    def quantile_pair(self, interval: float) -> tuple[int, int]:
        """The (lower, upper) quantile indices of the central ``interval``; ValueError if not served."""
        qs = self.quantiles
        for i in range(len(qs) // 2):
            if abs(qs[-1 - i] - qs[i] - interval) <= LEVEL_TOLERANCE:
                return i, len(qs) - 1 - i
        raise ValueError(f"interval {interval} is not served; levels: {self.intervals}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ForecastNetConfig:
        """``data`` checked field by field (``models.schema``); ``SchemaError`` names what breaks."""
        return parse(cls, data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ForecastNet(nn.Module):
    def __init__(self, config: ForecastNetConfig):
        super().__init__()
        self.config = config
        h, q = config.hidden_size, len(config.quantiles)
        self.input = nn.Linear(len(config.features) + int(config.normalize), h)
        self.encoder = build_rnn(config.cell, h, h, config.layers, config.dropout)
        self.steps = nn.Embedding(config.horizon, h)  # decoder input: which horizon step
        self.bridge = nn.Linear(h, h * config.layers)
        self.decoder = build_rnn(config.cell, h, h, config.layers, config.dropout)
        self.attention = BahdanauAttention(h, h, config.attention_size)
        self.variance: VarianceHead | None = None
        if config.variance is None:
            self.head = nn.Sequential(nn.Linear(2 * h, h), nn.Tanh(), nn.Linear(h, q))
        else:  # the weights make the width (models.forecasting.variance)
            proxies = [config.features.index(f) for f in PROXIES if f in config.features]
            history = [config.features.index(f) for f in history_names(config.features) if f in config.features]
            self.variance = VarianceHead(
                h, config.horizon, config.quantiles, proxies, VARIANCE_FLOOR, config.long_run, history
            )
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, features: Tensor, horizon: int | None = None) -> tuple[Tensor, Tensor]:
        """features (B, L, F) -> z (B, H, Q) increasing along Q, attention (B, H, L)."""
        z, weights, _ = self._run(features, horizon, explain=False)
        return z, weights

    @torch.no_grad()
    def explain(self, features: Tensor, horizon: int | None = None) -> tuple[Tensor, Tensor, Shares | None]:
        """``forward``'s z and attention, and from the same pass the share of each step's interval
        variance each day carries (B, H, L) and the long-run level's (B, H)
        (``VarianceHead.shares``); None for a network whose width is not made that way."""
        return self._run(features, horizon, explain=True)

    def _run(self, features: Tensor, horizon: int | None, explain: bool) -> tuple[Tensor, Tensor, Shares | None]:
        cfg = self.config
        horizon = horizon or cfg.horizon
        batch, length, _ = features.shape
        vol = None
        if cfg.normalize:
            vol = self.window_volatility(features)  # (B,)
            return_like = torch.tensor([f in RETURN_LIKE for f in cfg.features], device=features.device)
            scaled = torch.where(return_like, features / vol.view(-1, 1, 1), features)
            features = torch.cat([scaled, vol.log().view(-1, 1, 1).expand(-1, length, 1)], dim=-1)
        states, queries, context, weights = self._decode(self.encoder_input(features), horizon)
        if self.variance is not None:
            weights = self.day_weights(weights)
            shares = self.variance.shares(features, weights, queries) if explain else None
            return self.variance(features, weights, queries, weights @ states), weights, shares
        raw = self.head(torch.cat([queries, context], dim=-1))
        median = cfg.quantiles.index(0.5)
        steps_up = F.softplus(raw[..., median + 1 :]).cumsum(-1)
        steps_down = F.softplus(raw[..., :median]).flip(-1).cumsum(-1).flip(-1)
        base = raw[..., median : median + 1]
        z = torch.cat([base - steps_down, base, base + steps_up], dim=-1)
        if vol is not None:
            z = z * vol.view(-1, 1, 1)
        return z, weights, None

    def _decode(self, features: Tensor, horizon: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """features (B, L, F') -> encoder states (B, L, hidden), the decoder's query per step
        (B, H, hidden), the attention context (B, H, hidden) and weights (B, H, L)."""
        cfg = self.config
        batch, length, _ = features.shape
        states, final = self.encoder(self.dropout(torch.tanh(self.input(features))))
        hidden = final_hidden(final)  # (layers, B, H)
        mask = torch.ones(batch, length, dtype=torch.bool, device=features.device)
        memory = Memory(states, mask, hidden[-1])
        keys = self.attention.prepare(memory)
        init = torch.tanh(self.bridge(hidden[-1])).view(batch, cfg.layers, -1).transpose(0, 1).contiguous()
        state = initial_state(cfg.cell, init)
        steps = self.steps(torch.arange(horizon, device=features.device)).unsqueeze(0).expand(batch, -1, -1)
        queries, _ = self.decoder(steps.contiguous(), state)  # (B, H, hidden)
        flat_q = queries.reshape(batch * horizon, -1)
        flat_memory = memory.index_select(torch.arange(batch, device=features.device).repeat_interleave(horizon))
        flat_keys = keys.repeat_interleave(horizon, dim=0)
        context, weights = self.attention(flat_q, flat_memory, flat_keys)  # (B*H, H), (B*H, L)
        return states, queries, context.view(batch, horizon, -1), weights.view(batch, horizon, length)

    def encoder_input(self, features: Tensor) -> Tensor:
        """features (B, L, F) -> what the encoder reads (B, L, F): history columns (variances that
        span orders of magnitude) as their logs, the rest unchanged."""
        history = torch.tensor([f in HISTORY_FEATURES for f in self.config.features], device=features.device)
        if not bool(history.any()):
            return features
        return torch.where(history, features.clamp_min(1e-3).log(), features)

    def day_weights(self, weights: Tensor) -> Tensor:
        """The attention's weights (B, H, L), or in place of them what the config's variance mode
        puts there: 1/L each, or the exponential decay."""
        mode, (batch, horizon, length) = self.config.variance, weights.shape
        if mode == "uniform":
            return torch.full_like(weights, 1.0 / length)
        if mode == "exponential" and self.variance is not None:
            return self.variance.exponential(batch, horizon, length, weights.device).to(weights.dtype)
        return weights

    def window_volatility(self, features: Tensor) -> Tensor:
        """features (B, L, F) -> (B,) the window's daily volatility in units of scale: the root
        mean square of its Garman-Klass column (|return| on days without bars), or of its returns
        for a closes-only network; at least 0.05."""
        names = self.config.features
        column = features[..., names.index("garman_klass" if "garman_klass" in names else "return")]
        return column.pow(2).mean(1).sqrt().clamp_min(0.05)

    def closes_only_rows(self, features: Tensor) -> Tensor:
        """features (B, L, F) -> (B,) bool: rows with no day of open/high/low (all rows for a
        closes-only network)."""
        if "bars_flag" not in self.config.features:
            return torch.ones(len(features), dtype=torch.bool, device=features.device)
        return features[..., self.config.features.index("bars_flag")].amax(1) <= 0

    def _calibrated(self, z: Tensor, shrink: list[float] | None, factors: list[list[float]] | None) -> Tensor:
        """z (B, H, Q) with the median shrunk and the quantiles' distances to it stretched."""
        median = z[..., self.config.quantiles.index(0.5)].unsqueeze(-1)
        if shrink is not None:  # move the whole distribution with its median
            a = torch.tensor(shrink, device=z.device, dtype=z.dtype)
            z = z - (1 - a[: z.size(1)]).view(1, -1, 1) * median
            median = z[..., self.config.quantiles.index(0.5)].unsqueeze(-1)
        if factors is not None:
            f = torch.tensor(factors, device=z.device, dtype=z.dtype)
            z = median + (z - median) * f[: z.size(1)].unsqueeze(0)
        return z

    def log_return_quantiles(self, z: Tensor, closes_only: Tensor | None = None) -> Tensor:
        """z (B, H, Q) -> quantiles of log(P_{t+h} / P_t), (B, H, Q), calibrated if fitted; rows
        flagged in ``closes_only`` (B,) bool use the closes-only calibration where one is fitted."""
        cfg = self.config
        out = self._calibrated(z, cfg.median_shrink, cfg.calibration)
        if closes_only is not None and (cfg.calibration_closes is not None or cfg.median_shrink_closes is not None):
            alone = self._calibrated(z, cfg.median_shrink_closes, cfg.calibration_closes)
            out = torch.where(closes_only.view(-1, 1, 1), alone, out)
        h = torch.arange(1, z.size(1) + 1, device=z.device, dtype=z.dtype).sqrt()
        return out * (cfg.scale * h).view(1, -1, 1)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
