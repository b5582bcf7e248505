"""An independent robustness suite: four-digit test images laid out by rules of its own.

The models train on the batched torch generator in `digitsum.data.synth`. This module shares no code
with it (it does not import it): it is a plain PIL/numpy renderer, used for test sets only, that
pastes MNIST *test* digits (or pen strokes of Hershey font digits, preset `drawn`) by the rules of
a named preset in `SUITE_PRESETS`, so that a model can be scored on layouts it never saw.

For an MNIST preset each image is built so:
  1. four random MNIST test digits, each cropped to its ink bounding box;
  2. per digit: size (a scale factor, or a target ink height in px), rotation and shear (one PIL
     affine resampling), stroke width (PIL MaxFilter / MinFilter), ink intensity;
  3. left to right: a left margin, gaps measured between the ink boxes (negative = overlap,
     blended by max), each digit at its own random height on the canvas. Reading order is kept:
     each digit's x-centre is at least `MIN_CENTRE_STEP` px right of the previous one's (a gap is
     clamped up to ensure it). Margins, then gaps, shrink until the four fit; a digit is never
     cropped;
  4. per image: blur, Gaussian pixel noise.

Output is the course format: (N, H, W) uint8 white ink on black, sums (N,), digits (N, 4).
Everything is deterministic for (preset, n, seed).

`stacked` (a `StackedPreset`) transforms MNIST digits as above on a noisy 48x200 canvas, but
places them by rules of its own: in every image at least one pair of neighbours is *stacked*, the
two overlapping in x while one sits at the top of the canvas and the other at the bottom (see
`_render_stacked`). Reading order is by x-centre, as everywhere in the suite.

`photo_page` photographs course-layout images on a page with its edge and the table beyond it in
the frame (`digitsum.data.photo.photograph_page`); `photo` fills the frame with paper.

`drawn` renders digits as pen strokes on white canvases of several sizes (a random pen width,
slant, hand tremor, unequal sizes, off-centre heights, crowded or spread-out spacing), then inverts
them to white on black. `realdata.load_dataset` needs one image size per folder, so each drawing
keeps its own canvas and pixels, and is padded with background (black) to the largest canvas
(`DrawnPreset.stored_size`) at a random offset: preprocessing crops to the ink, so the padding
changes nothing the model sees, and the strokes are never resized. Each canvas size gets its own
file suffix (data0.npy for the first canvas size, ...); `suite.json` records which is which.
"""
from __future__ import annotations

import functools
import json
import math
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from digitsum.errors import DataError
from digitsum.data.photo import PageLook, PhotoLook, photograph, photograph_page

SUITE_VERSION = 1        # bump when a preset or the renderer changes: cached sets are keyed by it
MIN_CENTRE_STEP = 6      # px (on a 40 px tall canvas) between consecutive digits' x-centres
MANIFEST = "suite.json"


@dataclass(frozen=True)
class MnistPreset:
    """A suite set built from cropped MNIST test digits. Ranges are (low, high), inclusive."""
    description: str
    height: int = 40
    width: int = 168
    align: str = "left"                 # "left": margin then digits; "right_or_centre": see `margin`
    margin: tuple[int, int] = (0, 16)   # px before the first digit's ink ("left"); from the right edge
                                        # to the last digit's ink ("right_or_centre", when right-aligned)
    gap: tuple[int, int] = (-4, 30)     # px between consecutive ink boxes; negative = overlap
    digit_height: tuple[float, float] | None = None  # target ink height in px; None = native MNIST
    scale: tuple[float, float] = (1.0, 1.0)          # size factor (on top of digit_height)
    rotation: float = 0.0               # max degrees, either way
    shear: float = 0.0                  # max horizontal shear factor, either way
    thicken_p: float = 0.0              # per digit: thicker strokes (max filter)
    thin_p: float = 0.0                 # per digit: thinner strokes (min filter at 2x resolution)
    faint_p: float = 0.0                # per digit: peak ink drawn from `ink`
    ink: tuple[float, float] = (1.0, 1.0)
    noise_p: float = 0.0                # per image: Gaussian pixel noise, std drawn from `noise_std`
    noise_std: tuple[float, float] = (0.0, 0.0)   # in units of full white (255)
    blur_p: float = 0.0                 # per image: Gaussian blur, radius drawn from `blur_radius`
    blur_radius: tuple[float, float] = (0.5, 1.0)

    @property
    def stored_size(self) -> tuple[int, int]:
        return self.height, self.width


