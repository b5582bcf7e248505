"""The MNIST presets: four cropped MNIST test digits per image, each resized, turned, sheared,
thickened or thinned and faded by the preset's rules, laid out left to right on a black canvas,
then blurred and noised. The digit transforms serve `stacked` too."""
from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageFilter

from digitsum.data.suite.placement import MIN_CENTRE_STEP, paste_max, place_row
from digitsum.data.suite.presets import MnistPreset, preset_rng


@functools.lru_cache(maxsize=1)
def mnist_test_crops() -> tuple[list[np.ndarray], np.ndarray]:
    """Every MNIST test digit cropped to its ink bounding box, and the labels."""
    from digitsum.data.mnist import load_mnist
    images, labels = load_mnist("test")
    rows, cols = images.any(2), images.any(1)
    top, bottom = rows.argmax(1), 28 - rows[:, ::-1].argmax(1)
    left, right = cols.argmax(1), 28 - cols[:, ::-1].argmax(1)
    crops = [im[t:b, l:r] for im, t, b, l, r in zip(images, top, bottom, left, right)]
    return crops, labels.astype(np.int64)


def render_mnist(name: str, p: MnistPreset, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """-> (images (n, H, W) uint8 white on black, digits (n, 4))."""
    crops, labels = mnist_test_crops()
    rng = preset_rng(name, seed)
    picks = rng.integers(0, len(crops), (n, 4))
    plain = p.digit_height is None and p.scale == (1.0, 1.0) and not (
        p.rotation or p.shear or p.thicken_p or p.thin_p or p.faint_p)
    images = np.zeros((n, p.height, p.width), np.uint8)
    for i in range(n):
        digits = [crops[k] if plain else transform_digit(crops[k], p, rng) for k in picks[i]]
        _paste_row(images[i], digits, p, rng)
        blur_and_noise(images[i], p, rng)
    return images, labels[picks]


def _paste_row(canvas: np.ndarray, digits: list[np.ndarray], p: MnistPreset, rng: np.random.Generator) -> None:
    """The four digits left to right on `canvas` (in place), each at a random height. A digit taller
    or wider than the canvas allows is shrunk, and four that do not fit side by side are shrunk
    together, never cropped."""
    H, W = canvas.shape
    min_step = MIN_CENTRE_STEP * H / 40
    while True:
        digits = [fit_patch(d, H, W // 4) for d in digits]
        widths = np.array([d.shape[1] for d in digits])
        gaps = rng.integers(p.gap[0], p.gap[1] + 1, 3)
        xs = place_row(widths, gaps, p.gap[0], min_step, int(rng.integers(p.margin[0], p.margin[1] + 1)), W,
                       rng, p.align)
        if xs is not None:
            break
        digits = [shrink(d, 0.9) for d in digits]
    for d, x in zip(digits, xs):
        paste_max(canvas, d, x, int(rng.integers(0, H - d.shape[0] + 1)))


def transform_digit(crop: np.ndarray, p: MnistPreset, rng: np.random.Generator) -> np.ndarray:
    """One cropped digit -> the preset's size, rotation, shear, stroke width and ink, re-cropped."""
    im = _resize_turn_and_shear(Image.fromarray(crop), p, rng)
    im = _change_stroke_width(im, p, rng)
    out = np.asarray(im)
    if p.faint_p and rng.random() < p.faint_p:
        out = (out.astype(np.float32) * rng.uniform(*p.ink)).round().astype(np.uint8)
    return _ink_crop(out)


def _resize_turn_and_shear(im: Image.Image, p: MnistPreset, rng: np.random.Generator) -> Image.Image:
    w, h = im.size
    scale = rng.uniform(*p.scale)
    if p.digit_height is not None:
        scale *= rng.uniform(*p.digit_height) / h
    angle = rng.uniform(-p.rotation, p.rotation) if p.rotation else 0.0
    shear = rng.uniform(-p.shear, p.shear) if p.shear else 0.0
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
        return im.transform((out_w, out_h), Image.Transform.AFFINE,
                            (inv[0, 0], inv[0, 1], c[0], inv[1, 0], inv[1, 1], c[1]), Image.Resampling.BILINEAR)
    if abs(scale - 1) > 1e-3:
        return im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
    return im


def _change_stroke_width(im: Image.Image, p: MnistPreset, rng: np.random.Generator) -> Image.Image:
    """Thicker strokes (probability `thicken_p`), thinner (`thin_p`), or as they are."""
    u = rng.random()
    if u < p.thicken_p:
        return _pad(im, 1).filter(ImageFilter.MaxFilter(3))
    if u < p.thicken_p + p.thin_p:
        # erode by half a pixel: a 3x3 min filter at twice the resolution; a digit it would
        # erase keeps its strokes
        big = im.resize((im.width * 2, im.height * 2), Image.Resampling.BILINEAR).filter(ImageFilter.MinFilter(3))
        thin = big.resize(im.size, Image.Resampling.BOX)
        if np.asarray(thin).max() >= 128:
            return thin
    return im


def _pad(im: Image.Image, k: int) -> Image.Image:
    out = Image.new(im.mode, (im.width + 2 * k, im.height + 2 * k), 0)
    out.paste(im, (k, k))
    return out


def _ink_crop(a: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(a.any(1))[0], np.nonzero(a.any(0))[0]
    if len(rows) == 0:
        return a[:1, :1]
    return a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def shrink(d: np.ndarray, factor: float) -> np.ndarray:
    h, w = d.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(d).resize(size, Image.Resampling.BOX))


def fit_patch(d: np.ndarray, max_h: int, max_w: int) -> np.ndarray:
    """A digit within max_h x max_w: as it is when it fits, else shrunk (one factor) until it does."""
    h, w = d.shape
    return d if h <= max_h and w <= max_w else shrink(d, min(max_h / h, max_w / w))


def blur_and_noise(canvas: np.ndarray, p: MnistPreset, rng: np.random.Generator) -> None:
    """The per-image blur and pixel noise of preset `p`, in place."""
    if p.blur_p and rng.random() < p.blur_p:
        canvas[:] = np.asarray(Image.fromarray(canvas).filter(ImageFilter.GaussianBlur(rng.uniform(*p.blur_radius))))
    if p.noise_p and rng.random() < p.noise_p:
        noise = rng.standard_normal(canvas.shape, dtype=np.float32) * (255 * rng.uniform(*p.noise_std))
        canvas[:] = (canvas + noise).clip(0, 255).round().astype(np.uint8)
