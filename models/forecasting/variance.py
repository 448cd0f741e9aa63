"""The interval's width from the attention: a forecaster whose attention weights over the days of
its window are the weights of its variance estimate (``ForecastNetConfig.variance``).

Per day j of the window (in units of the training returns' scale, so a typical day is about 1):

    p_j = sum_k m_k * proxy_kj^2 / sum_k m_k      the day's variance proxy: squared return, squared
                                                  Parkinson and Garman-Klass ranges, squared
                                                  overnight gap (those the network reads), mixed by
                                                  learned weights m_k > 0

Per step ahead h (1..H), with weights a_hj over the L days (each row sums to 1):

    v_h = (1 - g_h) * sum_j a_hj * p_j + g_h * omega + floor
                                                  the variance estimate for day t + h; with
                                                  ``long_run``, g_h = sigmoid(query_h) is the weight
                                                  of a long-run level omega (the level variance
                                                  returns to, as in GARCH), else g_h = 0; omega is
                                                  learned, or with history columns a learned multiple
                                                  of the ticker's own: the same proxy mix over its
                                                  last D days (``history_days``)
    w_h = sqrt(mean(v_1 .. v_h))                  the width of the cumulative return to t + h, in
                                                  units of scale * sqrt(h)
    z_hq = median_h + w_h * c_hq                  the quantiles (c_hq learned per step and quantile,
                                                  0 at the median, increasing in q)

so the share of the interval's variance a day carries at step h is
sum_{k<=h} (1 - g_k) a_kj p_j / sum_{k<=h} (v_k - floor) (``shares``; the long-run level carries the
rest): the weights shown are the ones that made the width. GARCH(1,1) is the same form with weights
fixed to decay geometrically into the past; here they are computed from each day's encoder state and
the step (additive attention), so a shock day or a pattern can take weight. ``uniform`` and
``exponential`` (one learned decay rate, GARCH-like) replace the attention to measure what it earns.
The median reads the decoder's query and the attention context (the weighted encoder states): the
path of the first models.
"""

from __future__ import annotations

from statistics import NormalDist

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class VarianceHead(nn.Module):
    """Everything of a variance-attention forecaster after the weights: proxies, width, quantiles."""

    def __init__(
        self,
        hidden: int,
        horizon: int,
        quantiles: list[float],
        proxies: list[int],
        floor: float,
        long_run: bool,
        history: list[int] | None = None,
    ):
        """``proxies``: the feature columns of the per-day proxies; ``history``: those of their
        means over a longer past, in the same order (empty or None: a learned constant level)."""
        super().__init__()
        self.history = list(history or [])
        # the long-run level's weight per step (from the decoder's query) and the level itself
        self.gate = nn.Linear(hidden, 1) if long_run else None
        self.level = nn.Parameter(torch.tensor(0.5413)) if long_run else None  # softplus: 1.0 scale^2
        self.proxies, self.floor, self.median_at = proxies, floor, quantiles.index(0.5)
        self.mix = nn.Parameter(torch.zeros(len(proxies)))  # softplus: the proxies' weights, > 0
        self.median = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        # c_hq: softplus steps away from the median, started near a normal's quantiles
        normal = torch.tensor([NormalDist().inv_cdf(q) for q in quantiles])
        steps = normal[1:] - normal[:-1]
        self.steps = nn.Parameter(torch.log(torch.expm1(steps.clamp_min(1e-3))).repeat(horizon, 1))  # (H, Q-1)
        self.decay = nn.Parameter(torch.tensor(-2.0))  # the exponential mode's rate, softplus

    def day_variance(self, features: Tensor) -> Tensor:
        """features (B, L, F) -> p (B, L): each day's variance proxy, the learned mix of the squares."""
        squares = features[..., self.proxies].pow(2)  # (B, L, K)
        mix = F.softplus(self.mix)
        return (squares * mix).sum(-1) / mix.sum()

    def long_run_level(self, features: Tensor) -> Tensor:
        """features (B, L, F) -> omega (B,): the learned level, times the history's variance (the
        proxies' means over the ticker's longer past, mixed like the days') where the network reads one."""
        assert self.level is not None
        level = F.softplus(self.level)
        if not self.history:
            return level.expand(len(features))
        mix = F.softplus(self.mix)
        return level * (features[:, -1, self.history].clamp_min(0) * mix).sum(-1) / mix.sum()

    def exponential(self, batch: int, horizon: int, length: int, device: torch.device) -> Tensor:
        """(B, H, L) weights decaying by exp(-rate) a day into the past, the same at every step."""
        age = torch.arange(length - 1, -1, -1, device=device, dtype=torch.float32)
        weights = torch.softmax(-F.softplus(self.decay) * age, dim=0)
        return weights.expand(batch, horizon, length)

    def spread(self, horizon: int) -> Tensor:
        """c (H, Q): 0 at the median, increasing in q."""
        steps = F.softplus(self.steps[:horizon])
        up = steps[:, self.median_at :].cumsum(-1)
        down = -steps[:, : self.median_at].flip(-1).cumsum(-1).flip(-1)
        zero = torch.zeros(horizon, 1, device=steps.device, dtype=steps.dtype)
        return torch.cat([down, zero, up], dim=-1)

    def parts(self, features: Tensor, weights: Tensor, queries: Tensor) -> tuple[Tensor, Tensor]:
        """-> each day's part of each step's variance (B, H, L) and the long-run level's (B, H)."""
        days = weights * self.day_variance(features).unsqueeze(1)  # (B, H, L)
        if self.gate is None or self.level is None:
            return days, torch.zeros_like(days[..., 0])
        g = torch.sigmoid(self.gate(queries)).squeeze(-1)  # (B, H)
        return days * (1 - g).unsqueeze(-1), g * self.long_run_level(features).unsqueeze(-1)

    def forward(self, features: Tensor, weights: Tensor, queries: Tensor, context: Tensor) -> Tensor:
        """features (B, L, F), weights (B, H, L), queries and context (B, H, hidden) -> z (B, H, Q)."""
        horizon = weights.size(1)
        days, long_run = self.parts(features, weights, queries)
        variance = days.sum(-1) + long_run + self.floor  # (B, H)
        steps = torch.arange(1, horizon + 1, device=features.device, dtype=variance.dtype)
        width = (variance.cumsum(-1) / steps).sqrt()  # (B, H)
        median: Tensor = self.median(torch.cat([queries, context], dim=-1)).squeeze(-1)  # (B, H)
        return median.unsqueeze(-1) + width.unsqueeze(-1) * self.spread(horizon).unsqueeze(0)

    @torch.no_grad()
    def shares(self, features: Tensor, weights: Tensor, queries: Tensor) -> tuple[Tensor, Tensor]:
        """features (B, L, F), weights (B, H, L), queries (B, H, hidden) -> the share of the variance
        behind step h's interval each day carries (B, H, L) and the long-run level's (B, H), from the
        parts summed over steps 1..h (together 1; the floor, a constant, left out)."""
        days, long_run = self.parts(features, weights, queries)
        days, long_run = days.cumsum(1), long_run.cumsum(1)
        total = (days.sum(-1) + long_run).clamp_min(1e-12)
        return days / total.unsqueeze(-1), long_run / total
