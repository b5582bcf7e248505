"""`python -m train.experiments seeds --budget {smoke,cpu,gpu} --out DIR`: the seeds' table in one command.

Each system of `SYSTEMS` (the designs the seed reports compared) is trained by its own subprocess,
`python -m train ...` (or `python -m train --task mnist ...`), with its own `--out DIR/runs/NAME`;
its numbers are read from the metrics the run writes (`DIR/runs/NAME/best/metrics.json`, or
`metrics.json` for MNIST). `DIR/results.json` holds one object per system (the seed's reported
result, ours, the command, budget, wall time, notes) and `DIR/results.md` the same as a table.
Systems already done at this budget in DIR/results.json are skipped, so a stopped run resumes.

Data (made once under DIR/data, never mixing train and test):
- real-train: course-layout images of MNIST *train* digits written with their SUMS only (no
  digits*.npy), the seeds' "real data" (the course gave sums only);
- val: `--data ROOT/val` (MNIST train digits, README's seed 2), for checkpoint choice only;
- test: `--data ROOT/test` (MNIST *test* digits, README's seed 1234), its first `test_n` images.
Missing sets under ROOT are generated with the README's settings.

Budgets: `smoke` seconds a system (CI), `cpu` minutes a system on a 2-core CPU, `gpu` the seeds'
full settings (epochs and batch sizes as the issue states them; the rest documented per row).
ImageNet weights: `--pretrained PATH` (a torchvision resnet50 or vgg11 state_dict, read with
torch.load(weights_only=True); which one is told by its keys), or `--torchvision-weights` to try
torchvision's own download. Without either, every model trains from scratch and the table says so.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digitsum.flags import OneLineParser
from digitsum.errors import DigitsumError

ROOT = Path(__file__).resolve().parent.parent
ANCHORS = "neuro-symbolic anchors on sums of four MNIST images: DeepProbLog 95.2 %, DeepStochLog 96.4 % sum accuracy"
NO_WEIGHTS = "trained from scratch: no pretrained weights offline (give --pretrained PATH)"


@dataclass(frozen=True)
class Budget:
    name: str
    real_n: int            # real-train images (sums only)
    test_n: int            # first N of the test set
    val_limit: int
    steps: dict            # system group -> optimizer steps
    batch: int             # images a step, every four-digit system alike
    mnist_steps: dict      # MNIST model -> steps
    mnist_batch: int
    mnist_train_limit: int
    mnist_test_limit: int
    reader_digits: int     # MNIST test digits the default reader reads (a multiple of 4)
    stand_in: bool         # ResNet-50 rows run resnet_small_sum37 unless ImageNet weights are given
    mnist_test_limits: dict = field(default_factory=dict)   # MNIST model -> its own test limit


BUDGETS = {
    "smoke": Budget("smoke", real_n=256, test_n=64, val_limit=32,
                    steps=dict(convnet=3, resnet=2, naive=2, regression=2, vgg=2, sums_only=2),
                    batch=8,
                    mnist_test_limits=dict(resnet50=32),
                    mnist_steps=dict(mlp=3, cnn2=2, cnn_k1=2, cnn_k5=2, resnet50=1), mnist_batch=8,
                    mnist_train_limit=512, mnist_test_limit=64, reader_digits=64, stand_in=True),
    "cpu": Budget("cpu", real_n=20000, test_n=2000, val_limit=500,
                  steps=dict(convnet=200, resnet=100, naive=100, regression=100, vgg=100, sums_only=120),
                  batch=32,
                  mnist_test_limits=dict(resnet50=2000),
                  mnist_steps=dict(mlp=940, cnn2=150, cnn_k1=150, cnn_k5=150, resnet50=20), mnist_batch=64,
                  mnist_train_limit=0, mnist_test_limit=0, reader_digits=10000, stand_in=True),
    # the seeds' settings: 128-image batches, tens of epochs over 30k real images; 100k naive samples
    "gpu": Budget("gpu", real_n=30000, test_n=10000, val_limit=2000,
                  steps=dict(convnet=4700, resnet=7000, naive=3910, regression=4700, vgg=4700, sums_only=7000),
                  batch=128,
                  mnist_steps=dict(mlp=9375, cnn2=5625, cnn_k1=4690, cnn_k5=4690, resnet50=4690), mnist_batch=128,
                  mnist_train_limit=0, mnist_test_limit=0, reader_digits=10000, stand_in=False),
}


@dataclass
class Context:
    out: Path
    budget: Budget
    data: dict = field(default_factory=dict)        # "real", "val", "test" -> folders
    pretrained: dict = field(default_factory=dict)  # "resnet50", "vgg11" -> state_dict files
    pretrained_notes: list = field(default_factory=list)
    device: str = "auto"
    threads: int = 0
    dry_run: bool = False


@dataclass
class Plan:
    argv: list             # after `python -m train`
    model: str
    settings: str
    notes: list
    init_from: str | None = None    # "resnet50" / "vgg11": build an --init folder from ImageNet weights


# ----------------------------------------------------------------------------- the systems
def _common(ctx: Context, group: str, name: str) -> list:
    b = ctx.budget
    steps = b.steps[group]
    argv = ["--steps", steps, "--batch-size", b.batch, "--val", ctx.data["val"], "--val-limit", b.val_limit,
            "--test", ctx.data["test"], "--eval-every", max(1, steps // 2), "--warmup-steps", min(200, steps // 10),
            "--seed", 0, "--device", ctx.device, "--out", ctx.out / "runs" / name,
            "--export", ctx.out / "checkpoints" / name, "--half"]
    if ctx.threads:
        argv += ["--threads", ctx.threads]
    return argv


def _real_only(ctx) -> list:
    return ["--real", ctx.data["real"], "--synthetic-fraction", 0]


def plan_convnet(ctx: Context, name: str) -> Plan:
    argv = ["--model", "convnet4_sum37", *_real_only(ctx), *_common(ctx, "convnet", name)]
    return Plan(argv, "convnet4_sum37", "4-layer ConvNet, 37-way sum softmax, real sum labels only, train defaults "
                "(AdamW 2e-3, wd 0.05, EMA 0.999, label smoothing 0.05)", [])


def _plan_resnet(ctx: Context, name: str, ema: float) -> Plan:
    weights = "resnet50" in ctx.pretrained
    model = "resnet50_sum37" if weights or not ctx.budget.stand_in else "resnet_small_sum37"
    notes = []
    if model != "resnet50_sum37":
        notes.append(f"{ctx.budget.name} budget: resnet_small (one block a stage) stands in for ResNet-50, which "
                     "needs minutes a batch at 40x168 on this CPU; the gpu budget runs resnet50_sum37")
    notes.append("from ImageNet weights (--pretrained)" if weights else NO_WEIGHTS)
    notes.append("AdamW (decoupled decay) where the seed had Adam with L2 1e-4")
    ema_flags = ["--ema-decay", 0]
    if ema:   # the seed's 0.99 per step; train's --ema-decay is per 128 images
        batch = ctx.budget.batch
        ema_flags = ["--ema-decay", round(1 - (1 - ema) * 128 / batch, 6), "--ema-warmup", 10]
        notes.append(f"EMA {ema} per step of {batch} images (--ema-decay {ema_flags[1]} per 128 images), warm-up 10 steps")
    argv = ["--model", model, *_real_only(ctx), "--lr", "1e-3", "--weight-decay", "1e-4", *ema_flags,
            "--label-smoothing", 0, *_common(ctx, "resnet", name)]
    settings = f"{model}, real sum labels only, AdamW 1e-3, wd 1e-4, " + (f"EMA {ema}" if ema else "no EMA")
    return Plan(argv, model, settings, notes, init_from="resnet50" if weights else None)


def plan_resnet_noema(ctx, name):
    return _plan_resnet(ctx, name, 0)


def plan_resnet_ema(ctx, name):
    return _plan_resnet(ctx, name, 0.99)


def plan_naive(ctx: Context, name: str) -> Plan:
    model = "resnet_small" if ctx.budget.name != "gpu" else "resnet18"
    b = ctx.budget
    seen = b.steps["naive"] * b.batch
    argv = ["--model", model, "--synthetic-fraction", 1, "--layout", "naive", "--augment", "none",
            *_common(ctx, "naive", name)]
    notes = [f"{seen:,} freshly drawn naive images ({b.steps['naive']} x {b.batch}); the seed: a fixed 100k set"]
    return Plan(argv, model, f"{model}, four digit heads, synthetic only: naive 28 px side-by-side concatenations "
                "of MNIST train digits, no augmentation", notes)


def plan_course(ctx: Context, name: str) -> Plan:
    """The naive row's control: the same model and steps on course-layout synthetic images."""
    model = "resnet_small" if ctx.budget.name != "gpu" else "resnet18"
    argv = ["--model", model, "--synthetic-fraction", 1, "--layout", "course", "--augment", "none",
            *_common(ctx, "naive", name)]
    return Plan(argv, model, f"{model}, four digit heads, synthetic only: course-layout images of MNIST train "
                "digits, no augmentation; the same steps as the naive row", ["our control for the naive row"])


