"""How long each row of the table takes on one H100-class GPU: an estimate, which the dry run prints
beside each row's steps, which `--part K/N` splits the rows by, and which results.json keeps beside
the measured wall time.

A training step costs the larger of two times, as the host queues work for the GPU without waiting
for it: the host's, launching the step's operations one by one at HOST_MS_PER_OP each (the model's
forward and backward, counted on the meta device; the synthetic generator's, counted by drawing a
small batch on the CPU; the loss, clipping, optimizer and EMA), and the GPU's, the step's FLOPs
(counted on the meta device) at GPU_GFLOP_PER_MS in bf16, half that in float32 (the MNIST task and
evaluation run without autocast). A run adds START_SECONDS (interpreter, CUDA and cuDNN start, data,
checkpoints, the plot), its evaluations and its state files.

The two constants are fitted to the two kinds of gpu row measured on an H100 80GB before this
budget (results/seeds-gpu/results.json, README): convnet4-sum37, 4700 x 128 real images in 39.1 s (host-
bound: its 162 operations a step give 31.7 us each, START_SECONDS aside) and course-digits, resnet18,
3910 x 128 synthetic images in 85.2 s (GPU-bound: 2,797 GFLOP a step in 17.95 ms, 156 GFLOP/ms).
They are estimates of this code as it is: a faster step (fewer launches, CUDA graphs, a cheaper
ResNet-50 stem) shows here when the models or the generator change, a faster host does not.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

HOST_MS_PER_OP = 0.0317
GPU_GFLOP_PER_MS = 156.0
START_SECONDS = 15.0         # python -m train: start, save points' files, the final test, card and plot
MNIST_START_SECONDS = 8.0    # python -m train --task mnist: start, MNIST on the device, the final test
READER_SECONDS = 12.0        # reader-mnist: start and 10,000 digits read once
LOOP_OPS = 30                # a step's loss, gradient clipping, fused AdamW, EMA, batch sampling
MNIST_LOOP_OPS = 20          # the MNIST loop's loss, foreach Adam and batch indexing
DISK_BYTES_PER_SECOND = 1e9
DATA_SECONDS = 25.0          # making real-train (30,000 canvases), val and test once, on the host


@dataclass(frozen=True)
class Estimate:
    steps: int
    batch: int
    step_ms: float
    bound: str        # "host" or "GPU": which of the two times sets the step's
    seconds: float


def flag(argv: list, name: str, default=None):
    """The value after `name` in a plan's argv (the last one, as argparse reads it)."""
    values = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == name]
    return values[-1] if values else default


@functools.lru_cache(maxsize=None)
def model_cost(name: str, mnist: bool, batch: int) -> tuple[int, float, int]:
    """-> (operations, GFLOP) of one forward and backward of `batch` images, and the parameters."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    if mnist:
        from train.mnist_task import MNIST_MODELS
        model, shape = MNIST_MODELS[name](), (batch, 1, 28, 28)
    else:
        from digitsum.models.net import create_model
        model = create_model(name)
        shape = (batch, 1, model.height, model.width)
    model = model.to("meta")
    x = torch.empty(shape, device="meta")
    with FlopCounterMode(display=False) as flops, _OpCount() as ops:
        model(x).float().sum().backward()
    return ops.n, flops.get_total_flops() / 1e9, sum(p.numel() for p in model.parameters())


@functools.lru_cache(maxsize=None)
def generator_ops(layout: str, augment: str) -> int:
    """Operations the synthetic generator launches for one batch (its count does not grow with the
    batch): train's fused generator with its GPU filters (train.synth_fused), counted on a small
    batch on the CPU, from a 500-digit pool."""
    from digitsum.data.mnist import load_mnist
    from train.synth_fused import make_fused_generator
    x, y = load_mnist("train")
    gen = make_fused_generator(x[:500], y[:500], layout, augment, seed=0)   # train's, as on a GPU
    gen.pooled = True
    with _OpCount() as ops:
        gen.sample_with_centres(16)
    return ops.n


def _OpCount():
    from torch.utils._python_dispatch import TorchDispatchMode

    class OpCount(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.n += 1
            return func(*args, **(kwargs or {}))
    return OpCount()


def _step(ops: int, gflop: float, rate: float) -> tuple[float, str]:
    host, gpu = ops * HOST_MS_PER_OP, gflop / rate
    return (host, "host") if host >= gpu else (gpu, "GPU")


def estimate(kind: str, plan, budget) -> Estimate:
    """The time of one row (a System's kind, its Plan, the Budget) on one H100-class GPU."""
    argv = plan.argv
    if kind == "reader":
        return Estimate(0, 0, 0.0, "-", READER_SECONDS)
    steps, batch = int(flag(argv, "--steps")), int(flag(argv, "--batch-size"))
    if kind == "mnist":
        ops, gflop, _ = model_cost(plan.model, True, batch)
        step_ms, bound = _step(ops + MNIST_LOOP_OPS, gflop, GPU_GFLOP_PER_MS / 2)
        return Estimate(steps, batch, step_ms, bound, MNIST_START_SECONDS + steps * step_ms / 1000)
    ops, gflop, params = model_cost(plan.model, False, batch)
    if float(flag(argv, "--synthetic-fraction", 0.5)) > 0:
        ops += generator_ops(str(flag(argv, "--layout", "wide")), str(flag(argv, "--augment", "wide")))
    step_ms, bound = _step(ops + LOOP_OPS, gflop, GPU_GFLOP_PER_MS)
    saves = max(1, steps // int(flag(argv, "--eval-every", steps)))
    ema = float(flag(argv, "--ema-decay", 0.999)) > 0
    evaluated = saves * (2 if ema else 1) * budget.val_limit + budget.test_n   # forward only, float32
    eval_seconds = evaluated * gflop / batch / 3 / (GPU_GFLOP_PER_MS / 2) / 1000
    state_seconds = saves * params * 4 * (4 if ema else 3) / DISK_BYTES_PER_SECOND   # weights, EMA, 2 moments
    return Estimate(steps, batch, step_ms, bound,
                    START_SECONDS + steps * step_ms / 1000 + eval_seconds + state_seconds)


def split(seconds: list, parts: int) -> list:
    """Part numbers (1..parts) for consecutive rows of these times: each row goes to the part its
    middle falls in, so the parts take about equal time and keep the table's order."""
    total, done, out = sum(seconds) or 1.0, 0.0, []
    for s in seconds:
        out.append(min(parts, int((done + s / 2) / total * parts) + 1))
        done += s
    return out
