"""The labels database (SQLite, WAL): images with their four digits, saved one transaction at a time,
so a crash or a bad request never loses what was saved before. Exported to the course format."""
from __future__ import annotations

import io
import sqlite3
import time
from collections import Counter
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from digitsum.errors import DataError, disk_full, shorten
from digitsum.data.course import CourseDataset, save_course_dataset

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
CREATE TABLE IF NOT EXISTS claims (     -- the queue item each annotator is shown, so no two get the same
    source  TEXT NOT NULL,
    item    INTEGER NOT NULL,
    owner   TEXT NOT NULL,              -- the annotator's session
    expires REAL NOT NULL,              -- time.time() after which another annotator may be given it
    PRIMARY KEY (source, item)
);
"""
CLAIM_SECONDS = 600   # an item shown to an annotator is theirs this long (each new item renews it)


ASCII_DIGITS = "0123456789"


class ClaimError(DataError):
    """The queue item is held by another annotator now."""


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
    def __init__(self, path, title: str | None = None):
        self.path = Path(path)
        self.title = title or self.path.name   # how messages name it (never the server's folders)
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

    @contextmanager
    def _db(self, undone: str, write: bool = False):
        """A connection (one transaction when `write`, taken at once, so two annotators' claims and
        saves never interleave). SQLite's failures become one line that says what was not done
        (`undone`): a full disk ("database or disk is full") as such, never "something went wrong"."""
        try:
            with closing(self._connect()) as conn:
                if write:
                    conn.isolation_level = None
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield conn
                    except BaseException:
                        if conn.in_transaction:   # SQLite may have rolled back itself (a full disk)
                            try:
                                conn.execute("ROLLBACK")
                            except sqlite3.Error:
                                pass
                        raise
                    conn.execute("COMMIT")
                else:
                    yield conn
        except sqlite3.Error as e:
            if disk_full(e):
                raise DataError(f"the disk holding the labels database {self.title} is full: {undone}; "
                                "free some space, then try again") from None
            if "locked" in str(e) or "busy" in str(e):
                raise DataError(f"the labels database {self.title} is busy with another writer: {undone}; "
                                "try again") from None
            raise DataError(f"the labels database {self.title} cannot be used ({shorten(e, 200)}): {undone}") from None

    @staticmethod
    def _png(canvas: np.ndarray) -> bytes:
        arr = np.asarray(canvas)
        if arr.dtype != np.uint8:
            arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr, "L").save(buf, format="PNG")
        return buf.getvalue()

    def save(self, canvas: np.ndarray, digits, source: str = "drawing", item: int | None = None,
             owner: str | None = None) -> int:
        """Store one image (H, W) float in [0, 1] or uint8 with its digits; returns the row id.
        Saving the same dataset item again replaces its label. With `owner` (an annotator), the item
        must not be claimed by another annotator now."""
        values = parse_digits(digits)
        row = (source, item, self._png(canvas), "".join(map(str, values)), sum(values),
               datetime.now(timezone.utc).isoformat(timespec="seconds"))
        with self._db("the label was not saved", write=True) as conn:
            if item is not None and owner is not None:
                self._check_claim(conn, source, item, owner)
            if item is not None:
                conn.execute("DELETE FROM labels WHERE source = ? AND item = ?", (source, item))
            return conn.execute("INSERT INTO labels (source, item, png, digits, total, created) "
                                "VALUES (?, ?, ?, ?, ?, ?)", row).lastrowid

    @staticmethod
    def _check_claim(conn, source: str, item: int, owner: str) -> None:
        holder = conn.execute("SELECT owner FROM claims WHERE source = ? AND item = ? AND expires > ?",
                              (source, item, time.time())).fetchone()
        if holder is not None and holder[0] != owner:
            raise ClaimError(f"#{item} is being labelled by another annotator now: not saved")

    def delete(self, row_id: int) -> None:
        with self._db("the label was not deleted", write=True) as conn:
            conn.execute("DELETE FROM labels WHERE id = ?", (row_id,))

    def undo(self, row_id: int, canvas: np.ndarray | None = None, previous: str | None = None) -> None:
        """Withdraw label row `row_id` (one's own last save): deleted, or, with `previous`, the item
        gets that label back (image `canvas`). Only while the row is still there: once another
        annotator has labelled the item again, their label stands and nothing is undone."""
        values = parse_digits(previous) if previous is not None else None
        with self._db("nothing was undone", write=True) as conn:
            found = conn.execute("SELECT source, item FROM labels WHERE id = ?", (row_id,)).fetchone()
            if found is None:
                raise DataError("that label was changed since by another annotator (or deleted): nothing undone")
            conn.execute("DELETE FROM labels WHERE id = ?", (row_id,))
            if values is not None:
                source, item = found
                conn.execute("INSERT INTO labels (source, item, png, digits, total, created) VALUES (?, ?, ?, ?, ?, ?)",
                             (source, item, self._png(canvas), "".join(map(str, values)), sum(values),
                              datetime.now(timezone.utc).isoformat(timespec="seconds")))

    def claim_next(self, source: str, count: int, after: int, owner: str, seconds: float | None = None) -> int | None:
        """The first item after `after` (of `count`) that has no label and that no other annotator
        holds, now held by `owner` for `seconds` (default CLAIM_SECONDS; they give up the item they
        held before); None when none is left."""
        now = time.time()
        seconds = CLAIM_SECONDS if seconds is None else seconds
        with self._db("the next image could not be chosen", write=True) as conn:
            conn.execute("DELETE FROM claims WHERE expires <= ? OR owner = ?", (now, owner))
            busy = {i for (i,) in conn.execute("SELECT item FROM labels WHERE source = ? AND item IS NOT NULL", (source,))}
            busy |= {i for (i,) in conn.execute("SELECT item FROM claims WHERE source = ?", (source,))}
            for index in range(max(after + 1, 0), count):
                if index not in busy:
                    conn.execute("INSERT INTO claims (source, item, owner, expires) VALUES (?, ?, ?, ?)",
                                 (source, index, owner, now + seconds))
                    return index
        return None

    def claim(self, source: str, item: int, owner: str, seconds: float | None = None) -> None:
        """Item `item` held by `owner` (who gives up the item they held before); a ClaimError when
        another annotator holds it now."""
        now = time.time()
        seconds = CLAIM_SECONDS if seconds is None else seconds
        with self._db("the image could not be shown", write=True) as conn:
            conn.execute("DELETE FROM claims WHERE expires <= ? OR owner = ?", (now, owner))
            self._check_claim(conn, source, item, owner)
            conn.execute("INSERT OR REPLACE INTO claims (source, item, owner, expires) VALUES (?, ?, ?, ?)",
                         (source, item, owner, now + seconds))

    def holder(self, source: str, item: int) -> str | None:
        """The annotator who holds `item` now, or None."""
        with self._db("the claims could not be read") as conn:
            row = conn.execute("SELECT owner FROM claims WHERE source = ? AND item = ? AND expires > ?",
                               (source, item, time.time())).fetchone()
            return row[0] if row else None

    def count(self, source: str | None = None) -> int:
        with self._db("the labels could not be counted") as conn:
            if source is None:
                return conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
            return conn.execute("SELECT COUNT(*) FROM labels WHERE source = ?", (source,)).fetchone()[0]

    def counts(self) -> dict[str, int]:
        """Labels per source ('drawing', 'upload' or a label queue's name)."""
        with self._db("the labels could not be counted") as conn:
            return dict(conn.execute("SELECT source, COUNT(*) FROM labels GROUP BY source").fetchall())

    def labeled_items(self, source: str) -> dict[int, str]:
        with self._db("the labels could not be read") as conn:
            rows = conn.execute("SELECT item, digits FROM labels WHERE source = ? AND item IS NOT NULL", (source,))
            return {item: digits for item, digits in rows}

    def rows(self) -> list[tuple[int, str, int | None, str, int]]:
        with self._db("the labels could not be read") as conn:
            return conn.execute("SELECT id, source, item, digits, total FROM labels ORDER BY id").fetchall()

    def as_dataset(self, height: int = 40, width: int = 168) -> CourseDataset:
        """Every saved image fitted to (height, width), with sums and digits."""
        return self._dataset(height, width)[0]

    def _dataset(self, height: int, width: int) -> tuple[CourseDataset, dict[str, int]]:
        """-> (every saved image fitted to (height, width), with sums and digits; how many per source),
        read in one query."""
        from digitsum.reading.preprocess import fit_batch
        with self._db("the labels could not be read") as conn:
            rows = conn.execute("SELECT png, digits, source FROM labels ORDER BY id").fetchall()
        if not rows:
            return CourseDataset(np.zeros((0, height, width), np.uint8), np.zeros(0, np.int64),
                                 np.zeros((0, 4), np.int64), source=str(self.path)), {}
        images = []
        for png, _, _ in rows:
            im = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
            if im.shape != (height, width):
                im = (fit_batch(im[None], height, width)[0] * 255).round().astype(np.uint8)
            images.append(im)
        digits = np.array([[int(c) for c in d] for _, d, _ in rows], np.int64)
        sources = Counter(source for _, _, source in rows)
        return CourseDataset(np.stack(images), digits.sum(1), digits, source=str(self.path)), dict(sources)

    def export(self, folder, height: int = 40, width: int = 168) -> list[Path]:
        """Write data0.npy, lab0.npy and digits0.npy (course format), which `python -m train` reads."""
        return self.export_counted(folder, height, width)[0]

    def export_counted(self, folder, height: int = 40, width: int = 168) -> tuple[list[Path], dict[str, int]]:
        """`export`, and how many labels of each source it wrote (from the same read: nothing is
        read again after the write, which a disk the export just filled could refuse)."""
        data, sources = self._dataset(height, width)
        if not len(data):
            raise DataError(f"{self.title}: no labels saved yet, nothing to export")
        return save_course_dataset(folder, data.images, data.sums, data.digits), sources
