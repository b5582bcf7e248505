"""A checkpoint scored on a whole labelled set, and the views the app builds on it: error filters,
confusion matrices, disagreements between checkpoints, a metrics table."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitsum.evaluation.evaluate import metrics_from_probs, predict_batches
from digitsum.data.course import CourseDataset
from digitsum.reading.sumdist import N_SUMS


@dataclass
class ScoredSet:
    digit_probs: np.ndarray | None  # (N, 4, 10)
    sum_probs: np.ndarray           # (N, 37)
    images_per_second: float

    @property
    def pred_sum(self) -> np.ndarray:
        return self.sum_probs.argmax(1)

    @property
    def pred_digits(self) -> np.ndarray | None:
        return None if self.digit_probs is None else self.digit_probs.argmax(2)

    @property
    def confidence(self) -> np.ndarray:
        return self.sum_probs.max(1)

    def loss(self, sums: np.ndarray) -> np.ndarray:
        """-log p(true sum): the largest are the likeliest label errors or the hardest images."""
        return -np.log(np.clip(self.sum_probs[np.arange(len(sums)), sums], 1e-12, None))


def _fingerprint(checkpoint_dir: Path, data: CourseDataset) -> str:
    h = hashlib.sha256()
    h.update((Path(checkpoint_dir) / "model.safetensors").read_bytes())
    h.update(data.images.tobytes()[:1_000_000])
    h.update(np.ascontiguousarray(data.sums).tobytes())
    h.update(str(data.images.shape).encode())
    return h.hexdigest()[:20]


def cache_path(checkpoint_dir, data: CourseDataset, cache_dir) -> Path | None:
    """Where `score_dataset` keeps these scores (keyed by the weights and the data), or None."""
    if cache_dir is None or checkpoint_dir is None:
        return None
    return Path(cache_dir) / f"scores-{_fingerprint(checkpoint_dir, data)}.npz"


def prefix(data: CourseDataset, n: int) -> CourseDataset:
    """The first `n` images of a set (an index into it is an index into the whole set)."""
    if n >= len(data):
        return data
    return CourseDataset(data.images[:n], data.sums[:n], None if data.digits is None else data.digits[:n],
                         data.source)


def head(scored: ScoredSet, n: int) -> ScoredSet:
    """The scores of the first `n` images."""
    if n >= len(scored.sum_probs):
        return scored
    return ScoredSet(None if scored.digit_probs is None else scored.digit_probs[:n], scored.sum_probs[:n],
                     scored.images_per_second)


def score_dataset(model, data: CourseDataset, checkpoint_dir=None, cache_dir=None, on_batch=None) -> ScoredSet:
    """Probabilities for every image, cached on disk (keyed by weights and data) when cache_dir is set;
    `on_batch(done, total)` follows the scoring."""
    cache = cache_path(checkpoint_dir, data, cache_dir)
    if cache is not None:
        if cache.is_file():
            with np.load(cache, allow_pickle=False) as z:
                digit_probs = z["digit_probs"] if z["digit_probs"].size else None
                return ScoredSet(digit_probs, z["sum_probs"], float(z["rate"]))
    digit_probs, sum_probs, rate = predict_batches(model, data.images, on_batch=on_batch)
    scored = ScoredSet(digit_probs, sum_probs, rate)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, digit_probs=digit_probs if digit_probs is not None else np.zeros(0),
                 sum_probs=sum_probs, rate=rate)
        tmp.replace(cache)
    return scored


def metrics(scored: ScoredSet, data: CourseDataset) -> dict:
    m = metrics_from_probs(scored.digit_probs, scored.sum_probs, data.sums, data.digits)
    m["images_per_second"] = scored.images_per_second
    return m


def find_errors(scored: ScoredSet, data: CourseDataset, true_sum: int | None = None, pred_sum: int | None = None,
                wrong_place: int | None = None, min_confidence: float = 0.0, max_confidence: float = 1.0,
                sort_by: str = "loss") -> np.ndarray:
    """Indices of misclassified images (wrong sum, or a wrong digit at `wrong_place` 1-4), filtered,
    sorted by loss (descending: likely label errors first), confidence, or index."""
    if wrong_place is not None:
        if scored.pred_digits is None or data.digits is None:
            return np.zeros(0, np.int64)
        keep = scored.pred_digits[:, wrong_place - 1] != data.digits[:, wrong_place - 1]
    else:
        keep = scored.pred_sum != data.sums
    if true_sum is not None:
        keep &= data.sums == true_sum
    if pred_sum is not None:
        keep &= scored.pred_sum == pred_sum
    conf = scored.confidence
    keep &= (conf >= min_confidence) & (conf <= max_confidence)
    idx = np.nonzero(keep)[0]
    if sort_by == "loss":
        return idx[np.argsort(-scored.loss(data.sums)[idx], kind="stable")]
    if sort_by == "confidence":
        return idx[np.argsort(-conf[idx], kind="stable")]
    return idx


def digit_confusion(scored: ScoredSet, data: CourseDataset) -> np.ndarray | None:
    """(10, 10) counts, rows = true digit, columns = predicted, over all four places."""
    if scored.pred_digits is None or data.digits is None:
        return None
    out = np.zeros((10, 10), np.int64)
    np.add.at(out, (data.digits.ravel(), scored.pred_digits.ravel()), 1)
    return out


def sum_confusion(scored: ScoredSet, data: CourseDataset) -> np.ndarray:
    out = np.zeros((N_SUMS, N_SUMS), np.int64)
    np.add.at(out, (data.sums, scored.pred_sum), 1)
    return out


def digit_cell(scored: ScoredSet, data: CourseDataset, true: int, pred: int) -> np.ndarray:
    """Images with at least one place where digit `true` was read as `pred`."""
    if scored.pred_digits is None or data.digits is None:
        return np.zeros(0, np.int64)
    return np.nonzero(((data.digits == true) & (scored.pred_digits == pred)).any(1))[0]


def sum_cell(scored: ScoredSet, data: CourseDataset, true: int, pred: int) -> np.ndarray:
    return np.nonzero((data.sums == true) & (scored.pred_sum == pred))[0]


def disagreements(scored: dict[str, ScoredSet], data: CourseDataset) -> dict:
    """'disagree': images whose predicted sums differ between the checkpoints;
    'only_right': checkpoint name -> images that it alone gets right."""
    names = list(scored)
    preds = np.stack([scored[n].pred_sum for n in names])            # (K, N)
    right = preds == data.sums[None]
    disagree = np.nonzero((preds != preds[:1]).any(0))[0]
    only = {n: np.nonzero(right[k] & (right.sum(0) == 1))[0] for k, n in enumerate(names)}
    return {"disagree": disagree, "only_right": only}
