"""`python -m train`: one straight main, torchvision-references style.

data (real + synthetic, on the device) -> model -> optimizer + schedule -> EMA -> resume -> loop
(evaluate raw and EMA, save last atomically, export best) -> final export, test metrics, plot.
Under torchrun every process trains on its own data stream and rank 0 alone writes.
"""
from __future__ import annotations

import math
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from digitsum.checkpoint import load_weights_strictly, save_checkpoint
from digitsum.errors import DigitsumError
from digitsum.evaluate import evaluate
from digitsum.mnist import load_mnist
from digitsum.models import create_model
from digitsum.reader import centre_loss, centre_positions, class_loss, decode
from digitsum.preprocess import fit_batch
from digitsum.realdata import load_dataset
from digitsum.sumdist import sum_nll
from digitsum.synth import make_generator

from .options import parse
from .report import MetricsLog, plot_curves
from .state import load_state, save_state


# ---------------------------------------------------------------- set-up
def setup_distributed(device_flag: str) -> tuple[int, int, torch.device]:
    """torchrun sets RANK/WORLD_SIZE/LOCAL_RANK; without them this is a single process."""
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
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world, device


def reseed(seed: int, rank: int, step: int) -> int:
    """Every stream restarts from (seed, rank, step) at each save point, so a resumed run draws
    exactly what the uninterrupted run would have drawn, without saving generator states."""
    s = (seed * 1_000_003 + rank * 7919 + step) % (2**62)
    torch.manual_seed(s)
    return s


class LabeledTensors:
    """A real dataset held whole on the device: uint8 canvases (N, 1, H, W) and labels."""

    def __init__(self, images: np.ndarray, sums: np.ndarray, digits: np.ndarray | None, height: int, width: int,
                 device):
        images = self.fit(images, height, width)
        self.images = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1).to(device)
        self.sums = torch.from_numpy(np.asarray(sums, np.int64)).to(device)
        self.digits = None if digits is None else torch.from_numpy(np.asarray(digits, np.int64)).to(device)

    @staticmethod
    def fit(images: np.ndarray, height: int, width: int) -> np.ndarray:
        """uint8 (N, h, w) -> uint8 (N, height, width); untouched when the size already matches."""
        if images.shape[1:] == (height, width):
            return images
        return (fit_batch(images, height, width) * 255).round().astype(np.uint8)

    def __len__(self):
        return len(self.sums)

    def sample(self, n: int, gen: torch.Generator):
        idx = torch.randint(0, len(self), (n,), generator=gen, device=gen.device)
        return self.images[idx].float().div_(255.0), self.sums[idx], None if self.digits is None else self.digits[idx]


def load_real(paths, with_digits: bool, model, device) -> LabeledTensors | None:
    parts = [load_dataset(p) for p in paths]
    if not parts:
        return None
    if with_digits:
        for p in parts:
            if p.digits is None:
                raise DigitsumError(f"{p.source}: --real-digits needs digit labels (digits*.npy or d1..d4 columns)")
    # parts may differ in canvas size: fit each to the model's canvas, then join them
    images = np.concatenate([LabeledTensors.fit(p.images, model.height, model.width) for p in parts])
    sums = np.concatenate([p.sums for p in parts])
    digits = np.concatenate([p.digits for p in parts]) if with_digits else None
    return LabeledTensors(images, sums, digits, model.height, model.width, device)


def make_optimizer(args, model):
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]   # biases and norms
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if args.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=args.lr, momentum=0.9, nesterov=True)
    return torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.99))


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


def make_ema(args, model):
    if args.ema_decay == 0:
        return None
    decay, warmup = args.ema_decay, args.ema_warmup

    def ema_update(averaged, current, num_averaged):
        # early on the average follows the weights closely, so it is not frozen at the random init
        d = min(decay, (1.0 + float(num_averaged)) / (warmup + float(num_averaged)))
        return averaged * d + current * (1 - d)

    return AveragedModel(model, avg_fn=ema_update, use_buffers=True)


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
        else:
            loss = F.smooth_l1_loss(out, sums.float())
        total = total + weight * loss * (out.shape[0] / model_out.shape[0])
    return total


