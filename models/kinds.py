"""Every kind of model the server can load: config.json's ``task`` -> its ``ServedModel`` class."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.checkpoint import CONFIG, CheckpointError, read_checkpoint
from models.forecasting.forecaster import StockForecaster
from models.served import ServedModel
from models.translation.translator import Translator, config_directions

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


def stated_directions(directory: str | Path) -> frozenset[tuple[str, str]] | None:
    """The directions the checkpoint in ``directory`` says it serves, from its config.json alone
    (its weights may be what failed to load): empty for another kind of model, None when the
    config cannot be read or its languages cannot be told."""
    try:
        config = json.loads((Path(directory) / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(task, str):
        return None
    if task != Translator.task:
        return frozenset()
    listed, source, target = config.get("directions"), config.get("source_lang"), config.get("target_lang")
    if listed and not (isinstance(listed, list) and all(isinstance(d, str) and "-" in d for d in listed)):
        return None
    if not listed and not (isinstance(source, str) and isinstance(target, str)):
        return None
    return frozenset(config_directions(config))
