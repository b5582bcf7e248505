"""The `reader-mnist` command: a checkpoint's per-digit accuracy on MNIST test digits, each read
exactly once, four to a course-layout canvas; DIR/metrics.json as the MNIST task writes it."""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from digitsum.errors import DigitsumError


def read_mnist_digits(a: argparse.Namespace) -> int:
    from digitsum.storage.checkpoint import load_checkpoint
    from digitsum.evaluation.evaluate import evaluate
    if a.digits < 4:
        raise DigitsumError("--digits must be at least 4")
    images, digits = _canvases(a.digits, a.seed)
    model = load_checkpoint(a.checkpoint)
    t0 = time.perf_counter()
    m = evaluate(model, images, digits.sum(1), digits)
    n = digits.size
    metrics = {"task": "reader-mnist", "checkpoint": str(a.checkpoint), "test_accuracy": m["digit_accuracy"],
               "n_test": int(n), "sum_accuracy": m["sum_accuracy"], "n_images": int(len(images)),
               "wall_seconds": time.perf_counter() - t0,
               "what": "each MNIST test digit read once, four to a 40x168 course-layout canvas (no augmentation)"}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"{a.checkpoint}: {m['digit_accuracy']:.4f} per-digit accuracy on {n} MNIST test digits "
          f"({m['sum_accuracy']:.4f} sum accuracy on their {len(images)} canvases)")
    return 0


def _canvases(wanted: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """-> uint8 canvases (N, 40, 168) and their digits (N, 4): `wanted` MNIST test digits (rounded
    down to a multiple of 4, at most all of them) in a random order, none twice."""
    import torch
    from digitsum.data.mnist import load_mnist
    from digitsum.data.synth import make_generator, to_uint8
    x, y = load_mnist("test")
    n = min(wanted, len(x)) // 4 * 4
    order = np.random.default_rng(seed).permutation(len(x))[:n].reshape(-1, 4)
    gen = make_generator(x, y, "course", "none", seed=seed)
    with torch.no_grad():   # the course layout, these digits in this order
        canvas, _ = gen._paste(gen.pool[torch.from_numpy(order)].float().div_(255.0))
    return to_uint8(canvas.unsqueeze(1)), np.asarray(y)[order].astype(np.int64)
