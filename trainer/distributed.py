"""Data-parallel helpers: process-group setup from torchrun's environment, negatives gathered across
processes with gradient for the local shard, and gradient summation."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_from_env(device: torch.device) -> torch.device:
    """Join the process group torchrun (or a test) describes in ``WORLD_SIZE``/``RANK``, if any;
    returns this process's device (``cuda:LOCAL_RANK`` on GPUs)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_with_grad(local: torch.Tensor) -> torch.Tensor:
    """Concatenate every process's rows (sizes may differ); only the local rows carry gradient,
    which is all each process needs, since every process computes the same global loss."""
    rank, size = world()
    if size == 1:
        return local
    counts = [torch.zeros(1, dtype=torch.long) for _ in range(size)]
    dist.all_gather(counts, torch.tensor([local.shape[0]]))
    width = int(max(counts).item())
    padded = torch.zeros((width, *local.shape[1:]), dtype=local.dtype, device=local.device)
    padded[: local.shape[0]] = local.detach()
    parts = [torch.empty_like(padded) for _ in range(size)]
    dist.all_gather(parts, padded)
    parts = [part[: int(n.item())] for part, n in zip(parts, counts, strict=True)]
    parts[rank] = local
    return torch.cat(parts)


def max_over_processes(value: int) -> int:
    """The largest ``value`` of all processes (``value`` itself outside a process group)."""
    if world()[1] == 1:
        return value
    tensor = torch.tensor([value])
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return int(tensor.item())


def sum_gradients(parameters: list[torch.nn.Parameter]) -> None:
    """Add up gradients across processes: each holds its shard's share of the one global loss."""
    if world()[1] == 1:
        return
    for param in parameters:
        if param.grad is not None:
            dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)
