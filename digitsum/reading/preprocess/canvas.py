"""Fitting to the canvas: an image's ink cropped, contrast-stretched and scaled so one digit is about
as tall as an MNIST digit at native size, left-aligned on the model's canvas as in the course
layout. A course image already at the canvas size passes through untouched, so evaluation on
course files sees exactly what training saw."""
from __future__ import annotations

import numpy as np
from PIL import Image

from digitsum.errors import BlankImageError
from digitsum.reading.preprocess.gray import to_gray, to_white_on_black
from digitsum.reading.preprocess.image_files import WORK_PIXELS, reduce_to_work_size
from digitsum.reading.preprocess.ink import flatten_background, ink_is_dark, ink_masks
from digitsum.reading.preprocess.page_edges import clean_page, ink_marks

DIGIT_HEIGHT = 20      # px of ink of an MNIST digit at native size
LEFT_MARGIN = 4
MAX_GAP = 12           # px between digits (at native size) that a too-wide image is squeezed to
CROP_PAD = 2           # px of background kept around the ink
TOUCHING = 1.5         # a run of inked columns this many times as wide as its columns' ink is touching digits,
TOUCHING_LEAST = 0.5   # when its columns' ink is at least this share of its height


def fit_to_canvas(image, height: int = 40, width: int = 168) -> np.ndarray:
    """Any image -> (height, width) float32 canvas in [0, 1], white on black, as the model expects.
    Raises BlankImageError for blank or near-blank input."""
    gray = to_gray(image)
    if gray.size > WORK_PIXELS:   # (an array: a file was reduced when it was decoded)
        gray = np.asarray(reduce_to_work_size(Image.fromarray(gray, "F")), np.float32)
    if gray.shape == (height, width):   # a course image: exactly what training saw
        wob = to_white_on_black(gray)
        ink_masks(wob)                  # (a blank one is refused all the same)
        return wob.astype(np.float32)
    photo_like = ink_is_dark(gray)
    wob = _ink_map(gray, photo_like)
    faint, strong = ink_masks(wob)
    digit_height = _digit_height(strong)
    crop, crop_faint = _crop_to_ink(wob, faint, strong, digit_height, photo_like)
    return _scale_onto_canvas(crop, crop_faint, digit_height, height, width)


def _ink_map(gray: np.ndarray, photo_like: bool) -> np.ndarray:
    """gray (1 = white) -> white ink on black."""
    # dark ink (pen on paper: photos, scans, drawings) is measured against the paper under its light;
    # light ink on a dark ground (digital canvases like the course's) is already even, and flattening
    # its pixel noise would only eat faint strokes
    if not photo_like:
        return to_white_on_black(gray)
    # a page: its edges and the table go. (A turned line is not levelled: turning it by the ink's
    # major axis read worse, 81 % against 84 % of 150 page photos, as the digits' own heights tilt
    # that axis, and the model reads digits turned by up to 12 degrees.)
    return clean_page(flatten_background(gray, dark_ink=True))


def _crop_to_ink(wob: np.ndarray, faint: np.ndarray, strong: np.ndarray, digit_height: float,
                 photo_like: bool) -> tuple[np.ndarray, np.ndarray]:
    """-> (the ink's crop, its background at 0 and its brightest ink at 1; the faint-ink mask of
    that crop)."""
    # the background level, noise included: what the brightest 10 % of non-ink pixels reach
    # (0 on a clean image). Below it is black, so a noisy upload looks more like the clean
    # canvases the model mostly trained on, and has no box of noise around the crop.
    background = np.percentile(wob[~faint], 90) if (~faint).any() else np.median(wob)
    # the crop: rows and columns with 2+ ink pixels (a lone pixel is noise that got through),
    # no further than half a digit from clear ink (a faint blotch or a photo's edge is no digit).
    # Clear ink is the strong ink and, on a page, faint marks shaped like digits in its line of
    # writing: a digit written fainter than the rest was cut off, or cut in half
    reach = round(digit_height / 2) if photo_like else max(wob.shape)
    inked_rows, inked_cols = faint.sum(axis=1) >= 2, faint.sum(axis=0) >= 2
    rows = _near(inked_rows, strong.any(axis=1), reach)
    cols = _near(inked_cols, strong.any(axis=0), reach)
    if photo_like and (len(rows) < inked_rows.sum() or len(cols) < inked_cols.sum()):   # ink out of reach
        clear = strong | faint_digits(faint, strong, digit_height)
        rows, cols = _near(inked_rows, clear.any(axis=1), reach), _near(inked_cols, clear.any(axis=0), reach)
    if len(rows) == 0 or len(cols) == 0:
        rows, cols = np.nonzero(faint.any(axis=1))[0], np.nonzero(faint.any(axis=0))[0]
    if len(rows) == 0:   # the brightest spots are no brighter than the background's noise
        raise BlankImageError("no ink stands out from the background: upload a sharper or better-lit image")
    top, bottom = max(rows[0] - CROP_PAD, 0), min(rows[-1] + CROP_PAD + 1, wob.shape[0])
    left, right = max(cols[0] - CROP_PAD, 0), min(cols[-1] + CROP_PAD + 1, wob.shape[1])
    crop = wob[top:bottom, left:right]
    # contrast stretch: the background to 0, the brightest ink to 1
    crop = ((crop - background) / max(crop.max() - background, 1e-6)).clip(0, 1)
    return crop, faint[top:bottom, left:right]


