"""Any image -> the model's canvas: (H, W) float32 in [0, 1], white ink on black, digits at the
native MNIST size (~20 px tall), left-aligned as in the course layout.

Accepts PIL images or arrays: L, RGB, RGBA (composited over white), 8 or 16 bit, bool or float,
black-on-white or white-on-black (detected from the border). A course image already at the canvas
size passes through untouched, so evaluation on course files sees exactly what training saw.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import BlankImageError, DataError

DIGIT_HEIGHT = 20      # px of ink of an MNIST digit at native size
LEFT_MARGIN = 4
MAX_GAP = 12           # px between digits (at native size) that a too-wide image is squeezed to
MAX_PIXELS = 40_000_000  # larger uploads are refused, not decoded


def load_image_file(path) -> np.ndarray:
    """Decode an image file to a float32 gray array in [0, 1] (see `to_gray`)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_PIXELS:
                raise DataError(f"{path}: image of {im.width}x{im.height} px is too large (max {MAX_PIXELS:,} px)")
            im.load()
            return to_gray(im)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None


def to_gray(image) -> np.ndarray:
    """PIL image or array -> (H, W) float32 in [0, 1] (1 = white). Alpha is composited over white."""
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, rgba)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(image, dtype=np.float32)
            return (arr / (65535.0 if arr.max() > 255 else 255.0)).clip(0, 1)
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 4:   # RGBA array: composite over white
        alpha = arr[..., 3:4].astype(np.float32) / (65535.0 if arr.dtype == np.uint16 else 255.0)
        arr = arr[..., :3] * alpha + (1 - alpha) * (65535 if arr.dtype == np.uint16 else 255)
        arr = arr.astype(np.float32) / (65535.0 if np.asarray(image).dtype == np.uint16 else 255.0)
        return arr.mean(axis=2).astype(np.float32)
    if arr.ndim == 3 and arr.shape[2] in (1, 3):
        arr = arr.mean(axis=2) if arr.shape[2] == 3 else arr[..., 0]
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise DataError(f"an image must be 2-D (gray) or H x W x 1/3/4 (colour), found shape {np.asarray(image).shape}")
    kind = np.asarray(image).dtype
    if kind == np.bool_:
        return arr.astype(np.float32)
    if kind == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if np.issubdtype(kind, np.floating):
        a = np.nan_to_num(arr.astype(np.float32))
        return (a / 255.0 if a.max() > 1.0 else a).clip(0, 1)
    return arr.astype(np.float32) / 255.0


def to_white_on_black(gray: np.ndarray) -> np.ndarray:
    """Invert when the border (the background) is brighter than mid-grey."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return 1.0 - gray if np.median(border) > 0.5 else gray


def _smooth(gray: np.ndarray) -> np.ndarray:
    """3x3 box mean: pixel noise shrinks threefold while strokes (2+ px wide) keep their level."""
    padded = np.pad(gray, 1, mode="constant", constant_values=np.median(gray))
    h, w = gray.shape
    return sum(padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0


def _ink_masks(wob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-> (faint, strong) ink masks. Both are thresholded after smoothing, so that a noisy
    background does not count as ink. `faint` (anything clearly above the noise) bounds the crop,
    so a faint digit is never cut off; `strong` measures digit heights."""
    smooth = _smooth(wob)
    background = np.median(smooth)
    span = smooth.max() - background
    if span < 0.08:
        raise BlankImageError("the image is blank: draw or upload four digits")
    noise = 1.4826 * np.median(np.abs(smooth - background))   # robust std of the background
    faint = smooth > background + max(0.1 * span, 4 * noise)
    strong = smooth > background + 0.35 * span
    if strong.sum() < 12:
        raise BlankImageError("the image is almost blank: too little ink to read four digits")
    return faint, strong


