"""Where four ink boxes go along a row, for every preset (reading order kept, a digit never
cropped), and how a digit is pasted there."""
from __future__ import annotations

import numpy as np

MIN_CENTRE_STEP = 6      # px (on a 40 px tall canvas) between consecutive digits' x-centres


def place_row(widths: np.ndarray, gaps: np.ndarray, gap_floor: int, min_step: float, margin: int,
              width: int, rng: np.random.Generator, align: str = "left") -> np.ndarray | None:
    """Left x of each of the four ink boxes, or None when they cannot fit even when touching.
    Gaps are first clamped so each x-centre is `min_step` right of the previous; when the row is
    too wide, the margin shrinks first, then the gaps (to the preset's floor, then to the reading
    order bound)."""
    widths = np.asarray(widths, np.int64)
    order_floor = np.ceil(min_step - (widths[:-1] + widths[1:]) / 2).astype(np.int64)
    gaps = np.maximum(np.asarray(gaps, np.int64), order_floor)
    excess = int(widths.sum() + gaps.sum()) - width
    for floor in (np.maximum(order_floor, min(gap_floor, 0)), order_floor):
        if excess <= 0:
            break
        room = np.maximum(gaps - floor, 0)
        if room.sum() == 0:
            continue
        cut = np.minimum(np.ceil(room * min(excess / room.sum(), 1.0)).astype(np.int64), room)
        gaps, excess = gaps - cut, excess - int(cut.sum())
    if excess > 0:
        return None
    total = int(widths.sum() + gaps.sum())
    free = width - total
    if align == "left":
        x0 = min(margin, free)
    elif rng.random() < 0.5:                 # right-aligned, `margin` px from the right edge
        x0 = max(free - margin, 0)
    else:                                    # centred
        x0 = free // 2
    return x0 + np.concatenate([[0], np.cumsum(widths[:-1] + gaps)])


def paste_max(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Paste `patch` with its top-left at (x, y), in place; where digits overlap the brighter ink
    wins (max), as strokes drawn over one another do."""
    region = canvas[y:y + patch.shape[0], x:x + patch.shape[1]]
    np.maximum(region, patch, out=region)