# ---------------------------------------------------------------- main
def main(args) -> dict:
    rank, world, device = setup_distributed(args.device)
    is_main = rank == 0
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python -m train " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    reseed(args.seed, 0, 0)   # identical initial weights on every rank
    model = create_model(args.model).to(device)
    if args.init:
        model.load_state_dict(initial_weights(args.init, model))
    cuda = device.type == "cuda"
    model = model.to(memory_format=torch.channels_last)  # faster convolutions on GPU and CPU alike
    head = model.head_kind

    optimizer = make_optimizer(args, model)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(args, s))
    ema = make_ema(args, model)
    train_model = model
    if world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if cuda else None)
    if args.compile:
        train_model = torch.compile(train_model)

    start_step, wall_before, best = 0, 0.0, -1.0
    if args.resume:   # checked against this command before any data is loaded or anything in OUT written
        info = resume(args, model, ema, optimizer)
        start_step, wall_before, best = info["step"], info["wall_seconds"], info["best"]
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(args, s), last_epoch=start_step - 1)

    # data: real sets on the device; the synthetic generator draws from MNIST train digits (and --font-digits)
    real_sum = load_real(args.real, False, model, device)
    real_digit = load_real(args.real_digits, True, model, device)
    if args.labels_db:
        from digitsum.labeldb import LabelStore
        labeled = LabelStore(args.labels_db).as_dataset(model.height, model.width)
        if len(labeled):
            db = LabeledTensors(labeled.images, labeled.sums, labeled.digits, model.height, model.width, device)
            real_digit = db if real_digit is None else _concat(real_digit, db)
    val = load_dataset(args.val) if args.val else None
    if val is not None and args.val_limit:
        val.images, val.sums = val.images[:args.val_limit], val.sums[:args.val_limit]
        val.digits = None if val.digits is None else val.digits[:args.val_limit]
    test_sets = {path: load_dataset(path) for path in args.test}   # unreadable: fail now, not after the training
    pool_x, pool_y = load_mnist("train")
    if args.font_digits:   # printed digit shapes beside MNIST's handwriting (the same share in every batch, on average)
        from digitsum.fontdigits import render_font_digits
        fx, fy = render_font_digits(round(len(pool_x) * args.font_digits / (1 - args.font_digits)), seed=args.seed)
        pool_x, pool_y = np.concatenate([pool_x, fx]), np.concatenate([pool_y, fy.astype(pool_y.dtype)])
    n_syn = round(args.batch_size * args.synthetic_fraction)
    n_real = args.batch_size - n_syn
    sources = [s for s in (real_sum, real_digit) if s is not None]
    sizes = [len(s) for s in sources]
    real_counts = [round(n_real * sz / sum(sizes)) for sz in sizes] if sources else []
    if real_counts:
        real_counts[-1] = n_real - sum(real_counts[:-1])

    log = MetricsLog(args.out, enabled=is_main)
    if args.resume:
        log.truncate_after(start_step)
    elif is_main:
        args.out.mkdir(parents=True, exist_ok=True)
        log.path.unlink(missing_ok=True)

    def new_streams(step):
        s = reseed(args.seed, rank, step)
        syn = make_generator(pool_x, pool_y, args.layout, args.augment, device=device, seed=s,
                             height=model.height, width=model.width) if n_syn else None
        gen = torch.Generator(device=device).manual_seed(s + 1)
        return syn, gen

    synthetic, real_gen = new_streams(start_step)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False)
    t0, seen, last_log = time.perf_counter(), 0, time.perf_counter()
    bar = tqdm(range(start_step, args.steps), initial=start_step, total=args.steps, disable=not is_main,
               desc="train", dynamic_ncols=True, mininterval=2)
    result = {}
    for step in bar:
        model.train()
        xs, parts, offset = [], {}, 0
        if n_syn:
            x, d, c = synthetic.sample_with_centres(n_syn)
            xs.append(x)
            parts["synthetic"] = (slice(0, n_syn), d.sum(1), d, c)
            offset = n_syn
        for i, (src, count) in enumerate(zip(sources, real_counts)):
            if count:
                x, s, d = src.sample(count, real_gen)
                xs.append(x)
                parts[f"real{i}"] = (slice(offset, offset + count), s, d, None)
                offset += count
        images = torch.cat(xs).contiguous(memory_format=torch.channels_last)
        with autocast:
            out = train_model(images)
        loss = compute_loss(args, out, head, parts)
        if not torch.isfinite(loss):
            raise DigitsumError(f"the loss became {loss.item()} at step {step}; lower --lr or raise --clip-grad")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.clip_grad:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
        optimizer.step()
        scheduler.step()
        if ema is not None:
            ema.update_parameters(model)
        seen += len(images) * world
        done = step + 1
        if is_main and (done % 50 == 0 or done == args.steps):
            rate = seen / (time.perf_counter() - last_log)
            seen, last_log = 0, time.perf_counter()
            log.write({"kind": "train", "step": done, "loss": loss.item(), "lr": scheduler.get_last_lr()[0],
                       "images_per_second": rate})
            bar.set_postfix(loss=f"{loss.item():.3f}", img_s=f"{rate:.0f}")
        if done % args.eval_every == 0 or done == args.steps:
            wall = wall_before + time.perf_counter() - t0
            if is_main:
                record = {"kind": "val", "step": done, "wall_seconds": wall}
                if val is not None:
                    for tag, net in (("raw", model), ("ema", ema.module if ema is not None else None)):
                        if net is not None:
                            m = evaluate(net, val.images, val.sums, val.digits, device=device)
                            record.update({f"{tag}_sum_accuracy": m["sum_accuracy"],
                                           f"{tag}_digit_accuracy": m["digit_accuracy"],
                                           f"{tag}_sum_nll": m["sum_nll"]})
                    log.write(record)
                    tqdm.write(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in record.items() if k != "kind"))
                score = record.get("ema_sum_accuracy", record.get("raw_sum_accuracy", done))
                final_net = ema.module if ema is not None else model
                if score >= best:
                    best = score
                    save_checkpoint(final_net, args.out / "best", card_info(args, command, done, wall, device),
                                    {"validation": _val_metrics(record)}, half=args.half)
                save_state(args.out / "last", model=model, ema=ema, optimizer=optimizer,
                           info={"step": done, "wall_seconds": wall, "best": best, "command": command,
                                 "model": args.model})
                result = record
            if world > 1:
                dist.barrier()
            if args.stop_after and done >= args.stop_after:
                break
            synthetic, real_gen = new_streams(done)
    bar.close()
    if is_main and not (args.stop_after and done < args.steps):
        finish(args, command, device, test_sets)
    if world > 1:
        dist.destroy_process_group()
    return result


