"""Int8 weights for decoding on a CPU.

A decoding step of a small batch is bound by reading weights from memory, not by arithmetic: the
translator's output layer alone is 8000 x 512 float32 weights (16 MB) read at every step. Dynamic
int8 quantization (``torch.ao.quantization.quantize_dynamic``) stores the weights of every
``nn.Linear`` and GRU/LSTM layer as int8 with one scale per tensor and quantizes each step's
activations on the fly, scaled by the largest value of each call; embeddings and plain RNN layers
stay float32. ``models.translation.int8`` builds the translator's int8 decoder from it, on fixed
ranges so that an answer does not depend on its batch (docs/results/serving.md).

torch marks this API deprecated (its successor lives in the separate torchao package); where a
torch build no longer has it, ``int8_dynamic`` answers None and the caller keeps float32.
"""

from __future__ import annotations

import warnings
from typing import TypeVar

from torch import nn

QUANTIZED_TYPES = (nn.Linear, nn.GRU, nn.LSTM)
M = TypeVar("M", bound=nn.Module)


def int8_dynamic(network: M) -> M | None:
    """A copy of ``network`` (on the CPU, in eval mode; the same class, its layers swapped) with
    int8 Linear/GRU/LSTM weights; None where this torch cannot quantize, or the network is not on
    the CPU."""
    if any(p.device.type != "cpu" for p in network.parameters()):
        return None
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:
        return None
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the API's deprecation notice, once per layer
        quantized = quantize_dynamic(network.eval(), set(QUANTIZED_TYPES), dtype=torch.qint8, inplace=False)  # type: ignore[no-untyped-call]
    return quantized  # type: ignore[no-any-return]