def plan_regression(ctx: Context, name: str) -> Plan:
    argv = ["--model", "resnet_small_regression", *_real_only(ctx), *_common(ctx, "regression", name)]
    return Plan(argv, "resnet_small_regression", "resnet_small, one regression output, real sum labels only, "
                "prediction rounded to the nearest sum",
                ["loss: train's smooth L1 (Huber, beta 1) where the seed had MSE; the two agree within 1 of the "
                 "target, smooth L1 is gentler on the early large errors"])


def plan_vgg(ctx: Context, name: str) -> Plan:
    weights = "vgg11" in ctx.pretrained
    argv = ["--model", "vgg11_frozen_digits", "--real", ctx.data["real"], "--synthetic-fraction", 0.5,
            "--layout", "course", "--augment", "train", *_common(ctx, "vgg", name)]
    notes = ["from ImageNet weights (--pretrained): frozen ImageNet features" if weights else
             "random frozen features: no ImageNet weights offline (give --pretrained PATH), so only the adapter "
             "and the head learn, on top of random convolutions"]
    return Plan(argv, "vgg11_frozen_digits", "vgg11 convolutions to the 3rd pool (frozen), learned 1x1 1->3 channel "
                "adapter, four digit heads; half real sums, half course-layout synthetic with digits", notes,
                init_from="vgg11" if weights else None)


