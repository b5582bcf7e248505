"""Scoring a model on a labelled set: probabilities in batches, then the metrics users ask for."""
from __future__ import annotations

import time

import numpy as np
import torch
from tqdm.auto import tqdm

from digitsum.reading.preprocess import fit_batch
from digitsum.reading.sumdist import N_SUMS


@torch.no_grad()
def predict_batches(model, images: np.ndarray, batch_size: int = 512, device=None,
                    progress: bool = False, on_batch=None) -> tuple[np.ndarray | None, np.ndarray, float]:
    """(N, h, w) uint8 -> (digit probs (N, 4, 10) or None, sum probs (N, 37), images per second).
    Images of another size than the model's canvas are fitted to it first. The batches go to
    `device`, by default the model's own. `on_batch(done, total)` is called after each batch."""
    model.eval()
    device = device or next(model.parameters()).device
    canvases = fit_batch(images, model.height, model.width)
    digit_parts, sum_parts = [], []
    start = time.perf_counter()
    for i in tqdm(range(0, len(canvases), batch_size), disable=not progress, desc="evaluate", unit="batch"):
        x = torch.from_numpy(canvases[i:i + batch_size]).unsqueeze(1).to(device)
        digit_probs, sum_probs = model.predict_proba(x)
        if digit_probs is not None:
            digit_parts.append(digit_probs.cpu().numpy())
        sum_parts.append(sum_probs.cpu().numpy())
        if on_batch is not None:
            on_batch(min(i + batch_size, len(canvases)), len(canvases))
    rate = len(images) / max(time.perf_counter() - start, 1e-9)
    return (np.concatenate(digit_parts) if digit_parts else None), np.concatenate(sum_parts), rate


def metrics_from_probs(digit_probs: np.ndarray | None, sum_probs: np.ndarray, sums: np.ndarray,
                       digits: np.ndarray | None = None) -> dict:
    """Sum accuracy, per-digit, per-place and per-class accuracy (with digit labels), accuracy per true sum,
    and the mean negative log-likelihood of the true sum."""
    pred_sum = sum_probs.argmax(1)
    correct = pred_sum == sums
    per_sum = {int(s): float(correct[sums == s].mean()) for s in range(N_SUMS) if (sums == s).any()}
    out = {
        "n": int(len(sums)),
        "sum_accuracy": float(correct.mean()),
        "sum_nll": float(-np.log(np.clip(sum_probs[np.arange(len(sums)), sums], 1e-12, None)).mean()),
        "digit_accuracy": None,
        "place_accuracy": None,
        "class_accuracy": None,
        "all_digits_accuracy": None,
        "per_sum_accuracy": per_sum,
    }
    if digits is not None and digit_probs is not None:
        hit = digit_probs.argmax(2) == digits                       # (N, 4)
        out["digit_accuracy"] = float(hit.mean())
        out["place_accuracy"] = [float(v) for v in hit.mean(0)]
        # by true digit: where a reader's errors lie (a flagged 1 read as 7 shows as class 1)
        out["class_accuracy"] = {int(d): float(hit[digits == d].mean()) for d in range(10) if (digits == d).any()}
        out["all_digits_accuracy"] = float(hit.all(1).mean())
    return out


def evaluate(model, images: np.ndarray, sums: np.ndarray, digits: np.ndarray | None = None,
             batch_size: int = 512, device=None, progress: bool = False) -> dict:
    digit_probs, sum_probs, rate = predict_batches(model, images, batch_size, device, progress)
    result = metrics_from_probs(digit_probs, sum_probs, sums, digits)
    result["images_per_second"] = rate
    return result
