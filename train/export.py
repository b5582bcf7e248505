"""What a run leaves behind: at each save point the validation record, the best EMA checkpoint and
the resumable state; at the end the test metrics, the model card, the export, the plot, the push.
Rank 0 alone calls these."""
from __future__ import annotations

import json
import sys

import torch
from tqdm.auto import tqdm

from digitsum.storage.checkpoint import load_checkpoint, load_metrics, save_checkpoint
from digitsum.evaluation.evaluate import evaluate

from .report import MetricsLog, plot_curves
from .run import Run
from .state import save_state


def card_info(run: Run, step: int, wall: float) -> dict:
    """The model card's facts about the run that trained the checkpoint, as of `step`."""
    args, device = run.args, run.ctx.device
    return {"command": run.command, "model": args.model, "initialised from": args.init or "random weights",
            "data": f"real sum-only {[str(p) for p in args.real]}, real with digits {[str(p) for p in args.real_digits]}, "
                    f"labels db {args.labels_db}, synthetic fraction {args.synthetic_fraction} "
                    f"(layout {args.layout}, augment {args.augment}, MNIST train digits"
                    + digit_sources(args) + ")",
            "steps": f"{step} x {args.batch_size} images", "processes": processes(run),
            "wall time": f"{wall / 60:.1f} min",
            "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
            "ema decay": args.ema_decay}


def processes(run: Run) -> str:
    """The world size, and how the global batch (the card's "steps" line) was split over it."""
    world = run.ctx.world
    if world == 1:
        return "1"
    return f"{world} (torchrun; global batch {run.args.batch_size} = {world} x {run.args.batch_size // world} images)"


def digit_sources(args) -> str:
    """The digit pool's other sources and their shares, as the model card says them."""
    named = (("font_digits", "printed font digits"), ("pen_digits", "pendigits writers' pen trajectories"),
             ("style_digits", "synthesized pen styles"), ("hand_digits", "handwriting fonts' digits"))
    return "".join(f" + {getattr(args, k):.0%} {what}" for k, what in named if getattr(args, k))


def val_metrics(record: dict) -> dict:
    return {k: v for k, v in record.items() if isinstance(v, float) and k != "wall_seconds"}


def validate(model, ema, val, step: int, wall: float) -> dict:
    """Raw and EMA weights on the validation set, on the model's own device."""
    record = {"kind": "val", "step": step, "wall_seconds": wall}
    if val is None:
        return record
    for tag, net in (("raw", model), ("ema", ema.module if ema is not None else None)):
        if net is not None:
            m = evaluate(net, val.images, val.sums, val.digits)   # device: the model's
            record.update({f"{tag}_sum_accuracy": m["sum_accuracy"], f"{tag}_digit_accuracy": m["digit_accuracy"],
                           f"{tag}_sum_nll": m["sum_nll"]})
    tqdm.write(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items() if k != "kind"))
    return record


def save_point(run: Run, val, step: int, wall: float, best: float) -> tuple[dict, float]:
    """Validate, export the EMA weights to OUT/best when they are the best so far, and save the
    resumable state to OUT/last; -> (the validation record, the best score)."""
    args, model, ema = run.args, run.model, run.ema
    record = validate(model, ema, val, step, wall)
    if val is not None:
        run.log.write(record)
    score = record.get("ema_sum_accuracy", record.get("raw_sum_accuracy", step))
    if score >= best:
        best = score
        save_checkpoint(ema.module if ema is not None else model, args.out / "best",
                        card_info(run, step, wall), {"validation": val_metrics(record)}, half=args.half)
    save_state(args.out / "last", model=model, ema=ema, optimizer=run.optimizer,
               info={"step": step, "wall_seconds": wall, "best": best, "command": run.command, "model": args.model})
    return record, best


def finish(run: Run, test_sets: dict) -> None:
    """Score the best EMA checkpoint on the test sets, write its card, export it, plot, push."""
    args = run.args
    best_dir = args.out / "best"
    model = load_checkpoint(best_dir, device=run.ctx.device)
    metrics = load_metrics(best_dir)
    for path, data in test_sets.items():
        m = evaluate(model, data.images, data.sums, data.digits, progress=True)   # device: the model's
        metrics[f"test {path.name}"] = {k: v for k, v in m.items() if isinstance(v, float)}
        tqdm.write(f"test {path}: sum accuracy {m['sum_accuracy']:.4f}, digit accuracy {m['digit_accuracy']}")
    info = json.loads((args.out / "last" / "state.json").read_text())
    card = card_info(run, info["step"], info["wall_seconds"])
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
