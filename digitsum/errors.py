"""Errors a user can cause and fix: each carries a one-line message meant to be shown as is."""


class DigitsumError(Exception):
    """Base class: caught by the CLIs and the app and shown without a traceback."""


class DataError(DigitsumError):
    """A dataset file or folder is missing, corrupt or not in the expected layout."""


class CheckpointError(DigitsumError):
    """A checkpoint cannot be found, read or trusted."""


class BlankImageError(DigitsumError):
    """The image holds no ink (or almost none), so there is nothing to predict."""