def plan_sums_only(ctx: Context, name: str) -> Plan:
    argv = ["--model", "resnet_small", *_real_only(ctx), *_common(ctx, "sums_only", name)]
    return Plan(argv, "resnet_small", "resnet_small, four digit heads trained by the exact-sum likelihood "
                "(sum_nll) on real sum-labelled images only; no digit label anywhere (real-train has no digits file, "
                "no synthetic data); digit accuracy measured on the test set's digit labels",
                [ANCHORS, "our digit accuracy is per digit; their figure is sum accuracy"])


def _mnist(ctx: Context, name: str, model: str) -> Plan:
    b = ctx.budget
    argv = ["--task", "mnist", "--model", model, "--steps", b.mnist_steps[model], "--batch-size", b.mnist_batch,
            "--train-limit", b.mnist_train_limit, "--test-limit", b.mnist_test_limits.get(model, b.mnist_test_limit),
            "--seed", 0,
            "--device", ctx.device, "--out", ctx.out / "runs" / name]
    if ctx.threads:
        argv += ["--threads", ctx.threads]
    notes = [] if model != "resnet50" else ["trained from scratch (the seed's starting point is not stated)"]
    if model == "resnet50" and b.mnist_steps[model] < 200:
        notes.append(f"only {b.mnist_steps[model]} steps: BatchNorm's running statistics are far from settled, so "
                     "the eval-mode accuracy lags the training loss (see final_loss in results.json)")
    return Plan(argv, model, f"MNIST {model}, Adam 1e-3 cosine, {b.mnist_steps[model]} x {b.mnist_batch}", notes)


