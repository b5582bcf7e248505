"""The app as a child process, for scripts/load_bench.py: started on its own port in a folder of its
own, its output followed in a thread, its CPU time read from /proc."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the process's name (field 3 onwards)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _descendants(pid: int) -> list[int]:
    """The processes started by `pid`, and by them, alive now (the app's preprocessing workers)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def cpu_seconds(pid: int | None = None) -> float | None:
    """User + system CPU seconds of process `pid` and the processes it started (this process alone
    if None), from /proc; None elsewhere."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    try:
        total = 0
        for p in [pid, *_descendants(pid)]:
            fields = _stat(p)
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """The app as a child process; its output is read in a thread (and echoed with --verbose)."""

    def __init__(self, args, workdir: Path, port: int):
        env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
        cache = Path(args.cache_dir).resolve() if args.cache_dir else workdir / "cache"
        self.command = [sys.executable, str(Path(args.app).resolve()), "--checkpoints",
                        *[str(Path(c).resolve()) for c in args.checkpoints], "--port", str(port),
                        "--labels-db", str(workdir / "labels.db"), "--cache-dir", str(cache),
                        "--exports-dir", str(workdir / "exports")]
        for flag in ("preprocess_workers", "torch_threads"):   # the app's own default where not given
            if getattr(args, flag, None) is not None:
                self.command += ["--" + flag.replace("_", "-"), str(getattr(args, flag))]
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.verbose = args.verbose
        self.proc = subprocess.Popen(self.command, cwd=workdir, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if self.verbose:
                print(f"  app | {line.rstrip()}", flush=True)
            with self.changed:
                self.lines.append(line.rstrip())
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, pattern: str, timeout: float) -> str | None:
        """The first output line matching `pattern` (regex), waiting up to `timeout` s; None if none."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self.changed:
            while True:
                for line in self.lines[seen:]:
                    if re.search(pattern, line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return None
                self.changed.wait(min(left, 1.0))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
