"""`python -m digitsum ...` in its own process, as a user runs it: the one helper of the tests of
the library's command line (cli, suite, real sets, slices)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_digitsum(*args, cwd=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m digitsum` with `args` (paths and numbers are turned into strings), output captured."""
    return subprocess.run([sys.executable, "-m", "digitsum", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)})
