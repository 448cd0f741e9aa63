"""Loads the configured checkpoints once, remembers why any failed, and runs inference
through one fair scheduler per model (a dedicated thread each, off the event loop)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.core.config import Settings
from app.core.language import LanguageDetector, detector_for
from app.core.scheduler import Scheduler
from models.checkpoint import CheckpointError
from models.forecasting.forecaster import StockForecaster
from models.kinds import load_model, stated_directions
from models.served import Batchable, ServedModel
from models.translation.translator import Translator

log = logging.getLogger("attnserve.models")
Model = TypeVar("Model", bound=ServedModel[Any, Any, Any])


class RequestTimeout(Exception):
    """Inference did not finish within the configured request timeout."""


def pivot_pairs(
    pairs: dict[tuple[str, str], Translator], via: str
) -> dict[tuple[str, str], tuple[Translator, Translator]]:
    """Every direction no model serves whose two legs through ``via`` are served: (a, b) ->
    (a->via, via->b). ``via`` empty: none."""
    if not via:
        return {}
    into = {a: translator for (a, b), translator in pairs.items() if b == via}
    out_of = {b: translator for (a, b), translator in pairs.items() if a == via}
    return {
        (a, b): (into[a], out_of[b]) for a in sorted(into) for b in sorted(out_of) if a != b and (a, b) not in pairs
    }


@dataclass
class ModelRegistry:
    settings: Settings
    models: dict[str, ServedModel[Any, Any, Any]] = field(default_factory=dict)  # by model id, in load order
    errors: dict[str, str] = field(default_factory=dict)  # by configured name
    # configured translators that failed to load -> the directions their config.json states (None:
    # it cannot tell), read once here, so a request for one of them is a 503 naming it
    failed_directions: dict[str, frozenset[tuple[str, str]] | None] = field(default_factory=dict)
    load_seconds: dict[str, float] = field(default_factory=dict)
    schedulers: dict[str, Scheduler] = field(default_factory=dict)  # by model id
    detector: LanguageDetector | None = None  # over every served language; None without translators
    # served direction -> the translator serving it (built once by ``load_all``; read by every request)
    pairs: dict[tuple[str, str], Translator] = field(default_factory=dict)
    # directions served through the pivot language: (source, target) -> (source->pivot, pivot->target)
    pivots: dict[tuple[str, str], tuple[Translator, Translator]] = field(default_factory=dict)
    on_batch: Callable[[str, int], None] | None = None  # (model id, items in one model call)
    on_abandoned: Callable[[str, int], None] | None = None  # (model id, items nobody waited for)

    def load_all(self) -> None:
        for name in self.settings.models:
            path = self.settings.checkpoint_path(name)
            tick = time.perf_counter()
            try:
                model = load_model(path)
                if self.settings.weights == "int8":
                    model = model.quantized()
            except Exception as exc:  # whatever a bad checkpoint raises costs that model, never the process
                expected = isinstance(exc, (CheckpointError, OSError, ValueError))
                self.errors[name] = str(exc) if expected else f"{path}: {type(exc).__name__}: {exc}"
                log.error("model %s not loaded: %s", name, self.errors[name], exc_info=not expected)
                if (directions := stated_directions(path)) != frozenset():
                    self.failed_directions[name] = directions
                continue
            self.load_seconds[name] = time.perf_counter() - tick
            self.models[model.id] = model
            self.schedulers[model.id] = self._scheduler(model)
            log.info(
                "model %s loaded from %s in %.2fs (sha256 %s, %s weights)",
                name,
                path,
                self.load_seconds[name],
                model.sha256[:12],
                model.weights,
            )
        self.pairs = self._map_directions()
        self.pivots = pivot_pairs(self.pairs, self.settings.pivot_lang)
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

    def _scheduler(self, model: ServedModel[Any, Any, Any]) -> Scheduler:
        s = self.settings
        return Scheduler(
            model.id,
            model.steps,
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
        return sorted(self.models)

    def of_kind(self, kind: type[Model]) -> dict[str, Model]:
        """The loaded models of one class, by id, in load order."""
        return {model_id: model for model_id, model in self.models.items() if isinstance(model, kind)}

    @property
    def translators(self) -> dict[str, Translator]:
        return self.of_kind(Translator)

    @property
    def forecasters(self) -> dict[str, StockForecaster]:
        return self.of_kind(StockForecaster)

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

    def serves(self, source: str, target: str) -> bool:
        """Whether ``source`` -> ``target`` is served, directly or through the pivot language."""
        return (source, target) in self.pairs or (source, target) in self.pivots

    def languages(self) -> list[str]:
        """Every language some served direction reads or writes, sorted."""
        return sorted({lang for pair in self.pairs for lang in pair})

    async def run(self, model: ServedModel[Any, Any, Any], jobs: Sequence[tuple[Batchable, Any, int]]) -> list[Any]:
        """One request's (key, item, most steps) jobs to the model's scheduler; one result each,
        in order. ``RequestTimeout`` past ``request_timeout_s``."""
        calls = self.schedulers[model.id].submit([(key, item, key.rows, limit) for key, item, limit in jobs])
        try:
            return await asyncio.wait_for(calls, self.settings.request_timeout_s)
        except TimeoutError as exc:
            raise RequestTimeout(
                f"inference took longer than {self.settings.request_timeout_s:g} s (ATTNSERVE_REQUEST_TIMEOUT_S)"
            ) from exc

    def close(self) -> None:
        for scheduler in self.schedulers.values():
            scheduler.close()
