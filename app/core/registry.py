"""Loads the configured checkpoints once and remembers why any failed."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from app.core.config import Settings
from models.checkpoint import CheckpointError
from models.forecaster import StockForecaster
from models.translator import Translator

log = logging.getLogger("attnserve.models")


@dataclass
class ModelRegistry:
    settings: Settings
    translators: dict[str, Translator] = field(default_factory=dict)  # by model id
    forecasters: dict[str, StockForecaster] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)               # by configured name
    load_seconds: dict[str, float] = field(default_factory=dict)
    # one inference thread: keeps the event loop free and torch from oversubscribing the cores
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "inference"))

    def load_all(self) -> None:
        for name in self.settings.models:
            path = self.settings.checkpoint_dir / name
            tick = time.perf_counter()
            try:
                task = _task_of(path)
                if task not in LOADERS:
                    raise CheckpointError(f"{path}: unsupported task {task!r}")
                kind, loader = LOADERS[task]
                model = loader(path)
                getattr(self, kind)[model.checkpoint.id] = model
            except (CheckpointError, OSError, ValueError) as exc:
                self.errors[name] = str(exc)
                log.error("model %s not loaded: %s", name, exc)
                continue
            self.load_seconds[name] = time.perf_counter() - tick
            log.info("model %s loaded from %s in %.2fs (sha256 %s)", name, path,
                     self.load_seconds[name], model.checkpoint.sha256[:12])

    @property
    def ready(self) -> bool:
        return not self.errors and bool(self.settings.models)

    @property
    def loaded(self) -> list[str]:
        return sorted([*self.translators, *self.forecasters])

    def language_pairs(self) -> dict[tuple[str, str], Translator]:
        return {(t.source_lang, t.target_lang): t for t in self.translators.values()}

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def close(self) -> None:
        self.executor.shutdown(wait=True)


LOADERS = {"translation": ("translators", Translator.load),
           "forecast": ("forecasters", StockForecaster.load)}


def _task_of(path) -> str:
    config = path / "config.json"
    if not config.is_file():
        raise CheckpointError(f"{path}: no config.json (checkpoint folder missing or incomplete)")
    try:
        return json.loads(config.read_text()).get("task", "?")
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{config}: not valid JSON: {exc}") from exc
