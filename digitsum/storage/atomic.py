"""Write a file or a folder all at once: build it beside the target, then swap it into place.

A file (`write_file`) is written to a hidden sibling and renamed over the target, so a reader sees
the old content or the new, never half of it.

At every instant one complete copy exists: the new folder is complete before the old one is moved
aside (to `.NAME.old`), and the old one is deleted only after the new one is in place. A kill
between the two renames leaves `.NAME.old` and no NAME; `recover` (run at the start of every
write and by readers that call it) puts it back, and deletes any half-built temporary folder.
Folders get the user's normal permissions (umask), not mkdtemp's private 0700.
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from digitsum.errors import disk_full


def _read_umask() -> int:
    mask = os.umask(0)   # the only way to read the umask is to set it: done once, at import, before
    os.umask(mask)       # the app's threads start, so no thread ever creates a file under umask 0
    return mask


UMASK = _read_umask()


def write_file(path, data: bytes | str) -> None:
    """Write `data` to `path` atomically, with the user's normal permissions; a full disk leaves the
    old file as it was (and no temporary file behind)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if isinstance(data, str):
            tmp.write_text(data)
        else:
            tmp.write_bytes(data)
        os.chmod(tmp, 0o666 & ~UMASK)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def recover(folder: Path) -> None:
    """Undo what a killed swap left behind: `.NAME.old` without NAME is put back; a `.NAME.old`
    beside a complete NAME, and half-built `.NAME.tmp-*` folders, are deleted."""
    folder = Path(folder)
    old = folder.with_name(f".{folder.name}.old")
    if old.exists():
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, folder)
    for tmp in folder.parent.glob(f".{folder.name}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_folder(folder: Path):
    """`with atomic_folder(path) as tmp:` write into tmp; on success tmp replaces path."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    recover(folder)
    mask = UMASK
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    os.chmod(tmp, 0o777 & ~mask)
    try:
        try:
            yield tmp
        except Exception as e:   # a full disk, however the writer said it, is an OSError naming the
            if disk_full(e):     # folder meant, not the temporary one (the old folder is still in place)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder)) from e
            raise
        for path in tmp.rglob("*"):   # some writers (safetensors) create private 0600 files
            os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)
        old = folder.with_name(f".{folder.name}.old")
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