def resume(args, model, ema, optimizer) -> dict:
    """Load the run saved in OUT/last into model, EMA and optimizer, once it is known to be this
    command's run and to have steps left; -> its info (step, wall_seconds, best)."""
    folder = args.out / "last"
    tensors, info = load_state(folder)
    saved_model = info.get("model")   # recorded since the hardening; older states are checked by their tensors
    if saved_model is not None and saved_model != args.model:
        raise DigitsumError(f"--resume: the run in {args.out} trained --model {saved_model}, not --model {args.model}; "
                            f"resume it with --model {saved_model}, or train --model {args.model} in another --out")
    if info["step"] >= args.steps:
        raise DigitsumError(f"--resume: the run in {args.out} already reached step {info['step']}; "
                            f"give --steps above {info['step']} to train further")
    groups = info["optimizer_state"]["param_groups"]
    saved_optimizer = "sgd" if groups and "momentum" in groups[0] else "adamw"   # SGD's groups have momentum, AdamW's betas
    if saved_optimizer != args.optimizer:
        raise DigitsumError(f"--resume: the run in {args.out} used --optimizer {saved_optimizer}, not {args.optimizer}")
    where = f"--resume {folder / 'state.safetensors'}"
    load_weights_strictly(model, tensors["model"], where, f"--model {args.model}")
    if ema is not None and tensors["ema"]:
        load_weights_strictly(ema, tensors["ema"], where + " (EMA)", f"--model {args.model}")
    try:
        optimizer.load_state_dict(info["optimizer_state"])
    except (KeyError, TypeError, ValueError) as e:
        raise DigitsumError(f"{where}: its optimizer state does not fit --model {args.model} ({e})") from None
    return info


