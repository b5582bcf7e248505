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
