"""GET /models: what is loaded, how it was trained and how well it scores; GET /languages: the
directions served and how a request's languages are chosen."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import RegistryDep, SettingsDep
from app.api.language_plan import default_pair
from app.schemas.catalog import Direction, Languages, ModelInfo
from models.served import ServedModel

router = APIRouter(tags=["models"])


def describe(model: ServedModel[Any, Any, Any]) -> ModelInfo:
    config = model.loaded.config
    arch, train = config["architecture"], config.get("training", {})
    return ModelInfo(
        id=model.id,
        task=model.task,
        architecture=arch,
        parameters=model.parameter_count,
        weights=model.weights,
        training_data={
            k: train[k]
            for k in ("data", "credit", "license", "pairs", "tickers", "split", "heldout_tickers")
            if k in train
        },
        metrics=config.get("metrics", {}),
        sha256=model.sha256,
        **model.info(),
    )


@router.get("/models", response_model=list[ModelInfo], summary="The loaded models and their figures")
async def list_models(registry: RegistryDep) -> list[ModelInfo]:
    return [describe(registry.models[name]) for name in sorted(registry.models)]


@router.get("/languages", response_model=Languages, summary="The translation directions served, and the defaults")
async def languages(registry: RegistryDep, settings: SettingsDep) -> Languages:
    directions = {pair: Direction(source=pair[0], target=pair[1], model=t.id) for pair, t in registry.pairs.items()}
    for (source, target), (first, second) in registry.pivots.items():
        directions[(source, target)] = Direction(
            source=source, target=target, model=second.id, via=settings.pivot_lang, models=[first.id, second.id]
        )
    default = default_pair(directions, settings)
    return Languages(
        languages=registry.languages(),
        directions=[directions[pair] for pair in sorted(directions)],
        default=None if default is None else directions[default],
        detected=registry.detector.languages if registry.detector else [],
        detect_min_confidence=settings.detect_min_confidence,
    )
