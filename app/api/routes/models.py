"""GET /models: what is loaded, how it was trained and how well it scores."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import RegistryDep
from app.schemas.models import ModelInfo

router = APIRouter(tags=["models"])


def describe(model) -> ModelInfo:
    checkpoint = model.checkpoint
    config = checkpoint.config
    arch, train = config["architecture"], config.get("training", {})
    languages = None
    if config["task"] == "translation":
        languages = {"source": model.source_lang, "target": model.target_lang}
        network = model.model  # a Translator's Seq2Seq
    else:
        network = model.net  # a StockForecaster's ForecastNet
    return ModelInfo(
        id=checkpoint.id,
        task=config["task"],
        languages=languages,
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
