"""Paper, light and ink: which way round the ink is (`ink_is_dark`), the paper and its light taken
away from a photo (`flatten_background`), and the masks of what counts as ink (`ink_masks`)."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from digitsum.errors import BlankImageError

BACKGROUND_GRID = 48   # px: the short side of the coarse copy the background is estimated on
BACKGROUND_WINDOW = 0.2  # of the short side: wider than any pen stroke, narrower than a shadow
POLARITY_WINDOW = 0.3  # of the short side: the median the ink's polarity is judged against is wider than a
                       # marker's stroke (at 0.2 it followed one, and the loops of white digits were dark ink)
UNEVEN = 0.1           # a background estimate that varies more than this is lighting, not paper
INK_DIP_PAPER = 0.05   # of a dip's pixels brighter than its level: more, and the dip is dense ink


def ink_is_dark(gray: np.ndarray) -> bool:
    """Ink is the minority of pixels, so around the paper's level its pixels make the longer tail:
    below it for pen on paper (however dim the photo), above it for chalk or a white-on-black
    canvas. On an even background (most pixels near the median) the tails are taken around that
    median. Under uneven light they are taken against a median filter of the coarse copy instead
    (POLARITY_WINDOW wide): a median follows the step where lit paper meets a shadow
    or the table beyond the page, so only thin strokes stand out of it. (A wide blur smeared such
    a step into both tails, and a page half in shadow, with a dark table beside it, read as chalk:
    8 of 1,000 `photo_page` photos.)"""
    median = np.median(gray)
    if np.mean(np.abs(gray - median) < 0.05) > 0.8:
        return median - np.percentile(gray, 1) > np.percentile(gray, 99) - median
    small = _coarse(gray, BACKGROUND_GRID)
    size = max(3, round(POLARITY_WINDOW * min(small.size)) | 1)   # odd
    detail = np.asarray(small, np.float32) - np.asarray(small.filter(ImageFilter.MedianFilter(size)), np.float32)
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
    even background the constant level is used instead, and so it is where the estimate sinks into
    thick, dense ink rather than a shadow (`_dips_are_ink`). The ink is what falls below it.
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
    if _dips_are_ink(np.asarray(small, np.float32), coarse):
        coarse = np.full_like(coarse, np.median(coarse))
    if np.ptp(coarse) < UNEVEN:
        background = np.float32(np.median(coarse))
    else:
        background = np.asarray(level.resize((w, h), Image.Resampling.BILINEAR), np.float32)
    return np.clip(background - dark, 0, 1).astype(np.float32)


def _dips_are_ink(dark: np.ndarray, level: np.ndarray) -> bool:
    """Whether the places where the background estimate dips (below the paper's level by half of
    UNEVEN) are dense ink rather than shadow: digits drawn thick in a tight crop fill more than the
    closing's window, and the estimate sinks into them, so their ink would be lost. In a shadow (or
    on a table beyond the page) nothing is much brighter than the dip's own level; within ink, the
    paper between the strokes is. `dark` is the coarse ink-dark image, `level` its estimate."""
    dip = level < np.median(level) - UNEVEN / 2
    return bool(dip.any()) and np.mean(dark[dip] > level[dip] + UNEVEN / 2) > INK_DIP_PAPER


def _smooth(gray: np.ndarray) -> np.ndarray:
    """3x3 box mean: pixel noise shrinks threefold while strokes (2+ px wide) keep their level."""
    padded = np.pad(gray, 1, mode="constant", constant_values=np.median(gray))
    h, w = gray.shape
    return sum(padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0


def ink_masks(wob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