@dataclass(frozen=True)
class DrawnPreset:
    """Pen-stroke digits from Hershey fonts, black ink on white canvases, stored inverted.
    Lengths in px are given for a 100 px tall canvas and scale with the canvas height."""
    description: str
    canvases: tuple[tuple[int, int], ...] = ((100, 400), (160, 672), (60, 240), (120, 360))  # (H, W)
    # (Hershey font, weight, least pen width / digit height). rowmans and cursive draw the digits as
    # futural does (single strokes); futuram (duplex), scripts (italic) and timesr (serif) draw
    # strokes as 2-3 parallel lines, gothiceng as several: a broad enough pen merges them
    fonts: tuple[tuple[str, float, float], ...] = (
        ("futural", 2.0, 0.0), ("rowmans", 1.0, 0.0), ("cursive", 1.0, 0.0), ("scripts", 2.0, 0.08),
        ("futuram", 1.0, 0.08), ("timesr", 1.0, 0.12), ("gothiceng", 0.5, 0.12))
    pen: tuple[float, float] = (1.0, 6.0)            # pen width, px at 100 px canvas height
    digit_height: tuple[float, float] = (0.5, 0.9)   # each digit's ink height / canvas height
    slant: float = 0.35                 # max shear of the handwriting (per image), either way
    slant_jitter: float = 0.08          # per-digit variation of the slant
    tremor: tuple[float, float] = (0.0, 0.025)       # amplitude of the hand's wobble / digit height
    crowded_p: float = 0.4              # per image: crowded spacing, else spread out
    crowded_gap: tuple[float, float] = (-0.15, 0.03)  # gap / mean digit height
    spread_gap: tuple[float, float] = (0.05, 0.7)
    margin: tuple[float, float] = (0.02, 0.3)        # left margin / canvas width

    @property
    def stored_size(self) -> tuple[int, int]:
        return max(h for h, _ in self.canvases), max(w for _, w in self.canvases)


@dataclass(frozen=True)
class StackedPreset:
    """MNIST test digits transformed by `digits` (its size, rotation, strokes, ink, noise and
    canvas; its `gap` is the gap between neighbours that are not stacked), where some neighbours
    are stacked: they overlap in x, one at the top of the canvas and one at the bottom."""
    description: str
    digits: MnistPreset
    stacked_p: float = 0.4              # per neighbouring pair; every image has at least one
    overlap: tuple[float, float] = (0.2, 0.8)   # a stacked pair's overlap in x / the narrower width
    edge: tuple[int, int] = (0, 2)      # px from a stacked digit to the top (or bottom) edge
    max_overlap_y: int = 2              # px: a stacked pair taller than the canvas plus this is shrunk

    @property
    def stored_size(self) -> tuple[int, int]:
        return self.digits.stored_size


@dataclass(frozen=True)
class PhotoPreset:
    """Photos of course-layout images (`base`, MNIST test digits): black ink on unevenly lit
    paper, rotated, blurred, noisy and JPEG-compressed (see `digitsum.data.photo`). Stored as photos
    are, dark ink on light paper: preprocessing must find the ink. A `PageLook` photographs the
    page with its edge and the table beyond it (`photograph_page`), a `PhotoLook` fills the frame
    with paper (`photograph`)."""
    description: str
    base: MnistPreset = MnistPreset("the course layout")
    look: PhotoLook | PageLook = PhotoLook()

    @property
    def stored_size(self) -> tuple[int, int]:
        return self.look.size


Preset = MnistPreset | DrawnPreset | PhotoPreset | StackedPreset