FAINT_TALL = (0.6, 1.4)   # a faint digit is this many digit heights tall,
FAINT_WIDE = 1.2          # no wider than this many,
FAINT_LINE = 0.3          # within this many of the rows of the strong ink,
FAINT_FILL = 0.6          # and fills at most this share of its bounding box (a stroke, not a blot)


def faint_digits(faint: np.ndarray, strong: np.ndarray, digit_height: float) -> np.ndarray:
    """The faint marks (`ink_marks`) that look like a digit written faintly in the line of writing:
    FAINT_TALL digit heights tall, at most FAINT_WIDE wide, with at least a digit height of pixels
    (a stroke, not a speck) filling at most FAINT_FILL of their bounding box (the table's grain and
    a shadow are solid), in the rows of the strong ink (FAINT_LINE digit heights beyond them at
    most), and clear of the frame (where a page's edge and the table are)."""
    labels, boxes, sizes = ink_marks(faint)
    inked_rows = np.nonzero(strong.any(axis=1))[0]
    if len(inked_rows) == 0:
        return np.zeros_like(faint)
    h, w = faint.shape
    top, bottom = inked_rows[0] - FAINT_LINE * digit_height, inked_rows[-1] + 1 + FAINT_LINE * digit_height
    keep = [k + 1 for k, (rows, cols) in enumerate(boxes)
            if FAINT_TALL[0] * digit_height <= rows.stop - rows.start <= FAINT_TALL[1] * digit_height
            and cols.stop - cols.start <= FAINT_WIDE * digit_height
            and digit_height <= sizes[k] <= FAINT_FILL * (rows.stop - rows.start) * (cols.stop - cols.start)
            and top <= rows.start and rows.stop <= bottom
            and rows.start > 0 and cols.start > 0 and rows.stop < h and cols.stop < w]
    return np.isin(labels, keep)


def _scale_onto_canvas(crop: np.ndarray, crop_faint: np.ndarray, digit_height: float, height: int,
                       width: int) -> np.ndarray:
    """The crop scaled so one digit is ~DIGIT_HEIGHT px tall, left-aligned and centred in height on
    a black (height, width) canvas."""
    digit_scale = DIGIT_HEIGHT / digit_height
    if crop.shape[1] * digit_scale > width - LEFT_MARGIN - 2:
        # too wide at native digit size (small digits far apart, as in a drawing, or a wide
        # canvas): shorten the empty gaps before shrinking the digits below what MNIST looks like
        max_gap = round(MAX_GAP / digit_scale)
        crop = crop[:, _gap_columns_to_keep(crop_faint.any(axis=0), max_gap)]
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


def _digit_height(mask: np.ndarray) -> float:
    """Typical height of one digit: the median ink height over runs of inked columns (runs narrower
    than 3 px are specks, not digits, unless there is nothing else). Within a run, ink split by
    clear rows is digits written one above the other (or a speck off a digit): the tallest part
    counts, so a stacked pair does not read as one digit twice as tall. Digits one above the other
    with no clear row between them (`_stacked_height`) count as one digit when the run is
    STACKED_TALLER times as tall as the tallest run without such a pair (an 8 drawn as two
    circles is as tall as its neighbours), or when every run has such a pair."""
    cols = mask.sum(axis=0) >= 2
    runs, start = [], None
    for x, inked in enumerate(np.append(cols, False)):
        if inked and start is None:
            start = x
        elif not inked and start is not None:
            runs.append(mask[:, start:x])
            start = None
    if not runs:   # thin one-pixel strokes only
        rows = np.nonzero(mask.any(axis=1))[0]
        return float(rows[-1] - rows[0] + 1)
    runs = [run for run in runs if run.shape[1] >= 3] or runs
    heights = [_run_height(run) for run in runs]
    stacked = [_stacked_height(run) for run in runs]
    alone = [h for h, pair in zip(heights, stacked) if pair is None]
    reference = max(alone, default=0.0)
    return float(np.median([pair if pair is not None and h >= STACKED_TALLER * reference else h
                            for h, pair in zip(heights, stacked)]))


