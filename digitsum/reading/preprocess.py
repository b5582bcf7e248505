"""Any image -> the model's canvas: (H, W) float32 in [0, 1], white ink on black, digits at the
native MNIST size (~20 px tall), left-aligned as in the course layout.

Accepts PIL images or arrays: L, RGB, RGBA (composited over white), 8 or 16 bit, bool or float,
black-on-white or white-on-black (detected from the border). A course image already at the canvas
size passes through untouched, so evaluation on course files sees exactly what training saw.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from digitsum.errors import BlankImageError, DataError

DIGIT_HEIGHT = 20      # px of ink of an MNIST digit at native size
LEFT_MARGIN = 4
MAX_GAP = 12           # px between digits (at native size) that a too-wide image is squeezed to
# The pixel budget of every image a user sends (a file, the drawing pad, an item of a .npy set),
# checked from its header before anything is decoded: larger images are refused in one line, except
# JPEGs, which are decoded at 1/2, 1/4 or 1/8 scale (PIL's draft) to fit. Decoded images above
# WORK_PIXELS are then reduced (box averages) before the float work of reading them, so that the
# largest image accepted costs about 1 s and 100 MB (README, hostile input).
MAX_PIXELS = 8_000_000
WORK_PIXELS = 2_000_000
MAX_ASPECT = 50          # four digits side by side are ~4:1; a 13,000,000x3 strip is no photo of them


def check_size(width: int, height: int, name) -> None:
    """A one-line DataError naming `name` unless width x height fits the pixel budget and shape."""
    if width * height > MAX_PIXELS:
        raise DataError(f"{name}: image of {width}x{height} px is too large (max {MAX_PIXELS:,} px); "
                        "send a smaller copy")
    if min(width, height) < 1 or max(width, height) > MAX_ASPECT * min(width, height):
        raise DataError(f"{name}: image of {width}x{height} px is too elongated for four digits "
                        f"(at most {MAX_ASPECT} times as wide as high, or as high as wide)")


def open_within_budget(im: Image.Image, name) -> Image.Image:
    """An opened, not yet decoded image -> decoded, within the pixel budget (see MAX_PIXELS); else a
    one-line DataError naming `name`."""
    if im.width * im.height > MAX_PIXELS and im.format == "JPEG":
        # the first of 1/2, 1/4, 1/8 that fits (at 1/8 it may still not: refused below)
        scale = next((s for s in (2, 4, 8) if -(-im.width // s) * -(-im.height // s) <= MAX_PIXELS), 8)
        im.draft(im.mode, (max(1, im.width // scale), max(1, im.height // scale)))
    check_size(im.width, im.height, name)
    im.load()
    return im


def reduce_to_work_size(im: Image.Image) -> Image.Image:
    """A decoded image larger than WORK_PIXELS, reduced by a whole factor (box averages) to fit."""
    factor = int(np.ceil((im.width * im.height / WORK_PIXELS) ** 0.5))
    if factor <= 1:
        return im
    if im.mode.startswith("I;16"):
        im = im.convert("I")          # the same 16-bit values, in a mode reduce() averages
    elif im.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        im = im.convert("RGBA")       # palette indices, 1-bit, CMYK...: averaged as colours
    return im.reduce(factor)


def load_image_file(path) -> np.ndarray:
    """Decode an image file to a float32 gray array in [0, 1] (see `to_gray`), within the pixel
    budget (see MAX_PIXELS)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    try:
        with Image.open(path) as im:
            # a phone stores its photo sideways with an EXIF note of how to turn it: apply it
            return to_gray(reduce_to_work_size(ImageOps.exif_transpose(open_within_budget(im, path))))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None


