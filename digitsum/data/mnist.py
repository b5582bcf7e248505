"""MNIST from the vendored IDX files (or a user's torchvision MNIST/raw folder), as uint8 arrays."""
from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

from digitsum.errors import DataError

VENDORED_DIR = Path(__file__).resolve().parent / "vendored" / "mnist"
_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (optionally gzipped) into an array of its shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read IDX file ({e})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path}: expected {int(np.prod(dims))} bytes of data for shape {dims}, found {body.size}")
    return body.reshape(dims)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzipped IDX file (the format `read_idx` and torchvision read)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    # IDX header: two zero bytes, dtype code 0x08 (ubyte), ndim, then big-endian int32 dims
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    opener = (lambda p: gzip.GzipFile(p, "wb", mtime=0)) if Path(path).suffix == ".gz" else (lambda p: open(p, "wb"))
    with opener(path) as f:  # mtime=0: byte-identical reruns
        f.write(header + array.tobytes())


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz", folder / "MNIST" / "raw" / stem,
                      folder / "MNIST" / "raw" / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder}: no MNIST file {stem}[.gz] (expected the IDX files or torchvision's MNIST/raw)")


@functools.lru_cache(maxsize=4)
def load_mnist(split: str = "train", root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (images (N, 28, 28) uint8, labels (N,) uint8) for split 'train' (60k) or 'test' (10k).

    root: a folder with the IDX files, or torchvision's MNIST root (holding MNIST/raw);
    default: the copy vendored in this package.
    """
    if split not in _STEMS:
        raise DataError(f"unknown MNIST split {split!r}; use 'train' or 'test'")
    folder = Path(root) if root is not None else VENDORED_DIR
    images = read_idx(_find(folder, _STEMS[split][0]))
    labels = read_idx(_find(folder, _STEMS[split][1]))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{folder}: MNIST {split} images {images.shape} and labels {labels.shape} do not match")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels
