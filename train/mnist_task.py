"""`python -m train --task mnist`: single 28x28 MNIST digits, the seeds' baselines.

Seed 004 trained a 2-conv CNN (99.19 % test accuracy) and a ResNet-50 (99.53 %); seed 002 set an
MLP against CNNs with kernel sizes 1, 3 and 5, and fine-tuned a ResNet-18 (0.869). `MNIST_MODELS`
holds those designs; `--pretrained PATH` starts a ResNet from a torchvision ImageNet state_dict
(fine-tuning: every tensor that fits is loaded, the 1000-way fc stays new); the loop is a
plain one of its own (Adam, cosine schedule, cross-entropy), trained on MNIST train (optionally a
first-N subset) and scored once at the end on MNIST test, which is never used for any choice.
It writes OUT/metrics.json (test accuracy, steps, wall time) and OUT/model.safetensors.
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from digitsum.flags import (OneLineParser, check_device, check_output_folder, nonnegative_float, nonnegative_int,
                            positive_float, positive_int)
from digitsum.errors import DigitsumError

MEAN, STD = 0.1307, 0.3081   # MNIST train pixels


def _cnn(kernel: int) -> nn.Module:
    """Two convolutions (32, 64 channels, kernel k), a 2x2 max-pool, dropout, a 128-unit layer:
    the Keras MNIST example that seed 004 reports (k=3); seed 002 varied k over 1, 3, 5."""
    pad = kernel // 2
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel, padding=pad), nn.ReLU(inplace=True),
        nn.Conv2d(32, 64, kernel, padding=pad), nn.ReLU(inplace=True),
        nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(64 * 14 * 14, 128), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(128, 10))


def _mlp() -> nn.Module:
    """Seed 002's multilayer perceptron: 784-512-256-10 with ReLU and dropout."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(inplace=True), nn.Dropout(0.2),
                         nn.Linear(512, 256), nn.ReLU(inplace=True), nn.Dropout(0.2), nn.Linear(256, 10))


def _resnet50() -> nn.Module:
    """torchvision ResNet-50 for 1-channel 28x28 digits: 3x3 stride-1 stem, no max-pool."""
    import torchvision
    net = torchvision.models.resnet50(weights=None, num_classes=10)
    net.conv1 = nn.Conv2d(1, 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    return net


def _resnet18() -> nn.Module:
    """torchvision ResNet-18 as standard (7x7 stride-2 stem, max-pool: 28x28 -> 7x7 -> 1x1 after
    layer4), conv1 taking one channel: the model seed 002 fine-tuned, whose ImageNet weights fit it
    whole (conv1's three input channels summed into one)."""
    import torchvision
    net = torchvision.models.resnet18(weights=None, num_classes=10)
    net.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")   # as torchvision inits it
    return net


MNIST_MODELS = {
    "mlp": _mlp,
    "cnn2": lambda: _cnn(3),          # seed 004's 2-conv CNN (= cnn_k3)
    "cnn_k1": lambda: _cnn(1),
    "cnn_k3": lambda: _cnn(3),
    "cnn_k5": lambda: _cnn(5),
    "resnet18": _resnet18,
    "resnet50": _resnet50,
}
PRETRAINABLE = ("resnet18", "resnet50")   # torchvision's names: an ImageNet state_dict loads into them


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m train --task mnist",
                      description="Train a single-digit MNIST classifier (28x28) and score it on MNIST test.",
                      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", choices=sorted(MNIST_MODELS), default="cnn2")
    p.add_argument("--epochs", type=float, default=12.0, help="passes over the training digits")
    p.add_argument("--steps", type=nonnegative_int, default=0, help="optimizer steps (overrides --epochs when > 0)")
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate (cosine to 0)")
    p.add_argument("--weight-decay", type=nonnegative_float, default=0.0)
    p.add_argument("--train-limit", type=nonnegative_int, default=0,
                   help="use the first N MNIST train digits (0 = all 60,000)")
    p.add_argument("--test-limit", type=nonnegative_int, default=0,
                   help="score the first N MNIST test digits (0 = all 10,000)")
    p.add_argument("--pretrained", type=Path, metavar="PATH",
                   help="fine-tune from this torchvision ImageNet state_dict (" + ", ".join(PRETRAINABLE) + "): every "
                        "tensor of the same name and shape is loaded (conv1's RGB summed into one channel where the "
                        "stem is torchvision's 7x7; resnet50's 3x3 stem stays random), the 1000-way fc stays new")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--threads", type=nonnegative_int, default=0, help="CPU threads (0 = torch default)")
    p.add_argument("--out", type=Path, default=Path("runs/mnist"), help="run folder: metrics.json, model.safetensors")
    return p


def parse(argv=None) -> argparse.Namespace:
    a = parser().parse_args(argv)
    if a.epochs <= 0 and a.steps == 0:   # steps above 0 override --epochs, whatever it says
        raise DigitsumError("--epochs (or --steps) must be positive")
    check_device(a.device)
    check_output_folder("--out", a.out)
    if a.pretrained is not None:
        if a.model not in PRETRAINABLE:
            raise DigitsumError(f"--pretrained takes --model {' or '.join(PRETRAINABLE)}, not {a.model}")
        if not a.pretrained.is_file():
            raise DigitsumError(f"--pretrained {a.pretrained}: no such file")
    return a


def load_pretrained(model: nn.Module, path: Path) -> dict:
    """Load a torchvision ImageNet state_dict into an MNIST ResNet: every tensor of the same name and
    shape, conv1's three input channels summed into one when its kernel fits; fc (1000 classes here
    10) stays as initialised. -> {"loaded": [names], "not_loaded": [names of the model's own]}.
    A file that is not such a state_dict, or one of another architecture, is a DigitsumError."""
    from digitsum.models.net import read_state_dict
    sd = read_state_dict(path, f"--pretrained {path}")
    own = model.state_dict()
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise DigitsumError(f"--pretrained {path}: not a state_dict of tensors")
    trunk = [k for k in own if not k.startswith(("fc.", "conv1."))]
    wrong = [k for k in trunk if k not in sd or sd[k].shape != own[k].shape]
    wrong += [k for k in sd if k not in own]   # a deeper ResNet of the same blocks (resnet34 holds resnet18's names)
    if wrong:
        raise DigitsumError(f"--pretrained {path}: not this model's torchvision ImageNet weights ({len(wrong)} tensors "
                            f"missing, of another shape or not in --model's {len(trunk)}, e.g. {wrong[0]})")
    new = {k: sd[k] for k in trunk}
    stem = sd.get("conv1.weight")
    if stem is not None and stem.ndim == 4 and stem.shape[1] == 3 and stem.sum(1, keepdim=True).shape == own["conv1.weight"].shape:
        new["conv1.weight"] = stem.sum(1, keepdim=True)   # grey = R = G = B: the RGB filters' sum
    model.load_state_dict(new, strict=False)
    return {"loaded": sorted(new), "not_loaded": sorted(set(own) - set(new))}


def _tensors(split: str, limit: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    from digitsum.data.mnist import load_mnist
    x, y = load_mnist(split)
    if limit:
        x, y = x[:limit], y[:limit]
    x = torch.from_numpy(np.array(x, dtype=np.uint8)).unsqueeze(1).to(device)
    return x, torch.from_numpy(np.asarray(y, np.int64)).to(device)


def _prep(x: torch.Tensor) -> torch.Tensor:
    return (x.float() / 255.0 - MEAN) / STD


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    model.eval()
    hits = 0
    for i in range(0, len(x), batch_size):
        hits += int((model(_prep(x[i:i + batch_size])).argmax(1) == y[i:i + batch_size]).sum())
    return hits / len(x)


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, a: argparse.Namespace, device) -> tuple[int, torch.Tensor]:
    """Adam, its learning rate cosine to 0, on batches drawn epoch by epoch without replacement;
    -> (the steps taken, the last step's loss)."""
    steps = a.steps or max(1, math.ceil(a.epochs * len(x) / a.batch_size))
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    gen = torch.Generator(device=device).manual_seed(a.seed)
    perm, pos = torch.randperm(len(x), generator=gen, device=device), 0
    loss = torch.zeros(())
    for step in range(steps):
        model.train()
        if pos + a.batch_size > len(perm):   # epochs without replacement
            perm, pos = torch.randperm(len(x), generator=gen, device=device), 0
        idx = perm[pos:pos + a.batch_size]
        pos += a.batch_size
        loss = F.cross_entropy(model(_prep(x[idx])), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 100 == 0 or step + 1 == steps:
            print(f"step {step + 1}/{steps} loss {loss.item():.4f}", flush=True)
    return steps, loss


def main(a: argparse.Namespace) -> dict:
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device)
    torch.manual_seed(a.seed)
    model = MNIST_MODELS[a.model]()
    report = load_pretrained(model, a.pretrained) if a.pretrained is not None else None   # before the data: fail fast
    model = model.to(device)
    train_x, train_y = _tensors("train", a.train_limit, device)
    test_x, test_y = _tensors("test", a.test_limit, device)
    t0 = time.perf_counter()
    steps, loss = fit(model, train_x, train_y, a, device)
    train_seconds = time.perf_counter() - t0
    test_acc = accuracy(model, test_x, test_y)
    metrics = {"task": "mnist", "model": a.model, "test_accuracy": test_acc, "n_test": len(test_x),
               "n_train": len(train_x), "steps": steps, "batch_size": a.batch_size,
               "epochs": steps * a.batch_size / len(train_x), "train_seconds": train_seconds,
               "wall_seconds": time.perf_counter() - t0, "final_loss": float(loss.item()),
               "parameters": sum(p.numel() for p in model.parameters()),
               "initialised_from": str(a.pretrained) if report else "random weights",
               **({"pretrained_tensors_loaded": len(report["loaded"]),
                   "pretrained_not_loaded": report["not_loaded"]} if report else {}),
               "command": "python -m train --task mnist " + " ".join(shlex.quote(s) for s in (a._argv or []))}
    save(a.out, model, metrics)
    print(f"MNIST test accuracy {test_acc:.4f} ({len(test_x)} digits), {steps} steps, {train_seconds:.0f} s")
    return metrics


def save(out: Path, model: nn.Module, metrics: dict) -> None:
    """OUT/model.safetensors and OUT/metrics.json."""
    from safetensors.torch import save_file
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "model.safetensors"))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))


def cli(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        a = parse(argv)
        a._argv = argv
        main(a)
    except DigitsumError as e:
        print("error: " + " ".join(str(e).splitlines()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
