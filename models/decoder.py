"""Attentional decoder with input feeding (Luong et al., 2015).

One step::

    h_t        = RNN([emb(y_{t-1}); a_{t-1}], h_{t-1})
    c_t, w_t   = attention(h_t, encoder memory)
    a_t        = tanh(W_c [h_t; c_t])          # the "attentional vector", fed to the next step
    logits_t   = W_out a_t                      # W_out tied to the target embeddings

The initial state is ``tanh(W_b summary)``, so with ``attention=none`` the decoder sees
the encoder only through its final state (initial state and a constant context).
"""
from __future__ import annotations

from typing import Union

import torch
from torch import Tensor, nn

from models.attention import Memory, build_attention
from models.encoder import build_rnn

State = Union[Tensor, tuple[Tensor, Tensor]]  # (L, B, H), or (h, c) for LSTM


def select_state(state: State, index: Tensor) -> State:
    """Rows ``index`` (N,) of a recurrent state along its batch dimension."""
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)  # type: ignore[return-value]
    return state.index_select(1, index)


class Decoder(nn.Module):
    def __init__(self, cell: str, embedding: nn.Embedding, hidden_size: int, key_size: int,
                 attention: str = "bahdanau", attention_size: int = 256, num_layers: int = 1,
                 dropout: float = 0.0, tie_embeddings: bool = True):
        super().__init__()
        self.cell = cell
        self.embedding = embedding
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        embed_size = embedding.embedding_dim
        # a_t has the embedding's size when the output layer is tied to it
        self.output_size = embed_size if tie_embeddings else hidden_size
        self.rnn = build_rnn(cell, embed_size + self.output_size, hidden_size, num_layers, dropout)
        self.attention = build_attention(attention, hidden_size, key_size, attention_size)
        self.bridge = nn.Linear(key_size, hidden_size * num_layers)
        self.combine = nn.Linear(hidden_size + key_size, self.output_size)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(self.output_size, embedding.num_embeddings, bias=False)
        if tie_embeddings:
            self.output.weight = embedding.weight

    def init_state(self, memory: Memory) -> tuple[State, Tensor]:
        """-> recurrent state (L, B, H) (or (h, c)), first attentional vector (B, O) of zeros."""
        batch = memory.summary.size(0)
        hidden = torch.tanh(self.bridge(memory.summary))  # (B, L*H)
        hidden = hidden.view(batch, self.num_layers, self.hidden_size).transpose(0, 1).contiguous()
        state: State = (hidden, torch.zeros_like(hidden)) if self.cell == "lstm" else hidden
        att_vec = memory.summary.new_zeros(batch, self.output_size)
        return state, att_vec

    def step(self, prev: Tensor, state: State, att_vec: Tensor, memory: Memory,
             keys: Tensor) -> tuple[Tensor, State, Tensor]:
        """prev (B,) ids -> new attentional vector (B, O), state, weights (B, S)."""
        embedded = self.dropout(self.embedding(prev))  # (B, E)
        rnn_input = torch.cat([embedded, att_vec], dim=-1).unsqueeze(1)
        output, state = self.rnn(rnn_input, state)
        query = output.squeeze(1)  # (B, H)
        context, weights = self.attention(query, memory, keys)
        att_vec = torch.tanh(self.combine(torch.cat([query, context.to(query.dtype)], dim=-1)))
        return att_vec, state, weights

    def logits(self, att_vec: Tensor) -> Tensor:
        """(..., O) -> (..., V)"""
        return self.output(self.dropout(att_vec))

    def forward(self, tgt_in: Tensor, memory: Memory) -> tuple[Tensor, Tensor]:
        """Teacher forcing. tgt_in (B, T) -> logits (B, T, V), weights (B, T, S)."""
        keys = self.attention.prepare(memory)
        state, att_vec = self.init_state(memory)
        att_vecs, weights = [], []
        for t in range(tgt_in.size(1)):
            att_vec, state, w = self.step(tgt_in[:, t], state, att_vec, memory, keys)
            att_vecs.append(att_vec)
            weights.append(w)
        return self.logits(torch.stack(att_vecs, dim=1)), torch.stack(weights, dim=1)
