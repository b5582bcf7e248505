"""The labels database (SQLite, WAL): images with their four digits, saved one transaction at a time,
so a crash or a bad request never loses what was saved before. Exported to the course format."""
from __future__ import annotations

import io
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import DataError, shorten
from .realdata import CourseDataset, save_course_dataset

SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    source  TEXT NOT NULL,              -- 'drawing', 'upload' or the dataset path
    item    INTEGER,                    -- index in the dataset, NULL for drawings and uploads
    png     BLOB NOT NULL,              -- the image as the model saw it: gray PNG, white on black
    digits  TEXT NOT NULL CHECK (length(digits) = 4 AND digits NOT GLOB '*[^0-9]*'),
    total   INTEGER NOT NULL,
    created TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_label_per_item ON labels(source, item) WHERE item IS NOT NULL;
"""


ASCII_DIGITS = "0123456789"


def parse_digits(text) -> list[int]:
    """'3 1 4 1', '3141', [3, 1, 4, 1] -> [3, 1, 4, 1]; anything else is a clear error. Only the
    ASCII digits count ('²' and '١' pass str.isdigit() but are not what a label means), and a
    number must be a whole 0-9 (1.9 is refused, not truncated)."""
    if isinstance(text, str):
        chars = [c for c in text if c not in " \t\n\r,;"]   # separators: ASCII only, as the digits
        ok = len(chars) == 4 and all(c in ASCII_DIGITS for c in chars)
        values = [int(c) for c in chars] if ok else []
    else:
        try:
            items = list(text)
        except TypeError:
            items = []
        ok = len(items) == 4 and all(_is_digit_value(v) for v in items)
        values = [int(v) for v in items] if ok else []
    if not ok:
        raise DataError(f"type exactly four digits 0-9 (got {shorten(text, quote=True)})")
    return values


def _is_digit_value(v) -> bool:
    if isinstance(v, str):
        return len(v) == 1 and v in ASCII_DIGITS
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return False
    return float(v).is_integer() and 0 <= v <= 9


class LabelStore:
    def __init__(self, path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise DataError(f"{self.path}: not a usable labels database ({e})") from None
        except OSError as e:
            raise DataError(f"{self.path}: cannot create the labels database ({e})") from None

    def _connect(self) -> sqlite3.Connection:
        # a connection per call: safe from the app's worker threads; WAL lets readers run alongside
        return sqlite3.connect(self.path, timeout=10)

    def save(self, canvas: np.ndarray, digits, source: str = "drawing", item: int | None = None) -> int:
        """Store one image (H, W) float in [0, 1] or uint8 with its digits; returns the row id.
        Saving the same dataset item again replaces its label."""
        values = parse_digits(digits)
        arr = np.asarray(canvas)
        if arr.dtype != np.uint8:
            arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr, "L").save(buf, format="PNG")
        row = (source, item, buf.getvalue(), "".join(map(str, values)), sum(values),
               datetime.now(timezone.utc).isoformat(timespec="seconds"))
        with closing(self._connect()) as conn, conn:  # one transaction
            if item is not None:
                conn.execute("DELETE FROM labels WHERE source = ? AND item = ?", (source, item))
            return conn.execute("INSERT INTO labels (source, item, png, digits, total, created) "
                                "VALUES (?, ?, ?, ?, ?, ?)", row).lastrowid

    def delete(self, row_id: int) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute("DELETE FROM labels WHERE id = ?", (row_id,))

    def count(self, source: str | None = None) -> int:
        with closing(self._connect()) as conn:
            if source is None:
                return conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
            return conn.execute("SELECT COUNT(*) FROM labels WHERE source = ?", (source,)).fetchone()[0]

    def labeled_items(self, source: str) -> dict[int, str]:
        with closing(self._connect()) as conn:
            rows = conn.execute("SELECT item, digits FROM labels WHERE source = ? AND item IS NOT NULL", (source,))
            return {item: digits for item, digits in rows}

    def rows(self) -> list[tuple[int, str, int | None, str, int]]:
        with closing(self._connect()) as conn:
            return conn.execute("SELECT id, source, item, digits, total FROM labels ORDER BY id").fetchall()

    def as_dataset(self, height: int = 40, width: int = 168) -> CourseDataset:
        """Every saved image fitted to (height, width), with sums and digits."""
        from .preprocess import fit_batch
        with closing(self._connect()) as conn:
            rows = conn.execute("SELECT png, digits FROM labels ORDER BY id").fetchall()
        if not rows:
            return CourseDataset(np.zeros((0, height, width), np.uint8), np.zeros(0, np.int64),
                                 np.zeros((0, 4), np.int64), source=str(self.path))
        images = []
        for png, _ in rows:
            im = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
            if im.shape != (height, width):
                im = (fit_batch(im[None], height, width)[0] * 255).round().astype(np.uint8)
            images.append(im)
        digits = np.array([[int(c) for c in d] for _, d in rows], np.int64)
        return CourseDataset(np.stack(images), digits.sum(1), digits, source=str(self.path))

    def export(self, folder, height: int = 40, width: int = 168) -> list[Path]:
        """Write data0.npy, lab0.npy and digits0.npy (course format), which `python -m train` reads."""
        data = self.as_dataset(height, width)
        if not len(data):
            raise DataError(f"{self.path}: no labels saved yet, nothing to export")
        return save_course_dataset(folder, data.images, data.sums, data.digits)