SUITE_PRESETS: dict[str, Preset] = {
    "course": MnistPreset("the course layout: 40x168, margin 0-16 px, gaps -4..30 px, native size"),
    "margin": MnistPreset("the four digits right-aligned (0-6 px from the right edge) or centred, gaps 0..12 px",
                          align="right_or_centre", margin=(0, 6), gap=(0, 12)),
    "crowded": MnistPreset("heavy overlap: gaps -8..0 px", margin=(0, 16), gap=(-8, 0)),
    "sparse": MnistPreset("spread out: gaps 20..40 px (shrunk to fit), margin 0-8 px", margin=(0, 8), gap=(20, 40)),
    "small": MnistPreset("small digits, 14-17 px of ink", digit_height=(14, 17)),
    "large": MnistPreset("large digits, 24-28 px of ink", margin=(0, 12), gap=(-4, 20), digit_height=(24, 28)),
    "shifted": MnistPreset("48x200, rotation ±15°, scale 0.8-1.25, shear, thicker/thinner strokes, faint ink, "
                           "noise, blur", height=48, width=200, margin=(0, 24), gap=(-6, 30),
                           scale=(0.8, 1.25), rotation=15, shear=0.2, thicken_p=0.25, thin_p=0.25,
                           faint_p=0.6, ink=(0.3, 1.0), noise_p=0.7, noise_std=(0.03, 0.12), blur_p=0.3),
    "drawn": DrawnPreset("pen strokes of Hershey font digits on 100x400, 160x672, 60x240 and 120x360 canvases, "
                         "stored padded to 160x672"),
    "photo": PhotoPreset("course-layout images photographed: 160x560 dark ink on paper, gradient light, vignette, "
                         "shadows, texture, rotation ±3°, blur, noise, JPEG quality 30-90"),
    "stacked": StackedPreset(
        "48x200 noisy canvas, rotation ±14°, scale 0.8-1.2, thicker/thinner strokes, faint ink; in every image "
        "one or more neighbouring pairs overlap in x, one digit high and one low",
        MnistPreset("the digits of `stacked`", height=48, width=200, margin=(0, 24), gap=(-2, 26), scale=(0.8, 1.2),
                    rotation=14, thicken_p=0.25, thin_p=0.25, faint_p=0.6, ink=(0.3, 1.0), noise_p=1.0,
                    noise_std=(0.03, 0.12), blur_p=0.3)),
    "photo_page": PhotoPreset("course-layout images photographed on a page: 360x960, dark ink at 3-8x, the page's "
                              "edge (or corner) and the table in the frame, the line turned ±10°, mild perspective, "
                              "uneven light, shadows, blur, noise, JPEG quality 30-90", look=PageLook()),
}


def _rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def get_preset(name: str) -> Preset:
    if name not in SUITE_PRESETS:
        raise DataError(f"unknown suite preset {name!r}: choose one of {', '.join(SUITE_PRESETS)}")
    return SUITE_PRESETS[name]


# ---------------------------------------------------------------------------------------------
# placement (shared by both kinds of preset)

