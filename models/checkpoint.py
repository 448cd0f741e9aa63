"""Checkpoint folders: ``config.json`` + ``model.safetensors`` + extra files + ``MODEL_CARD.md``
+ ``SHA256SUMS``, a manifest that loading verifies before anything is parsed.

Nothing here unpickles: weights are safetensors, metadata is JSON, and tensor names and
shapes are checked against the freshly built network before they are copied in.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from models.schema import SchemaError, parse

Network = TypeVar("Network", bound=nn.Module)
Part = TypeVar("Part")

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
CARD = "MODEL_CARD.md"
MANIFEST = "SHA256SUMS"
FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint folder is missing, incomplete, tampered with or does not fit its network."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unique_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers by name, each tied tensor once (under its first name)."""
    state: dict[str, torch.Tensor] = dict(module.named_parameters())
    state.update(dict(module.named_buffers()))
    return {name: tensor.detach() for name, tensor in state.items()}


def write_manifest(directory: Path) -> None:
    names = sorted(
        p.name for p in directory.iterdir() if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")
    )
    lines = [f"{sha256_file(directory / name)}  {name}\n" for name in names]
    (directory / MANIFEST).write_text("".join(lines))


def save_checkpoint(
    directory: str | Path,
    module: nn.Module | dict[str, torch.Tensor],
    config: dict[str, Any],
    card: str,
    extra_files: dict[str, bytes] | None = None,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """Write a complete checkpoint folder (weights, of a network or by name, stored as ``dtype``)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = module if isinstance(module, dict) else unique_state(module)
    tensors = {k: v.to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous() for k, v in state.items()}
    save_file(tensors, str(directory / WEIGHTS), metadata={"format": "pt"})
    config = {**config, "format_version": FORMAT_VERSION}
    (directory / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    # safetensors writes its file owner-only (600); give it the mode every other file gets (the
    # umask's), so a non-root server can read a checkpoint trained as root into a shared volume
    shutil.copymode(directory / CONFIG, directory / WEIGHTS)
    for name, data in (extra_files or {}).items():
        (directory / name).write_bytes(data)
    (directory / CARD).write_text(card)
    write_manifest(directory)
    return directory


def verify_manifest(directory: Path) -> dict[str, str]:
    """Check every file the manifest lists; return {name: sha256}."""
    manifest = directory / MANIFEST
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: checkpoint folder not found")
    if not manifest.is_file():
        raise CheckpointError(f"{directory}: no {MANIFEST} manifest")
    sums: dict[str, str] = {}
    for line in manifest.read_text().splitlines():
        digest, _, name = line.partition("  ")
        if not name or "/" in name or name.startswith("."):
            raise CheckpointError(f"{manifest}: malformed line {line!r}")
        sums[name] = digest
    for required in (CONFIG, WEIGHTS):
        if required not in sums:
            raise CheckpointError(f"{manifest}: does not list {required}")
    for name, digest in sums.items():
        path = directory / name
        if not path.is_file():
            raise CheckpointError(f"{directory}: {name} is missing")
        if sha256_file(path) != digest:
            raise CheckpointError(
                f"{directory}: {name} does not match its sha256 in {MANIFEST} (truncated or tampered)"
            )
    return sums


@dataclass
class Checkpoint:
    path: Path
    config: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    files: dict[str, str]  # verified {file name: sha256}

    @property
    def sha256(self) -> str:
        """sha256 of model.safetensors: ``sha256sum model.safetensors`` reproduces it."""
        return self.files[WEIGHTS]

    @property
    def id(self) -> str:
        checkpoint_id: str = self.config.get("id", self.path.name)
        return checkpoint_id


def read_checkpoint(directory: str | Path) -> Checkpoint:
    """Verify and read a folder; raises ``CheckpointError`` with the reason."""
    directory = Path(directory)
    sums = verify_manifest(directory)
    try:
        config = json.loads((directory / CONFIG).read_text())
        tensors = load_file(str(directory / WEIGHTS))
    except Exception as exc:  # malformed JSON or safetensors header
        raise CheckpointError(f"{directory}: unreadable checkpoint: {exc}") from exc
    if not isinstance(config, dict):
        raise CheckpointError(f"{directory}: {CONFIG} must hold a JSON object, not {type(config).__name__}")
    if config.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{directory}: format_version {config.get('format_version')!r} is not {FORMAT_VERSION}")
    return Checkpoint(directory, config, tensors, sums)


def load_weights(module: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Copy ``tensors`` into ``module`` after checking names and shapes exactly."""
    expected = unique_state(module)
    missing, unexpected = set(expected) - set(tensors), set(tensors) - set(expected)
    if missing or unexpected:
        raise CheckpointError(
            f"weights do not fit the network: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )
    for name, target in expected.items():
        if tuple(tensors[name].shape) != tuple(target.shape):
            raise CheckpointError(
                f"{name}: shape {tuple(tensors[name].shape)} in file, {tuple(target.shape)} in the network"
            )
    with torch.no_grad():
        for name, target in expected.items():
            target.copy_(tensors[name].to(target.dtype))


def read_config(checkpoint: Checkpoint, task: str, part: type[Part]) -> Part:
    """The checkpoint's config.json as ``part`` (``models.schema``), for a ``task`` checkpoint;
    ``CheckpointError`` names the broken rules."""
    if checkpoint.config.get("task") != task:
        raise CheckpointError(f"{checkpoint.path}: task is {checkpoint.config.get('task')!r}, not {task!r}")
    try:
        return parse(part, checkpoint.config)
    except SchemaError as exc:
        raise CheckpointError(f"{checkpoint.path / CONFIG} does not fit the checkpoint schema: {exc}") from exc


def fit_network(checkpoint: Checkpoint, network: Network) -> Network:
    """``network`` with the checkpoint's weights copied in (names and shapes checked); the
    checkpoint lets go of its tensors."""
    load_weights(network, checkpoint.tensors)
    checkpoint.tensors = {}  # the network holds the weights now
    return network
