"""The app's checkpoints by name: found once at start, each loaded when first used and kept, each
with a Predictor of its own (so concurrent requests through one checkpoint share forward passes)."""
from __future__ import annotations

import threading
from pathlib import Path

from digitsum.errors import DataError, DigitsumError, shorten
from digitsum.reading.predict import Prediction
from digitsum.reading.predictor import Predictor
from digitsum.storage.checkpoint import hub_id, is_checkpoint, load_checkpoint, missing_folder

from .messages import named


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


class CheckpointPool:
    """With a `preprocess_pool`, every Predictor preprocesses its images in the pool's processes."""

    def __init__(self, specs, preprocess_pool=None):
        self.locations = discover_checkpoints(specs)
        self.preprocess_pool = preprocess_pool
        self._models: dict = {}
        self._predictors: dict[str, Predictor] = {}
        # loading takes this lock only: a prediction never waits behind a test set being scored
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self.locations)

    def _unknown(self, name) -> DigitsumError:
        return DigitsumError(f"unknown checkpoint {shorten(name, quote=True)}; choose from {', '.join(self.names)}")

    def folder(self, name: str) -> Path | None:
        """Where checkpoint `name` is on this machine (None for a Hub repo not yet downloaded)."""
        location = Path(self.locations[name])
        return location if location.is_dir() else None

    def model(self, name: str):
        """Checkpoint `name`'s model, loaded on first use; its errors call it by its name, not by
        where the server keeps it."""
        if name not in self.locations:
            raise self._unknown(name)
        with self._lock:
            if name not in self._models:
                try:
                    self._models[name] = load_checkpoint(self.locations[name], for_inference=True)
                except DigitsumError as e:
                    raise named(e, self.locations[name], name) from None
            return self._models[name]

    def predictor(self, name: str) -> Predictor:
        """Checkpoint `name`'s Predictor: its batch queue's worker thread starts with the first use."""
        model = self.model(name)
        with self._lock:
            if name not in self._predictors:
                self._predictors[name] = Predictor(model, name=f"digitsum-batch-{name}",
                                                     preprocess_pool=self.preprocess_pool)
            return self._predictors[name]

    def predict(self, image, name: str, check_places: bool = False) -> Prediction:
        """One image through checkpoint `name`, as `predict_image` gives it: preprocessing and the
        warnings in the caller's thread, the forward pass batched with concurrent callers'."""
        return self.predictor(name).predict(image, check_places)

    def chosen(self, names) -> list[str]:
        """Checkpoint names as a request lists them -> each once, in order (a name sent 100 times is
        one prediction, not 100); an unknown name is a one-line error before any work."""
        names = [names] if isinstance(names, str) else list(names or [])
        unique = []
        for name in names:
            if not isinstance(name, str) or name not in self.locations:
                raise self._unknown(name)
            if name not in unique:
                unique.append(name)
        return unique

    def compare(self, image, names) -> list[tuple[str, Prediction]]:
        """The same image through each of `names` (each once, in order)."""
        names = self.chosen(names)
        if not names:
            raise DigitsumError("choose at least one checkpoint to compare")
        return [(n, self.predict(image, n)) for n in names]
