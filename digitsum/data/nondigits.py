"""Images that are not four digits, to measure whether a model knows when it cannot read.

Kinds (`NON_DIGIT_KINDS`): pixel noise; four handwritten-looking letters (Hershey fonts, letters
that do not look like digits); shapes and scribbles; one, two, three, five or six MNIST test
digits; a blank page with a speck. Each is black on white at a size of its own, as an upload is.
Deterministic for (n, seed).
"""
from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw

from digitsum.errors import DataError

# letters whose shapes no digit shares (no O, l, I, S, Z, B, G, b, g, q, z, s)
LETTERS = "ACEFHKMNPRTUVWXYacefhkmnprtuvwxy"
NON_DIGIT_KINDS = ("noise", "letters", "shapes", "few_digits", "many_digits", "speck")


def render_non_digits(n: int, seed: int = 0) -> tuple[list[np.ndarray], list[str]]:
    """-> (n images, uint8 gray (H, W) black ink on white, of several sizes; the kind of each)."""
    if n <= 0:
        raise DataError("the number of images must be positive")
    rng = np.random.default_rng([seed, 7_010_101])
    kinds = [NON_DIGIT_KINDS[i % len(NON_DIGIT_KINDS)] for i in range(n)]
    return [_RENDER[k](rng) for k in kinds], kinds


def _paper(rng) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    h = int(rng.integers(60, 200))
    im = Image.new("L", (int(h * rng.uniform(2.5, 5)), h), 255)
    return im, ImageDraw.Draw(im)


def _noise(rng) -> np.ndarray:
    h = int(rng.integers(40, 200))
    shape = (h, int(h * rng.uniform(2.5, 5)))
    style = rng.integers(3)
    if style == 0:                                   # salt and pepper, 10-50 %
        return np.where(rng.random(shape) < rng.uniform(0.1, 0.5), 0, 255).astype(np.uint8)
    if style == 1:                                   # uniform noise
        return rng.integers(0, 256, shape).astype(np.uint8)
    return np.clip(rng.normal(128, rng.uniform(20, 80), shape), 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def _letter_strokes() -> dict[str, list[np.ndarray]]:
    try:
        from HersheyFonts import HersheyFonts
    except ImportError:
        raise DataError("the letters set needs the hershey-fonts package: pip install hershey-fonts") from None
    font = HersheyFonts()
    font.load_default_font("futural")
    return {c: [np.array(s, float) for s in font.strokes_for_text(c) if len(s) >= 2] for c in LETTERS}


def _letters(rng) -> np.ndarray:
    im, draw = _paper(rng)
    strokes = _letter_strokes()
    size = im.height * rng.uniform(0.4, 0.7)
    pen = max(1, round(size * rng.uniform(0.05, 0.12)))
    x = im.width * rng.uniform(0.02, 0.15)
    for c in rng.choice(list(LETTERS), 4):
        pts = np.concatenate(strokes[c])
        lo, hi = pts.min(0), pts.max(0)
        k = size / max(hi[1] - lo[1], 1e-6)
        y = rng.uniform(0.05, 0.95) * (im.height - size)
        for s in strokes[c]:
            p = (s - lo) * k + (x, y)
            draw.line(p.ravel().tolist(), fill=0, width=pen, joint="curve")
        x += (hi[0] - lo[0]) * k + size * rng.uniform(0.1, 0.5)
    return np.asarray(im)


def _shapes(rng) -> np.ndarray:
    im, draw = _paper(rng)
    h, w = im.height, im.width
    pen = max(1, round(h * rng.uniform(0.02, 0.08)))
    for _ in range(int(rng.integers(1, 6))):
        x0, y0 = rng.uniform(0, w * 0.8), rng.uniform(0, h * 0.6)
        x1, y1 = x0 + rng.uniform(0.1, 0.5) * w, y0 + rng.uniform(0.2, 0.9) * h
        kind = rng.integers(4)
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), outline=0, width=pen)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), outline=0, width=pen)
        elif kind == 2:
            draw.polygon([(x0, y1), ((x0 + x1) / 2, y0), (x1, y1)], outline=0, width=pen)
        else:                                        # a scribble: a random smooth walk
            t = np.linspace(0, 1, 60)
            xs = x0 + (x1 - x0) * t
            ys = y0 + (y1 - y0) * (0.5 + 0.5 * np.sin(2 * math.pi * rng.uniform(1, 6) * t + rng.uniform(0, 6)))
            draw.line(list(zip(xs, ys)), fill=0, width=pen, joint="curve")
    return np.asarray(im)


def _digits_row(rng, count: int) -> np.ndarray:
    from digitsum.data.mnist import load_mnist
    images, _ = load_mnist("test")
    gap = int(rng.integers(0, 12))
    row = np.zeros((28, count * (28 + gap) + 8), np.uint8)
    for i, k in enumerate(rng.integers(0, len(images), count)):
        region = row[:, 4 + i * (28 + gap):4 + i * (28 + gap) + 28]
        np.maximum(region, images[k], out=region)
    scale = rng.uniform(1, 4)
    big = Image.fromarray(255 - row).resize((round(row.shape[1] * scale), round(28 * scale)), Image.Resampling.BILINEAR)
    return np.asarray(big)


def _few_digits(rng) -> np.ndarray:
    return _digits_row(rng, int(rng.integers(1, 4)))


def _many_digits(rng) -> np.ndarray:
    return _digits_row(rng, int(rng.integers(5, 7)))


def _speck(rng) -> np.ndarray:
    im, draw = _paper(rng)
    x, y, r = rng.uniform(0, im.width), rng.uniform(0, im.height), rng.uniform(1, 3)
    draw.ellipse((x - r, y - r, x + r, y + r), fill=0)
    return np.asarray(im)


_RENDER = {"noise": _noise, "letters": _letters, "shapes": _shapes, "few_digits": _few_digits,
           "many_digits": _many_digits, "speck": _speck}
