"""The handwriting fonts, for the tests that render them: fetched into their cache when missing
(./run test, which CI runs, fetches them first), and a test skipped, saying why, only when they are
missing and the registry cannot be reached. A tarball that fails its check fails the test."""
import functools

import pytest


@functools.lru_cache(maxsize=1)
def _why_not() -> str | None:
    """Asked once a session: an unreachable registry costs its timeout once, not once per test."""
    from digitsum.data.handfonts import RegistryUnreachable, fetch
    try:
        fetch()
    except RegistryUnreachable as e:
        return str(e)
    return None


def hand_fonts_or_skip() -> None:
    why = _why_not()
    if why:
        pytest.skip(f"the handwriting fonts are not in their cache, and {why}")