def _place(widths: np.ndarray, gaps: np.ndarray, gap_floor: int, min_step: float, margin: int,
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


# ---------------------------------------------------------------------------------------------
# MNIST presets

@functools.lru_cache(maxsize=1)
def _mnist_test_crops() -> tuple[list[np.ndarray], np.ndarray]:
    """Every MNIST test digit cropped to its ink bounding box, and the labels."""
    from digitsum.data.mnist import load_mnist
    images, labels = load_mnist("test")
    rows, cols = images.any(2), images.any(1)
    top, bottom = rows.argmax(1), 28 - rows[:, ::-1].argmax(1)
    left, right = cols.argmax(1), 28 - cols[:, ::-1].argmax(1)
    crops = [im[t:b, l:r] for im, t, b, l, r in zip(images, top, bottom, left, right)]
    return crops, labels.astype(np.int64)


def _ink_crop(a: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(a.any(1))[0], np.nonzero(a.any(0))[0]
    if len(rows) == 0:
        return a[:1, :1]
    return a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _transform_digit(crop: np.ndarray, p: MnistPreset, rng: np.random.Generator) -> np.ndarray:
    """One cropped digit -> the preset's size, rotation, shear, stroke width and ink, re-cropped."""
    h, w = crop.shape
    scale = rng.uniform(*p.scale)
    if p.digit_height is not None:
        scale *= rng.uniform(*p.digit_height) / h
    angle = rng.uniform(-p.rotation, p.rotation) if p.rotation else 0.0
    shear = rng.uniform(-p.shear, p.shear) if p.shear else 0.0
    im = Image.fromarray(crop)
    if angle or shear:
        # one affine resampling: scale, then rotate, then shear x by y, about the patch centre
        t = math.radians(angle)
        fwd = np.array([[1, shear], [0, 1]]) @ np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]]) \
            @ np.diag([scale, scale])
        corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [-w / 2, h / 2], [w / 2, h / 2]]) @ fwd.T
        out_w, out_h = (int(math.ceil(v)) + 2 for v in corners.max(0) - corners.min(0))
        inv = np.linalg.inv(fwd)
        # output pixel (x, y) -> input: inv @ ((x, y) - out centre) + in centre
        c = np.array([w / 2, h / 2]) - inv @ np.array([out_w / 2, out_h / 2])
        im = im.transform((out_w, out_h), Image.Transform.AFFINE,
                          (inv[0, 0], inv[0, 1], c[0], inv[1, 0], inv[1, 1], c[1]), Image.Resampling.BILINEAR)
    elif abs(scale - 1) > 1e-3:
        im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
    u = rng.random()
    if u < p.thicken_p:
        im = _pad(im, 1).filter(ImageFilter.MaxFilter(3))
    elif u < p.thicken_p + p.thin_p:
        # erode by half a pixel: a 3x3 min filter at twice the resolution; a digit it would
        # erase keeps its strokes
        big = im.resize((im.width * 2, im.height * 2), Image.Resampling.BILINEAR).filter(ImageFilter.MinFilter(3))
        thin = big.resize(im.size, Image.Resampling.BOX)
        if np.asarray(thin).max() >= 128:
            im = thin
    out = np.asarray(im)
    if p.faint_p and rng.random() < p.faint_p:
        out = (out.astype(np.float32) * rng.uniform(*p.ink)).round().astype(np.uint8)
    return _ink_crop(out)


def _pad(im: Image.Image, k: int) -> Image.Image:
    out = Image.new(im.mode, (im.width + 2 * k, im.height + 2 * k), 0)
    out.paste(im, (k, k))
    return out


