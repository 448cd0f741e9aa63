"""One interface for every served model (models/served.py): a third kind of model is one class
plus its route. The toy kind here, a scaler, is written in this file alone; loading, readiness,
GET /models, the scheduler and the checkpoint schema come from the interface unchanged."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, NamedTuple

import pytest
import torch
from conftest import ROOT
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from torch import nn

from app.core.config import Settings
from app.main import create_app
from models import kinds
from models.checkpoint import Checkpoint, fit_network, read_config, save_checkpoint
from models.schema import rule
from models.served import Dropped, InputError, ServedModel, Steps


@dataclass
class ScalerArchitecture:
    width: int = field(default=3, metadata=rule(ge=1))


@dataclass
class ScalerConfig:
    EXTRA: ClassVar[bool] = True
    task: str
    architecture: ScalerArchitecture


class ScaleKey(NamedTuple):
    rows: int = 1


class Scaler(ServedModel[ScaleKey, list[float], list[float]]):
    """A third kind: a linear map of ``width`` numbers (the whole model fits in this class)."""

    task = "scale"

    def __init__(self, net: nn.Linear, checkpoint: Checkpoint | None = None):
        self.net, self.checkpoint = net, checkpoint

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> Scaler:
        config = read_config(checkpoint, cls.task, ScalerConfig)
        width = config.architecture.width
        return cls(fit_network(checkpoint, nn.Linear(width, width, bias=False)), checkpoint)

    @property
    def network(self) -> nn.Module:
        return self.net

    def check(self, values: list[float]) -> None:
        if len(values) != self.net.in_features:
            raise InputError("values", f"must hold {self.net.in_features} numbers, got {len(values)}")

    def steps(self, key: ScaleKey, items: list[list[float]], dropped: Dropped) -> Steps[list[list[float]]]:
        yield  # one step
        with torch.no_grad():
            return self.net(torch.tensor(items, dtype=torch.float32)).tolist()


router = APIRouter()  # its route


@router.post("/scale")
async def scale(body: dict, request: Request) -> dict:
    registry = request.app.state.registry
    model = registry.of_kind(Scaler)["scaler"]
    model.check(body["values"])
    [result] = await registry.run(model, [(ScaleKey(), body["values"], 1)])
    return {"values": result, "model": model.id}


def save_scaler(folder: Path, width: int = 3, **architecture) -> Path:
    net = nn.Linear(width, width, bias=False)
    with torch.no_grad():
        net.weight.copy_(2 * torch.eye(width))
    config = {"task": "scale", "id": "scaler", "architecture": {"width": width, **architecture}}
    return save_checkpoint(folder, net, config, "# a toy scaler\n", dtype=torch.float32)


@pytest.fixture
def app_with_scaler(tmp_path, monkeypatch) -> FastAPI:
    monkeypatch.setitem(kinds.KINDS, Scaler.task, Scaler)  # listing the class is the one line elsewhere
    save_scaler(tmp_path / "scaler")
    app = create_app(Settings(checkpoint_dir=tmp_path, models=["scaler"]))
    app.include_router(router)
    return app


def test_a_third_kind_is_loaded_scheduled_and_listed_through_the_interface(app_with_scaler):
    with TestClient(app_with_scaler) as client:
        assert client.get("/readyz").status_code == 200
        answer = client.post("/scale", json={"values": [1.0, -2.0, 0.5]})
        listed = client.get("/models").json()
        scheduler = client.app.state.registry.schedulers["scaler"]
    assert answer.status_code == 200 and answer.json() == {"values": [2.0, -4.0, 1.0], "model": "scaler"}
    assert [(m["id"], m["task"], m["parameters"]) for m in listed] == [("scaler", "scale", 9)]
    assert scheduler.depth == 0  # answered through the model's own scheduler


def test_a_third_kinds_checkpoint_is_checked_by_its_own_schema(tmp_path, monkeypatch):
    monkeypatch.setitem(kinds.KINDS, Scaler.task, Scaler)
    save_scaler(tmp_path / "scaler", width=3, depth=2)
    with TestClient(create_app(Settings(checkpoint_dir=tmp_path, models=["scaler"]))) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "architecture.depth: is not a key of ScalerArchitecture" in ready.json()["reasons"]["scaler"]


def test_an_unlisted_kind_is_not_ready_with_the_kinds_served(tmp_path):
    save_scaler(tmp_path / "scaler")
    with TestClient(create_app(Settings(checkpoint_dir=tmp_path, models=["scaler"]))) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "task 'scale' is not a kind served here (forecast, translation)" in ready.json()["reasons"]["scaler"]


def names_in(folder: str) -> dict[str, set[str]]:
    """Each of the two model classes -> the files of ``folder`` that name it in code."""
    found: dict[str, set[str]] = {"Translator": set(), "StockForecaster": set()}
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Name | ast.alias) and (name := getattr(node, "id", None) or node.name) in found:
                found[name].add(str(path.relative_to(ROOT)))
    return found


def test_the_server_core_names_the_model_classes_only_where_it_keeps_them():
    """app/core (loading, scheduling, registry) names each class only in the registry's typed
    views; the rest goes through ServedModel. The routes name their own kind only."""
    core = names_in("app/core")
    assert core == {"Translator": {"app/core/registry.py"}, "StockForecaster": {"app/core/registry.py"}}
    api = names_in("app/api")
    assert all("forecast" not in path for path in api["Translator"]), api
    assert all("translate" not in path for path in api["StockForecaster"]), api
