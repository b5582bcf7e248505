"""Command-line flags shared by `python -m digitsum` and `python -m train`: a parser whose errors are
one line, argparse types for the usual checks (so a bad number is refused while parsing, with the
flag's name), and the checks of a device and an output folder that need more than the value."""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from digitsum.errors import DigitsumError


class OneLineParser(argparse.ArgumentParser):
    """argparse's own errors (a bad int, a missing flag) become one `error:` line like every other,
    instead of the usage block and an exit from inside the parser."""

    def error(self, message):
        raise DigitsumError(f"{message} (see {self.prog} --help)")


def _number(kind, test, wording: str):
    def parse(text: str):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"must be {wording}, not {text}")
        return value
    parse.__name__ = f"{wording} {kind.__name__}"   # argparse names the type in some of its messages
    return parse


# argparse types: `type=positive_int` refuses 0 and -3 at parse time with "argument --n: must be positive"
positive_int = _number(int, lambda v: v > 0, "positive")
positive_float = _number(float, lambda v: v > 0 and v != float("inf"), "positive")
nonnegative_int = _number(int, lambda v: v >= 0, "non-negative")
nonnegative_float = _number(float, lambda v: 0 <= v < float("inf"), "non-negative")


fraction = _number(float, lambda v: 0.0 <= v < 1.0, "in [0, 1)")   # a share of a batch or of a pool


def check_device(flag: str, allow_auto: bool = True) -> None:
    """Refuse a --device torch cannot use here now, not after the data is loaded: a typo, or a GPU
    this machine does not have."""
    import torch
    if flag == "auto" and allow_auto:
        return
    choices = ("auto, " if allow_auto else "") + "cpu, cuda, cuda:N or mps"
    try:
        device = torch.device(flag)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise DigitsumError(f"--device: {flag!r} is not a device this program runs on; use {choices}")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DigitsumError(f"--device: {flag!r} needs a CUDA GPU and torch finds none here; use cpu")
        if device.index is not None and device.index >= count:
            raise DigitsumError(f"--device: {flag!r}, but torch finds {count} CUDA GPU(s) here (cuda:0 to cuda:{count - 1})")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DigitsumError(f"--device: {flag!r}, but MPS (Apple GPU) is not available here; use cpu")


def check_output_folder(flag: str, folder: Path, replaced: bool = False) -> None:
    """Refuse now an output folder that could not be written later, after all the work: a file in
    its place or in its path, or a parent folder we may not create in. `replaced`: the folder is
    swapped in whole (atomic_folder), so its parent is written too."""
    folder = Path(folder)
    try:
        if folder.exists() and not folder.is_dir():
            raise DigitsumError(f"{flag} {folder}: this is a file, not a folder")
        start = folder.parent if replaced else folder
        base = next(p for p in (start, *start.parents) if p.exists())
        if not base.is_dir():
            raise DigitsumError(f"{flag} {folder}: {base} is a file, not a folder")
        if not os.access(base, os.W_OK | os.X_OK):
            raise PermissionError(13, "permission denied")
        if base != folder:   # root passes os.access even where mkdir fails (/sys): try it where we will create
            tempfile.TemporaryDirectory(dir=base).cleanup()
    except OSError as e:
        raise DigitsumError(f"{flag} {folder}: cannot create or write this folder ({e.strerror or e})") from None