def _render_mnist(name: str, p: MnistPreset, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    crops, labels = _mnist_test_crops()
    rng = _rng(name, seed)
    picks = rng.integers(0, len(crops), (n, 4))
    H, W = p.height, p.width
    plain = p.digit_height is None and p.scale == (1.0, 1.0) and not (
        p.rotation or p.shear or p.thicken_p or p.thin_p or p.faint_p)
    images = np.zeros((n, H, W), np.uint8)
    min_step = MIN_CENTRE_STEP * H / 40
    for i in range(n):
        digits = [crops[k] if plain else _transform_digit(crops[k], p, rng) for k in picks[i]]
        while True:
            # a digit taller or wider than the canvas allows is shrunk (never cropped)
            digits = [_fit_patch(d, H, W // 4) for d in digits]
            widths = np.array([d.shape[1] for d in digits])
            gaps = rng.integers(p.gap[0], p.gap[1] + 1, 3)
            xs = _place(widths, gaps, p.gap[0], min_step, int(rng.integers(p.margin[0], p.margin[1] + 1)), W,
                        rng, p.align)
            if xs is not None:
                break
            digits = [_shrink(d, 0.9) for d in digits]
        canvas = images[i]
        for d, x in zip(digits, xs):
            y = int(rng.integers(0, H - d.shape[0] + 1))
            region = canvas[y:y + d.shape[0], x:x + d.shape[1]]
            np.maximum(region, d, out=region)
        _blur_and_noise(canvas, p, rng)
    return images, labels[picks]


def _blur_and_noise(canvas: np.ndarray, p: MnistPreset, rng: np.random.Generator) -> None:
    """The per-image blur and pixel noise of preset `p`, in place."""
    if p.blur_p and rng.random() < p.blur_p:
        canvas[:] = np.asarray(Image.fromarray(canvas).filter(ImageFilter.GaussianBlur(rng.uniform(*p.blur_radius))))
    if p.noise_p and rng.random() < p.noise_p:
        noise = rng.standard_normal(canvas.shape, dtype=np.float32) * (255 * rng.uniform(*p.noise_std))
        canvas[:] = (canvas + noise).clip(0, 255).round().astype(np.uint8)


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


def _render_stacked(name: str, p: StackedPreset, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each image: four transformed MNIST test digits; each neighbouring pair is stacked with
    probability `stacked_p` (at least one pair per image). A stacked pair overlaps in x by a share
    `overlap` of the narrower digit's width (less where the reading-order rule, x-centres at least
    `MIN_CENTRE_STEP` px apart, scaled to the canvas height, forbids it), and its two digits are
    shrunk until they fit one above the other; one is drawn `edge` px from the top, the other as
    far from the bottom. Other digits sit at random heights, `digits.gap` px from their neighbour.
    -> (images, digits, ink boxes (n, 4, 4) as x, y, width, height)."""
    crops, labels = _mnist_test_crops()
    d = p.digits
    rng = _rng(name, seed)
    picks = rng.integers(0, len(crops), (n, 4))
    H, W = d.height, d.width
    min_step = MIN_CENTRE_STEP * H / 40
    images = np.zeros((n, H, W), np.uint8)
    boxes = np.zeros((n, 4, 4), np.int64)
    for i in range(n):
        digits = [_fit_patch(_transform_digit(crops[k], d, rng), H, W // 4) for k in picks[i]]
        stacked = rng.random(3) < p.stacked_p
        if not stacked.any():
            stacked[rng.integers(0, 3)] = True
        for j in np.nonzero(stacked)[0]:
            while digits[j].shape[0] + digits[j + 1].shape[0] > H + p.max_overlap_y:
                factor = (H + p.max_overlap_y) / (digits[j].shape[0] + digits[j + 1].shape[0])
                digits[j], digits[j + 1] = _shrink(digits[j], factor), _shrink(digits[j + 1], factor)
        roles = stacked_roles(stacked, rng)
        widths = np.array([g.shape[1] for g in digits])
        gaps = rng.integers(d.gap[0], d.gap[1] + 1, 3)
        for j in np.nonzero(stacked)[0]:
            gaps[j] = -round(rng.uniform(*p.overlap) * min(widths[j], widths[j + 1]))
        xs = _place(widths, gaps, d.gap[0], min_step, int(rng.integers(d.margin[0], d.margin[1] + 1)), W, rng)
        if xs is None:       # cannot happen on a 200 px canvas of digits at most W/4 wide
            raise DataError(f"{name}: four digits do not fit on a {H}x{W} canvas")
        canvas = images[i]
        for j, (g, x, role) in enumerate(zip(digits, xs, roles)):
            h = g.shape[0]
            if role == "high":
                y = int(rng.integers(p.edge[0], p.edge[1] + 1))
            elif role == "low":
                y = H - h - int(rng.integers(p.edge[0], p.edge[1] + 1))
            else:
                y = int(rng.integers(0, H - h + 1))
            y = min(max(y, 0), H - h)
            region = canvas[y:y + h, x:x + g.shape[1]]
            np.maximum(region, g, out=region)
            boxes[i, j] = x, y, g.shape[1], h
        _blur_and_noise(canvas, d, rng)
    return images, labels[picks], boxes


def _shrink(d: np.ndarray, factor: float) -> np.ndarray:
    h, w = d.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(d).resize(size, Image.Resampling.BOX))


def _fit_patch(d: np.ndarray, max_h: int, max_w: int) -> np.ndarray:
    h, w = d.shape
    return d if h <= max_h and w <= max_w else _shrink(d, min(max_h / h, max_w / w))


# ---------------------------------------------------------------------------------------------
# drawn preset: Hershey font digits as pen strokes

@dataclass(frozen=True)
class _Glyph:
    """A digit's strokes, densified, scaled to ink height 1 with the top-left ink corner at 0."""
    points: np.ndarray    # (k, 2) x, y (y down)
    arc: np.ndarray       # (k,) distance along the pen's path (in digit heights)
    splits: tuple         # where one stroke ends and the next begins, for np.split


@functools.lru_cache(maxsize=4)
def _hershey_fonts(fonts: tuple) -> tuple[list[list[_Glyph]], np.ndarray, np.ndarray, tuple[str, ...]]:
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


def _make_glyph(strokes: list[list[tuple[float, float]]], step: float = 0.04) -> _Glyph:
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
    return _Glyph(np.concatenate(parts), np.concatenate(arcs), splits)


def _densify(stroke: np.ndarray, step: float) -> np.ndarray:
    """A polyline with extra points so that none is more than `step` from the next."""
    seg = np.diff(stroke, axis=0)
    k = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / step)).astype(np.int64)
    idx = np.repeat(np.arange(len(seg)), k)
    j = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k) + 1
    return np.concatenate([stroke[:1], stroke[idx] + seg[idx] * (j / k[idx])[:, None]])


