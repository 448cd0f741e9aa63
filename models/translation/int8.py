"""An int8 decoder whose answers do not depend on what shares its batch.

Dynamic int8 quantization (``models.quantize``) scales a layer's input by the largest value in the
whole call: with several texts in one batch, each text's activations are rounded on a grid the
others set, and about 4% of translations came out otherwise than alone (docs/results/serving.md).
Here each quantized layer is given a fixed grid instead: every call appends one row holding
``+bound`` and ``-bound`` (the rest zeros), so the call's range is always exactly
[-bound, bound], whatever the other rows hold, and the anchor row's output is dropped. The bounds
are the layers' own: their inputs are tanh outputs, recurrent hidden states or convex mixtures of
encoder states (all within [-1, 1]), or embeddings (within the table's largest absolute value).

Quantized: the decoder's recurrent layer (single-layer GRU or LSTM; one step per call, so the
anchor's hidden state is set afresh each time), its ``combine`` and output layers and the Bahdanau
query layer: the weights read at every decoding step. The encoder, the attention's key layer and
the bridge run once per text and stay float32, as do plain RNN cells (no int8 kernel).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from models.quantize import int8_dynamic
from models.translation.decoder import Decoder
from models.translation.rnn import State
from models.translation.seq2seq import Seq2Seq


def _anchor(width: int, bound: float) -> Tensor:
    row = torch.zeros(1, width)
    row[0, 0], row[0, 1 % width] = bound, -bound
    return row


class AnchoredLinear(nn.Module):
    """An int8 ``nn.Linear`` on the fixed input range [-bound, bound]: x (..., in) -> (..., out)."""

    anchor: Tensor

    def __init__(self, linear: nn.Module, in_features: int, bound: float):
        super().__init__()
        self.linear = linear
        self.register_buffer("anchor", _anchor(in_features, bound), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        rows = x.reshape(-1, x.size(-1))
        out: Tensor = self.linear(torch.cat([rows, self.anchor.to(rows.dtype)]))[:-1]
        return out.reshape(*x.shape[:-1], out.size(-1))


class AnchoredRNN(nn.Module):
    """A single-layer int8 GRU/LSTM (batch first) stepped with fixed input and hidden ranges:
    input (B, T, I), state (1, B, H) or (h, c) -> output (B, T, H), state."""

    x_anchor: Tensor
    h_anchor: Tensor

    def __init__(self, rnn: nn.Module, input_size: int, hidden_size: int, input_bound: float):
        super().__init__()
        self.rnn = rnn
        self.register_buffer("x_anchor", _anchor(input_size, input_bound), persistent=False)
        self.register_buffer("h_anchor", _anchor(hidden_size, 1.0), persistent=False)

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        x_row = self.x_anchor.to(x.dtype).unsqueeze(1).expand(1, x.size(1), -1)
        h_row = self.h_anchor.to(x.dtype).unsqueeze(1)  # (1, 1, H)
        if isinstance(state, tuple):
            h, c = state
            anchored: State = (torch.cat([h, h_row], 1), torch.cat([c, torch.zeros_like(h_row)], 1))
        else:
            anchored = torch.cat([state, h_row], 1)
        output, new = self.rnn(torch.cat([x, x_row]), anchored)
        if isinstance(new, tuple):
            return output[:-1], (new[0][:, :-1], new[1][:, :-1])
        return output[:-1], new[:, :-1]


def _int8(module: nn.Module) -> nn.Module | None:
    quantized = int8_dynamic(nn.Sequential(module))
    return None if quantized is None else quantized[0]


def int8_decoder(model: Seq2Seq) -> Seq2Seq | None:
    """A copy of ``model`` whose decoder steps with anchored int8 layers (see the module
    docstring); None where this torch cannot quantize or the model is not on the CPU."""
    if any(p.device.type != "cpu" for p in model.parameters()):
        return None
    model = copy.deepcopy(model).eval()
    decoder: Decoder = model.decoder
    embedded = float(decoder.embedding.weight.detach().abs().max())
    swaps: list[tuple[nn.Module, str, nn.Linear, float]] = [
        (decoder, "output", decoder.output, 1.0),  # a_t = tanh(...)
        (decoder, "combine", decoder.combine, 1.0),  # [query, context]: hidden states and their mixture
    ]
    query_layer = getattr(decoder.attention, "query_layer", None)
    if isinstance(query_layer, nn.Linear):
        swaps.append((decoder.attention, "query_layer", query_layer, 1.0))
    for owner, name, layer, bound in swaps:
        quantized = _int8(layer)
        if quantized is None:
            return None
        setattr(owner, name, AnchoredLinear(quantized, layer.in_features, bound))
    float_rnn = decoder.rnn
    if isinstance(float_rnn, (nn.GRU, nn.LSTM)) and float_rnn.num_layers == 1:
        rnn = _int8(float_rnn)
        if rnn is None:
            return None
        bound = max(1.0, embedded)  # its input is [embedding, a_t]
        anchored = AnchoredRNN(rnn, float_rnn.input_size, float_rnn.hidden_size, bound)
        decoder.rnn = anchored  # type: ignore[assignment]  # called as the RNN was: (x, state)
    return model
