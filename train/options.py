"""Command-line flags (with an optional JSON config file of defaults) and their validation."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from digitsum.flags import (OneLineParser, check_device, check_output_folder, fraction, nonnegative_float,
                            nonnegative_int, positive_float, positive_int)
from digitsum.errors import DigitsumError
from digitsum.models.net import DEFAULT_MODEL, MODELS
from digitsum.data.synth_presets import AUGMENTS, LAYOUTS

from .distributed import rank_batch, ranks


# named sets of flag defaults, beside the CPU defaults of parser(). gpu: a larger model and four
# times the batch (a GPU is far from busy at 128), a higher learning rate (less than the sqrt rule's
# 4e-3, to stay clear of divergence), ~3 M images (7000 x 128 on a CPU is 0.9 M), in minutes on one H100
PRESETS = {
    "cpu": {},
    "gpu": {"model": "reader_deep", "batch_size": 512, "lr": 3e-3, "steps": 6000, "warmup_steps": 300,
            "font_digits": 0.1, "eval_every": 1000},
}


def batch_share(text: str) -> float:
    """--synthetic-fraction: a share of each batch, in [0, 1] (1 = synthetic only), where the flags'
    `fraction` stops below 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not 0.0 <= value <= 1.0:   # NaN too
        raise argparse.ArgumentTypeError(f"must be in [0, 1], not {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m train", description="Train an EMA digit-sum model from real "
                      "course-format data (sum-only or digit labels) plus on-the-fly synthetic data.",
                      epilog="--task mnist (before or among the flags) trains a single-digit MNIST model "
                      "instead: python -m train --task mnist --help",
                      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--config", type=Path, help="JSON file of flag defaults (keys as the long flags, with _)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu",
                   help="named flag defaults: cpu (the defaults below), gpu (" + ", ".join(
                       f"--{k.replace('_', '-')} {v}" for k, v in PRESETS["gpu"].items())
                   + "); --config and the command line win over a preset")
    g = p.add_argument_group("data")
    g.add_argument("--real", type=Path, action="append", default=[],
                   help="course-format set (folder of data*/lab*.npy, or folder with labels.csv) used with SUM labels only; repeatable")
    g.add_argument("--real-digits", type=Path, action="append", default=[],
                   help="course-format set with digits*.npy, used with DIGIT labels; repeatable")
    g.add_argument("--labels-db", type=Path, help="the app's SQLite labels database: its saved images, with digit labels")
    g.add_argument("--val", type=Path, help="course-format set (with digits*.npy if any) for evaluation during training")
    g.add_argument("--val-limit", type=nonnegative_int, default=2000, help="use at most this many validation images")
    g.add_argument("--synthetic-fraction", type=batch_share, default=0.5,
                   help="share of each batch drawn from the synthetic generator (1 = synthetic only)")
    g.add_argument("--layout", choices=sorted(LAYOUTS), default="wide", help="synthetic layout preset")
    g.add_argument("--augment", choices=sorted(AUGMENTS), default="wide", help="synthetic augmentation preset")
    g.add_argument("--synth", choices=["fused", "plain"], default="fused",
                   help="the synthetic generator: fused (train.synth_fused: a batch's random draws and tensor work "
                        "fused, about half the operations, the same images in distribution) or plain "
                        "(digitsum.data.synth, as data sets are made; runs before the fused one drew its stream)")
    g.add_argument("--font-digits", type=fraction, default=0.0,
                   help="share of the synthetic generator's digit pool that is printed digits of matplotlib's "
                        "fonts (digitsum.data.fontdigits), the rest MNIST train digits")
    g.add_argument("--pen-digits", type=fraction, default=0.0,
                   help="share of the digit pool that is other writers' pen trajectories (UCI pendigits, "
                        "digitsum.data.strokedigits), drawn with random pens")
    g.add_argument("--style-digits", type=fraction, default=0.0,
                   help="share of the digit pool drawn by the stroke synthesizer of styles MNIST lacks "
                        "(flagged 1, crossed 7, open 4, round 6 and 9, looped 2, ...; digitsum.data.strokedigits)")
    g.add_argument("--hand-digits", type=fraction, default=0.0,
                   help="share of the digit pool that is digits of handwriting fonts from the npm registry "
                        "(digitsum.data.handfonts; fetched once, verified, into .cache/digitsum/hand-fonts)")
    g.add_argument("--sum-loss-weight", type=float, default=1.0, help="weight of the loss on sum-only labels")
    g.add_argument("--digit-loss-weight", type=float, default=1.0, help="weight of the loss on digit labels")
    g = p.add_argument_group("model and optimisation")
    g.add_argument("--model", choices=sorted(MODELS), default=DEFAULT_MODEL)
    g.add_argument("--init", metavar="CHECKPOINT", help="start from this checkpoint's weights (fine-tuning); "
                   "its trunk and head must match --model")
    g.add_argument("--steps", type=positive_int, default=3000)
    g.add_argument("--batch-size", type=positive_int, default=128,
                   help="images a step, all processes together: the global batch. Under torchrun each of the N "
                        "processes draws BATCH/N (a multiple of N is required), so --lr, --steps, the schedule and "
                        "the EMA mean the same images on any number of GPUs, and N GPUs finish about N times sooner")
    g.add_argument("--optimizer", choices=["adamw", "adam", "sgd"], default="adamw",
                   help="adamw (betas 0.9/0.99, decoupled decay), adam (torch's defaults, L2 decay: the seeds' recipe), "
                        "or sgd (momentum 0.9, Nesterov)")
    g.add_argument("--lr", type=positive_float, default=2e-3)
    g.add_argument("--weight-decay", type=nonnegative_float, default=0.05)
    g.add_argument("--schedule", choices=["cosine", "onecycle", "constant"], default="cosine")
    g.add_argument("--warmup-steps", type=nonnegative_int, default=200)
    g.add_argument("--label-smoothing", type=fraction, default=0.05)
    g.add_argument("--regression-loss", choices=["smooth_l1", "mse"], default="smooth_l1",
                   help="loss of a regression head (one output, the sum; its prediction is rounded to the nearest "
                        "sum): smooth_l1 (Huber, beta 1) or mse (the seeds' regression)")
    g.add_argument("--clip-grad", type=nonnegative_float, default=2.0, help="max gradient norm (0 = off)")
    g.add_argument("--ema-decay", type=fraction, default=0.999,
                   help="EMA decay per 128 training images (0 disables EMA). A step of a global batch of B images "
                        "decays by 1 - min(1, (1 - DECAY) * B / 128), as torchvision's references scale it, so the "
                        "average spans the same number of images whatever the batch and GPU count")
    g.add_argument("--ema-warmup", type=nonnegative_int, default=100,
                   help="after t updates the decay is at most (1+t)/(WARMUP+t), so the average leaves the random init")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="auto",
                   help="auto, cpu, cuda, cuda:1, mps. Under torchrun each process takes its own GPU: cuda (and auto) "
                        "cuda:LOCAL_RANK, cuda:N cuda:N+LOCAL_RANK; a single process on cuda:N uses that GPU")
    g.add_argument("--compile", action="store_true", help="torch.compile the model (GPU)")
    g.add_argument("--compile-mode", choices=["default", "reduce-overhead", "max-autotune"], default="default",
                   help="torch.compile's mode with --compile: reduce-overhead also captures CUDA graphs, so a step's "
                        "forward and backward are a few launches on a GPU (scripts/step_ops.py counts them)")
    g.add_argument("--threads", type=nonnegative_int, default=0, help="CPU threads (0 = torch default)")
    g = p.add_argument_group("output")
    g.add_argument("--out", type=Path, default=Path("runs/default"), help="run folder: state, logs, plots")
    g.add_argument("--export", type=Path, help="also write the best EMA checkpoint here (Hugging Face layout)")
    g.add_argument("--test", type=Path, action="append", default=[],
                   help="course-format test set scored by the exported checkpoint, for its model card; repeatable")
    g.add_argument("--eval-every", type=positive_int, default=250)
    g.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    g.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (kept as it is until the new run's first save)")
    g.add_argument("--push-to-hub", metavar="REPO", help="upload the exported checkpoint to this Hub repo")
    g.add_argument("--half", action="store_true", help="export fp16 weights (half the file size)")
    g.add_argument("--stop-after", type=int, default=0, help=argparse.SUPPRESS)  # tests: simulate a kill
    return p


def parse(argv=None) -> argparse.Namespace:
    """Flags in order of precedence, lowest first: the parser's defaults, --preset, --config, the
    command line (later flags win in argparse)."""
    p = parser()
    argv = list(argv if argv is not None else sys.argv[1:])
    pre, _ = p.parse_known_args(argv)
    config = [] if pre.config is None else config_flags(p, pre.config)
    pre, _ = p.parse_known_args(config + argv)   # a config may name the preset too
    preset = defaults_as_flags(p, PRESETS[pre.preset], f"--preset {pre.preset}")
    args = p.parse_args(preset + config + argv)
    validate(args)
    args.argv = argv   # the command as typed, for the model card (a recipe runs several in one process)
    return args


def config_flags(p: argparse.ArgumentParser, path: Path) -> list[str]:
    """The config file's defaults as flags, put before the command line's: argparse then checks their
    types and choices like any flag's (set_defaults checks none), and the command line still wins."""
    try:
        defaults = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DigitsumError(f"{path}: cannot read config ({e})") from None
    if not isinstance(defaults, dict):
        raise DigitsumError(f"{path}: a config must be a JSON object of flag defaults")
    return defaults_as_flags(p, defaults, str(path))


def defaults_as_flags(p: argparse.ArgumentParser, defaults: dict, path: str) -> list[str]:
    """{dest: value} -> the flags that set them, checked like the command line's."""
    actions = {a.dest: a for a in p._actions if a.option_strings and a.dest != "help"}
    unknown = sorted(set(defaults) - set(actions))
    if unknown:
        raise DigitsumError(f"{path}: unknown keys {unknown}")
    flags = []
    for key, value in defaults.items():
        action, flag = actions[key], actions[key].option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):
            if not isinstance(value, bool):
                raise DigitsumError(f"{path}: {key} must be true or false")
            flags += [flag] if value else []
        elif isinstance(action, argparse._AppendAction):
            values = value if isinstance(value, list) else [value]
            flags += [t for v in values for t in (flag, str(v))]
        elif isinstance(value, (list, dict)):
            raise DigitsumError(f"{path}: {key} takes one value, not {json.dumps(value)}")
        elif value is not None:
            flags += [flag, str(value)]
    return flags


