"""The rows of the seeds' table (`SYSTEMS`), and running one: its plan, its own `python -m train`
process (output in DIR/logs/NAME.log), and its numbers read from what the run wrote."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .inputs import build_init
from .plan import (ROOT, Plan, SeedsRun, arg_text, plan_convnet, plan_course, plan_mnist, plan_naive, plan_reader, plan_regression,
                   plan_resnet_ema, plan_resnet_noema, plan_sums_only, plan_vgg, shown)
from .plan_seeds import (plan_regression_sum37, plan_seed_resnet18_ema, plan_seed_resnet50_ema, plan_seed_resnet50_noema,
                         plan_seed_resnet101_ema, plan_seed_vgg, plan_vgg_baseline)
from .table import ours_text


@dataclass(frozen=True)
class System:
    """One row: what the seed reported, and the plan function that makes our run of it."""
    name: str
    title: str
    seed: str             # what the seed reported
    plan: Callable[[SeedsRun, str], Plan]   # (seeds, name) -> the run
    kind: str = "sums"    # sums, mnist, reader


SYSTEMS = [
    System("convnet4-sum37", "4-layer ConvNet, 37-way sum softmax", "~10 % sum accuracy", plan_convnet),
    # the seeds' ResNets as they built them (torchvision stem, global pool, 37-way fc, the seed's recipe)
    System("resnet50-sum37-noema", "ResNet-50 (torchvision), 37-way fc, real sums, no EMA (seeds 000/001)",
           "~30 % sum accuracy", plan_seed_resnet50_noema),
    System("resnet50-sum37-ema", "ResNet-50 (torchvision), 37-way fc, real sums, EMA 0.99, lr 1e-3, wd 1e-4",
           "~90 % sum accuracy (from ImageNet weights)", plan_seed_resnet50_ema),
    System("resnet101-sum37-ema", "ResNet-101 (torchvision), 37-way fc, the ResNet-50 recipe (seeds 000/001)",
           "seeds 000/001 (no figure given in the issue)", plan_seed_resnet101_ema),
    System("resnet18-sum37-ema", "ResNet-18 (torchvision), 37-way fc, the ResNet-50 recipe (seed 001)",
           "\"unable to learn\"", plan_seed_resnet18_ema),
    # ours beside them: our ResNet-50 (3x3 stride-1 stem, no max-pool, position-aware column head)
    System("ours-resnet50-sum37-noema", "ours: ResNet-50, 3x3 stem, column head, 37-way sum, real sums, no EMA",
           "(ours; the seed's row: ~30 %)", plan_resnet_noema),
    System("ours-resnet50-sum37-ema", "ours: ResNet-50, 3x3 stem, column head, 37-way sum, real sums, EMA 0.99",
           "(ours; the seed's row: ~90 % from ImageNet weights)", plan_resnet_ema),
    System("naive-digits", "ResNet, four digit heads, naive synthetic concatenations only",
           "~50 % sum accuracy (100k samples)", plan_naive),
    System("course-digits", "the same ResNet, four digit heads, course-layout synthetic only (control)",
           "(ours: the naive row's control)", plan_course),
    System("regression", "regression head, MSE, rounded (seed 003)", "seed 003 (no figure given in the issue)",
           plan_regression),
    System("regression-sum37", "the regression row's trunk with a 37-way sum head (seed 003)",
           "seed 003 compares the two heads", plan_regression_sum37),
    System("vgg11-frozen", "VGG-11 (torchvision), all features frozen, 1-channel adapter, global pool, fc",
           "seed 003 (no figure given in the issue)", plan_seed_vgg),
    System("ours-vgg11-frozen", "ours: VGG-11 cut at the 3rd pool, frozen, 1-channel adapter, column head",
           "(ours; the seed's row above)", plan_vgg),
    System("vgg11-baseline", "baseline on the VGG rows' data: 4-layer ConvNet trained whole, digit heads",
           "seed 003: VGG gave \"no gain\" over it", plan_vgg_baseline),
    System("sums-only", "digits learned from sums alone (exact-sum likelihood)",
           "DeepProbLog 95.2 % / DeepStochLog 96.4 % (sum accuracy, anchors)", plan_sums_only),
    System("mnist-cnn2", "MNIST: 2-conv CNN (seed 004)", "99.19 %", plan_mnist("cnn2"), "mnist"),
    System("mnist-resnet50", "MNIST: ResNet-50 from scratch (seed 004)",
           "99.42 % from scratch (99.53 % ImageNet-initialised)", plan_mnist("resnet50"), "mnist"),
    System("mnist-resnet18-ft", "MNIST: ResNet-18 (torchvision) fine-tuned (seed 002)",
           "0.869 (fine-tuned)", plan_mnist("resnet18"), "mnist"),
    System("mnist-mlp", "MNIST: MLP (seed 002)", "seed 002: MLP vs CNNs", plan_mnist("mlp"), "mnist"),
    System("mnist-cnn-k1", "MNIST: CNN, kernel 1 (seed 002)", "seed 002", plan_mnist("cnn_k1"), "mnist"),
    System("mnist-cnn-k5", "MNIST: CNN, kernel 5 (seed 002)", "seed 002", plan_mnist("cnn_k5"), "mnist"),
    System("reader-mnist", "our default reader, per digit on MNIST test digits", "(ours; the seeds' rows above)",
           plan_reader, "reader"),
]
# seed 002's kernel-3 CNN is the 2-conv CNN above (the same model and settings): its row is mnist-cnn2



def run_system(seeds: SeedsRun, system: System, estimated: float | None = None) -> dict:
    """Plan the system, run it (or only print its command, with --dry-run) and read its numbers;
    -> its row of results.json (with `estimated`, the estimate of its seconds on one H100, beside
    the wall time it took)."""
    name = system.name
    plan = system.plan(seeds, name)
    if plan.init_from and not seeds.dry_run:
        plan.argv += ["--init", build_init(seeds, plan, name)]
    module = "train.experiments" if system.kind == "reader" else "train"
    # started in ROOT, with the paths inside it relative: the command the run records (its model card,
    # its metrics) and the one results.json shows rerun in any clone
    cmd = [sys.executable, "-m", module, *map(arg_text, plan.argv)]
    shown = " ".join(shlex.quote(c) for c in ["python", *cmd[1:]])
    entry = {"name": name, "system": system.title, "seed_reported": system.seed, "budget": seeds.budget.name,
             "model": plan.model, "settings": plan.settings, "command": shown, "notes": list(plan.notes)}
    if estimated is not None:
        entry["estimated_seconds_h100"] = round(estimated, 1)
    if seeds.dry_run:
        print(shown)
        entry["status"] = "planned"
        return entry
    run = seeds.out / "runs" / name
    if system.kind == "sums" and run.exists():   # python -m train asks what to do with the run there
        cmd.append("--resume" if _stopped(run, shown, int(plan.argv[plan.argv.index("--steps") + 1]))
                   else "--overwrite")   # a stopped row goes on where it stopped; a rerun starts over
    # (the MNIST task saves no state and writes over its folder: it starts over, and takes no --overwrite)
    print(f"[{time.strftime('%H:%M:%S')}] {name}: {shown}", flush=True)
    entry.update(_launch(cmd, seeds.out / "logs" / f"{name}.log"))
    if entry["status"] == "failed":
        print(f"  failed: {entry['error']}", flush=True)
        return entry
    entry.update(_numbers(seeds, system, run))
    print(f"  done in {entry['wall_seconds']:.0f} s: {ours_text(entry)}", flush=True)
    return entry


def _stopped(run: Path, shown: str, steps: int) -> bool:
    """Whether `run` holds this very command stopped before its last step (a killed `seeds` call, a
    lease that ended): then --resume goes on from its last save point instead of starting over."""
    for state in (run / "last" / "state.json", run / ".last.old" / "state.json"):   # .last.old: a killed save
        try:
            info = json.loads(state.read_text())
        except (OSError, ValueError):
            continue
        command = str(info.get("command", ""))
        for tail in (" --overwrite", " --resume"):
            command = command.removesuffix(tail)
        return command == shown and isinstance(info.get("step"), int) and info["step"] < steps
    return False


def _launch(cmd: list, log: Path) -> dict:
    """Run one system's command, its output into `log`; -> wall_seconds, log, status (done or
    failed) and, when it failed, the error: the log's last line."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(log, "a" if "--resume" in cmd else "w") as f:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"})
    outcome = {"wall_seconds": round(time.perf_counter() - t0, 1), "log": shown(log)}
    if proc.returncode == 0:
        return {**outcome, "status": "done"}
    tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()][-1:]
    return {**outcome, "status": "failed", "error": tail[0] if tail else f"exit {proc.returncode}"}


