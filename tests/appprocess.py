"""`python app.py` in its own process, for the tests that need a real server (a browser, a request
that holds the interpreter)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def start_app(args: list[str], cwd, env: dict | None = None, timeout: float = 120) -> tuple[subprocess.Popen, list[str]]:
    """Start app.py with `args` and wait until it says it is ready -> (the process, its output so
    far, which keeps growing). The output is drained in a thread: a deadline that holds even if the
    app prints nothing, and a pipe that never fills up and blocks the app later. An app that is not
    ready in `timeout` s is killed and fails the test with its last lines."""
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd)
    output, ready = [], threading.Event()

    def pump():
        for line in proc.stdout:
            output.append(line)
            if "ready at" in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout):
        proc.kill()
        pytest.fail(f"the app did not start within {timeout:.0f} s; its output:\n" + "".join(output[-40:]))
    return proc, output