def initial_weights(location, model) -> dict:
    """The weights of a checkpoint that has the same architecture as `model`."""
    from digitsum.checkpoint import load_checkpoint
    source = load_checkpoint(location)
    mine = (model.trunk_name, model.head_kind, model.height, model.width)
    theirs = (source.trunk_name, source.head_kind, source.height, source.width)
    if mine != theirs:
        raise DigitsumError(f"--init {location}: its model {theirs} differs from --model {mine}")
    return source.state_dict()


def _concat(a: LabeledTensors, b: LabeledTensors) -> LabeledTensors:
    a.images, a.sums = torch.cat([a.images, b.images]), torch.cat([a.sums, b.sums])
    a.digits = torch.cat([a.digits, b.digits])
    return a


def _val_metrics(record: dict) -> dict:
    return {k: v for k, v in record.items() if isinstance(v, float) and k != "wall_seconds"}


def card_info(args, command, step, wall, device) -> dict:
    return {"command": command, "model": args.model, "initialised from": args.init or "random weights",
            "data": f"real sum-only {[str(p) for p in args.real]}, real with digits {[str(p) for p in args.real_digits]}, "
                    f"labels db {args.labels_db}, synthetic fraction {args.synthetic_fraction} "
                    f"(layout {args.layout}, augment {args.augment}, MNIST train digits"
                    + (f" + {args.font_digits:.0%} printed font digits)" if args.font_digits else ")"),
            "steps": f"{step} x {args.batch_size} images", "wall time": f"{wall / 60:.1f} min",
            "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
            "ema decay": args.ema_decay}


def finish(args, command, device, test_sets):
    """Score the best EMA checkpoint on the test sets, write its card, export it, plot, push."""
    from digitsum.checkpoint import load_checkpoint, load_metrics
    best_dir = args.out / "best"
    model = load_checkpoint(best_dir)
    metrics = load_metrics(best_dir)
    for path, data in test_sets.items():
        m = evaluate(model.to(device), data.images, data.sums, data.digits, device=device, progress=True)
        metrics[f"test {path.name}"] = {k: v for k, v in m.items() if isinstance(v, float)}
        tqdm.write(f"test {path}: sum accuracy {m['sum_accuracy']:.4f}, digit accuracy {m['digit_accuracy']}")
    import json
    info = json.loads((args.out / "last" / "state.json").read_text())
    card = card_info(args, command, info["step"], info["wall_seconds"], device)
    save_checkpoint(model, best_dir, card, metrics, half=args.half)
    if args.export:
        save_checkpoint(model, args.export, card, metrics, half=args.half)
        tqdm.write(f"exported {args.export}")
    plot_curves(MetricsLog(args.out, True).read(), args.out / "curves.png")
    if args.push_to_hub:
        try:
            model.push_to_hub(args.push_to_hub)
        except Exception as e:  # offline or no token: the local export stands
            print(f"error: could not push to the Hub repo {args.push_to_hub} ({type(e).__name__}); "
                  f"the checkpoint is saved locally in {args.export or best_dir}", file=sys.stderr)


def cli(argv=None) -> int:
    try:
        args = parse(argv)
        main(args)
    except DigitsumError as e:
        print("error: " + " ".join(str(e).splitlines()), file=sys.stderr)   # one line, whatever the cause
        return 2
    except KeyboardInterrupt:
        print("interrupted; continue with --resume", file=sys.stderr)
        return 130
    return 0
