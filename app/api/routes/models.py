"""GET /models: what is loaded, how it was trained and how well it scores."""
from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.deps import RegistryDep

router = APIRouter(tags=["models"])


class ModelInfo(BaseModel):
    id: str
    task: str
    languages: dict[str, str] | None = None
    architecture: dict
    cell: str
    attention: str
    parameters: int
    training_data: dict
    metrics: dict
    sha256: str


@router.get("/models", response_model=list[ModelInfo], summary="The loaded models and their figures")
async def list_models(registry: RegistryDep) -> list[ModelInfo]:
    out = []
    for model_id, translator in sorted(registry.translators.items()):
        config = translator.checkpoint.config
        arch, train = config["architecture"], config.get("training", {})
        out.append(ModelInfo(
            id=model_id, task=config["task"],
            languages={"source": translator.source_lang, "target": translator.target_lang},
            architecture=arch, cell=arch["cell"], attention=arch["attention"],
            parameters=translator.model.num_parameters(),
            training_data={k: train[k] for k in ("data", "credit", "license", "pairs", "split") if k in train},
            metrics=config.get("metrics", {}), sha256=translator.checkpoint.sha256))
    return out