def plan_mnist(model):
    return lambda ctx, name: _mnist(ctx, name, model)


def plan_reader(ctx: Context, name: str) -> Plan:
    n = ctx.budget.reader_digits
    argv = ["reader-mnist", "--checkpoint", ROOT / "checkpoints" / "digitsum-reader", "--digits", n,
            "--out", ctx.out / "runs" / name]
    return Plan(argv, "digitsum-reader", f"the default checkpoint, not retrained: {n} MNIST test digits, each read "
                "once, four to a 40x168 course-layout canvas (digitsum.data.synth course layout, no augmentation), "
                "per-digit accuracy", [])


@dataclass(frozen=True)
class System:
    name: str
    title: str
    seed: str             # what the seed reported
    plan: object
    kind: str = "sums"    # sums, mnist, reader


SYSTEMS = [
    System("convnet4-sum37", "4-layer ConvNet, 37-way sum softmax", "~10 % sum accuracy", plan_convnet),
    System("resnet50-sum37-noema", "ResNet-50, 37-way sum head, real data, no EMA", "~30 % sum accuracy",
           plan_resnet_noema),
    System("resnet50-sum37-ema", "ResNet-50, 37-way sum head, real data, EMA 0.99, Adam 1e-3, wd 1e-4",
           "~90 % sum accuracy (from ImageNet weights)", plan_resnet_ema),
    System("naive-digits", "ResNet, four digit heads, naive synthetic concatenations only",
           "~50 % sum accuracy (100k samples)", plan_naive),
    System("course-digits", "the same ResNet, four digit heads, course-layout synthetic only (control)",
           "(ours: the naive row's control)", plan_course),
    System("regression", "regression head, rounded (seed 003: MSE)", "seed 003 (no figure given in the issue)",
           plan_regression),
    System("vgg11-frozen", "VGG, frozen convolutions, 1-channel adapter", "seed 003 (no figure given in the issue)",
           plan_vgg),
    System("sums-only", "digits learned from sums alone (exact-sum likelihood)",
           "DeepProbLog 95.2 % / DeepStochLog 96.4 % (sum accuracy, anchors)", plan_sums_only),
    System("mnist-cnn2", "MNIST: 2-conv CNN (seed 004)", "99.19 %", plan_mnist("cnn2"), "mnist"),
    System("mnist-resnet50", "MNIST: ResNet-50 (seed 004)", "99.53 %", plan_mnist("resnet50"), "mnist"),
    System("mnist-mlp", "MNIST: MLP (seed 002)", "seed 002: MLP vs CNNs", plan_mnist("mlp"), "mnist"),
    System("mnist-cnn-k1", "MNIST: CNN, kernel 1 (seed 002)", "seed 002", plan_mnist("cnn_k1"), "mnist"),
    System("mnist-cnn-k5", "MNIST: CNN, kernel 5 (seed 002)", "seed 002", plan_mnist("cnn_k5"), "mnist"),
    System("reader-mnist", "our default reader, per digit on MNIST test digits", "(ours; the seeds' rows above)",
           plan_reader, "reader"),
]
# seed 002's kernel-3 CNN is the 2-conv CNN above (the same model and settings): its row is mnist-cnn2


