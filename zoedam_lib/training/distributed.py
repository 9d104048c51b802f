"""PyTorch DDP glue for ``torchrun --nproc_per_node=N -m zoedam_lib train …``.

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; we initialise NCCL on GPUs and gloo on CPUs
(which is how the multi-process path is tested on a 2-core machine). Only rank 0 writes files.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def init_distributed() -> tuple[int, int, torch.device | None]:
    """Join the process group torchrun set up; returns (rank, world_size, device or None)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, None
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    device = None
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    return dist.get_rank(), dist.get_world_size(), device


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (the model itself when not wrapped)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of this process; (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """True on rank 0 (the only rank that writes files and prints progress)."""
    return rank_and_world()[0] == 0


def barrier() -> None:
    """Wait for all ranks (no-op in a single process)."""
    if rank_and_world()[1] > 1:
        dist.barrier()


def all_ranks_true(flag: bool, device: torch.device) -> bool:
    """True only if ``flag`` holds on every rank (so all ranks take the same branch)."""
    if rank_and_world()[1] == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item() > 0.5)


def cleanup() -> None:
    """Leave the process group if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