def _digit_height(mask: np.ndarray) -> float:
    """Typical height of one digit: the median ink height over runs of inked columns (runs narrower
    than 3 px are specks, not digits, unless there is nothing else)."""
    cols = mask.sum(axis=0) >= 2
    runs, start = [], None
    for x, inked in enumerate(np.append(cols, False)):
        if inked and start is None:
            start = x
        elif not inked and start is not None:
            rows = np.nonzero(mask[:, start:x].any(axis=1))[0]
            runs.append((x - start, rows[-1] - rows[0] + 1))
            start = None
    if not runs:   # thin one-pixel strokes only
        rows = np.nonzero(mask.any(axis=1))[0]
        return float(rows[-1] - rows[0] + 1)
    wide = [h for w, h in runs if w >= 3] or [h for _, h in runs]
    return float(np.median(wide))


def _gap_columns_to_keep(ink_columns: np.ndarray, max_gap: int) -> np.ndarray:
    """Boolean mask of columns that keeps ink and at most `max_gap` columns of each empty run."""
    keep = np.ones(len(ink_columns), bool)
    run = 0
    for x, inked in enumerate(ink_columns):
        run = 0 if inked else run + 1
        keep[x] = run <= max_gap
    return keep


def fit_to_canvas(image, height: int = 40, width: int = 168) -> np.ndarray:
    """Any image -> (height, width) float32 canvas in [0, 1], white on black, as the model expects.
    Raises BlankImageError for blank or near-blank input."""
    gray = to_white_on_black(to_gray(image))
    faint, strong = _ink_masks(gray)
    if gray.shape == (height, width):
        return gray.astype(np.float32)
    # the background level, noise included: what the brightest 10 % of non-ink pixels reach
    # (0 on a clean image). Below it is black, so a noisy upload looks more like the clean
    # canvases the model mostly trained on, and has no box of noise around the crop.
    background = np.percentile(gray[~faint], 90) if (~faint).any() else np.median(gray)
    # the crop: rows and columns with 2+ ink pixels (a lone pixel is noise that got through)
    rows, cols = np.nonzero(faint.sum(axis=1) >= 2)[0], np.nonzero(faint.sum(axis=0) >= 2)[0]
    if len(rows) == 0 or len(cols) == 0:
        rows, cols = np.nonzero(faint.any(axis=1))[0], np.nonzero(faint.any(axis=0))[0]
    pad = 2
    top, bottom = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, gray.shape[0])
    left, right = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, gray.shape[1])
    crop = gray[top:bottom, left:right]
    # contrast stretch: the background to 0, the brightest ink to 1
    crop = ((crop - background) / max(crop.max() - background, 1e-6)).clip(0, 1)
    digit_scale = DIGIT_HEIGHT / _digit_height(strong)
    if crop.shape[1] * digit_scale > width - LEFT_MARGIN - 2:
        # too wide at native digit size (small digits far apart, as in a drawing, or a wide
        # canvas): shorten the empty gaps before shrinking the digits below what MNIST looks like
        max_gap = round(MAX_GAP / digit_scale)
        crop = crop[:, _gap_columns_to_keep(faint[top:bottom, left:right].any(axis=0), max_gap)]
    # scale so one digit is ~20 px tall, but never beyond the canvas (no stretching: one factor)
    scale = min(digit_scale, (height - 2) / crop.shape[0], (width - LEFT_MARGIN - 2) / crop.shape[1])
    new_h, new_w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    resized = Image.fromarray((crop * 255).astype(np.uint8)).resize((new_w, new_h), Image.Resampling.BOX
                                                                   if scale < 1 else Image.Resampling.BILINEAR)
    canvas = np.zeros((height, width), np.float32)
    y0 = (height - new_h) // 2
    canvas[y0:y0 + new_h, LEFT_MARGIN:LEFT_MARGIN + new_w] = np.asarray(resized, np.float32) / 255.0
    return canvas


def fit_batch(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, h, w) uint8 course images -> (N, height, width) float32; untouched when the size matches.
    A blank image becomes a blank canvas (it still counts, as a miss, in evaluation)."""
    if images.shape[1:] == (height, width):
        return images.astype(np.float32) / 255.0
    out = np.zeros((len(images), height, width), np.float32)
    for i, im in enumerate(images):
        try:
            out[i] = fit_to_canvas(im, height, width)
        except BlankImageError:
            pass
    return out
