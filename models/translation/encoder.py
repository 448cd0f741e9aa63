"""Recurrent encoder: embedding -> (bi)directional RNN/GRU/LSTM over packed sequences."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from models.translation.attention import Memory
from models.translation.rnn import CELL_TYPES, build_rnn, final_hidden

__all__ = ["CELL_TYPES", "Encoder", "build_rnn"]


class Encoder(nn.Module):
    """Reads source ids (B, S) into a ``Memory``.

    ``hidden_size`` is the size of each output state K; a bidirectional encoder
    gives each direction K/2 so that states and summary are both (.., K).
    """

    def __init__(
        self,
        cell: str,
        embedding: nn.Embedding,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        if bidirectional and hidden_size % 2:
            raise ValueError("a bidirectional encoder needs an even hidden size")
        self.cell = cell
        self.embedding = embedding
        self.bidirectional = bidirectional
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        per_direction = hidden_size // 2 if bidirectional else hidden_size
        self.dropout = nn.Dropout(dropout)
        self.rnn = build_rnn(cell, embedding.embedding_dim, per_direction, num_layers, dropout, bidirectional)

    def forward(self, src: Tensor, src_lengths: Tensor) -> Memory:
        """src (B, S) int64, src_lengths (B,) -> Memory(states (B, S, K), mask (B, S), summary (B, K))."""
        embedded = self.dropout(self.embedding(src))  # (B, S, E)
        packed = pack_padded_sequence(embedded, src_lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, final = self.rnn(packed)
        states, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.size(1))
        hidden = final_hidden(final)  # (layers * dirs, B, H)
        if self.bidirectional:
            # top layer: forward's last step and backward's first step, (B, K)
            summary = torch.cat([hidden[-2], hidden[-1]], dim=-1)
        else:
            summary = hidden[-1]
        mask = torch.arange(src.size(1), device=src.device).unsqueeze(0) < src_lengths.to(src.device).unsqueeze(1)
        return Memory(self.dropout(states), mask, summary, src)
