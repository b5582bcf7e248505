"""`python -m train`: one straight main, torchvision-references style.

model -> optimizer -> EMA -> resume -> data (real + synthetic, on the device) -> stretches of steps
between save points (train; evaluate raw and EMA; export best; save last atomically) -> test
metrics, export, plot. Under torchrun every process trains on its own data stream, on its own share
of the global batch (`--batch-size` is all processes together), and rank 0 alone writes. One concern per module: data (sources), loop (optimizer, schedule, loss, steps), ema,
distributed (set-up, errors), export (save points, the final export), state (resume, --init),
report (metrics log, plot), options (flags, --config, --preset), run (the parts every stretch of
steps and every save point works on).
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

import torch
from tqdm.auto import tqdm

from digitsum.errors import DigitsumError, disk_full, shorten
from digitsum.models.net import create_model

from . import distributed
from .data import Batches, load_eval_sets, reseed
from .ema import EMA
from .export import finish, save_point
from .loop import make_optimizer, make_scheduler, train_steps
from .options import parse
from .report import MetricsLog
from .run import Run
from .state import initial_weights, resume


def main(args) -> dict:
    ctx = distributed.setup(args.device)   # LOCAL_RANK picks the GPU under torchrun
    if args.threads:
        torch.set_num_threads(args.threads)
    command = launcher(ctx) + " ".join(shlex.quote(a) for a in args.argv)
    if args.resume:   # rank 0 puts back what a killed save left, the others wait for it
        distributed.recover_last(args.out, ctx)

    model = initial_model(args, ctx)
    optimizer = make_optimizer(args, model, ctx.device)
    # the EMA's decay is per 128 images: a step is the global batch, all processes together
    ema = EMA(model, args.ema_decay, args.ema_warmup, args.batch_size) if args.ema_decay else None
    train_model = wrapped(model, args, ctx)

    start, wall_before, best = 0, 0.0, -1.0
    if args.resume:   # checked against this command before any data is loaded or anything in OUT written
        info = resume(args, model, ema, optimizer)
        start, wall_before, best = info["step"], info["wall_seconds"], info["best"]
        args.saved_step = start
    scheduler = make_scheduler(args, optimizer, start)

    batches = Batches(rank_share(args, ctx), model, ctx.device, ctx.rank)
    val, test_sets = load_eval_sets(args)   # unreadable: fail now, not after the training
    log = MetricsLog(args.out, enabled=ctx.is_main)
    if ctx.is_main:
        args.out.mkdir(parents=True, exist_ok=True)
    log.begin(start if args.resume else None)   # OUT/metrics.jsonl itself is replaced at the first save
    run = Run(args=args, command=command, ctx=ctx, model=model, train_model=train_model, optimizer=optimizer,
              scheduler=scheduler, ema=ema, log=log)

    t0, result = time.perf_counter(), {}
    bar = tqdm(initial=start, total=args.steps, disable=not ctx.is_main, desc="train", dynamic_ncols=True, mininterval=2)
    try:   # the bar ends its line even when the run fails: an error is then a line of its own
        while start < args.steps:
            stop = min(args.steps, (start // args.eval_every + 1) * args.eval_every)   # the next save point
            batches.reseed(start)   # every stretch's draws depend on its first step alone: resumable
            train_steps(run, batches, bar, start, stop)
            wall = wall_before + time.perf_counter() - t0
            if ctx.is_main:
                result, best = save_point(run, val, stop, wall, best)
                log.commit()
                args.saved_step = stop
            distributed.barrier(ctx)
            start = stop
            if args.stop_after and stop >= args.stop_after:
                break
    finally:
        bar.close()
    if ctx.is_main and start >= args.steps:
        finish(run, test_sets)
    distributed.teardown(ctx)
    return result


def launcher(ctx: distributed.Context) -> str:
    """How the model card and the saved state say this run was started: under torchrun, with its
    number of processes (a machine's, and the machines' when there are several)."""
    if ctx.world == 1:
        return "python -m train "
    local = int(os.environ.get("LOCAL_WORLD_SIZE", ctx.world))
    nodes = f"--nnodes {ctx.world // local} " if local != ctx.world else ""
    return f"torchrun {nodes}--nproc_per_node {local} -m train "


def rank_share(args, ctx: distributed.Context) -> argparse.Namespace:
    """The flags as this process's data stream reads them: its share of the global batch."""
    if ctx.world == 1:
        return args
    return argparse.Namespace(**{**vars(args), "batch_size": distributed.rank_batch(args.batch_size, ctx.world)})


def initial_model(args, ctx: distributed.Context) -> torch.nn.Module:
    """--model on this process's device, channels_last, with its starting weights: --init's, or
    random ones drawn from --seed (the same on every rank)."""
    reseed(args.seed, 0, 0)
    model = create_model(args.model).to(ctx.device)
    if args.init:
        model.load_state_dict(initial_weights(args.init, model))
    return model.to(memory_format=torch.channels_last)   # faster convolutions on GPU and CPU alike


def wrapped(model: torch.nn.Module, args, ctx: distributed.Context) -> torch.nn.Module:
    """What the steps call: the model, in DistributedDataParallel under torchrun, compiled with --compile."""
    if ctx.world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device] if ctx.device.type == "cuda" else None)
    if args.compile:
        model = torch.compile(model, mode=None if args.compile_mode == "default" else args.compile_mode)
    return model


def disk_full_message(args, error: BaseException) -> str:
    """What a full disk cost and how to go on: every save is atomic, so OUT/last (and OUT/best)
    hold the last save point whole; the metrics after it are dropped by --resume."""
    where = getattr(error, "filename", None) or args.out
    head = f"the disk is full (no space left writing {shorten(str(where), 200)})"
    step = getattr(args, "saved_step", None)   # set by main() at the start of a resume and at each save
    if step is None:
        kept = f"; {args.out}/last still holds the earlier run" if args.overwrite else ""
        return (f"{head} before the run's first save point was complete{kept}; "
                "free some space and start again")
    if step < args.steps:
        return (f"{head}; nothing saved is lost: {args.out}/last holds the run at step {step}; "
                "free some space, then continue with --resume")
    return (f"{head} after the last step; nothing saved is lost: {args.out}/best holds the trained checkpoint "
            f"and {args.out}/last the run at step {step}; free some space"
            + (f", then copy {args.out}/best to {args.export}" if args.export else ""))


def cli(argv=None) -> int:
    args = None
    try:
        args = parse(argv)
        main(args)
    except DigitsumError as e:
        distributed.report(e)   # one line, whatever the cause and the number of ranks
        return 2
    except KeyboardInterrupt:
        print("interrupted; continue with --resume", file=sys.stderr)
        return 130
    except Exception as e:
        if args is not None and disk_full(e):   # a save, the metrics log or the plot: one line
            distributed.report(DigitsumError(disk_full_message(args, e)))
            return 2
        distributed.defer(e)   # under torchrun: a peer's failure ends this rank before its traceback
        raise
    return 0
