"""Concurrent callers' model calls as one batch: each caller prepares its own input in its own
thread, then a worker thread runs the inputs queued by then through the model together and hands
each caller its own result, or its own exception.

    queue = BatchQueue(lambda canvases: forward(model, canvases), max_batch_size=32)
    reading = queue(prepare, model, image)   # prepare(model, image) here, forward in the batch

When to start a batch: at once, with whatever is queued, unless other callers are still preparing
their inputs (they announced themselves by calling); then the worker waits for them, at most
`window` seconds from the first queued input, or until `max_batch_size` inputs are queued. So a
lone request never waits, and under load the inputs that arrive while a batch runs make the next.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable, Sequence

import torch


class _Job:
    __slots__ = ("item", "result", "error", "done")

    def __init__(self, item):
        self.item = item
        self.result = None
        self.error: BaseException | None = None
        self.done = threading.Event()


class BatchQueue:
    """A worker thread that runs `run_batch(items) -> results` (one result per item, same order)
    on the items of concurrent callers, under `torch.inference_mode()`.

    - `max_batch_size`: the most items in one call of `run_batch`.
    - `window`: seconds the worker may wait, after the first item of a batch is queued, for callers
      that are still preparing theirs. It never waits when none are.
    - If `run_batch` raises for a batch of several items, each item is run again alone, so only the
      item that fails gets the exception; the worker carries on either way.
    """

    def __init__(self, run_batch: Callable[[list], Sequence], max_batch_size: int = 32,
                 window: float = 0.004, name: str = "digitsum-batch"):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.run_batch = run_batch
        self.max_batch_size = int(max_batch_size)
        self.window = float(window)
        self._cond = threading.Condition()
        self._queue: deque[_Job] = deque()
        self._preparing = 0          # callers between announcing themselves and queueing their item
        self._closed = False
        self.batches = 0             # counters, for tests and benchmarks
        self.items = 0
        self.largest_batch = 0
        self._thread = threading.Thread(target=self._work, daemon=True, name=name)
        self._thread.start()

    # ------------------------------------------------------------------ callers
    def __call__(self, prepare: Callable[..., Any] | None, *args, **kwargs):
        """`prepare(*args, **kwargs)` in this thread (its exceptions are this caller's alone), then
        its value through the next batch -> this item's result. Without `prepare`, args[0] is the
        item."""
        if prepare is None:
            return self.submit(args[0])
        with self._cond:
            self._check_open()
            self._preparing += 1
        try:
            item = prepare(*args, **kwargs)
        except BaseException:
            with self._cond:
                self._preparing -= 1
                self._cond.notify_all()
            raise
        return self._wait(self._put(item, prepared=True))

    def submit(self, item):
        """One ready item through the next batch -> its result (raises its own exception)."""
        with self._cond:
            self._check_open()
        return self._wait(self._put(item, prepared=False))

    def _check_open(self):
        if self._closed:
            raise RuntimeError("this batch queue is closed")

    def _put(self, item, prepared: bool) -> _Job:
        job = _Job(item)
        with self._cond:
            if prepared:
                self._preparing -= 1
            self._check_open()
            self._queue.append(job)
            self._cond.notify_all()
        return job

    @staticmethod
    def _wait(job: _Job):
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def close(self, timeout: float | None = 5.0):
        """Stop the worker after the queued items are served."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    # ------------------------------------------------------------------ the worker
    def _next_batch(self) -> list[_Job] | None:
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            deadline = time.monotonic() + self.window
            while len(self._queue) < self.max_batch_size and self._preparing > 0 and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            n = min(len(self._queue), self.max_batch_size)
            return [self._queue.popleft() for _ in range(n)]

    def _work(self):
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self.batches += 1
            self.items += len(batch)
            self.largest_batch = max(self.largest_batch, len(batch))
            try:
                self._run(batch)
            except BaseException as e:   # never leave a caller waiting, never let the worker die
                for job in batch:
                    if not job.done.is_set():
                        job.error = e
                        job.done.set()

    def _run(self, batch: list[_Job]):
        try:
            with torch.inference_mode():
                results = list(self.run_batch([job.item for job in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"the batch function gave {len(results)} results for {len(batch)} items")
        except Exception as e:
            if len(batch) == 1:
                batch[0].error = e
                batch[0].done.set()
                return
            for job in batch:   # one bad item must not fail the others: each alone
                self._run([job])
            return
        for job, result in zip(batch, results):
            job.result = result
            job.done.set()
