"""One model call per batch: the key requests must share to be batched together, and the
function a model's batcher calls with one key and the items that share it.

A key is a named tuple per task, so a batch's options are read by name, never by position.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from models.forecaster import Forecast, StockForecaster
from models.translator import Translation, Translator

# Interval levels are compared with one tolerance, here. The forecaster lists its levels rounded
# to 6 decimals (``ForecasterConfig.intervals``); a request's level is snapped to the listed one
# within this tolerance, and only listed levels reach the model.
INTERVAL_TOLERANCE = 1e-6


class TranslateKey(NamedTuple):
    """Decoding options: texts batch together only when all of these are equal."""

    beam_size: int
    max_length: int | None


class ForecastKey(NamedTuple):
    """Series batch together only when these are equal."""

    horizon: int
    interval: float  # exactly one of the model's served levels (see ``served_interval``)


def served_interval(interval: float, levels: list[float]) -> float | None:
    """The served level ``interval`` asks for (within ``INTERVAL_TOLERANCE``), else None."""
    matches = [level for level in levels if abs(interval - level) <= INTERVAL_TOLERANCE]
    return matches[0] if matches else None


def translate_batch(model: Translator) -> Callable[[TranslateKey, list[str]], list[Translation]]:
    def run(key: TranslateKey, texts: list[str]) -> list[Translation]:
        return model.translate(texts, beam_size=key.beam_size, max_length=key.max_length)

    return run


def forecast_batch(model: StockForecaster) -> Callable[[ForecastKey, list[np.ndarray]], list[Forecast]]:
    def run(key: ForecastKey, series: list[np.ndarray]) -> list[Forecast]:
        return model.predict(series, key.horizon, key.interval)

    return run


def run_batch(model: Translator | StockForecaster) -> Callable[[Any, list[Any]], list[Any]]:
    """The batch function for a loaded model of either task."""
    return translate_batch(model) if isinstance(model, Translator) else forecast_batch(model)
