"""The Label tab's exports: every label in the labels database, written in the course format into
a new folder directly inside the exports folder (never over earlier work, never elsewhere), and
zipped for the page to download."""
from __future__ import annotations

import os
import re
import threading
import zipfile
from pathlib import Path
from typing import Callable

from digitsum.errors import DataError, shorten
from digitsum.storage.atomic import atomic_folder
from digitsum.storage.labeldb import LabelStore

from .messages import shown_path

EXPORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # a plain folder name, never a path


def check_folder(path: Path, given, what: str) -> None:
    """A one-line DataError unless `path` is a folder or can be made one (no file at it or above it)."""
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                which = "it" if folder == path else str(folder)
                raise DataError(f"{shorten(given, 200)} ({what}): {which} is a file, not a folder")
            return


class LabelExports:
    """Exports of `store` into `exports_dir`; `by_kind` counts what one holds (LabelQueue.by_kind)."""

    def __init__(self, store: LabelStore, exports_dir: Path, by_kind: Callable[[dict], dict]):
        self.store, self.exports_dir, self.by_kind = store, Path(exports_dir), by_kind
        self.title = shown_path(self.exports_dir)
        self._lock = threading.Lock()

    def export_folder(self, name) -> Path:
        """The folder an export called `name` goes to: always directly inside `exports_dir`. `name`
        must be a plain folder name (letters, digits, '.', '_', '-'; no path), and the folder must
        not exist yet (an empty one is fine): an export never replaces earlier work."""
        name = name.strip() if isinstance(name, str) else name
        if not isinstance(name, str) or not name:
            raise DataError("type a name for the export folder, e.g. labeled-1")
        if not EXPORT_NAME.fullmatch(name) or ".." in name:
            raise DataError(f"{shorten(name, quote=True)} is not a plain folder name: use letters, digits, '.', '_' and '-' "
                            f"only (no '/', '\\' or '..', at most 64), e.g. labeled-1")
        folder = self.exports_dir / name
        if os.path.lexists(folder) and not (folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir())):
            raise DataError(f"{name} already exists in {self.title}; choose another name, "
                            f"e.g. {self._free_name(name)}")
        return folder

    def _free_name(self, name: str) -> str:
        stem = re.sub(r"-\d+$", "", name)[:56]
        k = 2
        while os.path.lexists(self.exports_dir / f"{stem}-{k}"):
            k += 1
        return f"{stem}-{k}"

    def export_labels(self, name) -> list[Path]:
        """Export every label in the course format to `exports_dir / name` (see `export_folder`),
        all at once: a failed export leaves nothing behind."""
        return self.export_labels_counted(name)[0]

    def export_labels_counted(self, name) -> tuple[list[Path], dict[str, int]]:
        """`export_labels`, and what it wrote by kind (see `by_kind`), counted from the export's own
        read: once the files are in place the export has succeeded, whatever a disk it filled
        refuses afterwards."""
        with self._lock:  # the name check and the write, one export at a time
            folder = self.export_folder(name)
            try:
                with atomic_folder(folder) as tmp:
                    written, sources = self.store.export_counted(tmp)
            except OSError as e:
                raise DataError(f"cannot write the export folder {shown_path(folder)} ({e.strerror or e})") from None
            return [folder / p.name for p in written], self.by_kind(sources)

    @staticmethod
    def export_archive(files: list[Path], into: Path) -> Path:
        """The exported files as one zip in the folder `into` (for the page to download):
        `into`/NAME.zip holding NAME/data0.npy, ... (stored: .npy files hardly compress)."""
        folder = files[0].parent
        archive = Path(into) / f"{folder.name}.zip"
        try:
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
                for f in files:
                    z.write(f, f"{folder.name}/{f.name}")
        except BaseException:   # no half-written zip is left (a full disk)
            archive.unlink(missing_ok=True)
            raise
        return archive
