"""Datasets with real images: the course layout (data*.npy + lab*.npy sums, optional digits) and
a folder of image files with a CSV of labels. Every check names the file and the problem."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitsum.errors import DataError
from digitsum.reading.sumdist import N_DIGITS, N_SUMS

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class CourseDataset:
    """images (N, H, W) uint8 white-on-black; sums (N,) int64 in 0..36; digits (N, 4) int64 or None."""
    images: np.ndarray
    sums: np.ndarray
    digits: np.ndarray | None = None
    source: str = ""

    def __len__(self) -> int:
        return len(self.images)


def _load_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        return np.load(path, allow_pickle=False)  # never unpickle a user's file
    except ValueError as e:
        raise DataError(f"{path}: not a plain numeric .npy array ({e})") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read .npy file ({e})") from None


def check_images(images: np.ndarray, name: str) -> np.ndarray:
    if images.ndim != 3:
        raise DataError(f"{name}: images must have shape (N, H, W), found {images.shape}")
    if images.dtype != np.uint8:
        raise DataError(f"{name}: images must be uint8 (0-255), found {images.dtype}")
    if images.shape[0] == 0:
        raise DataError(f"{name}: holds no images")
    if images.shape[1] < 16 or images.shape[2] < 32:
        raise DataError(f"{name}: images of {images.shape[1]}x{images.shape[2]} px are too small for four digits")
    return images


def check_sums(sums: np.ndarray, n: int, name: str) -> np.ndarray:
    if sums.ndim != 1:
        raise DataError(f"{name}: sums must have shape (N,), found {sums.shape}")
    if not np.issubdtype(sums.dtype, np.integer):
        raise DataError(f"{name}: sums must be integers, found {sums.dtype}")
    if len(sums) != n:
        raise DataError(f"{name}: {len(sums)} sums for {n} images")
    if len(sums) and (sums.min() < 0 or sums.max() > N_SUMS - 1):
        raise DataError(f"{name}: sums must lie in 0-36, found {sums.min()}..{sums.max()}")
    return sums.astype(np.int64)


def check_digits(digits: np.ndarray, sums: np.ndarray, name: str) -> np.ndarray:
    if digits.ndim != 2 or digits.shape[1] != N_DIGITS or len(digits) != len(sums):
        raise DataError(f"{name}: digits must have shape ({len(sums)}, 4), found {digits.shape}")
    if not np.issubdtype(digits.dtype, np.integer) or digits.min() < 0 or digits.max() > 9:
        raise DataError(f"{name}: digits must be integers 0-9")
    bad = np.nonzero(digits.sum(1) != sums)[0]
    if len(bad):
        raise DataError(f"{name}: digits of item {bad[0]} add up to {digits[bad[0]].sum()}, not its sum {sums[bad[0]]}")
    return digits.astype(np.int64)


def load_course_pair(images_path, sums_path, digits_path=None) -> CourseDataset:
    """One data*.npy / lab*.npy pair (and optionally a (N, 4) digits .npy)."""
    images_path, sums_path = Path(images_path), Path(sums_path)
    images = check_images(_load_npy(images_path), str(images_path))
    sums = check_sums(_load_npy(sums_path), len(images), str(sums_path))
    digits = None
    if digits_path is not None:
        digits = check_digits(_load_npy(Path(digits_path)), sums, str(digits_path))
    return CourseDataset(images, sums, digits, source=str(images_path))


def _course_pairs(folder: Path) -> list[tuple[Path, Path, Path | None]]:
    pairs = []
    for data in sorted(folder.glob("data*.npy")):
        suffix = re.fullmatch(r"data(.*)\.npy", data.name).group(1)
        lab = folder / f"lab{suffix}.npy"
        if not lab.is_file():
            raise DataError(f"{data}: no matching sums file {lab.name}")
        digits = folder / f"digits{suffix}.npy"
        pairs.append((data, lab, digits if digits.is_file() else None))
    return pairs


def load_image_folder(folder: Path, csv_path: Path) -> CourseDataset:
    """Image files plus a CSV with columns file,sum[,d1,d2,d3,d4] (a header line is optional).
    Images of any mode and polarity become uint8 white-on-black; they must share one size."""
    from digitsum.reading.preprocess import load_image_file, to_white_on_black  # local: keeps PIL out of the .npy path
    try:
        with open(csv_path, newline="") as f:
            rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{csv_path}: cannot read CSV ({e})") from None
    if rows and not rows[0][1].strip().lstrip("-").isdigit():
        rows = rows[1:]  # a header
    if not rows:
        raise DataError(f"{csv_path}: no rows")
    images, sums, digits = [], [], []
    for line, row in enumerate(rows, 1):
        if len(row) not in (2, 6):
            raise DataError(f"{csv_path}: row {line} has {len(row)} columns; expected file,sum[,d1,d2,d3,d4]")
        try:
            values = [int(v) for v in row[1:]]
        except ValueError:
            raise DataError(f"{csv_path}: row {line}: labels must be integers") from None
        wob = to_white_on_black(load_image_file(folder / row[0].strip()))
        images.append((wob * 255).round().astype(np.uint8))
        sums.append(values[0])
        if len(values) == 5:
            digits.append(values[1:])
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise DataError(f"{folder}: images differ in size ({sorted(shapes)[:3]}...); use images of one size")
    sums_arr = check_sums(np.array(sums), len(images), str(csv_path))
    digits_arr = None
    if digits:
        if len(digits) != len(rows):
            raise DataError(f"{csv_path}: digit labels must be given for every row or none")
        digits_arr = check_digits(np.array(digits), sums_arr, str(csv_path))
    return CourseDataset(np.stack(images), sums_arr, digits_arr, source=str(folder))


def load_dataset(path, sums_path=None, digits_path=None) -> CourseDataset:
    """A course-format dataset from: an images .npy (+ sums .npy [+ digits .npy]); a folder of
    data*/lab*[/digits*] .npy pairs (all concatenated); or a folder of images with labels.csv."""
    path = Path(path)
    if path.is_file():
        if sums_path is None:
            raise DataError(f"{path}: give the sums file too (lab*.npy)")
        return load_course_pair(path, sums_path, digits_path)
    if not path.is_dir():
        raise DataError(f"{path}: no such file or folder")
    if (path / "labels.csv").is_file():
        return load_image_folder(path, path / "labels.csv")
    pairs = _course_pairs(path)
    if not pairs:
        raise DataError(f"{path}: no data*.npy files (nor labels.csv) in this folder")
    parts = [load_course_pair(*p) for p in pairs]
    shapes = {p.images.shape[1:] for p in parts}
    if len(shapes) != 1:
        raise DataError(f"{path}: the data*.npy files have different image sizes {sorted(shapes)}")
    has_digits = all(p.digits is not None for p in parts)
    return CourseDataset(np.concatenate([p.images for p in parts]), np.concatenate([p.sums for p in parts]),
                         np.concatenate([p.digits for p in parts]) if has_digits else None, source=str(path))


def save_course_dataset(folder, images: np.ndarray, sums: np.ndarray, digits: np.ndarray | None = None,
                        suffix: str = "0") -> list[Path]:
    """Write data{suffix}.npy, lab{suffix}.npy (uint8, the course format) and digits{suffix}.npy."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / f"data{suffix}.npy", folder / f"lab{suffix}.npy"]
    np.save(written[0], np.ascontiguousarray(images, dtype=np.uint8))
    np.save(written[1], np.asarray(sums, dtype=np.uint8))
    if digits is not None:
        written.append(folder / f"digits{suffix}.npy")
        np.save(written[2], np.asarray(digits, dtype=np.uint8))
    return written
