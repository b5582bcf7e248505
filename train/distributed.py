"""One process per GPU under torchrun, and errors that stop every rank.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them this is a single process. An error on
any rank stops every rank, with one line: the rank that fails exits non-zero, and torchrun then
ends the others, which may be waiting in a collective and would otherwise wait forever. Every rank
parses the same flags, reads the same data and (checked with an all-reduce) sees the same
non-finite loss, so most errors are raised on all ranks at once: rank 0 prints them at once, the
other ranks (and a rank whose collective failed because a peer left) wait a moment first, so that
torchrun ends them before they print a second report. torchrun then adds its own failure summary.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device_flag: str) -> Context:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_flag == "auto":
        device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(device_flag)
    if device.type == "cuda" and device.index is None:   # plain "cuda": each rank its own GPU
        device = torch.device("cuda", local)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True   # fixed input shapes: let cuDNN pick its fastest kernels once
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(rank, world, device)


def all_true(flag: torch.Tensor, ctx: Context) -> bool:
    """Whether a 0-d bool tensor is true on every rank. A host sync (and, with several ranks, one
    all-reduce): call it only where the loop syncs anyway."""
    if ctx.world > 1:
        flag = flag.to(torch.int32)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag)


def barrier(ctx: Context) -> None:
    if ctx.world > 1:
        dist.barrier()


def teardown(ctx: Context) -> None:
    if ctx.world > 1:
        dist.destroy_process_group()


GRACE_SECONDS = 5.0   # torchrun polls its workers every 0.1 s and stops the rest at the first exit


def lost_peer(error: BaseException) -> bool:
    """A collective failed because another rank went away (gloo says so; NCCL raises DistError)."""
    return isinstance(error, dist.DistError) or "closed by peer" in str(error) or "reset by peer" in str(error)


def defer(error: BaseException) -> None:
    """Under torchrun, before reporting an error: a rank other than 0, or one whose peer went
    away, waits a moment. Rank 0 most likely failed the same way, or another rank failed first
    and reports it; torchrun ends this rank meanwhile, so the user reads one report, not one per rank."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and (int(os.environ.get("RANK", "0")) != 0 or lost_peer(error)):
        time.sleep(GRACE_SECONDS)


def report(error: BaseException) -> None:
    """Print an error as one line, once per run whatever the number of ranks."""
    defer(error)
    rank = int(os.environ.get("RANK", "0"))
    prefix = f"rank {rank}: " if rank != 0 else ""
    print("error: " + prefix + " ".join(str(error).splitlines()), file=sys.stderr, flush=True)
