"""Command-line flags (with an optional JSON config file of defaults) and their validation."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from digitsum.errors import DigitsumError
from digitsum.models import DEFAULT_MODEL, MODELS
from digitsum.synth import AUGMENTS, LAYOUTS


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train", description="Train an EMA digit-sum model from real "
                                "course-format data (sum-only or digit labels) plus on-the-fly synthetic data.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--config", type=Path, help="JSON file of flag defaults (keys as the long flags, with _)")
    g = p.add_argument_group("data")
    g.add_argument("--real", type=Path, action="append", default=[],
                   help="course-format set (folder of data*/lab*.npy, or folder with labels.csv) used with SUM labels only; repeatable")
    g.add_argument("--real-digits", type=Path, action="append", default=[],
                   help="course-format set with digits*.npy, used with DIGIT labels; repeatable")
    g.add_argument("--labels-db", type=Path, help="the app's SQLite labels database: its saved images, with digit labels")
    g.add_argument("--val", type=Path, help="course-format set (with digits*.npy if any) for evaluation during training")
    g.add_argument("--val-limit", type=int, default=2000, help="use at most this many validation images")
    g.add_argument("--synthetic-fraction", type=float, default=0.5,
                   help="share of each batch drawn from the synthetic generator (1 = synthetic only)")
    g.add_argument("--layout", choices=sorted(LAYOUTS), default="wide", help="synthetic layout preset")
    g.add_argument("--augment", choices=sorted(AUGMENTS), default="wide", help="synthetic augmentation preset")
    g.add_argument("--sum-loss-weight", type=float, default=1.0, help="weight of the loss on sum-only labels")
    g.add_argument("--digit-loss-weight", type=float, default=1.0, help="weight of the loss on digit labels")
    g = p.add_argument_group("model and optimisation")
    g.add_argument("--model", choices=sorted(MODELS), default=DEFAULT_MODEL)
    g.add_argument("--init", metavar="CHECKPOINT", help="start from this checkpoint's weights (fine-tuning); "
                   "its trunk and head must match --model")
    g.add_argument("--steps", type=int, default=3000)
    g.add_argument("--batch-size", type=int, default=128, help="per process")
    g.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    g.add_argument("--lr", type=float, default=2e-3)
    g.add_argument("--weight-decay", type=float, default=0.05)
    g.add_argument("--schedule", choices=["cosine", "onecycle", "constant"], default="cosine")
    g.add_argument("--warmup-steps", type=int, default=200)
    g.add_argument("--label-smoothing", type=float, default=0.05)
    g.add_argument("--clip-grad", type=float, default=2.0, help="max gradient norm (0 = off)")
    g.add_argument("--ema-decay", type=float, default=0.999, help="0 disables EMA")
    g.add_argument("--ema-warmup", type=int, default=100, help="decay ramps as (1+t)/(WARMUP+t) up to --ema-decay")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    g.add_argument("--compile", action="store_true", help="torch.compile the model (GPU)")
    g.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    g = p.add_argument_group("output")
    g.add_argument("--out", type=Path, default=Path("runs/default"), help="run folder: state, logs, plots")
    g.add_argument("--export", type=Path, help="also write the best EMA checkpoint here (Hugging Face layout)")
    g.add_argument("--test", type=Path, action="append", default=[],
                   help="course-format test set scored by the exported checkpoint, for its model card; repeatable")
    g.add_argument("--eval-every", type=int, default=250)
    g.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    g.add_argument("--push-to-hub", metavar="REPO", help="upload the exported checkpoint to this Hub repo")
    g.add_argument("--half", action="store_true", help="export fp16 weights (half the file size)")
    g.add_argument("--stop-after", type=int, default=0, help=argparse.SUPPRESS)  # tests: simulate a kill
    return p


def parse(argv=None) -> argparse.Namespace:
    p = parser()
    pre, _ = p.parse_known_args(argv)
    if pre.config is not None:
        try:
            defaults = json.loads(pre.config.read_text())
        except (OSError, ValueError) as e:
            raise DigitsumError(f"{pre.config}: cannot read config ({e})") from None
        known = {a.dest for a in p._actions}
        unknown = sorted(set(defaults) - known)
        if unknown:
            raise DigitsumError(f"{pre.config}: unknown keys {unknown}")
        p.set_defaults(**defaults)
    args = p.parse_args(argv)
    validate(args)
    return args


def validate(a: argparse.Namespace) -> None:
    def need(ok: bool, message: str):
        if not ok:
            raise DigitsumError(message)
    need(a.steps > 0, "--steps must be positive")
    need(a.batch_size > 0, "--batch-size must be positive")
    need(0.0 <= a.synthetic_fraction <= 1.0, "--synthetic-fraction must lie in [0, 1]")
    need(a.synthetic_fraction > 0 or a.real or a.real_digits or a.labels_db,
         "no training data: give --real, --real-digits or --labels-db, or a --synthetic-fraction above 0")
    need(a.synthetic_fraction < 1 or not (a.real or a.real_digits or a.labels_db),
         "--synthetic-fraction 1 leaves no room for the real data given; lower it")
    need(a.lr > 0, "--lr must be positive")
    need(0.0 <= a.ema_decay < 1.0, "--ema-decay must lie in [0, 1)")
    need(0.0 <= a.label_smoothing < 1.0, "--label-smoothing must lie in [0, 1)")
    need(a.eval_every > 0, "--eval-every must be positive")
    need(a.warmup_steps >= 0 and a.clip_grad >= 0 and a.weight_decay >= 0, "warm-up, clipping and decay must not be negative")
    for path in [*a.real, *a.real_digits, *a.test] + ([a.val] if a.val else []):
        need(path.exists(), f"{path}: no such file or folder")
    if a.labels_db:
        need(a.labels_db.is_file(), f"{a.labels_db}: no such labels database")
    if a.resume:
        need((a.out / "last" / "state.json").is_file(), f"--resume: no saved run in {a.out} (no last/state.json)")
