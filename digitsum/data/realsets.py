"""Real images nobody on this project made, for measuring only (never for training or tuning).

The folder (by default `../shared/real`, beside the checkout; see its README.md) is given as an
argument and may be absent: `available(folder)` says whether it is there. Nothing here writes
these images, or arrays made from them, anywhere: every set is built in memory when asked for.

- `course_canvases(folder)`: the 243 real course canvases (40x168, sums only), by subset:
  `real-random` (the unbiased sample, plus the one bit-exact canvas) and `real-hard` (canvases
  that a student's segmentation failed on).
- `writer_canvases(folder, "usps" | "semeion", n, seed)`: digits of other writers (USPS postal
  scans, grey; Semeion, binary) four to a 40x168 canvas in the course layout, by our own rules:
    1. each 16x16 digit is cropped to its ink and resized, aspect kept, so that its longer side is
       19-21 px (MNIST fits its digits in a 20x20 box); binary digits are first smoothed (enlarged
       8x, blurred, thresholded, then box-averaged down), so their edges are anti-aliased grey
       like MNIST's, and every digit's peak is full white;
    2. left to right, in reading order: the first ink column 3-20 px from the left edge, gaps of
       -4..30 px between ink boxes (negative: overlap, blended by max), each digit at its own
       random height 1 px or more from the top and bottom edges. Each x-centre lies at least 6 px
       right of the previous one (a gap is widened to ensure it); a row too wide for the canvas
       has its gaps, then its margin, narrowed;
    3. the digits are drawn from the set in shuffled passes, so each is used about equally often.
  Deterministic for (folder contents, name, n, seed). USPS and Semeion digits are not MNIST's:
  these columns test handwriting the models never saw, in the layout they were trained for.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from digitsum.errors import DataError
from digitsum.data.course import CourseDataset, check_digits, check_images, check_sums

COURSE_FILE = "course_canvases.npz"
WRITERS_FILE = "writers.npz"
WRITERS = ("usps", "semeion")
# column name -> the subsets of course_canvases.npz it holds
COURSE_COLUMNS = {"real-random": ("random", "exact"), "real-hard": ("hard",)}
HEIGHT, WIDTH = 40, 168

DIGIT_SIZE = (19, 21)        # px, the longer side of a digit's ink box
MARGIN = (3, 20)             # px before the first digit's ink
GAP = (-4, 30)               # px between neighbouring ink boxes
MIN_CENTRE_STEP = 6          # px between neighbouring x-centres
EDGE = 1                     # px kept clear above and below every digit


def available(folder) -> bool:
    """Whether `folder` holds the real sets (either file is enough)."""
    folder = Path(folder)
    return folder.is_dir() and any((folder / f).is_file() for f in (COURSE_FILE, WRITERS_FILE))


def _npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{path}: cannot read .npz file ({e})") from None


def course_canvases(folder) -> dict[str, CourseDataset]:
    """The real course canvases by column (`COURSE_COLUMNS`): images (k, 40, 168) uint8 white on
    black, sums; no digit labels (the figures they come from showed only sums)."""
    path = Path(folder) / COURSE_FILE
    z = _npz(path)
    missing = {"images", "sums", "subset"} - set(z)
    if missing:
        raise DataError(f"{path}: lacks {', '.join(sorted(missing))}")
    images = check_images(z["images"], str(path))
    sums = check_sums(z["sums"], len(images), str(path))
    subset = z["subset"].astype(str)
    if subset.shape != sums.shape:
        raise DataError(f"{path}: {len(subset)} subset names for {len(images)} images")
    out = {}
    for column, names in COURSE_COLUMNS.items():
        keep = np.isin(subset, names)
        if keep.any():
            out[column] = CourseDataset(images[keep], sums[keep], None, source=f"{path} ({'+'.join(names)})")
    return out


def writer_digits(folder, name: str) -> tuple[np.ndarray, np.ndarray]:
    """-> (digits (k, 16, 16) uint8 white on black, labels (k,) int64) of writer set `name`."""
    if name not in WRITERS:
        raise DataError(f"unknown writer set {name!r}: choose one of {', '.join(WRITERS)}")
    path = Path(folder) / WRITERS_FILE
    z = _npz(path)
    if f"{name}_x" not in z or f"{name}_y" not in z:
        raise DataError(f"{path}: lacks {name}_x or {name}_y")
    x, y = z[f"{name}_x"], z[f"{name}_y"]
    if x.ndim != 3 or x.dtype != np.uint8 or y.shape != (len(x),) or len(x) == 0:
        raise DataError(f"{path}: {name}_x must be (k, h, w) uint8 with one label each in {name}_y")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() > 9:
        raise DataError(f"{path}: {name}_y must hold digits 0-9")
    return x, y


def _is_binary(digits: np.ndarray) -> bool:
    return bool(np.isin(digits, (0, 255)).all())


def mnist_like(digit: np.ndarray, size: float, binary: bool) -> np.ndarray:
    """One white-on-black digit -> its ink, resized (aspect kept) so that the longer side is
    `size` px, anti-aliased, peak at 255. Binary digits are smoothed first: enlarged 8x, blurred
    by half a source pixel and thresholded (which rounds the staircase edges), then box-averaged
    down to the size, as MNIST's digits were made from binary scans."""
    rows, cols = np.nonzero(digit > 0)
    if len(rows) == 0:
        raise DataError("a writer digit holds no ink")
    crop = digit[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = crop.shape
    factor = size / max(h, w)
    out_w, out_h = max(1, round(w * factor)), max(1, round(h * factor))
    im = Image.fromarray(crop)
    if binary:
        k = 8
        big = im.resize((w * k, h * k), Image.Resampling.NEAREST)
        # pad so the blur does not clip strokes at the box's edge
        pad = Image.new("L", (big.width + 2 * k, big.height + 2 * k), 0)
        pad.paste(big, (k, k))
        smooth = pad.filter(ImageFilter.GaussianBlur(k / 2)).point(lambda v: 255 if v >= 128 else 0)
        smooth = smooth.crop((k, k, k + big.width, k + big.height))
        out = smooth.resize((out_w, out_h), Image.Resampling.BOX)
    else:
        out = im.resize((out_w, out_h), Image.Resampling.BICUBIC if factor > 1 else Image.Resampling.BOX)
    a = np.asarray(out, np.float32)
    peak = a.max()
    if peak <= 0:
        raise DataError("a writer digit lost its ink when resized")
    a = (a * (255.0 / peak)).round().clip(0, 255).astype(np.uint8)
    r, c = np.nonzero(a)
    return a[r.min():r.max() + 1, c.min():c.max() + 1]


def _positions(widths: np.ndarray, gaps: np.ndarray, margin: int) -> np.ndarray:
    """Left x of each ink box: gaps widened to keep the centres `MIN_CENTRE_STEP` apart, then,
    when the row is too wide, the gaps narrowed (down to that bound), then the margin."""
    order_floor = np.ceil(MIN_CENTRE_STEP - (widths[:-1] + widths[1:]) / 2).astype(np.int64)
    gaps = np.maximum(gaps, order_floor)
    excess = int(widths.sum() + gaps.sum()) + margin - WIDTH
    if excess > 0:
        room = gaps - np.maximum(order_floor, GAP[0])
        room = np.maximum(room, 0)
        if room.sum():
            cut = np.minimum(np.ceil(room * min(excess / room.sum(), 1.0)).astype(np.int64), room)
            gaps, excess = gaps - cut, excess - int(cut.sum())
        if excess > 0:
            margin = max(margin - excess, 0)
            excess = int(widths.sum() + gaps.sum()) + margin - WIDTH
        if excess > 0:
            raise DataError("four writer digits do not fit on a 40x168 canvas")
    return margin + np.concatenate([[0], np.cumsum(widths[:-1] + gaps)])


def writer_canvases(folder, name: str, n: int, seed: int = 0) -> CourseDataset:
    """`n` canvases (40x168 uint8, white on black) of four digits of writer set `name` in the
    course layout, with sums and digit labels. Deterministic for (folder contents, name, n, seed)."""
    if n <= 0:
        raise DataError("the number of images must be positive")
    x, y = writer_digits(folder, name)
    binary = _is_binary(x)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    passes = -(-4 * n // len(x))
    picks = np.concatenate([rng.permutation(len(x)) for _ in range(passes)])[:4 * n].reshape(n, 4)
    images = np.zeros((n, HEIGHT, WIDTH), np.uint8)
    for i in range(n):
        digits = [mnist_like(x[k], rng.uniform(*DIGIT_SIZE), binary) for k in picks[i]]
        widths = np.array([d.shape[1] for d in digits], np.int64)
        gaps = rng.integers(GAP[0], GAP[1] + 1, 3)
        xs = _positions(widths, gaps, int(rng.integers(MARGIN[0], MARGIN[1] + 1)))
        for d, x0 in zip(digits, xs):
            y0 = int(rng.integers(EDGE, HEIGHT - EDGE - d.shape[0] + 1))
            region = images[i, y0:y0 + d.shape[0], x0:x0 + d.shape[1]]
            np.maximum(region, d, out=region)
    digits = y[picks]
    sums = digits.sum(1)
    return CourseDataset(images, sums, check_digits(digits, sums, name), source=f"{Path(folder) / WRITERS_FILE} ({name})")


def real_sets(folder, n: int, seed: int = 0) -> dict[str, CourseDataset]:
    """Every real column the folder can give, in table order: the course canvases by subset
    (all of them, whatever `n`), then `n` canvases of each writer set (seed `seed`). A file the
    folder lacks gives no columns; the folder itself must exist."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder (the real sets)")
    out: dict[str, CourseDataset] = {}
    if (folder / COURSE_FILE).is_file():
        out.update(course_canvases(folder))
    if (folder / WRITERS_FILE).is_file():
        for name in WRITERS:
            out[name] = writer_canvases(folder, name, n, seed)
    return out
