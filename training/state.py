"""Resumable training state without pickle: fp32 weights and optimizer tensors in one
safetensors file, scalars in JSON, extra files (the tokenizer) beside them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from models.checkpoint import load_weights, unique_state


@dataclass
class TrainingState:
    tensors: dict[str, torch.Tensor]
    meta: dict
    extra: dict[str, bytes]

    @property
    def progress(self) -> dict:
        return self.meta["progress"]

    def restore(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        load_weights(model, {k[6:]: v for k, v in self.tensors.items() if k.startswith("model.")})
        state: dict = {}
        for key, tensor in self.tensors.items():
            if key.startswith("optim."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = tensor
        optimizer.load_state_dict({"state": state, "param_groups": self.meta["param_groups"]})


def save_state(
    directory: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    progress: dict,
    extra: dict[str, bytes],
    other: dict[str, torch.Tensor] | None = None,
) -> None:
    """Weights, optimizer tensors and ``other`` tensors (e.g. RNG state) in one safetensors file;
    ``progress`` in state.json; ``extra`` files beside them."""
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in unique_state(model).items()}
    tensors.update({k: v.detach().cpu().contiguous() for k, v in (other or {}).items()})
    opt = optimizer.state_dict()
    for index, values in opt["state"].items():
        for name, value in values.items():
            tensors[f"optim.{index}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    save_file(tensors, str(directory / "state.safetensors"))
    meta = {"progress": progress, "param_groups": opt["param_groups"], "extra": sorted(extra)}
    (directory / "state.json").write_text(json.dumps(meta, indent=1))
    for name, data in extra.items():
        (directory / name).write_bytes(data)


def load_state(directory: Path) -> TrainingState:
    if not (directory / "state.json").is_file():
        raise FileNotFoundError(f"--resume: no training state in {directory}")
    meta = json.loads((directory / "state.json").read_text())
    extra = {name: (directory / name).read_bytes() for name in meta["extra"]}
    return TrainingState(load_file(str(directory / "state.safetensors")), meta, extra)


SNAPSHOTS = "snapshots"


def snapshot_paths(directory: Path) -> list[tuple[int, Path]]:
    """(step, path) of the weight snapshots in ``directory/snapshots``, oldest first."""
    folder = directory / SNAPSHOTS
    found = [(int(p.stem.split("-")[1]), p) for p in folder.glob("step-*.safetensors")] if folder.is_dir() else []
    return sorted(found)


def save_snapshot(directory: Path, model: torch.nn.Module, step: int, keep: int) -> Path:
    """fp32 weights at ``step`` for checkpoint averaging; only the newest ``keep`` stay."""
    folder = directory / SNAPSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step-{step:07d}.safetensors"
    save_file({k: v.detach().cpu().float().contiguous() for k, v in unique_state(model).items()}, str(path))
    for _, old in snapshot_paths(directory)[:-keep]:
        old.unlink()
    return path


def drop_snapshots_after(directory: Path, step: int) -> None:
    """A resumed run restarts at ``step``: snapshots taken later belong to a future it will redo."""
    for at, path in snapshot_paths(directory):
        if at > step:
            path.unlink()
