"""Every kind of model the server can load: config.json's ``task`` -> its ``ServedModel`` class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.checkpoint import CheckpointError, read_checkpoint
from models.forecasting.forecaster import StockForecaster
from models.served import ServedModel
from models.translation.translator import Translator

KINDS: dict[str, type[ServedModel[Any, Any, Any]]] = {cls.task: cls for cls in (Translator, StockForecaster)}


def load_model(directory: str | Path) -> ServedModel[Any, Any, Any]:
    """The checkpoint in ``directory`` as the class its ``task`` names; ``CheckpointError`` says
    why it cannot be served."""
    checkpoint = read_checkpoint(directory)
    task = checkpoint.config.get("task") if isinstance(checkpoint.config, dict) else None
    if task not in KINDS:
        served = ", ".join(sorted(KINDS))
        raise CheckpointError(f"{checkpoint.path}: config.json's task {task!r} is not a kind served here ({served})")
    return KINDS[task].from_checkpoint(checkpoint)