def to_gray(image) -> np.ndarray:
    """PIL image or array -> (H, W) float32 in [0, 1] (1 = white). Alpha is composited over white."""
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, rgba)
        if image.mode == "F":   # a float image (a float TIFF): 0..1 or 0..255, as an array says
            return to_gray(np.asarray(image, dtype=np.float32))
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(image, dtype=np.float32)
            return (arr / (65535.0 if arr.max() > 255 else 255.0)).clip(0, 1)
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    arr = np.asarray(image)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise DataError(f"an image array must hold numbers, found dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        white = _full_white(arr[..., :3])
        gray = arr[..., :3].astype(np.float32).mean(axis=2) / white
        if arr.shape[2] == 4:   # alpha in the same units as the colour: composite over white
            alpha = np.clip(arr[..., 3].astype(np.float32) / white, 0, 1)
            gray = gray * alpha + (1 - alpha)
        arr, white = gray, 1.0
    elif arr.ndim == 2 and min(arr.shape) >= 1:
        white = _full_white(arr)
    else:
        raise DataError(f"an image must be 2-D (gray) or H x W x 1/3/4 (colour), found shape {arr.shape}")
    return np.clip(np.nan_to_num(arr.astype(np.float32) / white), 0, 1)


def _full_white(arr: np.ndarray) -> float:
    """The value that means white in an array: 1 for bool and for floats in [0, 1], 65535 for
    uint16, otherwise the smallest of 255 / 65535 that holds the data (an int32 or float canvas
    of 0..255 is 8-bit data in a wider type)."""
    if arr.dtype == np.bool_:
        return 1.0
    if arr.dtype == np.uint16:
        return 65535.0
    top = float(np.nanmax(arr)) if arr.size else 0.0
    if np.issubdtype(arr.dtype, np.floating) and top <= 1.0:
        return 1.0
    return 255.0 if top <= 255 else 65535.0 if top <= 65535 else top


def to_white_on_black(gray: np.ndarray) -> np.ndarray:
    """Invert when the border (the background) is brighter than mid-grey."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return 1.0 - gray if np.median(border) > 0.5 else gray


BACKGROUND_GRID = 48   # px: the short side of the coarse copy the background is estimated on
BACKGROUND_WINDOW = 0.2  # of the short side: wider than any pen stroke, narrower than a shadow
UNEVEN = 0.1           # a background estimate that varies more than this is lighting, not paper


def ink_is_dark(gray: np.ndarray) -> bool:
    """Ink is the minority of pixels, so around the paper's level its pixels make the longer tail:
    below it for pen on paper (however dim the photo), above it for chalk or a white-on-black
    canvas. On an even background (most pixels near the median) the tails are taken around that
    median. Under uneven light they are taken against a blurred copy instead, so that a shadow or a
    bright patch, which moves the level both ways, does not count (a thick pen's gaps would)."""
    median = np.median(gray)
    if np.mean(np.abs(gray - median) < 0.05) > 0.8:
        return median - np.percentile(gray, 1) > np.percentile(gray, 99) - median
    h, w = gray.shape
    blurred = _coarse(gray, 2)   # two pixels across the short side, then enlarged: a wide blur
    detail = gray - np.asarray(blurred.resize((w, h), Image.Resampling.BILINEAR), np.float32)
    return -np.percentile(detail, 0.5) > np.percentile(detail, 99.5)


def _coarse(gray: np.ndarray, short_side: int) -> Image.Image:
    """A box-averaged copy (PIL float image) whose short side is `short_side` px."""
    h, w = gray.shape
    k = short_side / min(h, w)
    return Image.fromarray(gray.astype(np.float32), "F").resize((max(1, round(w * k)), max(1, round(h * k))),
                                                                Image.Resampling.BOX)


def flatten_background(gray: np.ndarray, dark_ink: bool | None = None) -> np.ndarray:
    """gray (1 = white), photo or scan or drawing -> ink map (H, W) in [0, 1], white ink on black.

    The background (paper and light) is a grey closing of the ink-dark image on a coarse copy: the
    max filter, wider than any stroke, fills each stroke with the paper beside it, so the estimate
    holds however densely a digit is drawn, and follows gradients, vignettes and shadows. Under an
    even background the constant level is used instead. The ink is what falls below it.
    `dark_ink`: the polarity when the caller knows it already (`ink_is_dark`)."""
    if dark_ink is None:
        dark_ink = ink_is_dark(gray)
    dark = gray if dark_ink else 1.0 - gray
    h, w = dark.shape
    small = _coarse(dark, BACKGROUND_GRID)
    size = max(3, round(BACKGROUND_WINDOW * min(small.size)) | 1)   # odd
    # a closing by ranks, not by max and min: the 80th percentile fills strokes as the max does, but
    # is not lifted by pixel noise (a max filter of noisy black finds the noise's peaks, and faint
    # ink below them would vanish)
    level = small.filter(ImageFilter.RankFilter(size, size * size * 4 // 5)) \
                 .filter(ImageFilter.RankFilter(size, size * size // 5))
    coarse = np.asarray(level, np.float32)
    if np.ptp(coarse) < UNEVEN:
        background = np.float32(np.median(coarse))
    else:
        background = np.asarray(level.resize((w, h), Image.Resampling.BILINEAR), np.float32)
    return np.clip(background - dark, 0, 1).astype(np.float32)


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


def _near(inked: np.ndarray, clear: np.ndarray, reach: int) -> np.ndarray:
    """Indices where `inked` holds within `reach` of a `clear` index."""
    counts = np.concatenate([[0], np.cumsum(clear)])
    idx = np.arange(len(clear))
    near = counts[np.minimum(idx + reach + 1, len(clear))] > counts[np.maximum(idx - reach, 0)]
    return np.nonzero(inked & near)[0]


LINE_FRAME = 1.5      # a mark touching the frame and longer than this many digit heights is the page's edge
LINE_LONG = 6.0       # any mark longer than this many digit heights is no digit (a ruled line, an edge)
LINE_TABLE = 3.5      # a region at the frame this many digit heights long is the table, not a group of digits
LINE_THIN = 4.0       # an edge is this many times as elongated (length^2 / area) as the median mark


def drop_page_edges(wob: np.ndarray) -> np.ndarray:
    """An ink map of a photo -> the same without the page's edges and the table beyond them.

    In a photo of a page the edge of the sheet (and the table's grain) darkens like ink. Such marks
    are long and thin: their length squared over their area (their elongation) is many times a
    digit's, where a group of touching digits is about as elongated as one digit. A mark is taken
    for an edge when it is LINE_THIN times as elongated as the median mark and either touches the
    frame and is longer than LINE_FRAME digit heights, or is longer than LINE_LONG anywhere; a
    region at the frame longer than LINE_TABLE digit heights is the table (or its grain) and goes
    too. When every sizeable mark would go, nothing does (a tightly cropped row of touching
    digits). Digit height is the median height of the marks of some size."""
    from scipy import ndimage
    # marks are taken from the faint mask: an edge that is strong only in parts is still one mark
    faint, _ = _ink_masks(wob)
    labels, n = ndimage.label(faint, structure=np.ones((3, 3)))
    if n < 2:
        return wob
    boxes = ndimage.find_objects(labels)
    sizes = np.bincount(labels.ravel())[1:].astype(np.float64)
    heights = np.array([b[0].stop - b[0].start for b in boxes])
    lengths = np.array([max(b[0].stop - b[0].start, b[1].stop - b[1].start) for b in boxes])
    big = sizes >= max(12, 0.2 * sizes.max())
    digit = float(np.median(heights[big]))
    elongation = lengths ** 2 / sizes
    thin = elongation > LINE_THIN * np.median(elongation[big])
    h, w = wob.shape
    at_frame = np.array([b[0].start <= 1 or b[1].start <= 1 or b[0].stop >= h - 1 or b[1].stop >= w - 1
                         for b in boxes])
    # a mark at the frame is the page's edge when it is thin, or the table beyond it when it is a
    # region longer than any group of touching digits; away from the frame only long lines go
    edge = (at_frame & (lengths > LINE_FRAME * digit) & (thin | (lengths > LINE_TABLE * digit))) \
        | (thin & (lengths > LINE_LONG * digit))
    if not edge.any() or edge[big].all():
        return wob
    # take the edge's faint rim too: everything within 2 px of the removed marks
    gone = ndimage.binary_dilation(np.isin(labels, np.nonzero(edge)[0] + 1), iterations=2)
    return np.where(gone, 0.0, wob).astype(np.float32)


def fit_to_canvas(image, height: int = 40, width: int = 168) -> np.ndarray:
    """Any image -> (height, width) float32 canvas in [0, 1], white on black, as the model expects.
    Raises BlankImageError for blank or near-blank input."""
    gray = to_gray(image)
    if gray.size > WORK_PIXELS:   # (an array: a file was reduced when it was decoded)
        gray = np.asarray(reduce_to_work_size(Image.fromarray(gray, "F")), np.float32)
    if gray.shape == (height, width):   # a course image: exactly what training saw
        wob = to_white_on_black(gray)
        _ink_masks(wob)
        return wob.astype(np.float32)
    # dark ink (pen on paper: photos, scans, drawings) is measured against the paper under its light;
    # light ink on a dark ground (digital canvases like the course's) is already even, and flattening
    # its pixel noise would only eat faint strokes
    photo_like = ink_is_dark(gray)
    # a page: its edges and the table go. (A turned line is not levelled: turning it by the ink's
    # major axis read worse, 81 % against 84 % of 150 page photos, as the digits' own heights tilt
    # that axis, and the model reads digits turned by up to 12 degrees.)
    if photo_like:
        gray = drop_page_edges(flatten_background(gray, dark_ink=True))
    else:
        gray = to_white_on_black(gray)
    faint, strong = _ink_masks(gray)
    digit_height = _digit_height(strong)
    # the background level, noise included: what the brightest 10 % of non-ink pixels reach
    # (0 on a clean image). Below it is black, so a noisy upload looks more like the clean
    # canvases the model mostly trained on, and has no box of noise around the crop.
    background = np.percentile(gray[~faint], 90) if (~faint).any() else np.median(gray)
    # the crop: rows and columns with 2+ ink pixels (a lone pixel is noise that got through),
    # no further than half a digit from clear ink (a faint blotch or a photo's edge is no digit)
    reach = round(digit_height / 2) if photo_like else max(gray.shape)
    rows, cols = _near(faint.sum(axis=1) >= 2, strong.any(axis=1), reach), _near(faint.sum(axis=0) >= 2, strong.any(axis=0), reach)
    if len(rows) == 0 or len(cols) == 0:
        rows, cols = np.nonzero(faint.any(axis=1))[0], np.nonzero(faint.any(axis=0))[0]
    if len(rows) == 0:   # the brightest spots are no brighter than the background's noise
        raise BlankImageError("no ink stands out from the background: upload a sharper or better-lit image")
    pad = 2
    top, bottom = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, gray.shape[0])
    left, right = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, gray.shape[1])
    crop = gray[top:bottom, left:right]
    # contrast stretch: the background to 0, the brightest ink to 1
    crop = ((crop - background) / max(crop.max() - background, 1e-6)).clip(0, 1)
    digit_scale = DIGIT_HEIGHT / digit_height
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