def _run_height(run: np.ndarray) -> float:
    """The height of one digit in a run of inked columns (H, W): its tallest part (`_tallest_part`),
    unless the run is digits that touch, written at different heights, so that the run's ink spans
    all their heights. There a digit is as tall as the tallest columns' ink (its 90th percentile; a
    column holds one digit, but where two digits meet). A run is touching digits when it is wider
    than TOUCHING times that column height (not times the run's height, which two digits at
    different heights stretch to nearly two digits': then three touching digits looked like one,
    and were shrunk), and when that column height is at least TOUCHING_LEAST of the run's height
    (two digits at different heights span at most about two digit heights; a scribble's columns
    hold one stroke each, and it stays as it was)."""
    tallest = _tallest_part(run.any(axis=1))
    inked = run.any(axis=0)
    top = run.argmax(axis=0)
    bottom = run.shape[0] - run[::-1].argmax(axis=0)
    digit = float(np.percentile((bottom - top)[inked], 90))
    if run.shape[1] <= TOUCHING * digit:
        return tallest
    return digit if TOUCHING_LEAST * tallest <= digit < tallest else tallest


STACKED_MARK = 0.3      # a mark of at least this share of the largest mark's pixels in a run counts;
STACKED_OVERLAP = 0.3   # two such marks sharing at most this share of the shorter's rows,
STACKED_ALIKE = 0.6     # the shorter at least this share of the taller, are written one above the other,
STACKED_UPRIGHT = 0.6   # when each is at least this share as tall as wide (a digit, not a loop of an 8 or a bar)
STACKED_TALLER = 1.5    # and their run is this many times as tall as any run without such a pair


def _stacked_height(run: np.ndarray) -> int | None:
    """The height of the taller of two digits written one above the other in a run of inked
    columns (H, W), or None when there are none. They are two sizeable marks, each upright
    (STACKED_UPRIGHT: a digit is seldom much wider than tall; the loops of an 8 drawn with a thin
    pen, which come apart, and a bar are), that share at most STACKED_OVERLAP of the shorter's rows
    and are alike in height (a digit broken in two makes unequal parts, most often). Their rows
    touch or overlap a little where one digit's tail reaches below the other's top, so that the
    row gap `_tallest_part` looks for is not there."""
    labels, boxes, sizes = ink_marks(run)
    if len(boxes) < 2:
        return None
    spans = [(rows.start, rows.stop) for k, (rows, cols) in enumerate(boxes)
             if sizes[k] >= STACKED_MARK * sizes.max() and rows.stop - rows.start >= STACKED_UPRIGHT * (cols.stop - cols.start)]
    heights = [stop - start for start, stop in spans]
    stacked = [max(heights[i], heights[j]) for i in range(len(spans)) for j in range(i + 1, len(spans))
               if min(spans[i][1], spans[j][1]) - max(spans[i][0], spans[j][0])
               <= STACKED_OVERLAP * min(heights[i], heights[j])
               and min(heights[i], heights[j]) >= STACKED_ALIKE * max(heights[i], heights[j])]
    return max(stacked) if stacked else None


def _tallest_part(inked_rows: np.ndarray) -> int:
    """Height of the tallest stretch of inked rows, where a gap of clear rows splits two stretches
    when it is at least 2 px and a tenth of the whole (a one-row break in a faint stroke does not)."""
    rows = np.nonzero(inked_rows)[0]
    min_gap = max(2, round(0.1 * (rows[-1] - rows[0] + 1)))
    cuts = np.nonzero(np.diff(rows) > min_gap)[0]             # a jump of d rows is d - 1 clear rows
    starts, ends = np.r_[rows[0], rows[cuts + 1]], np.r_[rows[cuts], rows[-1]]
    return int((ends - starts + 1).max())


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
