"""What the app's messages say of the server's files: a path as the pages show it, and an error
that calls a file by the name the user knows it by, on one line."""
from __future__ import annotations

from pathlib import Path

from digitsum.errors import DigitsumError


def one_line(text) -> str:
    return " ".join(str(text).split())


def shown_path(path) -> str:
    """A server path as the app's pages show it: relative to the working directory when inside it,
    else its last part only (the server's folders are nobody else's business)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) or "."
    except (ValueError, OSError):
        return path.name or str(path)


def named(error: DigitsumError, path, name: str | None) -> DigitsumError:
    """The same error with the file called by `name` (what the user knows it as), not by `path`
    (where the server keeps it: an upload's temporary folder)."""
    if not name:
        return error
    message = str(error).replace(str(path), name).replace(str(Path(path).resolve()), name)
    return type(error)(one_line(message))
