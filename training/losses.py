"""Training losses for both models; inference never needs them, so they live here, not in models/."""

from __future__ import annotations

import torch
from torch import Tensor


def translation_loss(
    log_probs: Tensor, target: Tensor, pad_id: int, label_smoothing: float = 0.0, smooth_log_probs: Tensor | None = None
) -> Tensor:
    """Summed label-smoothed negative log-likelihood over the non-padding target tokens.

    log_probs (B, T, V) float: the model's output distribution (already normalised, so it
    serves both the plain softmax and the pointer-generator mixture); target (B, T) ids.
    With ``eps = label_smoothing`` each token costs ``(1 - eps) * -log p(y) + eps * mean_v -log q(v)``
    with ``q = smooth_log_probs`` (default: ``log_probs``), which for a plain softmax is what
    ``F.cross_entropy(..., label_smoothing=eps)`` computes from logits. A pointer-generator
    smooths over its generator's distribution: smoothing the mixture would pull the attention
    towards spreading over every source piece.
    """
    log_probs = log_probs.float()
    real = target.ne(pad_id)
    nll = -log_probs.gather(-1, target.unsqueeze(-1)).squeeze(-1)  # (B, T)
    if label_smoothing:
        uniform = -(log_probs if smooth_log_probs is None else smooth_log_probs.float()).mean(dim=-1)  # (B, T)
        nll = (1.0 - label_smoothing) * nll + label_smoothing * uniform
    return nll.masked_fill(~real, 0.0).sum()


def pinball_loss(z: Tensor, target_z: Tensor, quantiles: list[float], per_item: bool = False) -> Tensor:
    """Mean quantile (pinball) loss. z (B, H, Q), target_z (B, H) in the same units. With
    ``per_item``, each item's mean, (B,)."""
    q = torch.tensor(quantiles, device=z.device, dtype=z.dtype).view(1, 1, -1)
    diff = target_z.unsqueeze(-1) - z
    loss = torch.maximum(q * diff, (q - 1) * diff)
    return loss.mean(dim=(1, 2)) if per_item else loss.mean()
