"""What every served model is to the server: one class per kind of model.

A ``ServedModel`` is loaded from a checkpoint folder by its class's ``load``, or by
``models.kinds.load_model``, which reads the folder's ``task`` and picks the class. To the server
it is:

- ``id`` and ``sha256``: which model and which weights answered;
- ``steps(key, items, dropped)``: the model call the scheduler drives, one step per ``next()``
  (a decoding step for a translator, the single forward pass for a forecaster). ``key`` holds the
  options items must share to be batched together; its ``rows`` are the decoder rows one item
  keeps busy at every step;
- its own limits, as ``InputError`` naming the input field and the rule (a forecaster's horizon,
  window and interval levels; a translator's output length comes from ``output_limit``);
- ``info()``: the kind's own facts for ``GET /models`` (a translator's directions).

Adding a kind of model means writing one such class, listing it in ``models.kinds``, and its route.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Hashable
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np
from torch import nn

from models.checkpoint import Checkpoint, CheckpointError, read_checkpoint

Key = TypeVar("Key", bound="Batchable")
Item = TypeVar("Item")
Result = TypeVar("Result")
Dropped = Callable[[int], bool]  # dropped(i): nobody waits for item i any more
Steps = Generator[None, None, Result]  # yields between steps, returns the results


WEIGHT_DECIMALS = 4  # attention weights as answered: 4 decimals (a float32 weight's repr takes ~18)


def rounded_rows(weights: np.ndarray, decimals: int = WEIGHT_DECIMALS) -> list[list[float]]:
    """(R, C) rows of weights that sum to 1 -> the same rows rounded to ``decimals``, each row's
    rounding remainder added to its largest weight, so a row still sums to 1 (within 1e-9 however
    long it is) and no weight moves by more than that remainder."""
    matrix = np.asarray(weights, dtype=np.float64)
    if matrix.size == 0:
        return matrix.tolist()  # type: ignore[no-any-return]
    rounded = np.round(matrix, decimals)
    rows = np.arange(len(rounded))
    top = rounded.argmax(axis=1)
    rounded[rows, top] = np.round(rounded[rows, top] + (matrix.sum(axis=1) - rounded.sum(axis=1)), decimals + 4)
    return rounded.tolist()  # type: ignore[no-any-return]


class Batchable(Hashable, Protocol):
    """A batch key: items batch together only when their keys are equal."""

    @property
    def rows(self) -> int: ...


class InputError(ValueError):
    """An input breaks one of the model's own rules. ``field`` names the input (``"horizon"``,
    ``"prices"``), ``kind`` the rule's error type as the API reports it."""

    def __init__(self, field: str, message: str, kind: str = "value_error"):
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.kind = field, message, kind


class ServedModel(ABC, Generic[Key, Item, Result]):
    task: ClassVar[str]  # config.json's "task" this class loads
    checkpoint: Checkpoint | None  # None: built in memory (training evaluates its model so)

    @classmethod
    def load(cls, directory: str | Path) -> ServedModel[Key, Item, Result]:
        """The model in ``directory``: manifest verified, config.json checked against the kind's
        schema, weights fitted; any broken rule raises ``CheckpointError`` with the reason."""
        return cls.from_checkpoint(read_checkpoint(directory))

    @classmethod
    @abstractmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> ServedModel[Key, Item, Result]: ...

    @property
    def loaded(self) -> Checkpoint:
        """The checkpoint it came from; a model built in memory raises ``CheckpointError``."""
        if self.checkpoint is None:
            raise CheckpointError("the model was built in memory, not loaded from a checkpoint")
        return self.checkpoint

    @property
    def id(self) -> str:
        return self.loaded.id

    @property
    def sha256(self) -> str:
        return self.loaded.sha256

    @property
    @abstractmethod
    def network(self) -> nn.Module: ...

    @abstractmethod
    def steps(self, key: Key, items: list[Item], dropped: Dropped) -> Steps[list[Result]]:
        """One model call over ``items`` sharing ``key``, one step per ``next()``; returns one
        result per item, in order."""

    def info(self) -> dict[str, Any]:
        """The kind's own facts for ``GET /models`` (none by default)."""
        return {}

    @property
    def parameter_count(self) -> int:
        """The network's trainable numbers, as trained (a quantized copy keeps the count)."""
        return sum(p.numel() for p in self.network.parameters())

    weights: str = "float32"
    """How the served weights are stored: ``float32`` as trained, or ``int8`` (``quantized``)."""

    def quantized(self) -> ServedModel[Key, Item, Result]:
        """The model with int8 weights for CPU serving (``models.quantize``); this kind, this torch
        or this device without it: the model itself."""
        return self