def validate(a: argparse.Namespace) -> None:
    """What the flags' types cannot check alone: flags that must agree, and the files and folders."""
    def need(ok: bool, message: str):
        if not ok:
            raise DigitsumError(message)
    need(a.synthetic_fraction > 0 or a.real or a.real_digits or a.labels_db,
         "no training data: give --real, --real-digits or --labels-db, or a --synthetic-fraction above 0")
    need(a.synthetic_fraction < 1 or not (a.real or a.real_digits or a.labels_db),
         "--synthetic-fraction 1 leaves no room for the real data given; lower it")
    need(a.font_digits + a.pen_digits + a.style_digits + a.hand_digits < 1.0,
         "--font-digits, --pen-digits, --style-digits and --hand-digits together must leave room for MNIST's "
         "digits (sum below 1)")
    check_device(a.device)
    # outputs written after the training must be writable before it starts
    check_output_folder("--out", a.out)
    if a.export:
        check_output_folder("--export", a.export, replaced=True)
    for path in [*a.real, *a.real_digits, *a.test] + ([a.val] if a.val else []):
        need(path.exists(), f"{path}: no such file or folder")
    if a.labels_db:
        need(a.labels_db.is_file(), f"{a.labels_db}: no such labels database")
        if a.synthetic_fraction == 0 and not (a.real or a.real_digits):
            from digitsum.storage.labeldb import LabelStore
            need(LabelStore(a.labels_db).count() > 0, f"--labels-db {a.labels_db}: no labels saved in it yet, and "
                 "--synthetic-fraction 0 leaves no other training data")
    need(a.compile or a.compile_mode == "default", f"--compile-mode {a.compile_mode} needs --compile")
    need(not (a.resume and a.overwrite), "--resume continues the run in --out and --overwrite replaces it: give one")
    if not (a.resume or a.overwrite):
        held = [n for n in ("last", ".last.old", "best", "metrics.jsonl") if os.path.lexists(a.out / n)]
        need(not held, f"--out {a.out}: holds a run already ({', '.join(held)}); continue it with --resume, "
             "replace it with --overwrite, or choose another --out")
    rank_batch(a.batch_size, ranks()[1])   # under torchrun: the global batch splits evenly over the processes
    # --resume's saved run is looked for in train.main, after the set-up: rank 0 alone first puts back
    # what a killed save left (distributed.recover_last)
