"""The `drawn` preset: digits of Hershey fonts drawn as pen strokes (a random pen width, slant, hand
tremor, unequal sizes, off-centre heights, crowded or spread-out spacing) black on white canvases
of several sizes, then inverted to white on black.

`course.load_dataset` needs one image size per folder, so each drawing keeps its own canvas and
pixels, and is padded with background (black) to the largest canvas (`DrawnPreset.stored_size`)
at a random offset: preprocessing crops to the ink, so the padding changes nothing the model sees,
and the strokes are never resized."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from digitsum.data.suite.placement import MIN_CENTRE_STEP, place_row
from digitsum.data.suite.presets import DrawnPreset, preset_rng
from digitsum.errors import DataError


def render_drawn(name: str, p: DrawnPreset, n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """-> one (images, digits) part per canvas size (n split evenly), each padded to `stored_size`."""
    glyph_sets, weights, min_pens, _ = hershey_fonts(p.fonts)
    rng = preset_rng(name, seed)
    digits = rng.integers(0, 10, (n, 4))
    fonts = rng.choice(len(glyph_sets), n, p=weights)       # one hand (font) per image
    SH, SW = p.stored_size
    counts = [n // len(p.canvases) + (k < n % len(p.canvases)) for k in range(len(p.canvases))]
    parts, start = [], 0
    for (H, W), count in zip(p.canvases, counts):
        images = np.zeros((count, SH, SW), np.uint8)
        for i in range(start, start + count):
            drawn = _draw_canvas(glyph_sets[fonts[i]], min_pens[fonts[i]], digits[i], H, W, p, rng)
            y, x = int(rng.integers(0, SH - H + 1)), int(rng.integers(0, SW - W + 1))
            images[i - start, y:y + H, x:x + W] = drawn
        parts.append((images, digits[start:start + count]))
        start += count
    return parts


def _draw_canvas(font: list[Glyph], min_pen: float, labels: np.ndarray, H: int, W: int,
                 p: DrawnPreset, rng: np.random.Generator) -> np.ndarray:
    """Four digits drawn black on a white H x W canvas -> (H, W) uint8, inverted to white on black."""
    heights = rng.uniform(*p.digit_height, 4) * H
    # duplex and triplex fonts draw a stroke as 2-3 parallel lines: a pen at least `min_pen` of
    # the digit height merges them into one stroke, as a hand draws it
    pen = max(1.0, rng.uniform(*p.pen) * H / 100, min_pen * heights.max())
    paths, boxes, xs = _lay_out_hand(font, labels, heights, pen, H, W, p, rng)
    return 255 - _draw_strokes(paths, boxes, xs, pen, H, W, rng)


def _lay_out_hand(font: list[Glyph], labels: np.ndarray, heights: np.ndarray, pen: float, H: int, W: int,
                  p: DrawnPreset, rng: np.random.Generator) -> tuple[list, np.ndarray, np.ndarray]:
    """One hand's four pen paths and where they go: -> (paths, ink boxes (4, 2) as w, h, left x).
    Writing that does not fit the canvas is made smaller, by the same hand, until it does."""
    base_slant = rng.uniform(-p.slant, p.slant)
    tremor = rng.uniform(*p.tremor)
    gap_range = p.crowded_gap if rng.random() < p.crowded_p else p.spread_gap
    for _ in range(30):
        paths = [_pen_path(font[d], h, pen, base_slant + rng.uniform(-p.slant_jitter, p.slant_jitter), tremor, rng)
                 for d, h in zip(labels, heights)]
        boxes = np.array([pts.max(0) + pen / 2 for pts, _ in paths])     # (w, h) of each digit's ink
        widths = np.ceil(boxes[:, 0]).astype(np.int64)
        gaps = np.round(rng.uniform(*gap_range, 3) * heights.mean()).astype(np.int64)
        xs = place_row(widths, gaps, int(round(p.crowded_gap[0] * heights.mean())), MIN_CENTRE_STEP * H / 40,
                       int(rng.uniform(*p.margin) * W), W - 1, rng)
        if xs is not None and boxes[:, 1].max() < H - 1:
            break
        heights *= 0.9       # too wide for this canvas: smaller handwriting, same hand
    return paths, boxes, xs


def _draw_strokes(paths: list, boxes: np.ndarray, xs: np.ndarray, pen: float, H: int, W: int,
                  rng: np.random.Generator) -> np.ndarray:
    """The pen paths drawn black on a white H x W canvas, each at a random height -> (H, W) uint8."""
    # drawn at twice the resolution, then averaged down: smooth edges, as a browser canvas gives
    k = 2
    image = Image.new("L", (W * k, H * k), 255)
    draw = ImageDraw.Draw(image)
    r = pen * k / 2
    for (pts, splits), box, x in zip(paths, boxes, xs):
        y = rng.uniform(0, H - 1 - box[1])
        for stroke in np.split((pts + (x, y)) * k, splits):
            draw.line(stroke.ravel().tolist(), fill=0, width=max(1, round(2 * r)))
            # a round pen: a disc at each point fills the wedges that PIL leaves where a broad line
            # turns (its joint="curve" does the same, several times slower); a thin pen needs them
            # only at its tips
            for px, py in stroke if r >= 2 else stroke[[0, -1]]:
                draw.ellipse((px - r, py - r, px + r, py + r), fill=0)
    return np.asarray(image.reduce(k))


@dataclass(frozen=True)
class Glyph:
    """A digit's strokes, densified, scaled to ink height 1 with the top-left ink corner at 0."""
    points: np.ndarray    # (k, 2) x, y (y down)
    arc: np.ndarray       # (k,) distance along the pen's path (in digit heights)
    splits: tuple         # where one stroke ends and the next begins, for np.split