# ----------------------------------------------------------------------------- data
def prepare_data(ctx: Context, root: Path) -> None:
    from digitsum.data.course import load_dataset, save_course_dataset
    from digitsum.data.synth import generate_dataset
    data = ctx.out / "data"
    b = ctx.budget
    real = data / f"real-train-{b.real_n}"
    if not (real / "lab0.npy").is_file():
        images, digits = generate_dataset("train", b.real_n, seed=1)
        save_course_dataset(real, images, digits.sum(1).astype(np.uint8), None)   # sums only: no digit labels
    val = root / "val"
    if not (val / "lab0.npy").is_file():
        val = data / "val"
        if not (val / "lab0.npy").is_file():
            images, digits = generate_dataset("train", b.val_limit, seed=2)   # README: 2000, seed 2
            save_course_dataset(val, images, digits.sum(1), digits)
    test = data / f"test-{b.test_n}"
    if not (test / "lab0.npy").is_file():
        source = root / "test"
        if (source / "lab0.npy").is_file():
            full = load_dataset(source)
            images, sums, digits = full.images[:b.test_n], full.sums[:b.test_n], full.digits[:b.test_n]
        else:
            images, digits = generate_dataset("test", b.test_n, seed=1234)   # README: 10000, seed 1234
            sums = digits.sum(1)
        save_course_dataset(test, images, sums, digits)
    ctx.data = {"real": real, "val": val, "test": test}


def prepare_pretrained(ctx: Context, paths: list, download: bool) -> None:
    import torch
    for path in paths:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise DigitsumError(f"--pretrained {path}: not a readable state_dict ({type(e).__name__}: {e})") from None
        keys = set(sd) if isinstance(sd, dict) else set()
        if "layer4.2.conv3.weight" in keys:
            ctx.pretrained["resnet50"] = Path(path)
        elif "features.0.weight" in keys:
            ctx.pretrained["vgg11"] = Path(path)
        else:
            raise DigitsumError(f"--pretrained {path}: neither a torchvision resnet50 nor a vgg11 state_dict")
    if download:
        import torchvision
        for arch in ("resnet50", "vgg11"):
            if arch in ctx.pretrained:
                continue
            target = ctx.out / "pretrained" / f"{arch}.pth"
            try:
                if not target.is_file():
                    net = getattr(torchvision.models, arch)(weights="IMAGENET1K_V1")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    torch.save(net.state_dict(), target)
                ctx.pretrained[arch] = target
                ctx.pretrained_notes.append(f"{arch}: torchvision IMAGENET1K_V1 weights")
            except Exception as e:   # offline: one line, then from scratch
                line = f"{arch}: torchvision weights could not be downloaded ({type(e).__name__}); trained from scratch"
                ctx.pretrained_notes.append(line)
                print(line, file=sys.stderr)


def build_init(ctx: Context, plan: Plan, name: str) -> str:
    """An --init checkpoint: the plan's model with ImageNet weights in its trunk."""
    from digitsum.storage.checkpoint import save_checkpoint
    from digitsum.models.net import create_model, load_torchvision_weights
    import torch
    torch.manual_seed(0)
    model = create_model(plan.model)
    report = load_torchvision_weights(model, ctx.pretrained[plan.init_from])
    folder = ctx.out / "init" / name
    save_checkpoint(model, folder, {"initialised from": str(ctx.pretrained[plan.init_from])})
    plan.notes.append(f"ImageNet tensors loaded: {len(report['loaded'])} (adapted: {', '.join(report['adapted']) or 'none'}); "
                      f"trunk tensors left as they were: {_names(report['trunk_tensors_not_loaded'])}")
    return str(folder)


def _scale_note(test: Path) -> list:
    """What knowing nothing scores on these test images: always the most common sum; a digit at chance."""
    try:
        sums = np.load(test / "lab0.npy")
    except OSError:
        return []
    counts = np.bincount(sums, minlength=37)
    return [f"For scale: always answering the most common sum of these {len(sums):,} test images ({counts.argmax()}) "
            f"scores {100 * counts.max() / len(sums):.2f} % sum accuracy; a digit guessed at random, 10 %."]


def _names(names: list, shown: int = 4) -> str:
    if not names:
        return "none"
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


