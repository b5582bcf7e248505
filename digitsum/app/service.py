"""Everything the app does, without the UI: checkpoints by name, one image through them, the test
set scored once per checkpoint (cached), error views, and the labeling queue. `app.py` wires it to
Gradio; tests drive it directly."""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import numpy as np
import torch

from digitsum.evaluation import analysis

from digitsum.evaluation import slices
from digitsum.storage.atomic import atomic_folder
from digitsum.reading.batching import BatchQueue
from digitsum.storage.checkpoint import hub_id, is_checkpoint, load_checkpoint, load_metrics, missing_folder
from digitsum.errors import DataError, DigitsumError, shorten
from digitsum.storage.labeldb import LabelStore, parse_digits
from digitsum.reading.predict import Prediction, finish, forward, prepare
from digitsum.reading.preprocess import check_size, load_image_file
from digitsum.data.course import CourseDataset, load_dataset, save_course_dataset
from digitsum.reading.sumdist import most_likely_digits_for_sum

BATCH_SIZE = 32       # the most predictions in one forward pass
BATCH_WINDOW = 0.004  # s a batch may wait for callers still preprocessing (never when none are)
DEFAULT_TEST = dict(split="test", n=10000, seed=1234)  # the README's test set: same numbers everywhere
# the test images every checkpoint scores first, so that Compare and Errors show something within
# seconds of a fresh start. Measured per shipped checkpoint on 2 cores with a training run beside it:
# 500 images 2.3-4.3 s (10-12 s with a test suite running too), all 10,000 77-137 s; 1,000 would
# keep Compare's two default checkpoints past 10 s
FIRST_SLICE = 300
EXPORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # a plain folder name, never a path