@functools.lru_cache(maxsize=4)
def hershey_fonts(fonts: tuple) -> tuple[list[list[Glyph]], np.ndarray, np.ndarray, tuple[str, ...]]:
    """-> (for each usable font the glyphs of '0'..'9', font weights (sum 1), least pen widths,
    font names). Fonts that are not shipped, or lack any of the ten digits, are skipped; a font
    that draws them exactly as an earlier one does (rowmans and cursive draw futural's digits)
    adds its weight to that one."""
    try:
        from HersheyFonts import HersheyFonts
    except ImportError:
        raise DataError("the drawn suite set needs the hershey-fonts package: pip install hershey-fonts") from None
    font = HersheyFonts()
    raw, glyph_sets, weights, min_pens, names = [], [], [], [], []
    for name, weight, min_pen in fonts:
        if name not in font.default_font_names:
            continue
        font.load_default_font(name)
        digits = [[list(s) for s in font.strokes_for_text(d) if len(s) >= 2] for d in "0123456789"]
        if not all(digits) or min(np.ptp(np.concatenate(d)[:, 1]) for d in digits) < 5:
            continue      # a digit missing, or a glyph too flat to be a digit
        if digits in raw:
            weights[raw.index(digits)] += weight
            continue
        raw.append(digits)
        glyph_sets.append([_make_glyph(d) for d in digits])
        weights.append(weight)
        min_pens.append(min_pen)
        names.append(name)
    if not glyph_sets:
        raise DataError(f"none of the Hershey fonts {', '.join(f[0] for f in fonts)} has the ten digits")
    w = np.array(weights, np.float64)
    return glyph_sets, w / w.sum(), np.array(min_pens), tuple(names)


def _make_glyph(strokes: list[list[tuple[float, float]]], step: float = 0.04) -> Glyph:
    arrays = [np.array(s, np.float64) for s in strokes]
    pts = np.concatenate(arrays)
    lo, height = pts.min(0), max(np.ptp(pts[:, 1]), 1e-6)
    parts, arcs, travelled = [], [], 0.0
    for a in arrays:
        d = _densify((a - lo) / height, step)
        arc = travelled + np.concatenate([[0], np.cumsum(np.hypot(*np.diff(d, axis=0).T))])
        travelled = arc[-1] + 0.2          # the pen lifts and moves on
        parts.append(d)
        arcs.append(arc)
    splits = tuple(np.cumsum([len(d) for d in parts])[:-1].tolist())
    return Glyph(np.concatenate(parts), np.concatenate(arcs), splits)


def _densify(stroke: np.ndarray, step: float) -> np.ndarray:
    """A polyline with extra points so that none is more than `step` from the next."""
    seg = np.diff(stroke, axis=0)
    k = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / step)).astype(np.int64)
    idx = np.repeat(np.arange(len(seg)), k)
    j = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k) + 1
    return np.concatenate([stroke[:1], stroke[idx] + seg[idx] * (j / k[idx])[:, None]])


def _pen_path(glyph: Glyph, ink_h: float, pen: float, slant: float, tremor: float,
              rng: np.random.Generator) -> tuple[np.ndarray, tuple]:
    """A glyph as the hand draws it: (points in canvas px with the top-left of the ink, pen
    included, at 0; stroke splits). Slant shears it; tremor adds a smooth wobble along the path."""
    s = max(ink_h - pen, 1.0)
    p = glyph.points * s
    p[:, 0] += slant * (s - p[:, 1])                  # lean right going up
    amp = tremor * ink_h
    if amp > 0:
        t = glyph.arc * s
        for _ in range(3):
            wavelength = rng.uniform(0.3, 1.0) * ink_h
            phase = rng.uniform(0, 2 * math.pi, 2)
            p += amp / 2 * np.sin(2 * math.pi * t[:, None] / wavelength + phase)
    return p - (p.min(0) - pen / 2), glyph.splits