def _pen_path(glyph: _Glyph, ink_h: float, pen: float, slant: float, tremor: float,
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


def _render_drawn_canvas(font: list[_Glyph], min_pen: float, labels: np.ndarray, H: int, W: int,
                         p: DrawnPreset, rng: np.random.Generator) -> np.ndarray:
    """Four digits drawn black on a white H x W canvas -> (H, W) uint8, inverted to white on black."""
    heights = rng.uniform(*p.digit_height, 4) * H
    # duplex and triplex fonts draw a stroke as 2-3 parallel lines: a pen at least `min_pen` of
    # the digit height merges them into one stroke, as a hand draws it
    pen = max(1.0, rng.uniform(*p.pen) * H / 100, min_pen * heights.max())
    base_slant = rng.uniform(-p.slant, p.slant)
    tremor = rng.uniform(*p.tremor)
    gap_range = p.crowded_gap if rng.random() < p.crowded_p else p.spread_gap
    for _ in range(30):
        paths = [_pen_path(font[d], h, pen, base_slant + rng.uniform(-p.slant_jitter, p.slant_jitter), tremor, rng)
                 for d, h in zip(labels, heights)]
        boxes = np.array([pts.max(0) + pen / 2 for pts, _ in paths])     # (w, h) of each digit's ink
        widths = np.ceil(boxes[:, 0]).astype(np.int64)
        gaps = np.round(rng.uniform(*gap_range, 3) * heights.mean()).astype(np.int64)
        xs = _place(widths, gaps, int(round(p.crowded_gap[0] * heights.mean())), MIN_CENTRE_STEP * H / 40,
                    int(rng.uniform(*p.margin) * W), W - 1, rng)
        if xs is not None and boxes[:, 1].max() < H - 1:
            break
        heights *= 0.9       # too wide for this canvas: smaller handwriting, same hand
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
    black_on_white = np.asarray(image.reduce(k))
    return 255 - black_on_white


def _render_drawn(name: str, p: DrawnPreset, n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """-> one (images, digits) part per canvas size (n split evenly), each padded to `stored_size`."""
    glyph_sets, weights, min_pens, _ = _hershey_fonts(p.fonts)
    rng = _rng(name, seed)
    digits = rng.integers(0, 10, (n, 4))
    fonts = rng.choice(len(glyph_sets), n, p=weights)       # one hand (font) per image
    SH, SW = p.stored_size
    counts = [n // len(p.canvases) + (k < n % len(p.canvases)) for k in range(len(p.canvases))]
    parts, start = [], 0
    for (H, W), count in zip(p.canvases, counts):
        images = np.zeros((count, SH, SW), np.uint8)
        for i in range(start, start + count):
            drawn = _render_drawn_canvas(glyph_sets[fonts[i]], min_pens[fonts[i]], digits[i], H, W, p, rng)
            y, x = int(rng.integers(0, SH - H + 1)), int(rng.integers(0, SW - W + 1))
            images[i - start, y:y + H, x:x + W] = drawn
        parts.append((images, digits[start:start + count]))
        start += count
    return parts


# ---------------------------------------------------------------------------------------------
# public interface

def render_parts(name: str, n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Render suite set `name`: a list of (images (k, H, W) uint8 white on black, digits (k, 4))
    parts, one per file to write (one for MNIST presets, one per canvas size for `drawn`), all of
    the preset's `stored_size`. Deterministic for (name, n, seed)."""
    p = get_preset(name)
    if n <= 0:
        raise DataError("the number of images must be positive")
    if isinstance(p, DrawnPreset):
        return [part for part in _render_drawn(name, p, n, seed) if len(part[0])]
    if isinstance(p, PhotoPreset):
        images, digits = _render_mnist(name, p.base, n, seed)
        rng = _rng(name + "/photo", seed)
        shoot = photograph_page if isinstance(p.look, PageLook) else photograph
        return [(np.stack([shoot(im, p.look, rng) for im in images]), digits)]
    if isinstance(p, StackedPreset):
        return [_render_stacked(name, p, n, seed)[:2]]
    return [_render_mnist(name, p, n, seed)]


def render(name: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Render suite set `name` -> (images (n, H, W) uint8 white on black, digits (n, 4) int64)."""
    parts = render_parts(name, n, seed)
    return np.concatenate([im for im, _ in parts]), np.concatenate([d for _, d in parts])


def write_suite_set(name: str, n: int, seed: int, folder) -> list[Path]:
    """Render suite set `name` into `folder` in the course format (data{k}/lab{k}/digits{k}.npy,
    k = 0, 1, ...) plus suite.json, which records the preset and what each file holds."""
    from digitsum.data.course import save_course_dataset
    p = get_preset(name)
    folder = Path(folder)
    parts = render_parts(name, n, seed)
    stale = [f.name for f in sorted(folder.glob("data*.npy")) if f.name not in {f"data{k}.npy" for k in range(len(parts))}]
    if stale:
        raise DataError(f"{folder}: already holds {stale[0]}, which would be mixed into this set; use an empty folder")
    written = []
    files = []
    for k, (images, digits) in enumerate(parts):
        written += save_course_dataset(folder, images, digits.sum(1), digits, suffix=str(k))
        entry = {"suffix": str(k), "n": int(len(images))}
        if isinstance(p, DrawnPreset):
            entry["canvas"] = list(p.canvases[k])     # drawn on this canvas, then padded to `size`
        files.append(entry)
    manifest = {"preset": name, "n": n, "seed": seed, "version": SUITE_VERSION,
                "size": list(p.stored_size), "files": files, "parameters": asdict(p)}
    if isinstance(p, DrawnPreset):
        manifest["fonts_used"] = list(_hershey_fonts(p.fonts)[3])
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return written + [folder / MANIFEST]


def cached_suite_set(name: str, n: int, seed: int, cache_dir) -> Path:
    """The folder of suite set (name, n, seed) under `cache_dir`, rendered there once (written
    to a temporary folder, then renamed into place, so a killed run leaves no half set)."""
    from digitsum.storage.atomic import atomic_folder
    get_preset(name)
    folder = Path(cache_dir) / f"{name}-n{n}-seed{seed}-v{SUITE_VERSION}"
    if not (folder / MANIFEST).is_file():
        with atomic_folder(folder) as tmp:
            write_suite_set(name, n, seed, tmp)
    return folder
