"""Image files and the pixel budget: every image a user sends (a file, the drawing pad, an item of a
.npy set) is checked from its header before anything is decoded. Larger images are refused in one
line, except JPEGs, which are decoded at 1/2, 1/4 or 1/8 scale (PIL's draft) to fit. Decoded images
above WORK_PIXELS are then reduced (box averages) before the float work of reading them, so that
the largest image accepted costs about 1 s and 100 MB (README, hostile input)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digitsum.errors import DataError
from digitsum.reading.preprocess.gray import to_gray

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
