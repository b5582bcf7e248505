"""The test set, scored once per checkpoint and kept (in memory, and on disk by
`analysis.score_dataset`), in the background from the app's start.

Scoring all of a 10,000-image set takes minutes per checkpoint on a busy CPU, so the app scores a
first slice of every checkpoint (`first_slice` images, seconds each), then the whole set of each.
The views take the largest prefix scored for every checkpoint they show (`view`) and say which it
is (`coverage`); an index into a prefix is an index into the whole set.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from digitsum.data.course import CourseDataset, load_dataset, save_course_dataset
from digitsum.errors import DigitsumError
from digitsum.evaluation import analysis
from digitsum.storage.atomic import atomic_folder

from .checkpoints import CheckpointPool
from .inputs import checked_index

DEFAULT_TEST = dict(split="test", n=10000, seed=1234)  # the README's test set: same numbers everywhere
# the test images every checkpoint scores first, so that Compare and Errors show something within
# seconds of a fresh start. Measured per shipped checkpoint on 2 cores with a training run beside it:
# 500 images 2.3-4.3 s (10-12 s with a test suite running too), all 10,000 77-137 s; 1,000 would
# keep Compare's two default checkpoints past 10 s
FIRST_SLICE = 300


def default_test_set(cache_dir: Path) -> CourseDataset:
    """The course-layout test set from the vendored MNIST test digits, built once and cached."""
    folder = Path(cache_dir) / "test-{split}-{n}-seed{seed}".format(**DEFAULT_TEST)
    if not (folder / "digits0.npy").is_file():
        from digitsum.data.synth import generate_dataset
        images, digits = generate_dataset(DEFAULT_TEST["split"], DEFAULT_TEST["n"], DEFAULT_TEST["seed"])
        with atomic_folder(folder) as tmp:  # a half-built set is never mistaken for a cached one
            save_course_dataset(tmp, images, digits.sum(1), digits)
    return load_dataset(folder)


class TestSetScores:
    """Each checkpoint's scores of `dataset`: its first slice, then all of it."""

    def __init__(self, checkpoints: CheckpointPool, dataset: CourseDataset, cache_dir: Path,
                 first_slice: int = FIRST_SLICE):
        self.checkpoints, self.dataset, self.cache_dir = checkpoints, dataset, Path(cache_dir)
        self.first_slice = first_slice
        self._scores: dict[str, analysis.ScoredSet] = {}   # of the whole set
        self._first: dict[str, analysis.ScoredSet] = {}    # of the first slice
        # one lock per checkpoint and slice: scoring one never holds up another, nor a prediction
        self._score_locks = {name: threading.Lock() for name in checkpoints.names}
        self._first_locks = {name: threading.Lock() for name in checkpoints.names}
        self._running: dict[str, tuple[float, int]] = {}   # checkpoint -> (fraction, of how many), while it scores
        self._warm_thread: threading.Thread | None = None

    def scored(self, name: str) -> analysis.ScoredSet:
        """`name`'s scores of the whole test set (scored now unless done or cached: minutes)."""
        model = self.checkpoints.model(name)
        with self._score_locks[name]:
            if name not in self._scores:
                self._scores[name] = self._score(name, model, self.dataset)
            return self._scores[name]

    def first_scored(self, name: str) -> analysis.ScoredSet:
        """`name`'s scores of the first `first_slice` images (the whole set's when it is scored)."""
        if name in self._scores or len(self.dataset) <= self.first_slice:
            return self.scored(name)
        model = self.checkpoints.model(name)
        with self._first_locks[name]:
            if name not in self._first and name not in self._scores:
                self._first[name] = self._score(name, model, analysis.prefix(self.dataset, self.first_slice))
        return self._scores.get(name) or self._first[name]

    def _score(self, name, model, data) -> analysis.ScoredSet:
        """`data` scored by `model`, its progress kept for `running` and its quarters printed."""
        start = time.perf_counter()
        print(f"scoring {name} on {len(data):,} test images...", flush=True)
        quarters = set()

        def on_batch(done, total):
            self._running[name] = (done / total, total)
            quarter = 4 * done // total
            if quarter < 4 and quarter not in quarters and done > 0:
                quarters.add(quarter)
                print(f"scoring {name}: {done:,} of {total:,}", flush=True)

        self._running[name] = (0.0, len(data))
        try:
            scored = analysis.score_dataset(model, data, self.checkpoints.folder(name), self.cache_dir, on_batch)
        finally:
            self._running.pop(name, None)
        print(f"scored {name} in {time.perf_counter() - start:.1f} s", flush=True)
        return scored

    def _cached(self, name) -> bool:
        """True when `name`'s scores of the whole set are on disk (reading them takes no scoring)."""
        path = analysis.cache_path(self.checkpoints.folder(name), self.dataset, self.cache_dir)
        return path is not None and path.is_file()

    def fully_scored(self, name: str) -> bool:
        return name in self._scores

    def available(self, name: str) -> int:
        """How many test images (a prefix) `name` has scored so far: 0, the first slice or all."""
        if name in self._scores:
            return len(self.dataset)
        return self.first_slice if name in self._first else 0

    def view(self, names) -> int:
        """The prefix of the test set the views of `names` use now: the largest that every one of
        them has scored (the first slice is scored now for any that has not; seconds)."""
        names = self.checkpoints.chosen(names)
        for name in names:
            if not self.available(name):
                self.first_scored(name)
        return min((self.available(n) for n in names), default=len(self.dataset))

    def prefix_size(self, names, n: int | None) -> int:
        """`n` as given, or what `view(names)` takes now."""
        return self.view(names) if n is None else int(n)

    def coverage(self, names, n: int) -> str:
        """What the views of `names` at prefix `n` cover, in words (for a line above them)."""
        total = len(self.dataset)
        if n >= total:
            return f"On all **{total:,}** test images."
        waiting = [m for m in self.checkpoints.chosen(names) if self.available(m) < total]
        done = "" if waiting else " All of them are scored now: ↻ shows them."
        return (f"On the **first {n:,} of {total:,}** test images, what is scored so far; the rest is being scored "
                f"in the background (the line at the top follows it).{done}")

    def scores(self, name: str, n: int | None = None) -> analysis.ScoredSet:
        """`name`'s scores of the first `n` test images (default: all it has scored so far)."""
        n = self.view([name]) if n is None else int(n)
        scored = self._scores.get(name)
        if scored is None:
            scored = self.first_scored(name) if n <= self.first_slice else self.scored(name)
        return analysis.head(scored, n)

    def scores_of(self, name: str, index: int) -> analysis.ScoredSet:
        """Scores of `name` that include image `index` (what is scored so far, else the whole set)."""
        scored = self._scores.get(name) or self._first.get(name)
        if scored is None or index >= len(scored.sum_probs):
            scored = self.scored(name)
        return scored

    def item(self, index) -> np.ndarray:
        """Test image `index` (a one-line error for an index outside the set)."""
        return self.dataset.images[checked_index(index, len(self.dataset), "the dataset")]

    def data(self, n: int | None = None) -> CourseDataset:
        """The first `n` test images (default: all)."""
        return self.dataset if n is None else analysis.prefix(self.dataset, int(n))

    def running(self) -> dict[str, tuple[float, int]]:
        """The checkpoints scoring now -> (the fraction done, of how many images)."""
        return dict(self._running)

    def scoring_done(self) -> bool:
        """True once no scoring runs and the background warm-up (if started) has finished."""
        return not self._running and (self._warm_thread is None or not self._warm_thread.is_alive())

    def scoring_status(self) -> str:
        """'' when no test-set scoring runs, else a line such as 'scoring the test set: reader 40%'."""
        running = self.running()
        if not running:
            return ""
        return "scoring the test set: " + ", ".join(f"{n} {f:.0%}" for n, (f, _) in running.items())

    def warm_up(self, measure_features: Callable[[], object]) -> threading.Thread:
        """In the background: two predictions through each checkpoint, a course image and a drawing
        (so the first stroke finds it loaded and warm), then the first slice of the test set scored with each (so Errors and
        Compare show something within seconds), `measure_features()`, then the whole set with each."""
        names = self.checkpoints.names

        def run():
            for name in names:
                for image in (self.item(0), drawing_like(self.item(0))):
                    try:
                        self.checkpoints.predict(image, name)
                    except DigitsumError:
                        pass
            for step in (self.first_scored, None, self.scored):
                if step is None:
                    measure_features()
                    continue
                for name in names:
                    try:
                        (self.scored if self._cached(name) else step)(name)
                    except DigitsumError:
                        pass  # shown when the user picks that checkpoint
        thread = threading.Thread(target=run, daemon=True, name="digitsum-warm-up")
        self._warm_thread = thread
        thread.start()
        return thread


def drawing_like(image: np.ndarray) -> np.ndarray:
    """A course image (white ink on black) as the Draw tab's pad sends one: 4x larger, dark ink on
    white. Such images take the preprocessing path of drawings, photos and scans, whose first use
    costs ~300 ms (imports, set-up): the warm-up pays it, not the first stroke or API call."""
    return 255 - np.repeat(np.repeat(np.asarray(image, np.uint8), 4, axis=0), 4, axis=1)