# ----------------------------------------------------------------------------- running
def _read_sums_metrics(run: Path, test_name: str) -> dict:
    from digitsum.storage.checkpoint import load_metrics
    m = load_metrics(run / "best")
    test = m.get(f"test {test_name}", {})
    val = m.get("validation", {})
    return {"test_sum_accuracy": test.get("sum_accuracy"), "test_digit_accuracy": test.get("digit_accuracy"),
            "test_sum_nll": test.get("sum_nll"), "test_n": None,
            "val_sum_accuracy": val.get("ema_sum_accuracy", val.get("raw_sum_accuracy")),
            "val_digit_accuracy": val.get("ema_digit_accuracy", val.get("raw_digit_accuracy"))}


def run_system(ctx: Context, system: System) -> dict:
    name = system.name
    plan = system.plan(ctx, name)
    if plan.init_from and not ctx.dry_run:
        plan.argv += ["--init", build_init(ctx, plan, name)]
    if system.kind == "reader":
        cmd = [sys.executable, "-m", "train.experiments", *map(str, plan.argv)]
    else:
        cmd = [sys.executable, "-m", "train", *map(str, plan.argv)]
    shown = " ".join(shlex.quote(c) for c in ["python", *cmd[1:]])
    entry = {"name": name, "system": system.title, "seed_reported": system.seed, "budget": ctx.budget.name,
             "model": plan.model, "settings": plan.settings, "command": shown, "notes": list(plan.notes)}
    if ctx.dry_run:
        print(shown)
        entry["status"] = "planned"
        return entry
    run = ctx.out / "runs" / name
    if system.kind != "reader" and run.exists():
        cmd.append("--overwrite")   # a rerun, or a stopped system, starts over (python -m train asks for it)
    log = ctx.out / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"[{time.strftime('%H:%M:%S')}] {name}: {shown}", flush=True)
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"})
    entry["wall_seconds"] = round(time.perf_counter() - t0, 1)
    entry["log"] = str(log)
    if proc.returncode != 0:
        tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()][-1:]
        entry["status"] = "failed"
        entry["error"] = tail[0] if tail else f"exit {proc.returncode}"
        print(f"  failed: {entry['error']}", flush=True)
        return entry
    entry["status"] = "done"
    if system.kind == "sums":
        entry["ours"] = _read_sums_metrics(run, ctx.data["test"].name)
        entry["ours"]["test_n"] = ctx.budget.test_n
        export = ctx.out / "checkpoints" / name
        size = sum(p.stat().st_size for p in export.glob("*") if p.is_file())
        entry["checkpoint"] = {"path": str(export), "megabytes": round(size / 2**20, 2)}
    else:
        entry["ours"] = json.loads((run / "metrics.json").read_text())
    print(f"  done in {entry['wall_seconds']:.0f} s: {_ours_text(entry)}", flush=True)
    return entry


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f} %"


def _ours_text(e: dict) -> str:
    if e.get("status") != "done":
        return e.get("status", "-") + (f": {e['error']}" if e.get("error") else "")
    o = e["ours"]
    if "test_accuracy" in o:
        return f"{_pct(o['test_accuracy'])} digit accuracy ({o['n_test']:,} MNIST test digits)"
    text = f"{_pct(o['test_sum_accuracy'])} sum"
    if o.get("test_digit_accuracy") is not None:
        text += f", {_pct(o['test_digit_accuracy'])} digit"
    return text + f" ({o['test_n']:,} test images)"


