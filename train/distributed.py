"""One process per GPU under torchrun, and errors that stop every rank.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them this is a single process. An error on
any rank stops every rank, with one line: the rank that fails exits non-zero, and torchrun then
ends the others, which may be waiting in a collective and would otherwise wait forever. Every rank
parses the same flags, reads the same data and (checked with an all-reduce) sees the same
non-finite loss, so most errors are raised on all ranks at once: rank 0 prints them at once, the
other ranks (and a rank whose collective failed because a peer left) wait a moment first, so that
torchrun ends them before they print a second report. torchrun then adds its own failure summary.

Scaling as torchvision's references/classification do, with one difference: `--batch-size` is the
global batch, all processes together, split evenly over them (`rank_batch`), so the learning rate,
the steps, the schedule and the EMA mean the same images whatever the number of GPUs, and N GPUs
train the same run in about 1/N of the time. Each process takes its own GPU from LOCAL_RANK
(`pick_device`), and only rank 0 touches OUT before the run starts (`recover_last`).
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from digitsum.errors import DigitsumError


@dataclass(frozen=True)
class Context:
    rank: int
    world: int
    device: torch.device
    local: int = 0   # LOCAL_RANK: this process's place on its machine

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def ranks() -> tuple[int, int, int]:
    """-> (RANK, WORLD_SIZE, LOCAL_RANK) as torchrun sets them; (0, 1, 0) for a plain process."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_RANK", "0"))


def pick_device(flag: str, local: int, gpus: int) -> torch.device:
    """The device of the process with LOCAL_RANK `local` on a machine with `gpus` CUDA GPUs.
    auto: cuda:LOCAL_RANK, or the CPU without a GPU; cuda: cuda:LOCAL_RANK; cuda:N: cuda:N+LOCAL_RANK,
    the processes of one machine take consecutive GPUs from N (a plain process, LOCAL_RANK 0, takes
    cuda:N itself); cpu, mps: as named. A GPU past the machine's last is one line, not a CUDA error
    deep in the set-up."""
    if flag == "auto":
        flag = "cuda" if gpus else "cpu"
    device = torch.device(flag)
    if device.type != "cuda":
        return device
    first = device.index or 0
    index = first + local
    if index >= gpus:
        which = f"cuda:{first}+LOCAL_RANK {local}" if local else f"cuda:{first}"
        raise DigitsumError(f"--device {flag}: this process needs {which} = cuda:{index}, but torch finds {gpus} "
                            f"CUDA GPU(s) here; start at most {max(0, gpus - first)} process(es) a machine "
                            "(torchrun --nproc_per_node), or pick the GPUs with CUDA_VISIBLE_DEVICES")
    return torch.device("cuda", index)


def rank_batch(batch: int, world: int) -> int:
    """The images each of `world` processes draws a step for a global batch of `batch`."""
    if batch % world:
        raise DigitsumError(f"--batch-size {batch} is the global batch, split evenly over the {world} processes: "
                            f"give a multiple of {world} (e.g. {max(world, batch - batch % world)})")
    return batch // world


def setup(device_flag: str) -> Context:
    rank, world, local = ranks()
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    device = pick_device(device_flag, local, gpus)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True   # fixed input shapes: let cuDNN pick its fastest kernels once
    if world > 1:
        if device.type == "cuda":   # NCCL, bound to this rank's GPU (barriers then know which GPU to use)
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
    return Context(rank, world, device, local)


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


def recover_last(out: Path, ctx: Context) -> None:
    """Before a --resume reads OUT/last: undo what a save killed between its two renames left
    (`.last.old` put back), on rank 0 alone, while the other ranks wait at a barrier; two ranks
    renaming the same leftover would race, and a rank could look for last/ in the middle of it."""
    from digitsum.storage.atomic import recover
    if ctx.is_main:
        recover(out / "last")
    barrier(ctx)
    if not (out / "last" / "state.json").is_file():
        raise DigitsumError(f"--resume: no saved run in {out} (no last/state.json)")


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
