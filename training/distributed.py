"""Data-parallel training under ``torchrun`` (DistributedDataParallel).

    torchrun --nproc_per_node 2 -m training.translation.train --data ../shared/data/fra.txt ...

One process per device: NCCL on GPUs (``cuda:LOCAL_RANK``), gloo on CPU. Every rank builds the
same global batches from the same seed and trains on its own slice of each (``shard``); the
loss is weighted so that DDP's gradient average equals the one-process gradient of the whole
global batch. Rank 0 alone evaluates, logs and writes checkpoints; its decisions (stop, learning
rate) reach the other ranks through ``broadcast``. Without torchrun's environment every call here
is a no-op, so one code path serves one process and many.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

log = logging.getLogger(__name__)


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, items: list) -> list:
        """This rank's slice of one global batch: every ``world``-th item from ``rank``."""
        return items[self.rank :: self.world]

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """DDP around ``model`` when distributed; the model itself otherwise."""
        if not self.enabled:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def broadcast(self, values: list[float], device: torch.device) -> list[float]:
        """Rank 0's ``values`` on every rank (float64 tensor; no pickling)."""
        if not self.enabled:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.broadcast(tensor, src=0)
        return tensor.tolist()

    def broadcast_bytes(self, data: bytes | None, device: torch.device) -> bytes:
        """Rank 0's bytes (e.g. the SentencePiece model it trained) on every rank."""
        if not self.enabled:
            assert data is not None
            return data
        size = int(self.broadcast([float(len(data)) if self.is_main else 0.0], device)[0])  # type: ignore[arg-type]  # rank 0 has data
        buffer = torch.zeros(size, dtype=torch.uint8, device=device)
        if self.is_main:
            buffer.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))  # type: ignore[arg-type]  # as above
        dist.broadcast(buffer, src=0)
        return bytes(buffer.cpu().numpy())

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def replica_spread(self, model: torch.nn.Module) -> float:
        """Largest |difference| between any rank's parameters and rank 0's (0.0 when they agree)."""
        if not self.enabled:
            return 0.0
        flat = torch.cat([p.detach().reshape(-1).float() for p in model.parameters()])
        reference = flat.clone()
        dist.broadcast(reference, src=0)
        spread = (flat - reference).abs().max()
        dist.all_reduce(spread, op=dist.ReduceOp.MAX)
        return float(spread)

    def verify_replicas(self, model: torch.nn.Module) -> None:
        """Fail the run unless every rank ends with exactly rank 0's weights."""
        if not self.enabled:
            return
        spread = self.replica_spread(model)
        if spread > 0:
            raise RuntimeError(f"ranks disagree after training: max |weight difference| {spread:g}")
        log.info("all %d ranks end with identical weights", self.world)

    def close(self) -> None:
        """Leave the process group once every rank is here: a rank that tore it down while another
        still had work in it ended, now and then, in an abort at exit ("terminate called without
        an active exception") on a loaded machine."""
        if self.enabled and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def init_distributed(device_choice: str) -> tuple[Dist, str]:
    """Join torchrun's process group when WORLD_SIZE > 1; returns the Dist and the device choice
    to use (``cuda:LOCAL_RANK`` under NCCL, ``cpu`` under gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), device_choice
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_choice != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return Dist(rank, world, local_rank), (f"cuda:{local_rank}" if use_cuda else "cpu")
