"""Attention: score -> masked softmax -> weighted sum.

Every mechanism shares one interface::

    keys = attn.prepare(memory)                    # once per source batch
    context, weights = attn(query, memory, keys)   # once per decoder step

with ``query`` (B, Q), ``memory.states`` (B, S, K), ``memory.mask`` (B, S) bool
(True = real token), ``context`` (B, K) and ``weights`` (B, S), each row summing
to 1 and exactly 0 on padding.

``none`` is the fixed-vector Seq2Seq of Cho et al. / Sutskever et al.: the decoder
sees only the encoder's final state ``memory.summary``. Its weights put all mass on
the last real source position (the end-of-sentence token), which is the only
position whose state that summary comes after — no learned alignment at all.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

ATTENTION_TYPES = ("bahdanau", "luong-dot", "luong-general", "none")


class Memory(NamedTuple):
    """What the encoder hands the decoder.

    states: (B, S, K) encoder outputs; mask: (B, S) bool; summary: (B, K) final state;
    ids: (B, S) the source ids, which a copying decoder copies from (None when unknown).
    """

    states: Tensor
    mask: Tensor
    summary: Tensor
    ids: Tensor | None = None

    def index_select(self, index: Tensor) -> Memory:
        """Rows ``index`` (N,) of every field: expands a batch to beams."""
        return Memory(
            self.states.index_select(0, index),
            self.mask.index_select(0, index),
            self.summary.index_select(0, index),
            None if self.ids is None else self.ids.index_select(0, index),
        )


class Attention(nn.Module):
    """Base class: subclasses define ``score``; ``forward`` is shared."""

    def prepare(self, memory: Memory) -> Tensor:
        """Per-sentence key projection, cached across decoder steps. (B, S, *)"""
        return memory.states

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        """query (B, Q), keys (B, S, *) -> energies (B, S)."""
        raise NotImplementedError

    def forward(self, query: Tensor, memory: Memory, keys: Tensor) -> tuple[Tensor, Tensor]:
        energies = self.score(query, keys).float()
        energies = energies.masked_fill(~memory.mask, float("-inf"))
        weights = torch.softmax(energies, dim=-1)  # (B, S); padding -> exactly 0
        context = torch.bmm(weights.unsqueeze(1).to(memory.states.dtype), memory.states).squeeze(1)
        return context, weights


class BahdanauAttention(Attention):
    """Additive: e_j = v^T tanh(W_q q + W_k k_j)."""

    def __init__(self, query_size: int, key_size: int, hidden_size: int):
        super().__init__()
        self.key_layer = nn.Linear(key_size, hidden_size, bias=False)
        self.query_layer = nn.Linear(query_size, hidden_size, bias=False)
        self.energy_layer = nn.Linear(hidden_size, 1, bias=False)

    def prepare(self, memory: Memory) -> Tensor:
        keys: Tensor = self.key_layer(memory.states)  # (B, S, A)
        return keys

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        hidden = torch.tanh(self.query_layer(query).unsqueeze(1) + keys)  # (B, S, A)
        energies: Tensor = self.energy_layer(hidden).squeeze(-1)
        return energies


class LuongDotAttention(Attention):
    """Multiplicative, no parameters: e_j = q . k_j (needs Q == K)."""

    def __init__(self, query_size: int, key_size: int):
        super().__init__()
        if query_size != key_size:
            raise ValueError(f"luong-dot needs query size == key size, got {query_size} != {key_size}")

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(keys, query.unsqueeze(2)).squeeze(2)


class LuongGeneralAttention(Attention):
    """Bilinear: e_j = q^T W k_j; W k_j is computed once per sentence."""

    def __init__(self, query_size: int, key_size: int):
        super().__init__()
        self.key_layer = nn.Linear(key_size, query_size, bias=False)

    def prepare(self, memory: Memory) -> Tensor:
        keys: Tensor = self.key_layer(memory.states)  # (B, S, Q)
        return keys

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(keys, query.unsqueeze(2)).squeeze(2)


class NoAttention(Attention):
    """Fixed-vector baseline: context is always the encoder summary."""

    def forward(self, query: Tensor, memory: Memory, keys: Tensor) -> tuple[Tensor, Tensor]:
        last = memory.mask.long().sum(dim=1) - 1  # (B,)
        weights = torch.zeros(memory.mask.shape, dtype=torch.float32, device=memory.mask.device)
        weights[torch.arange(weights.size(0), device=weights.device), last] = 1.0
        return memory.summary, weights


def build_attention(kind: str, query_size: int, key_size: int, hidden_size: int) -> Attention:
    if kind == "bahdanau":
        return BahdanauAttention(query_size, key_size, hidden_size)
    if kind == "luong-dot":
        return LuongDotAttention(query_size, key_size)
    if kind == "luong-general":
        return LuongGeneralAttention(query_size, key_size)
    if kind == "none":
        return NoAttention()
    raise ValueError(f"attention must be one of {ATTENTION_TYPES}, got {kind!r}")
