"""Preprocessing in worker processes, for a server that answers many requests at once.

`fit_to_canvas` spends much of its time (0.4 ms for a course image, ~16 ms for a drawing 4x its
size: PIL's median filters, numpy on small arrays) holding Python's interpreter lock, and so does
the web framework around it: a server's threads then take turns on one core however many there
are. Run in worker processes, preprocessing gets cores of its own, and the server's process keeps
only its web work and the model's forward pass (torch releases the lock).

    pool = PreprocessPool(workers=2)
    canvas = pool.fit(image, 40, 168)   # what fit_to_canvas(image, 40, 168) returns, its errors too
    pool.close()

Workers are started with "spawn" (the server's threads make fork unsafe), so a program whose
main script uses a pool keeps its heavy imports inside functions: a spawned worker imports the
main script again. If a worker dies (killed, out of memory), that image is preprocessed in the
caller's thread and the pool is started afresh: a request is never lost to a dead worker.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from digitsum.reading.preprocess import fit_to_canvas


PARENT_CHECK_S = 1.0   # how often a worker looks whether the process that started it is still there


def _started() -> int:
    """A warm-up task: this worker has imported preprocessing and is ready -> its pid. It takes a
    moment, so that one worker does not take every warm-up task while another still starts."""
    time.sleep(0.05)
    return os.getpid()


def _worker_setup(parent: int) -> None:
    """In each worker, first: Ctrl-C is the parent's to handle (it closes the pool; a worker would
    print a traceback of its own), and a worker whose parent is gone, however it went (killed,
    crashed), exits instead of waiting for work that never comes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)
    threading.Thread(target=watch, daemon=True, name="digitsum-parent-watch").start()


class PreprocessPool:
    """`workers` processes that run `fit_to_canvas`; `fit` may be called from any thread."""

    def __init__(self, workers: int = 2):
        if workers < 1:
            raise ValueError("a preprocessing pool needs at least one worker")
        self.workers = int(workers)
        self._lock = threading.Lock()
        self._closed = False
        self.restarts = 0   # how often a dead worker made the pool start afresh (for tests and logs)
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_setup, initargs=(os.getpid(),))

    def warm_up(self, timeout: float = 60.0) -> None:
        """Start every worker now (each imports numpy and PIL: ~0.5 s), not at the first request, and
        return when each has answered (or after `timeout` s)."""
        ready: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(ready) < self.workers and time.monotonic() < deadline:
            executor = self._executor
            try:
                futures = [executor.submit(_started) for _ in range(self.workers)]
                ready.update(future.result() for future in futures)
            except BrokenProcessPool:     # a worker died while starting: the first request starts afresh
                self._restart(executor)
                return
            except RuntimeError:          # closed meanwhile
                return

    def fit(self, image, height: int, width: int) -> np.ndarray:
        """`fit_to_canvas(image, height, width)` in a worker: the same canvas, the same errors."""
        executor = self._executor
        if self._closed:
            return fit_to_canvas(image, height, width)
        try:
            future = executor.submit(fit_to_canvas, image, height, width)
        except (BrokenProcessPool, RuntimeError):   # broken, or closed or replaced since read above
            self._restart(executor)
            return fit_to_canvas(image, height, width)
        try:
            return future.result()
        except BrokenProcessPool:
            self._restart(executor)
            return fit_to_canvas(image, height, width)

    def _restart(self, broken: ProcessPoolExecutor) -> None:
        """A new pool in place of `broken`, once, however many callers saw it break."""
        with self._lock:
            if self._closed or self._executor is not broken:
                return
            broken.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            self.restarts += 1

    def close(self) -> None:
        """Stop the workers (an image being preprocessed is finished first)."""
        with self._lock:
            self._closed = True
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> PreprocessPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
