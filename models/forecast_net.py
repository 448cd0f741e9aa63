"""The forecaster network: a recurrent encoder over the last L closes and a decoder that, at each
of H horizon steps, attends over the L encoder states (the translator's additive attention,
aimed at time) and emits quantiles of the cumulative log return to that step.

Inputs are built from prices alone (``window_features``):
    feature 0: the daily log return into each day, divided by ``scale`` (0 for the first day
               of the window when no earlier price is given);
    feature 1: log(price_j / last price) / (scale * sqrt(L)), the window's shape seen from today.
``scale`` is the standard deviation of daily log returns on the training rows only; it is part
of the checkpoint. Quantile q of horizon h is ``scale * sqrt(h) * z_hq``, where z is the network's
output made monotone in q (a base plus cumulative softplus steps), so quantiles never cross.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from models.attention import BahdanauAttention, Memory
from models.rnn import CELL_TYPES, build_rnn, final_hidden, initial_state

FEATURES = 2


@dataclass
class ForecastNetConfig:
    """Architecture plus the output scaling and the post-hoc calibration fitted after training
    (``config.json``'s ``architecture``)."""

    cell: str = "lstm"
    lookback: int = 60
    horizon: int = 20
    hidden_size: int = 64
    attention_size: int = 32
    layers: int = 1
    dropout: float = 0.1
    quantiles: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.5, 0.9, 0.95])
    scale: float = 0.015  # std of daily log returns on training rows
    # conformal widening: (H, Q) factors on each quantile's distance from the median, fitted on
    # validation windows after training (None: the raw quantiles)
    calibration: list[list[float]] | None = None
    # per-horizon shrinkage of the median towards "no change" (H,), fitted on validation MAE
    median_shrink: list[float] | None = None

    def __post_init__(self) -> None:
        if self.cell not in CELL_TYPES:
            raise ValueError(f"cell must be one of {CELL_TYPES}, got {self.cell!r}")
        if list(self.quantiles) != sorted(self.quantiles) or 0.5 not in self.quantiles:
            raise ValueError("quantiles must be increasing and include the median 0.5")

    @property
    def intervals(self) -> list[float]:
        """Central interval levels the quantiles give, e.g. 0.1/0.9 -> 0.8."""
        qs = self.quantiles
        return sorted(
            {round(qs[-1 - i] - qs[i], 6) for i in range(len(qs) // 2) if math.isclose(qs[i] + qs[-1 - i], 1.0)}
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ForecastNetConfig:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown forecaster keys: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def window_features(prices: np.ndarray, lookback: int, scale: float) -> np.ndarray:
    """prices (N, L or L + 1) oldest first -> features (N, L, 2) float32 for the last L prices.

    Raises ``ValueError`` when a row has fewer than L prices."""
    prices = np.asarray(prices, dtype=np.float64)
    if prices.ndim != 2 or prices.shape[1] < lookback:
        raise ValueError(f"need at least {lookback} prices per series (the window), got shape {prices.shape}")
    logp = np.log(prices[:, -(lookback + 1) :])
    returns = np.diff(logp, axis=1)  # (N, L) if an earlier price exists, else (N, L-1)
    if returns.shape[1] < lookback:
        returns = np.concatenate([np.zeros((len(prices), 1)), returns], axis=1)
    shape = logp[:, -lookback:] - logp[:, -1:]
    feats = np.stack([returns / scale, shape / (scale * math.sqrt(lookback))], axis=-1)
    return feats.astype(np.float32)


class ForecastNet(nn.Module):
    def __init__(self, config: ForecastNetConfig):
        super().__init__()
        self.config = config
        h, q = config.hidden_size, len(config.quantiles)
        self.input = nn.Linear(FEATURES, h)
        self.encoder = build_rnn(config.cell, h, h, config.layers, config.dropout)
        self.steps = nn.Embedding(config.horizon, h)  # decoder input: which horizon step
        self.bridge = nn.Linear(h, h * config.layers)
        self.decoder = build_rnn(config.cell, h, h, config.layers, config.dropout)
        self.attention = BahdanauAttention(h, h, config.attention_size)
        self.head = nn.Sequential(nn.Linear(2 * h, h), nn.Tanh(), nn.Linear(h, q))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, features: Tensor, horizon: int | None = None) -> tuple[Tensor, Tensor]:
        """features (B, L, 2) -> z (B, H, Q) increasing along Q, attention (B, H, L)."""
        cfg = self.config
        horizon = horizon or cfg.horizon
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
        raw = self.head(torch.cat([flat_q, context], dim=-1)).view(batch, horizon, -1)
        median = cfg.quantiles.index(0.5)
        steps_up = F.softplus(raw[..., median + 1 :]).cumsum(-1)
        steps_down = F.softplus(raw[..., :median]).flip(-1).cumsum(-1).flip(-1)
        base = raw[..., median : median + 1]
        z = torch.cat([base - steps_down, base, base + steps_up], dim=-1)
        return z, weights.view(batch, horizon, length)

    def log_return_quantiles(self, z: Tensor) -> Tensor:
        """z (B, H, Q) -> quantiles of log(P_{t+h} / P_t), (B, H, Q), calibrated if fitted."""
        median = z[..., self.config.quantiles.index(0.5)].unsqueeze(-1)
        if self.config.median_shrink is not None:  # move the whole distribution with its median
            shrink = torch.tensor(self.config.median_shrink, device=z.device, dtype=z.dtype)
            z = z - (1 - shrink[: z.size(1)]).view(1, -1, 1) * median
            median = z[..., self.config.quantiles.index(0.5)].unsqueeze(-1)
        if self.config.calibration is not None:
            factors = torch.tensor(self.config.calibration, device=z.device, dtype=z.dtype)
            z = median + (z - median) * factors[: z.size(1)].unsqueeze(0)
        h = torch.arange(1, z.size(1) + 1, device=z.device, dtype=z.dtype).sqrt()
        return z * (self.config.scale * h).view(1, -1, 1)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
