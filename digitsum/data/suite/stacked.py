"""The `stacked` preset: MNIST digits transformed as in the MNIST presets, where in every image at
least one pair of neighbours is stacked, the two overlapping in x while one sits at the top of the
canvas and the other at the bottom. Reading order is by x-centre, as everywhere in the suite."""
from __future__ import annotations

import numpy as np

from digitsum.data.suite.mnist_sets import blur_and_noise, fit_patch, mnist_test_crops, shrink, transform_digit
from digitsum.data.suite.placement import MIN_CENTRE_STEP, paste_max, place_row
from digitsum.data.suite.presets import StackedPreset, preset_rng
from digitsum.errors import DataError


def render_stacked(name: str, p: StackedPreset, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each image: four transformed MNIST test digits; each neighbouring pair is stacked with
    probability `stacked_p` (at least one pair per image). A stacked pair overlaps in x by a share
    `overlap` of the narrower digit's width (less where the reading-order rule, x-centres at least
    `MIN_CENTRE_STEP` px apart, scaled to the canvas height, forbids it), and its two digits are
    shrunk until they fit one above the other; one is drawn `edge` px from the top, the other as
    far from the bottom. Other digits sit at random heights, `digits.gap` px from their neighbour.
    -> (images, digits, ink boxes (n, 4, 4) as x, y, width, height)."""
    crops, labels = mnist_test_crops()
    rng = preset_rng(name, seed)
    picks = rng.integers(0, len(crops), (n, 4))
    H, W = p.digits.height, p.digits.width
    images = np.zeros((n, H, W), np.uint8)
    boxes = np.zeros((n, 4, 4), np.int64)
    for i in range(n):
        digits = [fit_patch(transform_digit(crops[k], p.digits, rng), H, W // 4) for k in picks[i]]
        stacked = rng.random(3) < p.stacked_p
        if not stacked.any():
            stacked[rng.integers(0, 3)] = True
        _shrink_stacked_pairs(digits, stacked, H + p.max_overlap_y)
        roles = stacked_roles(stacked, rng)
        xs = _left_edges(digits, stacked, p, W, rng)
        if xs is None:       # cannot happen on a 200 px canvas of digits at most W/4 wide
            raise DataError(f"{name}: four digits do not fit on a {H}x{W} canvas")
        boxes[i] = _paste_by_role(images[i], digits, xs, roles, p, rng)
        blur_and_noise(images[i], p.digits, rng)
    return images, labels[picks], boxes


def stacked_roles(stacked: np.ndarray, rng: np.random.Generator) -> list[str | None]:
    """For each of the four digits: "high", "low" or None (free), given which of the three
    neighbouring pairs are stacked. The two digits of a stacked pair get opposite roles, so a
    chain of stacked pairs alternates high, low, high."""
    roles: list[str | None] = [None] * 4
    for j in np.nonzero(stacked)[0]:
        if roles[j] is None:
            roles[j] = "high" if rng.random() < 0.5 else "low"
        roles[j + 1] = "low" if roles[j] == "high" else "high"
    return roles


def _shrink_stacked_pairs(digits: list[np.ndarray], stacked: np.ndarray, max_height: int) -> None:
    """Shrink (in the list) both digits of each stacked pair until, one above the other, they are
    at most `max_height` px tall."""
    for j in np.nonzero(stacked)[0]:
        while digits[j].shape[0] + digits[j + 1].shape[0] > max_height:
            factor = max_height / (digits[j].shape[0] + digits[j + 1].shape[0])
            digits[j], digits[j + 1] = shrink(digits[j], factor), shrink(digits[j + 1], factor)


def _left_edges(digits: list[np.ndarray], stacked: np.ndarray, p: StackedPreset, W: int,
                rng: np.random.Generator) -> np.ndarray | None:
    """The digits' left x: free neighbours `digits.gap` apart, a stacked pair overlapping by a
    share `overlap` of the narrower one's width (a negative gap)."""
    d = p.digits
    widths = np.array([g.shape[1] for g in digits])
    gaps = rng.integers(d.gap[0], d.gap[1] + 1, 3)
    for j in np.nonzero(stacked)[0]:
        gaps[j] = -round(rng.uniform(*p.overlap) * min(widths[j], widths[j + 1]))
    min_step = MIN_CENTRE_STEP * d.height / 40
    return place_row(widths, gaps, d.gap[0], min_step, int(rng.integers(d.margin[0], d.margin[1] + 1)), W, rng)


def _paste_by_role(canvas: np.ndarray, digits: list[np.ndarray], xs: np.ndarray, roles: list[str | None],
                   p: StackedPreset, rng: np.random.Generator) -> np.ndarray:
    """Paste each digit at `xs` (in place): a high one `edge` px from the top, a low one as far
    from the bottom, a free one at a random height. -> ink boxes (4, 4) as x, y, width, height."""
    H = canvas.shape[0]
    boxes = np.zeros((4, 4), np.int64)
    for j, (g, x, role) in enumerate(zip(digits, xs, roles)):
        h = g.shape[0]
        if role == "high":
            y = int(rng.integers(p.edge[0], p.edge[1] + 1))
        elif role == "low":
            y = H - h - int(rng.integers(p.edge[0], p.edge[1] + 1))
        else:
            y = int(rng.integers(0, H - h + 1))
        y = min(max(y, 0), H - h)
        paste_max(canvas, g, x, y)
        boxes[j] = x, y, g.shape[1], h
    return boxes