def _numbers(seeds: SeedsRun, system: System, run: Path) -> dict:
    """-> `ours` (and, for a four-digit system, its exported checkpoint's size) from the finished run."""
    if system.kind != "sums":   # the MNIST task and the reader write metrics.json themselves
        return {"ours": json.loads((run / "metrics.json").read_text())}
    ours = _read_sums_metrics(run, seeds.data["test"].name)
    ours["test_n"] = seeds.budget.test_n
    export = seeds.out / "checkpoints" / system.name
    size = sum(p.stat().st_size for p in export.glob("*") if p.is_file())
    return {"ours": ours, "checkpoint": {"path": shown(export), "megabytes": round(size / 2**20, 2)}}


def _read_sums_metrics(run: Path, test_name: str) -> dict:
    from digitsum.storage.checkpoint import load_metrics
    m = load_metrics(run / "best")
    test = m.get(f"test {test_name}", {})
    val = m.get("validation", {})
    return {"test_sum_accuracy": test.get("sum_accuracy"), "test_digit_accuracy": test.get("digit_accuracy"),
            "test_sum_nll": test.get("sum_nll"), "test_n": None,
            "val_sum_accuracy": val.get("ema_sum_accuracy", val.get("raw_sum_accuracy")),
            "val_digit_accuracy": val.get("ema_digit_accuracy", val.get("raw_digit_accuracy"))}

