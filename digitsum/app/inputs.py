"""What a user sends the app, checked before any work: an image file, an item of a course-format
.npy set, an index into a set. Every refusal is a one-line DataError that names the file as the
user knows it (an upload's own name, never the server's temporary folder)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from digitsum.errors import DataError, DigitsumError, shorten
from digitsum.reading.preprocess import check_size, load_image_file

from .messages import named, one_line


def checked_index(index, count: int, what: str, prefix: str = "") -> int:
    """`index` as an int in 0..count-1; anything else is a one-line DataError about `what`."""
    try:
        index = int(index)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{prefix}the index must be a whole number (got {shorten(index, quote=True)})") from None
    if not 0 <= index < count:
        raise DataError(f"{prefix}index {index} is outside {what} (0-{count - 1})")
    return index


def load_image(path, name: str | None = None) -> np.ndarray:
    """An image file as a gray array; errors name the file `name` (default: its base name)."""
    name = name or Path(path).name
    try:
        return load_image_file(path)
    except DigitsumError as e:
        raise named(e, path, name) from None


def load_npy_item(path, index, name: str | None = None) -> np.ndarray:
    """Item `index` of a course-format .npy (N, H, W) set; anything else is a one-line DataError
    naming the file `name` (default: its base name). Never unpickles."""
    name = name or Path(path).name
    images = _open_npy(path, name)
    if not isinstance(images, np.ndarray) or images.ndim != 3 or min(images.shape[1:], default=0) < 1:
        shape = getattr(images, "shape", "?")
        raise DataError(f"{name}: expected a (N, H, W) course-format .npy of images, found shape {shape}")
    if not (np.issubdtype(images.dtype, np.number) or images.dtype == np.bool_):
        raise DataError(f"{name}: expected numbers (uint8 images), found dtype {images.dtype}")
    if not len(images):
        raise DataError(f"{name}: holds no images")
    index = checked_index(index, len(images), "the file", prefix=f"{name}: ")
    try:
        return np.array(images[index])
    except (ValueError, OSError) as e:
        raise DataError(f"{name}: item {index} cannot be read ({one_line(e)})") from None


def _open_npy(path, name: str):
    """The array of a .npy file, memory-mapped (only the item asked for is read), after the checks
    that need no more than its first bytes: a .npy at all, and images within the pixel budget."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise DataError(f"{name}: cannot be read ({e.strerror or e})") from None
    if Path(path).suffix.lower() != ".npy" or magic != b"\x93NUMPY":
        raise DataError(f"{name}: not a NumPy .npy file")
    shape = _npy_shape(path)
    if shape is not None and len(shape) == 3:   # the pixel budget, from the header alone
        check_size(shape[2], shape[1], f"{name}: each image")
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r")
    except ValueError as e:
        if "pickle" in str(e) or "Python objects" in str(e):
            raise DataError(f"{name}: holds Python objects, which the app never loads; "
                            "send uint8 images of shape (N, H, W)") from None
        if "empty" in str(e):  # numpy cannot map a file of zero items
            return np.load(path, allow_pickle=False)
        raise DataError(f"{name}: a damaged or truncated .npy ({one_line(e)})") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{name}: a damaged or truncated .npy ({one_line(e) or type(e).__name__})") from None


def _npy_shape(path) -> tuple | None:
    """The shape a .npy file's header declares (None when the header cannot be read: np.load
    then says what is wrong). Reads the header only."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        with open(path, "rb") as f:
            reader = readers.get(np.lib.format.read_magic(f))
            shape = reader(f)[0] if reader else None
    except (OSError, ValueError, SyntaxError, TypeError):
        return None
    return tuple(shape) if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape) else None
