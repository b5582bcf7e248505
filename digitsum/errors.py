"""Errors a user can cause and fix: each carries a one-line message meant to be shown as is."""


class DigitsumError(Exception):
    """Base class: caught by the CLIs and the app and shown without a traceback."""


class DataError(DigitsumError):
    """A dataset file or folder is missing, corrupt or not in the expected layout."""


class CheckpointError(DigitsumError):
    """A checkpoint cannot be found, read or trusted."""


class BlankImageError(DigitsumError):
    """The image holds no ink (or almost none), so there is nothing to predict."""


def shorten(text, limit: int = 60, quote: bool = False) -> str:
    """`text` (a name, a label, a path a user gave) made fit for a message or a log: one line, and
    cut after `limit` characters, saying how long it was. With `quote`, as repr() shows it. Costs
    O(limit), whatever the length of `text`: a 100 MB name is no slower to name than a short one."""
    if not isinstance(text, str):
        text = repr(text) if quote else str(text)
        quote = False
    cut = len(text) > limit
    head = text[:limit]
    head = repr(head) if quote else " ".join(head.split())
    return f"{head}… ({len(text):,} characters)" if cut else head


DISK_FULL_ERRNOS = (28, 122)   # ENOSPC, EDQUOT (Linux; also 28 and 69 on macOS, where 122 is unused)
DISK_FULL_WORDS = ("no space left on device", "disk quota exceeded", "os error 28", "os error 122",
                   "database or disk is full")


def disk_full(error: BaseException) -> bool:
    """Whether `error` says the disk (or the user's quota) is full, however its writer put it: an
    OSError (ENOSPC), safetensors' own error ("I/O error: No space left on device (os error 28)"),
    SQLite's ("database or disk is full")."""
    if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
        return True
    text = str(error)[:1000].lower()
    return any(words in text for words in DISK_FULL_WORDS)
