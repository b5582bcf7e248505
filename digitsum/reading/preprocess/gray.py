"""Any image -> gray levels: PIL images or arrays of L, RGB, RGBA (composited over white), 8 or 16
bit, bool or float, as (H, W) float32 in [0, 1] with 1 = white; and which way round the ink is."""
from __future__ import annotations

import numpy as np
from PIL import Image

from digitsum.errors import DataError


def to_gray(image) -> np.ndarray:
    """PIL image or array -> (H, W) float32 in [0, 1] (1 = white). Alpha is composited over white."""
    if isinstance(image, Image.Image):
        return _pil_to_gray(image)
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


def _pil_to_gray(image: Image.Image) -> np.ndarray:
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