def _of(k: int, n: int) -> str:
    return "every checkpoint" if k == n else f"{k} of {n} checkpoints"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def shown_path(path) -> str:
    """A server path as the app's pages show it: relative to the working directory when inside it,
    else its last part only (the server's folders are nobody else's business)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) or "."
    except (ValueError, OSError):
        return path.name or str(path)


def _named(error: DigitsumError, path, name: str | None) -> DigitsumError:
    """The same error with the file called by `name` (what the user knows it as), not by `path`
    (where the server keeps it: an upload's temporary folder)."""
    if not name:
        return error
    message = str(error).replace(str(path), name).replace(str(Path(path).resolve()), name)
    return type(error)(_one_line(message))


def _checked_index(index, count: int, what: str, prefix: str = "") -> int:
    """`index` as an int in 0..count-1; anything else is a one-line DataError about `what`."""
    try:
        index = int(index)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{prefix}the index must be a whole number (got {shorten(index, quote=True)})") from None
    if not 0 <= index < count:
        raise DataError(f"{prefix}index {index} is outside {what} (0-{count - 1})")
    return index


def _check_folder(path: Path, given, what: str) -> None:
    """A one-line DataError unless `path` is a folder or can be made one (no file at it or above it)."""
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                which = "it" if folder == path else str(folder)
                raise DataError(f"{shorten(given, 200)} ({what}): {which} is a file, not a folder")
            return


def _npy_shape(path) -> tuple | None:
    """The shape a .npy file's header declares (None when the header cannot be read: np.load
    then says what is wrong). Reads the header only."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        with open(path, "rb") as f:
            reader = readers.get(np.lib.format.read_magic(f))
            shape = reader(f)[0] if reader else None
    except (OSError, ValueError, SyntaxError, TypeError):
        return None
    return tuple(shape) if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape) else None


def discover_checkpoints(specs) -> dict[str, str]:
    """Folders that are checkpoints, folders of checkpoint folders, or Hub repos (hf://owner/name,
    loaded when first used) -> {name: location}. Anything else, a mistyped folder included, is a
    one-line error: a path is never taken for a Hub repo."""
    found = {}
    for spec in specs:
        repo = hub_id(spec)
        path = Path(spec)
        if repo:
            found[repo] = str(spec)
        elif path.is_dir() and is_checkpoint(path):
            found[path.name] = str(path)
        elif path.is_dir():
            for sub in sorted(path.iterdir()):
                if sub.is_dir() and is_checkpoint(sub):
                    found[sub.name] = str(sub)
        elif path.exists():
            raise DataError(f"{shorten(spec, 200)}: a file, not a checkpoint folder")
        else:
            raise DataError(missing_folder(spec))
    if not found:
        raise DataError(f"no checkpoints found in {', '.join(map(str, specs))}")
    return found


def default_test_set(cache_dir: Path) -> CourseDataset:
    """The course-layout test set from the vendored MNIST test digits, built once and cached."""
    folder = Path(cache_dir) / "test-{split}-{n}-seed{seed}".format(**DEFAULT_TEST)
    if not (folder / "digits0.npy").is_file():
        from digitsum.data.synth import generate_dataset
        images, digits = generate_dataset(DEFAULT_TEST["split"], DEFAULT_TEST["n"], DEFAULT_TEST["seed"])
        with atomic_folder(folder) as tmp:  # a half-built set is never mistaken for a cached one
            save_course_dataset(tmp, images, digits.sum(1), digits)
    return load_dataset(folder)


DEFAULT_LABEL_POOL = dict(split="train", n=2000, seed=4242)   # the Label tab's default queue


def default_label_pool(cache_dir: Path) -> CourseDataset:
    """The Label tab's default queue: course-layout images of MNIST *train* digits with their sums
    only (digits are what the labeler adds), apart from every test set, so labels saved from it can
    go back into training (`--labels-db`) without leaking test images."""
    folder = Path(cache_dir) / "label-pool-{split}-{n}-seed{seed}".format(**DEFAULT_LABEL_POOL)
    if not (folder / "lab0.npy").is_file():
        from digitsum.data.synth import generate_dataset
        images, digits = generate_dataset(DEFAULT_LABEL_POOL["split"], DEFAULT_LABEL_POOL["n"], DEFAULT_LABEL_POOL["seed"])
        with atomic_folder(folder) as tmp:
            save_course_dataset(tmp, images, digits.sum(1))
    return load_dataset(folder)


class DigitsumService:
    def __init__(self, checkpoint_specs=("checkpoints",), data_dir=None, labels_db="labels.db",
                 cache_dir=".cache/digitsum", exports_dir="exports", label_data=None):
        self.cache_dir = Path(cache_dir)
        self.exports_dir = Path(exports_dir).resolve()  # relative to the working directory at start
        _check_folder(self.exports_dir, exports_dir, "the exports folder")
        self.locations = discover_checkpoints(checkpoint_specs)
        self.dataset = load_dataset(data_dir) if data_dir else default_test_set(self.cache_dir)
        self.dataset_name = str(data_dir) if data_dir else "MNIST-test course layout (seed {seed})".format(**DEFAULT_TEST)
        self.dataset_title = shown_path(data_dir) if data_dir else self.dataset_name   # as the app shows it
        self.store = LabelStore(labels_db, title=shown_path(labels_db))
        # the Label tab's queue: its own pool unless a set is named (then labels are for that set)
        self.label_set = load_dataset(label_data) if label_data else default_label_pool(self.cache_dir)
        self.label_set_name = str(label_data) if label_data else \
            "label pool: MNIST-train course layout (seed {seed})".format(**DEFAULT_LABEL_POOL)
        self.label_set_title = shown_path(label_data) if label_data else self.label_set_name
        self.exports_title = shown_path(self.exports_dir)
        self.labels_title = shown_path(labels_db)
        scored_here = label_data is not None and (
            (data_dir is not None and Path(label_data).resolve() == Path(data_dir).resolve()))
        self.label_warning = ("these images are the test set the app scores: labels saved from them must not "
                              "be used for training (--labels-db), or the test set leaks into it") if scored_here else ""
        self._models: dict[str, torch.nn.Module] = {}
        self._scores: dict[str, analysis.ScoredSet] = {}
        # loading a model and scoring the test set take separate locks (one per checkpoint for
        # scoring), so a prediction never waits behind a whole test set being scored
        self._load_lock = threading.Lock()
        self._score_locks = {name: threading.Lock() for name in self.locations}
        self._first_locks = {name: threading.Lock() for name in self.locations}
        self._first: dict[str, analysis.ScoredSet] = {}   # scores of the first FIRST_SLICE images
        self._export_lock = threading.Lock()
        # concurrent predictions through one checkpoint run as one forward pass (digitsum.reading.batching)
        self._batchers: dict[str, BatchQueue] = {}
        self._features = None
        self._features_lock = threading.Lock()
        self._scoring: dict[str, tuple[float, int]] = {}   # checkpoint -> (fraction, of how many), while it scores
        self._warm_thread: threading.Thread | None = None

    # ---------------------------------------------------------------- checkpoints
    @property
    def names(self) -> list[str]:
        return list(self.locations)

    def model(self, name: str):
        if name not in self.locations:
            raise DigitsumError(f"unknown checkpoint {shorten(name, quote=True)}; choose from {', '.join(self.names)}")
        with self._load_lock:
            if name not in self._models:
                try:
                    self._models[name] = load_checkpoint(self.locations[name])
                except DigitsumError as e:   # called by its name, not by where the server keeps it
                    raise _named(e, self.locations[name], name) from None
            return self._models[name]

    def batcher(self, name: str) -> BatchQueue:
        """The batch queue of checkpoint `name`: one worker thread that runs the forward passes of
        concurrent `predict` calls together (at most BATCH_SIZE, waiting at most BATCH_WINDOW for
        callers still preprocessing, never when none are)."""
        model = self.model(name)
        with self._load_lock:
            if name not in self._batchers:
                self._batchers[name] = BatchQueue(lambda canvases: list(zip(canvases, forward(model, canvases))),
                                                  BATCH_SIZE, BATCH_WINDOW, name=f"digitsum-batch-{name}")
            return self._batchers[name]

    def predict(self, image, name: str, check_places: bool = False) -> Prediction:
        """One image through checkpoint `name`, as `predict_image` gives it: preprocessing and the
        warnings in the caller's thread, the forward pass batched with concurrent callers'."""
        model = self.model(name)
        start = time.perf_counter()
        canvas, reading = self.batcher(name)(prepare, model, image)
        return finish(canvas, reading, image, check_places, milliseconds=(time.perf_counter() - start) * 1000)

    # ---------------------------------------------------------------- a user's files
    @staticmethod
    def load_image(path, name: str | None = None) -> np.ndarray:
        """An image file as a gray array; errors name the file `name` (default: its base name)."""
        name = name or Path(path).name
        try:
            return load_image_file(path)
        except DigitsumError as e:
            raise _named(e, path, name) from None

    @staticmethod
    def load_npy_item(path, index, name: str | None = None) -> np.ndarray:
        """Item `index` of a course-format .npy (N, H, W) set; anything else is a one-line DataError
        naming the file `name` (default: its base name). Never unpickles."""
        name = name or Path(path).name
        try:
            with open(path, "rb") as f:
                magic = f.read(6)
        except OSError as e:
            raise DataError(f"{name}: cannot be read ({e.strerror or e})") from None
        if Path(path).suffix.lower() != ".npy" or magic != b"\x93NUMPY":
            raise DataError(f"{name}: not a NumPy .npy file")
        shape = _npy_shape(path)
        if shape is not None and len(shape) == 3:   # the pixel budget, from the header alone
            check_size(shape[2], shape[1], f"{name}: each image")
        try:
            images = np.load(path, allow_pickle=False, mmap_mode="r")
        except ValueError as e:
            if "pickle" in str(e) or "Python objects" in str(e):
                raise DataError(f"{name}: holds Python objects, which the app never loads; "
                                "send uint8 images of shape (N, H, W)") from None
            if "empty" in str(e):  # numpy cannot map a file of zero items
                images = np.load(path, allow_pickle=False)
            else:
                raise DataError(f"{name}: a damaged or truncated .npy ({_one_line(e)})") from None
        except (OSError, EOFError) as e:
            raise DataError(f"{name}: a damaged or truncated .npy ({_one_line(e) or type(e).__name__})") from None
        if not isinstance(images, np.ndarray) or images.ndim != 3 or min(images.shape[1:], default=0) < 1:
            shape = getattr(images, "shape", "?")
            raise DataError(f"{name}: expected a (N, H, W) course-format .npy of images, found shape {shape}")
        if not (np.issubdtype(images.dtype, np.number) or images.dtype == np.bool_):
            raise DataError(f"{name}: expected numbers (uint8 images), found dtype {images.dtype}")
        if not len(images):
            raise DataError(f"{name}: holds no images")
        index = _checked_index(index, len(images), "the file", prefix=f"{name}: ")
        try:
            return np.array(images[index])
        except (ValueError, OSError) as e:
            raise DataError(f"{name}: item {index} cannot be read ({_one_line(e)})") from None

    def chosen(self, names) -> list[str]:
        """Checkpoint names as a request lists them -> each once, in order (a name sent 100 times is
        one prediction, not 100); an unknown name is a one-line error before any work."""
        names = [names] if isinstance(names, str) else list(names or [])
        unique = []
        for name in names:
            if not isinstance(name, str) or name not in self.locations:
                raise DigitsumError(f"unknown checkpoint {shorten(name, quote=True)}; choose from {', '.join(self.names)}")
            if name not in unique:
                unique.append(name)
        return unique

    def compare(self, image, names) -> list[tuple[str, Prediction]]:
        names = self.chosen(names)
        if not names:
            raise DigitsumError("choose at least one checkpoint to compare")
        return [(n, self.predict(image, n)) for n in names]

    # ---------------------------------------------------------------- the test set, scored once
    # Scoring all of a 10,000-image set takes minutes per checkpoint on a busy CPU, so the app
    # scores a first slice of every checkpoint (FIRST_SLICE images, seconds each), then the whole
    # set of each. The views take the largest prefix scored for every checkpoint they show (`view`)
    # and say which it is (`coverage`); an index into a prefix is an index into the whole set.
    def scored(self, name: str) -> analysis.ScoredSet:
        """`name`'s scores of the whole test set (scored now unless done or cached: minutes)."""
        model = self.model(name)
        with self._score_locks[name]:
            if name not in self._scores:
                self._scores[name] = self._score(name, model, self.dataset)
            return self._scores[name]

    def first_scored(self, name: str) -> analysis.ScoredSet:
        """`name`'s scores of the first FIRST_SLICE images (the whole set's when it is scored)."""
        if name in self._scores or len(self.dataset) <= FIRST_SLICE:
            return self.scored(name)
        model = self.model(name)
        with self._first_locks[name]:
            if name not in self._first and name not in self._scores:
                self._first[name] = self._score(name, model, analysis.prefix(self.dataset, FIRST_SLICE))
        return self._scores.get(name) or self._first[name]

    def _score(self, name, model, data) -> analysis.ScoredSet:
        location = Path(self.locations[name])
        ckpt_dir = location if location.is_dir() else None
        start = time.perf_counter()
        print(f"scoring {name} on {len(data):,} test images...", flush=True)
        quarters = set()

        def on_batch(done, total):
            self._scoring[name] = (done / total, total)    # read by scoring_status(), for the UI
            quarter = 4 * done // total
            if quarter < 4 and quarter not in quarters and done > 0:
                quarters.add(quarter)
                print(f"scoring {name}: {done:,} of {total:,}", flush=True)

        self._scoring[name] = (0.0, len(data))
        try:
            scored = analysis.score_dataset(model, data, ckpt_dir, self.cache_dir, on_batch)
        finally:
            self._scoring.pop(name, None)
        print(f"scored {name} in {time.perf_counter() - start:.1f} s", flush=True)
        return scored

    def _cached(self, name) -> bool:
        """True when `name`'s scores of the whole set are on disk (reading them takes no scoring)."""
        location = Path(self.locations[name])
        path = analysis.cache_path(location if location.is_dir() else None, self.dataset, self.cache_dir)
        return path is not None and path.is_file()

    def available(self, name: str) -> int:
        """How many test images (a prefix) `name` has scored so far: 0, FIRST_SLICE or all."""
        if name in self._scores:
            return len(self.dataset)
        return FIRST_SLICE if name in self._first else 0

    def view(self, names) -> int:
        """The prefix of the test set the views of `names` use now: the largest that every one of
        them has scored (the first slice is scored now for any that has not; seconds)."""
        names = self.chosen(names)
        for name in names:
            if not self.available(name):
                self.first_scored(name)
        return min((self.available(n) for n in names), default=len(self.dataset))

    def coverage(self, names, n: int) -> str:
        """What the views of `names` at prefix `n` cover, in words (for a line above them)."""
        total = len(self.dataset)
        if n >= total:
            return f"On all **{total:,}** test images."
        waiting = [m for m in self.chosen(names) if self.available(m) < total]
        done = "" if waiting else " All of them are scored now: ↻ shows them."
        return (f"On the **first {n:,} of {total:,}** test images, what is scored so far; the rest is being scored "
                f"in the background (the line at the top follows it).{done}")

    def scores(self, name: str, n: int | None = None) -> analysis.ScoredSet:
        """`name`'s scores of the first `n` test images (default: all it has scored so far)."""
        n = self.view([name]) if n is None else int(n)
        scored = self._scores.get(name)
        if scored is None:
            scored = self.first_scored(name) if n <= FIRST_SLICE else self.scored(name)
        return analysis.head(scored, n)

    def data(self, n: int | None = None) -> CourseDataset:
        """The first `n` test images (default: all)."""
        return self.dataset if n is None else analysis.prefix(self.dataset, int(n))

    def _n(self, names, n) -> int:
        return self.view(names) if n is None else int(n)

    def scoring_done(self) -> bool:
        """True once no scoring runs and the background warm-up (if started) has finished."""
        return not self._scoring and (self._warm_thread is None or not self._warm_thread.is_alive())

    def scoring_status(self) -> str:
        """'' when no test-set scoring runs, else a line such as 'scoring the test set: reader 40%'."""
        running = dict(self._scoring)
        if not running:
            return ""
        return "scoring the test set: " + ", ".join(f"{n} {f:.0%}" for n, (f, _) in running.items())

    def scoring_line(self) -> str:
        """'' once every checkpoint has scored the whole set (or nothing runs), else where the scoring
        stands, for the app's status line: 'scoring the test set: digitsum-small 40% of 10,000 · done:
        first 300: every checkpoint, all 10,000: 1 of 4'."""
        running = dict(self._scoring)
        total, names = len(self.dataset), self.names
        full = sum(n in self._scores for n in names)
        if not running and (full == len(names) or self.scoring_done()):
            return ""
        first = sum(self.available(n) > 0 for n in names)
        now = ", ".join(f"{n} {f:.0%} of {'the first ' if size < total else ''}{size:,}"
                        for n, (f, size) in running.items()) or "waiting"
        done = [f"all {total:,}: {_of(full, len(names))}"]
        if total > FIRST_SLICE:
            done.insert(0, f"first {FIRST_SLICE:,}: {_of(first, len(names))}")
        return f"scoring the test set: {now} · done: {', '.join(done)}"

    def warm_up(self) -> threading.Thread:
        """In the background: one prediction through each checkpoint (so the first stroke finds it
        loaded and warm), then the first slice of the test set scored with each (so Errors and
        Compare show something within seconds), the layout features, then the whole set with each."""
        def run():
            for name in self.names:
                try:
                    self.predict(self.item(0), name)
                except DigitsumError:
                    pass
            for step in (self.first_scored, None, self.scored):
                if step is None:
                    self.features   # noqa: B018 (measured once, for the slice views)
                    continue
                for name in self.names:
                    try:
                        (self.scored if self._cached(name) else step)(name)
                    except DigitsumError:
                        pass  # shown when the user picks that checkpoint
        thread = threading.Thread(target=run, daemon=True, name="digitsum-warm-up")
        self._warm_thread = thread
        thread.start()
        return thread

    def metrics_rows(self, names, n: int | None = None) -> list[dict]:
        names = self.chosen(names)
        n = self._n(names, n)
        rows = []
        for name in names:
            m = analysis.metrics(self.scores(name, n), self.data(n))
            per_sum = m["per_sum_accuracy"]
            worst = min(per_sum, key=per_sum.get)
            rows.append({
                "checkpoint": name,
                "sum accuracy": round(m["sum_accuracy"], 4),
                "digit accuracy": None if m["digit_accuracy"] is None else round(m["digit_accuracy"], 4),
                "by place": "" if m["place_accuracy"] is None else " ".join(f"{v:.3f}" for v in m["place_accuracy"]),
                "worst sum": f"{worst}: {per_sum[worst]:.3f}",
                "images": n,
                "images/s": round(m["images_per_second"]),
                "trained": load_metrics(self.locations[name]).get("validation", {}) and "yes" or "",
            })
        return rows

    def per_sum_accuracy(self, names, n: int | None = None) -> dict[str, dict[int, float]]:
        names = self.chosen(names)
        n = self._n(names, n)
        return {m: analysis.metrics(self.scores(m, n), self.data(n))["per_sum_accuracy"] for m in names}

    def disagreements(self, names, n: int | None = None) -> dict:
        names = self.chosen(names)
        if len(names) < 2:
            raise DigitsumError("choose two or more checkpoints to see where they disagree")
        n = self._n(names, n)
        return analysis.disagreements({m: self.scores(m, n) for m in names}, self.data(n))

    def errors(self, name, true_sum=None, pred_sum=None, wrong_place=None, min_confidence=0.0,
               max_confidence=1.0, sort_by="loss", n: int | None = None) -> np.ndarray:
        n = self._n([name], n)
        return analysis.find_errors(self.scores(name, n), self.data(n), true_sum, pred_sum, wrong_place,
                                    min_confidence, max_confidence, sort_by)

    def digit_confusion(self, name, n: int | None = None):
        n = self._n([name], n)
        return analysis.digit_confusion(self.scores(name, n), self.data(n))

    def sum_confusion(self, name, n: int | None = None):
        n = self._n([name], n)
        return analysis.sum_confusion(self.scores(name, n), self.data(n))

    def confusion_examples(self, name, kind: str, true: int, pred: int, n: int | None = None) -> np.ndarray:
        n = self._n([name], n)
        fn = analysis.digit_cell if kind == "digit" else analysis.sum_cell
        return fn(self.scores(name, n), self.data(n), true, pred)

    def item(self, index: int) -> np.ndarray:
        return self.dataset.images[_checked_index(index, len(self.dataset), "the dataset")]

    def scores_of(self, name: str, index: int) -> analysis.ScoredSet:
        """Scores of `name` that include image `index` (what is scored so far, else the whole set)."""
        scored = self._scores.get(name) or self._first.get(name)
        if scored is None or index >= len(scored.sum_probs):
            scored = self.scored(name)
        return scored

    def caption(self, name: str, index: int) -> str:
        s = self.scores_of(name, index)
        text = f"#{index}: true {self.dataset.sums[index]}, predicted {s.pred_sum[index]} ({s.confidence[index]:.0%})"
        if self.dataset.digits is not None and s.pred_digits is not None:
            text += f" | {''.join(map(str, self.dataset.digits[index]))} read as {''.join(map(str, s.pred_digits[index]))}"
        return text

    def detail(self, name: str, index: int) -> dict:
        s = self.scores_of(name, index)
        pred = self.predict(self.item(index), name)   # one image again: where the model read (not cached)
        return {"image": self.item(index), "true_sum": int(self.dataset.sums[index]), "prediction": pred,
                "true_digits": None if self.dataset.digits is None else self.dataset.digits[index].tolist(),
                "digit_probs": None if s.digit_probs is None else s.digit_probs[index],
                "sum_probs": s.sum_probs[index], "caption": self.caption(name, index)}

    # ---------------------------------------------------------------- slices
    @property
    def features(self) -> dict[str, np.ndarray]:
        """Layout features of every test image (measured once), and its true sum."""
        with self._features_lock:
            if self._features is None:
                feats = dict(slices.layout_features(self.dataset.images))
                feats["true_sum"] = np.asarray(self.dataset.sums)
                self._features = feats
            return self._features

    def _features_of(self, n: int) -> dict[str, np.ndarray]:
        """The features of the first `n` images: measured for them alone while the whole set's are
        not yet (0.04 s for 500 images, 1.5 s for 10,000)."""
        if self._features is None and n < len(self.dataset):
            feats = dict(slices.layout_features(self.dataset.images[:n]))
            feats["true_sum"] = np.asarray(self.dataset.sums[:n])
            return feats
        return {k: v[:n] for k, v in self.features.items()}

    def slice_rows(self, name: str, n: int | None = None) -> list[dict]:
        """Sum (and digit) accuracy of `name` per layout slice: feature, slice, n, accuracies."""
        n = self._n([name], n)
        s, data = self.scores(name, n), self.data(n)
        correct_digits = None if s.pred_digits is None or data.digits is None else s.pred_digits == data.digits
        table = slices.slice_accuracy(self._features_of(n), s.pred_sum == data.sums, correct_digits)
        return [{"feature": f, **row} for f, rows in table.items() if f != "place" for row in rows]

    def _members(self, feature: str, label: str, n: int) -> np.ndarray:
        try:
            return slices.slice_members(self._features_of(n), feature, label)
        except KeyError as e:
            raise DigitsumError(str(e.args[0])) from None

    def slice_images(self, name: str, feature: str, label: str, n: int | None = None) -> np.ndarray:
        """The images of one slice, misread ones first (by loss), then the rest."""
        n = self._n([name], n)
        members = self._members(feature, label, n)
        s, data = self.scores(name, n), self.data(n)
        wrong = s.pred_sum[members] != data.sums[members]
        loss = s.loss(data.sums)[members]
        return members[np.lexsort((-loss, ~wrong))]

    def slice_differences(self, names, min_n: int = 10, n: int | None = None) -> list[dict]:
        """Slices where the checkpoints' sum accuracies differ most (see slices.compare_slices)."""
        names = self.chosen(names)
        if len(names) < 2:
            raise DigitsumError("choose two or more checkpoints to see where they differ")
        n = self._n(names, n)
        data = self.data(n)
        correct = {m: self.scores(m, n).pred_sum == data.sums for m in names}
        return slices.compare_slices(self._features_of(n), correct, min_n)

    def slice_disagreements(self, names, feature: str, label: str, n: int | None = None) -> np.ndarray:
        """The images of one slice on which the checkpoints' sums differ."""
        names = self.chosen(names)
        n = self._n(names, n)
        members = self._members(feature, label, n)
        preds = np.stack([self.scores(m, n).pred_sum[members] for m in names])
        return members[(preds != preds[:1]).any(0)]

    # ---------------------------------------------------------------- labeling
    @property
    def label_source(self) -> str:
        return self.label_set_name

    def label_item(self, index: int) -> np.ndarray:
        return self.label_set.images[_checked_index(index, len(self.label_set), "the label queue")]

    def label_progress(self) -> tuple[int, int]:
        return len(self.store.labeled_items(self.label_source)), len(self.label_set)

    def label_counts(self) -> dict[str, int]:
        """What the labels database holds, by where each label came from: 'queue' (this app's label
        queue), 'drawings' (saved from the Draw tab), 'other' (other queues, uploads)."""
        return self._by_kind(self.store.counts())

    def _by_kind(self, counts: dict[str, int]) -> dict[str, int]:
        queue = counts.get(self.label_source, 0)
        drawings = counts.get("drawing", 0)
        return {"queue": queue, "drawings": drawings, "other": sum(counts.values()) - queue - drawings}

    @staticmethod
    def describe_counts(kinds: dict[str, int]) -> str:
        """'15 labels: 12 from the label queue, 3 drawings from the Draw tab' (what an export holds)."""
        total = sum(kinds.values())
        parts = [f"{kinds['queue']} from the label queue", f"{kinds['drawings']} drawing{'s' * (kinds['drawings'] != 1)} "
                 "from the Draw tab"]
        if kinds["other"]:
            parts.append(f"{kinds['other']} from other sets")
        return f"{total} label{'s' * (total != 1)}: " + ", ".join(parts)

    def next_unlabeled(self, after: int = -1, owner: str | None = None) -> int | None:
        """The first queue item after `after` without a label and not shown to another annotator.
        With `owner` (an annotator's session), it is now shown to them: held for
        labeldb.CLAIM_SECONDS, so that two annotators are never given the same item."""
        if owner is not None:
            return self.store.claim_next(self.label_source, len(self.label_set), after, owner)
        done = self.store.labeled_items(self.label_source)
        for index in range(after + 1, len(self.label_set)):
            if index not in done:
                return index
        return None

    def show_item(self, index: int, owner: str) -> None:
        """Queue item `index` shown to `owner` again (an undo): held by them, unless another
        annotator holds it now (a one-line error)."""
        self.store.claim(self.label_source, _checked_index(index, len(self.label_set), "the label queue"), owner)

    def suggestion(self, index: int, name: str | None = None) -> list[int] | None:
        """The most likely four digits that add up to the known sum (None without a digits head)."""
        for candidate in ([name] if name else self.names):
            pred = self.predict(self.label_item(index), candidate)
            if pred.digit_probs is not None:
                digits, _ = most_likely_digits_for_sum(torch.from_numpy(pred.digit_probs[None]),
                                                       torch.tensor([int(self.label_set.sums[index])]))
                return digits[0].tolist()
        return None

    def save_item_label(self, index: int, text, owner: str | None = None) -> int:
        """Label queue item `index` (which must exist) with four digits 0-9 that add up to its known
        sum; with `owner`, only while no other annotator holds the item."""
        index = _checked_index(index, len(self.label_set), "the label queue")
        digits = parse_digits(text)
        known = int(self.label_set.sums[index])
        if sum(digits) != known:
            raise DigitsumError(f"{''.join(map(str, digits))} adds up to {sum(digits)}, but this image's sum is {known}")
        return self.store.save(self.label_item(index), digits, source=self.label_source, item=index, owner=owner)

    def save_drawing(self, canvas: np.ndarray, text, source: str = "drawing") -> int:
        return self.store.save(canvas, parse_digits(text), source=source)

    def item_label(self, index: int) -> str | None:
        """The four digits saved for label-queue item `index` ("3141"), or None."""
        return self.store.labeled_items(self.label_source).get(int(index))

    def undo_label(self, row_id: int, index: int | None = None, previous: str | None = None) -> None:
        """Undo one's own save (row `row_id`): an image that was relabeled gets its previous label
        back (`previous`, as `item_label` gave it before the save); one that had none loses the new
        one. Once another annotator has labelled the image again, theirs stands: a one-line error."""
        canvas = self.label_item(index) if previous is not None and index is not None else None
        self.store.undo(row_id, canvas, previous if canvas is not None else None)

    def export_folder(self, name) -> Path:
        """The folder an export called `name` goes to: always directly inside `exports_dir`. `name`
        must be a plain folder name (letters, digits, '.', '_', '-'; no path), and the folder must
        not exist yet (an empty one is fine): an export never replaces earlier work."""
        name = name.strip() if isinstance(name, str) else name
        if not isinstance(name, str) or not name:
            raise DataError("type a name for the export folder, e.g. labeled-1")
        if not EXPORT_NAME.fullmatch(name) or ".." in name:
            raise DataError(f"{shorten(name, quote=True)} is not a plain folder name: use letters, digits, '.', '_' and '-' "
                            f"only (no '/', '\\' or '..', at most 64), e.g. labeled-1")
        folder = self.exports_dir / name
        if os.path.lexists(folder) and not (folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir())):
            raise DataError(f"{name} already exists in {self.exports_title}; choose another name, "
                            f"e.g. {self._free_name(name)}")
        return folder

    def _free_name(self, name: str) -> str:
        stem = re.sub(r"-\d+$", "", name)[:56]
        k = 2
        while os.path.lexists(self.exports_dir / f"{stem}-{k}"):
            k += 1
        return f"{stem}-{k}"

    def export_labels(self, name) -> list[Path]:
        """Export every label in the course format to `exports_dir / name` (see `export_folder`),
        all at once: a failed export leaves nothing behind."""
        return self.export_labels_counted(name)[0]

    def export_labels_counted(self, name) -> tuple[list[Path], dict[str, int]]:
        """`export_labels`, and what it wrote by kind (see `label_counts`), counted from the
        export's own read: once the files are in place the export has succeeded, whatever a disk
        it filled refuses afterwards."""
        with self._export_lock:  # the name check and the write, one export at a time
            folder = self.export_folder(name)
            try:
                with atomic_folder(folder) as tmp:
                    written, sources = self.store.export_counted(tmp)
            except OSError as e:
                raise DataError(f"cannot write the export folder {shown_path(folder)} ({e.strerror or e})") from None
            return [folder / p.name for p in written], self._by_kind(sources)

    def export_archive(self, files: list[Path], into: Path) -> Path:
        """The exported files as one zip in the folder `into` (for the page to download):
        `into`/NAME.zip holding NAME/data0.npy, ... (stored: .npy files hardly compress)."""
        import zipfile
        folder = files[0].parent
        archive = Path(into) / f"{folder.name}.zip"
        try:
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
                for f in files:
                    z.write(f, f"{folder.name}/{f.name}")
        except BaseException:   # no half-written zip is left (a full disk)
            archive.unlink(missing_ok=True)
            raise
        return archive
