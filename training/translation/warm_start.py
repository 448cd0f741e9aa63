"""Starting a translator run from a checkpoint folder (``training.translation.train --init-from``).

A run's resumable state (``<out>/.train``) is the exact way to go on training; when it is gone,
or to fine-tune a shipped model, ``--init-from`` starts a new run (new optimizer, step 0) from a
checkpoint's weights and tokenizer. The network the flags describe must be the checkpoint's,
and config.json keeps where the weights came from (``training.init_from``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.checkpoint import Checkpoint, CheckpointError, load_weights, read_checkpoint
from models.translation.seq2seq import Seq2Seq, Seq2SeqConfig
from models.translation.tokenizer import Tokenizer

# What config.json["training"] says about how the starting weights were made.
PROVENANCE = ("command", "commands", "steps", "epochs", "minutes", "averaged", "best", "init_from")


def read_start(path: str | Path) -> tuple[Checkpoint, Tokenizer]:
    """A translation checkpoint folder (manifest verified) -> (checkpoint, its tokenizer)."""
    checkpoint = read_checkpoint(path)
    if checkpoint.config.get("task") != "translation":
        raise CheckpointError(f"--init-from {path}: task is {checkpoint.config.get('task')!r}, not 'translation'")
    vocabulary = checkpoint.config.get("vocabulary", {}).get("file", "spm.model")
    return checkpoint, Tokenizer((checkpoint.path / vocabulary).read_bytes())


def start_from(model: Seq2Seq, arch: Seq2SeqConfig, checkpoint: Checkpoint, directions: list[str] | None) -> None:
    """Copy the checkpoint's weights into ``model`` after checking that the flags built the same
    network (architecture) for the same directions; raises ``CheckpointError`` naming what differs.
    Which byte pieces the encoder reads as <unk> (``unread_ids``) may differ: no weight depends on
    it, and a run that adds placeholders (``--placeholders``) reads the marks' pieces."""
    mine, theirs = _plain(arch.to_dict()), _plain(checkpoint.config.get("architecture", {}))
    differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k) and k != "unread_ids")
    if differ:
        detail = ", ".join(f"{k}: flags give {mine.get(k)!r}, checkpoint has {theirs.get(k)!r}" for k in differ)
        raise CheckpointError(f"--init-from {checkpoint.path}: another architecture ({detail})")
    if (directions or None) != (checkpoint.config.get("directions") or None):
        raise CheckpointError(
            f"--init-from {checkpoint.path}: it was trained for directions {checkpoint.config.get('directions')}, "
            f"this run trains {directions}"
        )
    load_weights(model, checkpoint.tensors)


def provenance(checkpoint: Checkpoint) -> dict[str, Any]:
    """config.json's ``training.init_from``: the folder, its id and weights' sha256, and how
    its own training went (commands, steps, minutes, averaging, its own start)."""
    train = checkpoint.config.get("training", {})
    return {
        "checkpoint": str(checkpoint.path),
        "id": checkpoint.id,
        "sha256": checkpoint.sha256,
        **{key: train[key] for key in PROVENANCE if key in train},
    }


def _plain(value: Any) -> Any:
    """JSON round trip: tuples and lists compare equal, as they are once written."""
    return json.loads(json.dumps(value))
