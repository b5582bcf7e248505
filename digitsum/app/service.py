"""Everything the app does, without the UI, behind one object: `app.py` wires it to Gradio; tests
drive it directly. The work is done by its parts, each a module of digitsum/app:

- checkpoints: the checkpoints by name, loaded when first used, a Predictor each;
- scoring: the test set scored once per checkpoint, in the background from the start;
- views: metrics, errors, confusion, disagreements and layout slices of the scored test set;
- labelqueue and exports: the Label tab's queue (claims, saves, undos) and its exports;
- inputs: a user's image files and .npy items, checked.
"""
from __future__ import annotations

import threading
from pathlib import Path

from digitsum.data.course import load_dataset
from digitsum.reading.preprocess_pool import PreprocessPool
from digitsum.storage.labeldb import LabelStore

from . import inputs
from .checkpoints import CheckpointPool
from .exports import LabelExports, check_folder
from .labelqueue import DEFAULT_LABEL_POOL, LabelQueue, default_label_pool
from .messages import shown_path
from .scoring import DEFAULT_TEST, TestSetScores, default_test_set
from .views import TestSetViews

# the public methods the UI and the tests call on the service, by the part that does each: the
# service hands on the part's own (bound) method, its signature and docstring with it
HANDED_ON = {
    "checkpoints": "model predictor predict chosen compare",
    "scoring": "scored first_scored available view coverage scores scores_of item data scoring_done scoring_status",
    "views": "metrics_rows per_sum_accuracy disagreements errors digit_confusion sum_confusion confusion_examples "
             "detail slice_rows slice_images slice_differences slice_disagreements",
    "labels": "label_item label_progress label_counts next_unlabeled show_item suggestion save_item_label "
              "save_drawing item_label undo_label",
    "exports": "export_folder export_labels export_labels_counted export_archive",
}


class DigitsumService:
    """The app's parts, made once from its flags (see app.py), and their public methods as its own."""

    load_image = staticmethod(inputs.load_image)
    load_npy_item = staticmethod(inputs.load_npy_item)

    def __init__(self, checkpoint_specs=("checkpoints",), data_dir=None, labels_db="labels.db",
                 cache_dir=".cache/digitsum", exports_dir="exports", label_data=None, preprocess_workers: int = 0):
        self.cache_dir = Path(cache_dir)
        self.exports_dir = Path(exports_dir).resolve()  # relative to the working directory at start
        check_folder(self.exports_dir, exports_dir, "the exports folder")
        # a server preprocesses in worker processes (see digitsum.reading.preprocess_pool); 0: in
        # the caller's thread, as a script or a test wants it. No process starts before warm_up or
        # the first prediction.
        self.preprocess_pool = PreprocessPool(preprocess_workers) if preprocess_workers else None
        self.checkpoints = CheckpointPool(checkpoint_specs, self.preprocess_pool)
        self.dataset = load_dataset(data_dir) if data_dir else default_test_set(self.cache_dir)
        self.dataset_name = str(data_dir) if data_dir else "MNIST-test course layout (seed {seed})".format(**DEFAULT_TEST)
        self.dataset_title = shown_path(data_dir) if data_dir else self.dataset_name   # as the app shows it
        self.store = LabelStore(labels_db, title=shown_path(labels_db))
        # the Label tab's queue: its own pool unless a set is named (then labels are for that set)
        self.label_set = load_dataset(label_data) if label_data else default_label_pool(self.cache_dir)
        self.label_set_name = str(label_data) if label_data else \
            "label pool: MNIST-train course layout (seed {seed})".format(**DEFAULT_LABEL_POOL)
        self.label_set_title = shown_path(label_data) if label_data else self.label_set_name
        self.labels_title = shown_path(labels_db)
        scored_here = label_data is not None and (
            (data_dir is not None and Path(label_data).resolve() == Path(data_dir).resolve()))
        self.label_warning = ("these images are the test set the app scores: labels saved from them must not "
                              "be used for training (--labels-db), or the test set leaks into it") if scored_here else ""
        self.scoring = TestSetScores(self.checkpoints, self.dataset, self.cache_dir)
        self.views = TestSetViews(self.scoring)
        self.labels = LabelQueue(self.label_set, self.label_set_name, self.store, self.checkpoints)
        self.exports = LabelExports(self.store, self.exports_dir, self.labels.by_kind)
        self.exports_title = self.exports.title
        for part, methods in HANDED_ON.items():
            for method in methods.split():
                setattr(self, method, getattr(getattr(self, part), method))

    @property
    def names(self) -> list[str]:
        return self.checkpoints.names

    @property
    def label_source(self) -> str:
        return self.label_set_name

    def warm_up(self) -> threading.Thread:
        """In the background: each checkpoint loaded and warm, the test set scored with each, the
        layout features measured (see TestSetScores.warm_up); the preprocessing workers started."""
        if self.preprocess_pool is not None:
            threading.Thread(target=self.preprocess_pool.warm_up, daemon=True, name="digitsum-warm-up-workers").start()
        return self.scoring.warm_up(lambda: self.views.features)