def write_results(out: Path, entries: list, budget: str, wall: float, extra_notes: list) -> None:
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(entries, indent=2, default=str))
    os.replace(tmp, out / "results.json")
    lines = [f"# The seeds' table, budget `{budget}`", "",
             f"`python -m train.experiments seeds --budget {budget} --out {out}`; wall time, all rows together: "
             f"{sum(e.get('wall_seconds', 0) for e in entries) / 60:.1f} min. Test images: the first ones of `data/test` (course layout, MNIST "
             "*test* digits); training: `real-train` (MNIST *train* digits, sums only) and/or the synthetic generator.",
             "", "| system | seed reported | ours (test) | model and data | wall | notes |", "|---|---|---|---|---|---|"]
    for e in entries:
        wall_e = f"{e['wall_seconds'] / 60:.1f} min" if "wall_seconds" in e else "-"
        notes = "; ".join(e.get("notes", []))
        lines.append(f"| {e['system']} | {e['seed_reported']} | {_ours_text(e)} | {e['settings']} | {wall_e} | {notes} |")
    if extra_notes:
        lines += [""] + [f"- {n}" for n in extra_notes]
    lines += ["", "Commands: see `results.json` (`command` of each row); logs in `logs/`, runs in `runs/`, "
              "exported fp16 checkpoints in `checkpoints/`.", ""]
    tmp = out / "results.md.tmp"
    tmp.write_text("\n".join(lines))
    os.replace(tmp, out / "results.md")


def cmd_seeds(a) -> int:
    budget = BUDGETS[a.budget]
    names = [s.name for s in SYSTEMS]
    unknown = [n for n in a.only if n not in names]
    if unknown:
        raise DigitsumError(f"--only {unknown[0]}: no such system; choose from {', '.join(names)}")
    a.out, a.data = a.out.resolve(), a.data.resolve()
    ctx = Context(a.out, budget, device=a.device, threads=a.threads, dry_run=a.dry_run)
    a.out.mkdir(parents=True, exist_ok=True)
    prepare_pretrained(ctx, a.pretrained, a.torchvision_weights)
    if a.dry_run:
        val = a.data / "val" if (a.data / "val" / "lab0.npy").is_file() else a.out / "data" / "val"
        ctx.data = {"real": a.out / "data" / f"real-train-{budget.real_n}", "val": val,
                    "test": a.out / "data" / f"test-{budget.test_n}"}
    else:
        prepare_data(ctx, a.data)
    previous = {}
    if (a.out / "results.json").is_file() and not a.dry_run:
        try:
            previous = {e["name"]: e for e in json.loads((a.out / "results.json").read_text())}
        except (ValueError, KeyError, TypeError):
            previous = {}
    extra = list(ctx.pretrained_notes) + ([] if a.dry_run else _scale_note(ctx.data["test"]))
    if not ctx.pretrained:
        extra.append("No ImageNet weights were given (offline): every model here trained from scratch.")
    t0 = time.perf_counter()
    entries = []
    for i, system in enumerate(SYSTEMS):
        old = previous.get(system.name)
        selected = not a.only or system.name in a.only
        done = old is not None and old.get("status") == "done" and old.get("budget") == budget.name
        if not selected or (done and not a.rerun):
            if old:
                entries.append(old)
            continue
        entries.append(run_system(ctx, system))
        if not a.dry_run:   # after every system: what is done so far, and what an earlier call left
            later = [previous[s.name] for s in SYSTEMS[i + 1:] if s.name in previous]
            write_results(a.out, entries + later, budget.name, time.perf_counter() - t0, extra)
    if not a.dry_run:
        write_results(a.out, entries, budget.name, time.perf_counter() - t0, extra)
        print(f"wrote {a.out / 'results.json'} and {a.out / 'results.md'}")
    failed = [e["name"] for e in entries if e.get("status") == "failed"]
    if failed:
        print(f"error: {len(failed)} system(s) failed: {', '.join(failed)} (see {a.out / 'logs'})", file=sys.stderr)
        return 1
    return 0


