"""Attentional decoder with input feeding (Luong et al., 2015) and an optional copy gate
(pointer-generator, See et al., 2017).

One step::

    h_t        = RNN([emb(y_{t-1}); a_{t-1}], h_{t-1})
    c_t, w_t   = attention(h_t, encoder memory)
    a_t        = tanh(W_c [h_t; c_t])          # the "attentional vector", fed to the next step
    P_gen(v)   = softmax(W_out a_t)_v           # W_out tied to the target embeddings

Without copying ``P(v) = P_gen(v)``. With copying a learned gate
``p_t = sigmoid(w_p [h_t; c_t; emb(y_{t-1})])`` mixes generating with copying the source
pieces the attention points at::

    P(v) = p_t * P_gen(v) + (1 - p_t) * sum_{j : x_j = v} w_t[j]

The vocabulary is joint, so every source piece is also a target piece and no extended
vocabulary is needed. The copy distribution is the attention itself, so the served attention
is exactly the alignment the model copied with.

The initial state is ``tanh(W_b summary)``, so with ``attention=none`` the decoder sees
the encoder only through its final state (initial state and a constant context).
"""

from __future__ import annotations

from typing import NamedTuple, cast

import torch
from torch import Tensor, nn

from models.translation.attention import Memory, build_attention
from models.translation.rnn import State, build_rnn, initial_state, select_state

__all__ = ["Decoder", "State", "Step", "select_state"]


class Step(NamedTuple):
    """One decoder step for B rows: att_vec (B, O), state, weights (B, S) and p_gen (B, 1)
    (the probability of generating rather than copying; None without a copy gate)."""

    att_vec: Tensor
    state: State
    weights: Tensor
    p_gen: Tensor | None


class Decoder(nn.Module):
    def __init__(
        self,
        cell: str,
        embedding: nn.Embedding,
        hidden_size: int,
        key_size: int,
        attention: str = "bahdanau",
        attention_size: int = 256,
        num_layers: int = 1,
        dropout: float = 0.0,
        tie_embeddings: bool = True,
        copy: bool = False,
        uncopyable: tuple[int, ...] = (),
    ):
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
        self.copy_gate = nn.Linear(hidden_size + key_size + embed_size, 1) if copy else None
        if self.copy_gate is not None:  # start mostly generating (p_gen ~ 0.88): most output is not a copy
            nn.init.constant_(self.copy_gate.bias, 2.0)
        self.uncopyable = uncopyable  # special ids (end of sentence, padding): never copied
        # Whether the copy term's gradient reaches the attention (See et al., 2017). Off, the
        # attention learns from generating alone; a training choice, so not in the config.
        self.copy_trains_attention = False

    def init_state(self, memory: Memory) -> tuple[State, Tensor]:
        """-> recurrent state (L, B, H) (or (h, c)), first attentional vector (B, O) of zeros."""
        batch = memory.summary.size(0)
        hidden = torch.tanh(self.bridge(memory.summary))  # (B, L*H)
        hidden = hidden.view(batch, self.num_layers, self.hidden_size).transpose(0, 1).contiguous()
        return initial_state(self.cell, hidden), memory.summary.new_zeros(batch, self.output_size)

    def step(self, prev: Tensor, state: State, att_vec: Tensor, memory: Memory, keys: Tensor) -> Step:
        """prev (B,) ids -> the new attentional vector (B, O), state, weights (B, S), p_gen (B, 1)."""
        embedded = self.dropout(self.embedding(prev))  # (B, E)
        rnn_input = torch.cat([embedded, att_vec], dim=-1).unsqueeze(1)
        output, state = self.rnn(rnn_input, state)
        query = output.squeeze(1)  # (B, H)
        context, weights = self.attention(query, memory, keys)
        features = torch.cat([query, context.to(query.dtype)], dim=-1)  # (B, H + K)
        att_vec = torch.tanh(self.combine(features))
        p_gen = None
        if self.copy_gate is not None:
            # The gate reads the step's features but does not train them: its push towards
            # generating (or copying) is the same sign on every token, and through the shared
            # embedding it would grow every vector until the recurrent cells saturate.
            p_gen = torch.sigmoid(self.copy_gate(torch.cat([features, embedded], dim=-1).detach()).float())
        return Step(att_vec, state, weights, p_gen)

    def log_probs(
        self, att_vec: Tensor, weights: Tensor, p_gen: Tensor | None, src_ids: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """The output distribution and the generator's own, as float32 log-probabilities.

        att_vec (B, [T,] O), weights (B, [T,] S), p_gen (B, [T,] 1) or None, src_ids (B, S)
        -> P (B, [T,] V), P_gen (B, [T,] V); the same tensor without copying. Padding has
        weight 0, so it adds nothing to any piece.
        """
        generated = torch.log_softmax(self.output(self.dropout(att_vec)).float(), dim=-1)
        if p_gen is None:
            return generated, generated
        if src_ids is None:
            raise ValueError("a copying decoder needs the source ids in its memory")
        index = src_ids if weights.dim() == 2 else src_ids.unsqueeze(1).expand_as(weights)
        # Unless ``copy_trains_attention``, the copy term reads the attention but does not train
        # it: the attention learns from generating, and copying uses the alignment that learnt.
        copy_weights = (weights if self.copy_trains_attention else weights.detach()).float()
        special = torch.isin(index, torch.tensor(self.uncopyable, device=index.device))
        # Attention on a special piece (the source's end of sentence) cannot be copied: that
        # mass generates instead, so the end of the output is always the generator's decision.
        p_generate = p_gen + (1 - p_gen) * (copy_weights * special).sum(-1, keepdim=True)
        mixed = (generated.exp() * p_generate).scatter_add(
            -1, index, copy_weights.masked_fill(special, 0.0) * (1 - p_gen)
        )
        return torch.log(mixed.clamp_min(1e-12)), generated

    def forward(self, tgt_in: Tensor, memory: Memory) -> tuple[Tensor, Tensor, Tensor]:
        """Teacher forcing. tgt_in (B, T) -> log-probabilities (B, T, V) float32, weights (B, T, S),
        and the generator's log-probabilities (B, T, V) (what label smoothing spreads over)."""
        keys = self.attention.prepare(memory)
        state, att_vec = self.init_state(memory)
        att_vecs, weights, gates = [], [], []
        for t in range(tgt_in.size(1)):
            att_vec, state, w, p_gen = self.step(tgt_in[:, t], state, att_vec, memory, keys)
            att_vecs.append(att_vec)
            weights.append(w)
            gates.append(p_gen)
        stacked = torch.stack(weights, dim=1)
        # with a copy gate every step returned a p_gen tensor; without one, gates holds Nones and is unused
        p_gens = None if self.copy_gate is None else torch.stack(cast(list[Tensor], gates), dim=1)  # (B, T, 1)
        log_probs, generated = self.log_probs(torch.stack(att_vecs, dim=1), stacked, p_gens, memory.ids)
        return log_probs, stacked, generated
