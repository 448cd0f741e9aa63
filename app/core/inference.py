"""One model call per batch: the key requests must share to be batched together, and the
step function a model's scheduler (``app.core.scheduler``) calls with one key and the items
that share it.

A key is a named tuple per task, so a batch's options are read by name, never by position;
its ``rows`` are the decoder rows one item keeps busy at every step.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, NamedTuple

import numpy as np

from models.forecasting.forecaster import Bars, Forecast, StockForecaster
from models.translation.translator import Translation, Translator

# Interval levels are compared with one tolerance, here. The forecaster lists its levels rounded
# to 6 decimals (``ForecasterConfig.intervals``); a request's level is snapped to the listed one
# within this tolerance, and only listed levels reach the model.
INTERVAL_TOLERANCE = 1e-6


class TranslateKey(NamedTuple):
    """Decoding options: texts batch together only when all of these are equal."""

    beam_size: int
    max_length: int | None
    target_lang: str | None = None  # the language a multilingual model writes; one direction per call
    alternatives: int = 0  # next-best hypotheses per text, 0 .. beam_size - 1

    @property
    def rows(self) -> int:
        return self.beam_size


class ForecastKey(NamedTuple):
    """Series batch together only when these are equal."""

    horizon: int
    interval: float  # exactly one of the model's served levels (see ``served_interval``)

    @property
    def rows(self) -> int:
        return 1


def served_interval(interval: float, levels: list[float]) -> float | None:
    """The served level ``interval`` asks for (within ``INTERVAL_TOLERANCE``), else None."""
    matches = [level for level in levels if abs(interval - level) <= INTERVAL_TOLERANCE]
    return matches[0] if matches else None


Dropped = Callable[[int], bool]


def translate_steps(
    model: Translator,
) -> Callable[[TranslateKey, list[str], Dropped], Generator[None, None, list[Translation]]]:
    def run(key: TranslateKey, texts: list[str], dropped: Dropped) -> Generator[None, None, list[Translation]]:
        return model.translate_steps(
            texts,
            beam_size=key.beam_size,
            max_length=key.max_length,
            dropped=dropped,
            target_lang=key.target_lang,
            alternatives=key.alternatives,
        )

    return run


def forecast_steps(
    model: StockForecaster,
) -> Callable[[ForecastKey, list[np.ndarray | Bars], Dropped], Generator[None, None, list[Forecast]]]:
    def run(
        key: ForecastKey, series: list[np.ndarray | Bars], dropped: Dropped
    ) -> Generator[None, None, list[Forecast]]:
        yield from ()  # one step: a forecast is a single forward pass
        return model.predict(series, key.horizon, key.interval)

    return run


def run_steps(model: Translator | StockForecaster) -> Callable[[Any, list[Any], Dropped], Generator[None, None, Any]]:
    """The step function for a loaded model of either task."""
    return translate_steps(model) if isinstance(model, Translator) else forecast_steps(model)
