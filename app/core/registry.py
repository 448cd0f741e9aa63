"""Loads the configured checkpoints once, remembers why any failed, and runs inference
through one fair scheduler per model (a dedicated thread each, off the event loop)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.core.checkpoints import check_model, read_config
from app.core.config import Settings
from app.core.inference import ForecastKey, TranslateKey, run_steps
from app.core.language import LanguageDetector, detector_for
from app.core.scheduler import Scheduler
from models.checkpoint import CheckpointError, loaded_checkpoint
from models.forecasting.forecaster import Bars, Forecast, StockForecaster
from models.translation.translator import Translation, Translator

log = logging.getLogger("attnserve.models")


class RequestTimeout(Exception):
    """Inference did not finish within the configured request timeout."""


@dataclass
class ModelRegistry:
    settings: Settings
    translators: dict[str, Translator] = field(default_factory=dict)  # by model id
    forecasters: dict[str, StockForecaster] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # by configured name
    load_seconds: dict[str, float] = field(default_factory=dict)
    schedulers: dict[str, Scheduler] = field(default_factory=dict)  # by model id
    detector: LanguageDetector | None = None  # over every served language; None without translators
    pairs: dict[tuple[str, str], Translator] = field(default_factory=dict)  # served direction -> translator
    on_batch: Callable[[str, int], None] | None = None  # (model id, items in one model call)
    on_abandoned: Callable[[str, int], None] | None = None  # (model id, items nobody waited for)

    def load_all(self) -> None:
        for name in self.settings.models:
            path = self.settings.checkpoint_path(name)
            tick = time.perf_counter()
            try:
                kind, loader = LOADERS[read_config(path).task]
                model = loader(path)
                check_model(model, path)
                checkpoint = loaded_checkpoint(model.checkpoint)
                getattr(self, kind)[checkpoint.id] = model
            except Exception as exc:  # whatever a bad checkpoint raises costs that model, never the process
                expected = isinstance(exc, (CheckpointError, OSError, ValueError))
                self.errors[name] = str(exc) if expected else f"{path}: {type(exc).__name__}: {exc}"
                log.error("model %s not loaded: %s", name, self.errors[name], exc_info=not expected)
                continue
            self.load_seconds[name] = time.perf_counter() - tick
            self.schedulers[checkpoint.id] = self._scheduler(model)
            log.info(
                "model %s loaded from %s in %.2fs (sha256 %s)",
                name,
                path,
                self.load_seconds[name],
                checkpoint.sha256[:12],
            )
        self.pairs = self._map_directions()
        if self.translators:
            self._load_detector()

    def _load_detector(self) -> None:
        tick = time.perf_counter()
        try:
            self.detector = detector_for(frozenset(self.languages()))
        except Exception as exc:  # a broken identifier costs detection (503), never the process
            self.errors["language-detector"] = f"{type(exc).__name__}: {exc}"
            log.error("language detector not loaded: %s", exc, exc_info=True)
            return
        log.info(
            "language detector for %s loaded in %.2fs", ", ".join(self.detector.languages), time.perf_counter() - tick
        )

    def _scheduler(self, model: Translator | StockForecaster) -> Scheduler:
        s = self.settings
        return Scheduler(
            loaded_checkpoint(model.checkpoint).id,
            run_steps(model),
            max_size=s.batch_max_size,
            max_wait_ms=s.batch_max_wait_ms,
            max_queue=s.queue_max,
            max_rows=s.batch_max_rows,
            round_rows=s.round_max_rows,
            join_steps=s.batch_join_steps,
            on_batch=self.on_batch,
            on_abandoned=self.on_abandoned,
        )

    @property
    def ready(self) -> bool:
        return not self.errors and bool(self.settings.models)

    @property
    def loaded(self) -> list[str]:
        return sorted([*self.translators, *self.forecasters])

    def language_pairs(self) -> dict[tuple[str, str], Translator]:
        """Every served direction (source, target) -> the translator serving it (built once, by
        ``load_all``; read by every translate request)."""
        return self.pairs

    def _map_directions(self) -> dict[tuple[str, str], Translator]:
        """The checkpoint itself for a single-direction one, its ``towards`` view for a
        multilingual one. When two loaded checkpoints serve one direction, the one listed first in
        ``settings.models`` wins."""
        pairs: dict[tuple[str, str], Translator] = {}
        for translator in self.translators.values():  # in settings.models order (load_all)
            for direction in translator.directions:
                if direction not in pairs:
                    pairs[direction] = translator.towards(*direction) if translator.multilingual else translator
        return pairs

    def languages(self) -> list[str]:
        """Every language some served direction reads or writes, sorted."""
        return sorted({lang for pair in self.language_pairs() for lang in pair})

    async def _submit_all(
        self, model_id: str, jobs: Sequence[tuple[TranslateKey | ForecastKey, Any, int]]
    ) -> list[Any]:
        """One request's (key, item, most decoding steps) jobs to the model's scheduler; results
        in order."""
        scheduler = self.schedulers[model_id]
        calls = scheduler.submit([(key, item, key.rows, limit) for key, item, limit in jobs])
        try:
            return await asyncio.wait_for(calls, self.settings.request_timeout_s)
        except TimeoutError as exc:
            raise RequestTimeout(
                f"inference took longer than {self.settings.request_timeout_s:g} s (ATTNSERVE_REQUEST_TIMEOUT_S)"
            ) from exc

    async def translate(self, translator: Translator, jobs: list[tuple[TranslateKey, str, int]]) -> list[Translation]:
        """jobs: (decoding options, text, output-token limit) per text; one result each, in order."""
        return await self._submit_all(loaded_checkpoint(translator.checkpoint).id, jobs)

    async def forecast(
        self, forecaster: StockForecaster, jobs: list[tuple[ForecastKey, np.ndarray | Bars]]
    ) -> list[Forecast]:
        """jobs: (horizon and level, close prices or Bars) per series; one result each, in order."""
        one_step = [(key, prices, 1) for key, prices in jobs]
        return await self._submit_all(loaded_checkpoint(forecaster.checkpoint).id, one_step)

    def close(self) -> None:
        for scheduler in self.schedulers.values():
            scheduler.close()


Loader = Callable[[Path], Translator | StockForecaster]
LOADERS: dict[str, tuple[str, Loader]] = {
    "translation": ("translators", Translator.load),
    "forecast": ("forecasters", StockForecaster.load),
}
