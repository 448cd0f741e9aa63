"""GET /models: what is loaded, how it was trained and how well it scores; GET /languages: the
directions served and how a request's languages are chosen."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import RegistryDep, SettingsDep
from app.api.translate_languages import default_pair
from app.schemas.models import Direction, Languages, ModelInfo
from models.checkpoint import loaded_checkpoint

router = APIRouter(tags=["models"])


def describe(model) -> ModelInfo:
    checkpoint = model.checkpoint
    config = checkpoint.config
    arch, train = config["architecture"], config.get("training", {})
    languages = directions = None
    if config["task"] == "translation":
        if not model.multilingual:
            languages = {"source": model.source_lang, "target": model.target_lang}
        directions = [f"{source}-{target}" for source, target in model.directions]
        network = model.model  # a Translator's Seq2Seq
    else:
        network = model.net  # a StockForecaster's ForecastNet
    return ModelInfo(
        id=checkpoint.id,
        task=config["task"],
        languages=languages,
        directions=directions,
        architecture=arch,
        cell=arch["cell"],
        attention=arch.get("attention", "bahdanau"),
        parameters=network.num_parameters(),
        training_data={
            k: train[k]
            for k in ("data", "credit", "license", "pairs", "tickers", "split", "heldout_tickers")
            if k in train
        },
        metrics=config.get("metrics", {}),
        sha256=checkpoint.sha256,
    )


@router.get("/models", response_model=list[ModelInfo], summary="The loaded models and their figures")
async def list_models(registry: RegistryDep) -> list[ModelInfo]:
    models = {**registry.translators, **registry.forecasters}
    return [describe(models[name]) for name in sorted(models)]


@router.get("/languages", response_model=Languages, summary="The translation directions served, and the defaults")
async def languages(registry: RegistryDep, settings: SettingsDep) -> Languages:
    pairs = registry.language_pairs()
    directions = {
        pair: Direction(source=pair[0], target=pair[1], model=loaded_checkpoint(t.checkpoint).id)
        for pair, t in pairs.items()
    }
    default = default_pair(pairs, settings)
    return Languages(
        languages=registry.languages(),
        directions=[directions[pair] for pair in sorted(directions)],
        default=None if default is None else directions[default],
        detected=registry.detector.languages if registry.detector else [],
        detect_min_confidence=settings.detect_min_confidence,
    )
