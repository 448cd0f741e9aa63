"""What every recurrent network here repeats: building the cell, reading its final state,
and making an initial state, the same for RNN, GRU and LSTM (whose state is a pair (h, c))."""

from __future__ import annotations

from typing import TypeAlias

import torch
from torch import Tensor, nn

CELL_TYPES = ("rnn", "gru", "lstm")
State: TypeAlias = Tensor | tuple[Tensor, Tensor]  # (L, B, H), or (h, c) for an LSTM


def build_rnn(
    cell: str, input_size: int, hidden_size: int, num_layers: int, dropout: float, bidirectional: bool = False
) -> nn.RNNBase:
    """A batch-first torch RNN of the named cell type."""
    classes = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
    if cell not in classes:
        raise ValueError(f"cell must be one of {CELL_TYPES}, got {cell!r}")
    rnn: nn.RNNBase = classes[cell](
        input_size,
        hidden_size,
        num_layers=num_layers,
        batch_first=True,
        dropout=dropout if num_layers > 1 else 0.0,
        bidirectional=bidirectional,
    )
    return rnn


def final_hidden(state: State) -> Tensor:
    """A final state -> its hidden part h (layers * dirs, B, H); an LSTM's cell state is dropped."""
    return state[0] if isinstance(state, tuple) else state


def initial_state(cell: str, hidden: Tensor) -> State:
    """hidden (L, B, H) -> a state to start ``cell`` from; an LSTM's cell state starts at zero."""
    return (hidden, torch.zeros_like(hidden)) if cell == "lstm" else hidden


def select_state(state: State, index: Tensor) -> State:
    """Rows ``index`` (N,) of a recurrent state along its batch dimension."""
    if isinstance(state, tuple):
        return (state[0].index_select(1, index), state[1].index_select(1, index))
    return state.index_select(1, index)