def cmd_reader_mnist(a) -> int:
    """Per-digit accuracy of a checkpoint on MNIST test digits, each read exactly once."""
    import torch
    from digitsum.storage.checkpoint import load_checkpoint
    from digitsum.evaluation.evaluate import evaluate
    from digitsum.data.mnist import load_mnist
    from digitsum.data.synth import make_generator, to_uint8
    if a.digits < 4:
        raise DigitsumError("--digits must be at least 4")
    x, y = load_mnist("test")
    n = min(a.digits, len(x)) // 4 * 4
    order = np.random.default_rng(a.seed).permutation(len(x))[:n].reshape(-1, 4)
    gen = make_generator(x, y, "course", "none", seed=a.seed)
    idx = torch.from_numpy(order)
    with torch.no_grad():
        canvas, _ = gen._paste(gen.pool[idx].float().div_(255.0))   # the course layout, these digits in this order
    images = to_uint8(canvas.unsqueeze(1))
    digits = np.asarray(y)[order].astype(np.int64)
    model = load_checkpoint(a.checkpoint)
    t0 = time.perf_counter()
    m = evaluate(model, images, digits.sum(1), digits)
    metrics = {"task": "reader-mnist", "checkpoint": str(a.checkpoint), "test_accuracy": m["digit_accuracy"],
               "n_test": int(n), "sum_accuracy": m["sum_accuracy"], "n_images": int(len(images)),
               "wall_seconds": time.perf_counter() - t0,
               "what": "each MNIST test digit read once, four to a 40x168 course-layout canvas (no augmentation)"}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"{a.checkpoint}: {m['digit_accuracy']:.4f} per-digit accuracy on {n} MNIST test digits "
          f"({m['sum_accuracy']:.4f} sum accuracy on their {len(images)} canvases)")
    return 0


def cmd_table(a) -> int:
    """Rewrite DIR/results.md from DIR/results.json (after editing notes, or merging runs)."""
    path = a.out / "results.json"
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DigitsumError(f"{path}: cannot read ({e})") from None
    budgets = sorted({e.get("budget", "?") for e in entries})
    wall = sum(e.get("wall_seconds", 0) for e in entries)
    extra = [] if any("ImageNet" in n for e in entries for n in e.get("notes", []) if "from ImageNet" in n) else \
        ["No ImageNet weights were given (offline): every model here trained from scratch."]
    tests = sorted((a.out / "data").glob("test-*"))
    extra += _scale_note(tests[0]) if len(tests) == 1 else []
    write_results(a.out, entries, "/".join(budgets), wall, extra)
    print(f"wrote {a.out / 'results.md'}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m train.experiments", description="Reproduce the seeds' comparisons.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    s = sub.add_parser("seeds", help="train every system of the seeds' table and write results.json / results.md",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    s.add_argument("--budget", choices=sorted(BUDGETS), required=True)
    s.add_argument("--out", type=Path, required=True, help="results.json, results.md, runs/, logs/, checkpoints/")
    s.add_argument("--data", type=Path, default=ROOT / "data", help="folder with val/ and test/ (made there if missing)")
    s.add_argument("--pretrained", type=Path, action="append", default=[],
                   help="torchvision resnet50 or vgg11 ImageNet state_dict file; repeatable")
    s.add_argument("--torchvision-weights", action="store_true",
                   help="try torchvision's own ImageNet weights download (online only)")
    s.add_argument("--only", action="append", default=[], help="run only this system (repeatable)")
    s.add_argument("--rerun", action="store_true", help="run again systems already done at this budget")
    s.add_argument("--dry-run", action="store_true", help="print the commands only")
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=0)
    t = sub.add_parser("table", help="rewrite DIR/results.md from DIR/results.json")
    t.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("reader-mnist", help="a checkpoint's per-digit accuracy on MNIST test digits")
    r.add_argument("--checkpoint", type=Path, required=True)
    r.add_argument("--digits", type=int, default=10000)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", type=Path, required=True)
    return p


def cli(argv=None) -> int:
    try:
        a = parser().parse_args(argv)
        if a.command == "seeds":
            if a.threads < 0:
                raise DigitsumError("--threads must not be negative")
            for path in a.pretrained:
                if not path.is_file():
                    raise DigitsumError(f"--pretrained {path}: no such file")
            return cmd_seeds(a)
        if a.command == "table":
            return cmd_table(a)
        return cmd_reader_mnist(a)
    except DigitsumError as e:
        print("error: " + " ".join(str(e).splitlines()), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(cli())
