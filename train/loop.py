"""The optimizer, its schedule, the loss, and the step loop between two save points.

No host sync in the loop except at logging points: the loss is read (and checked to be finite)
only every LOG_EVERY steps, the EMA's decay is a host number, and the batches are drawn on the device.
"""
from __future__ import annotations

import contextlib
import math
import time

import torch
import torch.nn.functional as F

from digitsum.errors import DigitsumError
from digitsum.models.reader import centre_loss, centre_positions, class_loss, decode
from digitsum.reading.sumdist import sum_nll

from . import distributed
from .run import Run

LOG_EVERY = 50


def make_optimizer(args, model, device: torch.device):
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]   # biases and norms
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if args.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=args.lr, momentum=0.9, nesterov=True)
    if args.optimizer == "adam":   # the seeds' optimizer: weight decay as an L2 term in the gradient
        return torch.optim.Adam(groups, lr=args.lr, fused=device.type == "cuda")
    # fused: one kernel for the whole update on a GPU (its state_dict is the same as the default's)
    return torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.99), fused=device.type == "cuda")


def lr_factor(args, step: int) -> float:
    """Linear warm-up, then cosine to 0, or one-cycle (cosine up then down), or constant."""
    if args.schedule == "onecycle":
        peak = max(1, int(0.3 * args.steps))
        if step < peak:
            return 0.04 + 0.96 * (1 - math.cos(math.pi * step / peak)) / 2
        return 0.5 * (1 + math.cos(math.pi * (step - peak) / max(1, args.steps - peak)))
    if step < args.warmup_steps:
        return (step + 1) / args.warmup_steps
    if args.schedule == "constant":
        return 1.0
    progress = (step - args.warmup_steps) / max(1, args.steps - args.warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def make_scheduler(args, optimizer, start_step: int = 0):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(args, s), last_epoch=start_step - 1)


def reader_loss(args, maps, sums, digits, centres) -> torch.Tensor:
    """The column reader. With known centres (synthetic data): the centre map's focal loss plus
    the digits read there. Without them (real data): the four digits it finds now are scored
    against the labels, digits or only the sum (the exact sum likelihood)."""
    if centres is not None:
        positions = centre_positions(centres, maps.shape[2])
        return centre_loss(maps[:, 0], positions) + class_loss(maps, positions, digits, args.label_smoothing)
    logits, _ = decode(maps)
    if digits is not None:
        return F.cross_entropy(logits.reshape(-1, 10), digits.reshape(-1), label_smoothing=args.label_smoothing)
    return sum_nll(logits, sums)


def compute_loss(args, model_out, head: str, parts: dict) -> torch.Tensor:
    """parts: name -> (slice, sums, digits or None, centres or None). Digit labels use per-digit
    cross-entropy; sum-only labels use the exact sum likelihood (digits head) or the head's own sum loss."""
    total = model_out.new_zeros(())
    for name, (sl, sums, digits, centres) in parts.items():
        out = model_out[sl].float()
        weight = args.digit_loss_weight if digits is not None else args.sum_loss_weight
        if head == "centers":
            loss = reader_loss(args, out, sums, digits, centres)
        elif head == "digits":
            if digits is not None:
                loss = F.cross_entropy(out.reshape(-1, 10), digits.reshape(-1), label_smoothing=args.label_smoothing)
            else:
                loss = sum_nll(out, sums)
        elif head == "sum":
            loss = F.cross_entropy(out, sums, label_smoothing=args.label_smoothing)
        elif args.regression_loss == "mse":   # the seeds': squared error on the sum
            loss = F.mse_loss(out, sums.float())
        else:
            loss = F.smooth_l1_loss(out, sums.float())
        total = total + weight * loss * (out.shape[0] / model_out.shape[0])
    return total


def autocast(device: torch.device):
    """bf16 on CUDA (no loss scaling needed); full precision elsewhere."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()


def check_finite(loss: torch.Tensor, step: int, ctx) -> None:
    """Checked only where the loop syncs anyway: every step would wait for the GPU each time. A
    non-finite loss spreads to every weight within a step, so a check every LOG_EVERY steps and
    at each save point (before anything is saved) still stops the run, on every rank together."""
    if not distributed.all_true(torch.isfinite(loss.detach()), ctx):
        raise DigitsumError(f"the loss became {loss.item()} at step {step}; lower --lr or raise --clip-grad")


def train_steps(run: Run, batches, bar, start: int, stop: int):
    """Steps start..stop-1 (one stretch between save points); -> the last step's loss (a device tensor)."""
    args, model, ctx = run.args, run.model, run.ctx
    model.train()
    head = model.head_kind
    seen, last_log = 0, time.perf_counter()
    for step in range(start, stop):
        images, parts = batches.next()
        with autocast(ctx.device):
            out = run.train_model(images)
        loss = compute_loss(args, out, head, parts)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.clip_grad:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
        run.optimizer.step()
        run.scheduler.step()
        if run.ema is not None:
            run.ema.update(model)
        seen += len(images) * ctx.world
        done = step + 1
        if done % LOG_EVERY == 0 or done == args.steps:   # the loop's only syncs
            check_finite(loss, done, ctx)
            if ctx.is_main:
                rate = seen / (time.perf_counter() - last_log)
                seen, last_log = 0, time.perf_counter()
                run.log.write({"kind": "train", "step": done, "loss": loss.item(),
                               "lr": run.scheduler.get_last_lr()[0], "images_per_second": rate})
                bar.set_postfix(loss=f"{loss.item():.3f}", img_s=f"{rate:.0f}")
        bar.update()
    check_finite(loss, stop, ctx)   # nothing non-finite is ever saved
    return loss
