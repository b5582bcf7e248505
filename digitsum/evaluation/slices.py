"""Accuracy by layout slice: layout features measured from each image itself (test sets come from
various renderers and carry no layout metadata), binned, with the sum and digit accuracy per bin.

Ink is a pixel above INK_FRACTION of its image's maximum; a column is inked when it holds at least
MIN_COLUMN_INK such pixels (a lone speck of noise does not count). A blob is a run of inked columns.

Per-image features (`layout_features`), each in that image's own pixels:
  smallest_gap  the smallest gap in px between neighbouring digits' ink. With 4 or more blobs the digit
                gaps are the 3 widest empty runs between blobs (a digit broken into two blobs leaves a
                narrower split), and this is the narrowest of those. With 1-3 blobs two digits touch or
                overlap: 0, binned "<=0 (touching)" (columns alone cannot tell how much they overlap).
  left_margin   empty columns before the first inked one.
  digit_height  the median over blobs of the rows a blob's ink spans.
  ink           the 99th percentile of the inked pixels, / 255.
  blobs         the number of blobs.
A blank image (no ink) has NaN features (0 blobs) and falls in the bin "blank".
"""
from __future__ import annotations

import numpy as np

INK_FRACTION = 0.25
MIN_COLUMN_INK = 2
N_DIGITS = 4
BLANK = "blank"

# feature -> (bin labels, lower bounds of the 2nd..last bins): value v is in bin
# searchsorted(bounds, v, side="right"), i.e. bin i holds bounds[i-1] <= v < bounds[i].
BINS: dict[str, tuple[list[str], list[float]]] = {
    "smallest_gap": (["<=0 (touching)", "1-4", "5-10", "11-20", ">20"], [1, 5, 11, 21]),
    "left_margin": (["0-8", "9-16", "17-30", ">30"], [9, 17, 31]),
    "digit_height": (["<16", "16-19", "20-23", ">=24"], [16, 20, 24]),
    "ink": (["faint <0.5", "0.5-0.8", ">0.8"], [0.5, float(np.nextafter(0.8, 1.0))]),
    "blobs": (["1", "2", "3", "4", "5+"], [2, 3, 4, 5]),
}
LAYOUT_FEATURES = tuple(BINS)


def _as_uint8(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W), found {images.shape}")
    if images.dtype == np.uint8:
        return images
    x = images.astype(np.float64)
    if x.size and x.max() <= 1.0:  # floats in 0..1
        x = x * 255
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def layout_features(images: np.ndarray) -> dict[str, np.ndarray]:
    """(N, H, W) white-on-black images (uint8, or floats in 0..1) -> {feature: (N,) values}:
    smallest_gap, left_margin, digit_height, ink (float64, NaN for a blank image) and blobs (int64).
    Vectorised over the images: a blob is a run of inked columns."""
    images = _as_uint8(images)
    n, h, w = images.shape
    peak = images.reshape(n, -1).max(1) if n else np.zeros(0, np.uint8)
    mask = images > (INK_FRACTION * peak)[:, None, None]                 # (N, H, W) inked pixels
    col_ink = np.count_nonzero(mask, axis=1)                             # (N, W)
    inked = col_ink >= MIN_COLUMN_INK                                    # (N, W) inked columns
    padded = np.zeros((n, w + 2), bool)
    padded[:, 1:-1] = inked
    starts = padded[:, 1:-1] & ~padded[:, :-2]                           # a blob's first column
    ends = padded[:, 1:-1] & ~padded[:, 2:]                              # a blob's last column
    blobs = starts.sum(1).astype(np.int64)
    blank = blobs == 0
    # left margin: the first inked column
    left = np.where(blank, np.nan, inked.argmax(1).astype(np.float64))
    return {"smallest_gap": _smallest_gaps(starts, ends, blobs), "left_margin": left,
            "digit_height": _digit_heights(mask, inked, starts, blobs), "ink": _ink_levels(images, mask, blank),
            "blobs": blobs}


def _smallest_gaps(starts: np.ndarray, ends: np.ndarray, blobs: np.ndarray) -> np.ndarray:
    """Per image, the narrowest gap between digits: the (N_DIGITS-1)-th widest empty run between
    consecutive blobs; 0 with fewer blobs than digits (some touch), NaN for a blank image."""
    n = len(blobs)
    # blobs in image-major, left-to-right order: their column spans and (image) owners
    img_s, col_s = np.nonzero(starts)
    _, col_e = np.nonzero(ends)
    gap = np.full(n, np.nan)
    gap[(blobs >= 1) & (blobs < N_DIGITS)] = 0.0
    if len(img_s) > 1:
        same = img_s[1:] == img_s[:-1]
        gaps = (col_s[1:] - col_e[:-1] - 1)[same]
        gap_img = img_s[1:][same]
        # per image, gaps sorted descending; the (N_DIGITS-1)-th widest is the narrowest digit gap
        order = np.lexsort((-gaps, gap_img))
        gaps, gap_img = gaps[order], gap_img[order]
        first = np.searchsorted(gap_img, np.arange(n))                   # each image's first gap
        many = blobs >= N_DIGITS
        gap[many] = gaps[first[many] + N_DIGITS - 2]
    return gap


def _digit_heights(mask: np.ndarray, inked: np.ndarray, starts: np.ndarray, blobs: np.ndarray) -> np.ndarray:
    """Per image, the median over its blobs of the rows each blob's ink spans; NaN for a blank image."""
    n, h, _ = mask.shape
    blank = blobs == 0
    height = np.full(n, np.nan)
    img_s, _ = np.nonzero(starts)
    if len(img_s):
        any_row = mask.any(1)                                            # (N, W)
        top = np.where(any_row, mask.argmax(1), h)                       # first inked row per column
        bottom = np.where(any_row, h - 1 - mask[:, ::-1, :].argmax(1), -1)
        flat = np.flatnonzero(inked)                                     # inked columns, in blob order
        seg = np.flatnonzero(starts.ravel()[flat])                       # each blob's first entry
        tops = np.minimum.reduceat(top.ravel()[flat], seg)
        bottoms = np.maximum.reduceat(bottom.ravel()[flat], seg)
        heights = (bottoms - tops + 1).astype(np.float64)
        order = np.lexsort((heights, img_s))
        heights = heights[order]
        first = np.searchsorted(img_s[order], np.arange(n))
        k = blobs[~blank]
        f = first[~blank]
        height[~blank] = (heights[f + (k - 1) // 2] + heights[f + k // 2]) / 2
    return height


def _ink_levels(images: np.ndarray, mask: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """Per image, the 99th percentile (nearest rank) of its inked pixels, in units of full white,
    from per-image histograms of values; NaN for a blank image."""
    n = len(images)
    ink = np.full(n, np.nan)
    if n and not blank.all():
        hist = np.zeros((n, 256), np.int64)
        idx = np.nonzero(mask)
        if len(idx[0]):
            values = images[idx]
            hist = np.bincount(idx[0] * 256 + values, minlength=n * 256).reshape(n, 256)
        cum = hist.cumsum(1)
        total = cum[:, -1]
        rank = np.ceil(0.99 * total).astype(np.int64)
        p99 = (cum < rank[:, None]).sum(1)                               # first value reaching the rank
        has = total > 0
        ink[has] = p99[has] / 255.0
    return ink


def bin_labels(feature: str, values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """-> (labels in bin order, (N,) index into labels per value). Features without fixed bins
    (e.g. true_sum) get one bin per distinct value, in ascending order. NaN (a blank image) and
    0 blobs go to a last bin "blank"."""
    values = np.asarray(values)
    if feature in BINS:
        labels, bounds = BINS[feature]
        v = values.astype(np.float64)
        missing = np.isnan(v) | ((v <= 0) if feature == "blobs" else False)
        index = np.searchsorted(np.asarray(bounds, np.float64), np.where(missing, -np.inf, v), side="right")
        labels = list(labels)
    else:
        floats = values.dtype.kind == "f"
        missing = np.isnan(values) if floats else np.zeros(len(values), bool)
        distinct, index = np.unique(values[~missing], return_inverse=True)
        labels = [str(int(x)) if float(x).is_integer() else f"{x:g}" for x in distinct]
        full = np.zeros(len(values), np.int64)
        full[~missing] = index
        index = full
    index = np.where(missing, len(labels), index)
    return labels + [BLANK], index


def slice_accuracy(features: dict[str, np.ndarray], correct_sum: np.ndarray,
                   correct_digits: np.ndarray | None = None) -> dict[str, list[dict]]:
    """features {name: (N,) values}; correct_sum (N,) bool; correct_digits (N, 4) bool or None ->
    {name: [{"slice", "n", "sum_accuracy", "digit_accuracy"}, ...]} in bin order, empty bins left out.
    digit_accuracy is over all four places of the slice's images (None without digit labels).
    With correct_digits a "place" entry is added: one slice per place 1-4, each over all N images
    (so its n's add up to 4 N), digit_accuracy being that place's accuracy."""
    correct_sum = np.asarray(correct_sum, bool)
    n = len(correct_sum)
    if correct_digits is not None:
        correct_digits = np.asarray(correct_digits, bool)
        if correct_digits.shape != (n, N_DIGITS):
            raise ValueError(f"correct_digits must have shape ({n}, {N_DIGITS}), found {correct_digits.shape}")
    out: dict[str, list[dict]] = {}
    for name, values in features.items():
        values = np.asarray(values)
        if len(values) != n:
            raise ValueError(f"feature {name}: {len(values)} values for {n} images")
        labels, index = bin_labels(name, values)
        counts = np.bincount(index, minlength=len(labels))
        sum_hits = np.bincount(index, weights=correct_sum, minlength=len(labels))
        digit_hits = (np.bincount(index, weights=correct_digits.sum(1), minlength=len(labels))
                      if correct_digits is not None else None)
        rows = []
        for i, label in enumerate(labels):
            if counts[i] == 0:
                continue
            rows.append({
                "slice": label,
                "n": int(counts[i]),
                "sum_accuracy": float(sum_hits[i] / counts[i]),
                "digit_accuracy": (float(digit_hits[i] / (N_DIGITS * counts[i]))
                                   if digit_hits is not None else None),
            })
        out[name] = rows
    if correct_digits is not None and n:
        out["place"] = [{"slice": str(p + 1), "n": n, "sum_accuracy": float(correct_sum.mean()),
                         "digit_accuracy": float(correct_digits[:, p].mean())} for p in range(N_DIGITS)]
    else:
        out["place"] = []
    return out


def slices_from_probs(images: np.ndarray, sum_probs: np.ndarray, sums: np.ndarray,
                      digit_probs: np.ndarray | None = None, digits: np.ndarray | None = None,
                      features: dict[str, np.ndarray] | None = None) -> dict[str, list[dict]]:
    """Slice accuracy of a model's probabilities (sum (N, 37), digits (N, 4, 10) or None) on a labelled
    set: the layout features of `images` (or the given `features`), then "place" (with digit labels)
    and "true_sum" (the same numbers as metrics' place_accuracy and per_sum_accuracy)."""
    sums = np.asarray(sums)
    correct_sum = np.asarray(sum_probs).argmax(1) == sums
    correct_digits = None
    if digit_probs is not None and digits is not None:
        correct_digits = np.asarray(digit_probs).argmax(2) == np.asarray(digits)
    feats = dict(layout_features(images) if features is None else features)
    feats["true_sum"] = sums
    result = slice_accuracy(feats, correct_sum, correct_digits)
    result["place"] = result.pop("place")       # layout features, then place, then true_sum
    result["true_sum"] = result.pop("true_sum")
    return result


def format_slices(slices: dict[str, list[dict]], skip=("place", "true_sum")) -> list[str]:
    """One line per feature: `label acc (n)` per slice, sum accuracy (and digit accuracy if known)."""
    lines = []
    for name, rows in slices.items():
        if name in skip or not rows:
            continue
        parts = []
        for r in rows:
            acc = f"{r['sum_accuracy']:.3f}"
            if r["digit_accuracy"] is not None:
                acc += f"/{r['digit_accuracy']:.3f}"
            parts.append(f"{r['slice']}: {acc} ({r['n']})")
        lines.append(f"  {name:<18}  " + "  ".join(parts))
    return lines


def slice_members(features: dict[str, np.ndarray], feature: str, label: str) -> np.ndarray:
    """Indices of the images in slice `label` of `feature` (as `slice_accuracy` names them)."""
    if feature not in features:
        raise KeyError(f"no feature {feature!r}; choose from {', '.join(features)}")
    labels, index = bin_labels(feature, np.asarray(features[feature]))
    if label not in labels:
        raise KeyError(f"no slice {label!r} of {feature}; choose from {', '.join(labels)}")
    return np.flatnonzero(index == labels.index(label))


def compare_slices(features: dict[str, np.ndarray], correct: dict[str, np.ndarray], min_n: int = 10) -> list[dict]:
    """Where checkpoints differ most (a slice finder, as Zeno's): correct {name: (N,) bool sum
    correctness}; -> one row per slice with at least `min_n` images: feature, slice, n, each name's
    sum accuracy, and `gap` (best minus worst), sorted by gap, largest first."""
    names = list(correct)
    hits = {n: np.asarray(c, bool) for n, c in correct.items()}
    rows = []
    for feature, values in features.items():
        labels, index = bin_labels(feature, np.asarray(values))
        counts = np.bincount(index, minlength=len(labels))
        acc = {n: np.bincount(index, weights=h, minlength=len(labels)) / np.maximum(counts, 1) for n, h in hits.items()}
        for i, label in enumerate(labels):
            if counts[i] < min_n:
                continue
            row = {"feature": feature, "slice": label, "n": int(counts[i])}
            row.update({n: float(acc[n][i]) for n in names})
            row["gap"] = max(row[n] for n in names) - min(row[n] for n in names)
            rows.append(row)
    return sorted(rows, key=lambda r: -r["gap"])
