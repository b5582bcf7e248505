"""What the Compare and Errors tabs show of the scored test set: metrics, accuracy per sum, the
errors and the confusion matrices of a checkpoint, where checkpoints disagree, and accuracy per
layout slice. Each view takes a prefix of the test set, `n` images (default: what every checkpoint
it shows has scored so far, see `TestSetScores.view`)."""
from __future__ import annotations

import threading

import numpy as np

from digitsum.errors import DigitsumError
from digitsum.evaluation import analysis, slices
from digitsum.storage.checkpoint import load_metrics

from .scoring import TestSetScores


class TestSetViews:
    def __init__(self, scores: TestSetScores):
        self.scores = scores
        self.checkpoints = scores.checkpoints
        self._features = None
        self._features_lock = threading.Lock()

    def _scored(self, names, n) -> tuple[int, object]:
        """The prefix size the views of `names` use, and the test set's first that many images."""
        n = self.scores.prefix_size(names, n)
        return n, self.scores.data(n)

    def _two_or_more(self, names, what: str) -> list[str]:
        names = self.checkpoints.chosen(names)
        if len(names) < 2:
            raise DigitsumError(f"choose two or more checkpoints to see where they {what}")
        return names

    # ---------------------------------------------------------------- metrics and errors
    def metrics_rows(self, names, n: int | None = None) -> list[dict]:
        names = self.checkpoints.chosen(names)
        n, data = self._scored(names, n)
        rows = []
        for name in names:
            m = analysis.metrics(self.scores.scores(name, n), data)
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
                "trained": load_metrics(self.checkpoints.locations[name]).get("validation", {}) and "yes" or "",
            })
        return rows

    def per_sum_accuracy(self, names, n: int | None = None) -> dict[str, dict[int, float]]:
        names = self.checkpoints.chosen(names)
        n, data = self._scored(names, n)
        return {m: analysis.metrics(self.scores.scores(m, n), data)["per_sum_accuracy"] for m in names}

    def disagreements(self, names, n: int | None = None) -> dict:
        names = self._two_or_more(names, "disagree")
        n, data = self._scored(names, n)
        return analysis.disagreements({m: self.scores.scores(m, n) for m in names}, data)

    def errors(self, name, true_sum=None, pred_sum=None, wrong_place=None, min_confidence=0.0,
               max_confidence=1.0, sort_by="loss", n: int | None = None) -> np.ndarray:
        n, data = self._scored([name], n)
        return analysis.find_errors(self.scores.scores(name, n), data, true_sum, pred_sum, wrong_place,
                                    min_confidence, max_confidence, sort_by)

    def digit_confusion(self, name, n: int | None = None):
        n, data = self._scored([name], n)
        return analysis.digit_confusion(self.scores.scores(name, n), data)

    def sum_confusion(self, name, n: int | None = None):
        n, data = self._scored([name], n)
        return analysis.sum_confusion(self.scores.scores(name, n), data)

    def confusion_examples(self, name, kind: str, true: int, pred: int, n: int | None = None) -> np.ndarray:
        n, data = self._scored([name], n)
        cell = analysis.digit_cell if kind == "digit" else analysis.sum_cell
        return cell(self.scores.scores(name, n), data, true, pred)

    def detail(self, name: str, index: int) -> dict:
        """Test image `index` as `name` read it: the image, its truth, the reading (again: with where
        the model read, which scores do not keep) and its scored probabilities."""
        s = self.scores.scores_of(name, index)
        dataset = self.scores.dataset
        image = self.scores.item(index)
        return {"image": image, "true_sum": int(dataset.sums[index]),
                "prediction": self.checkpoints.predict(image, name),
                "true_digits": None if dataset.digits is None else dataset.digits[index].tolist(),
                "digit_probs": None if s.digit_probs is None else s.digit_probs[index],
                "sum_probs": s.sum_probs[index]}

    # ---------------------------------------------------------------- layout slices
    @property
    def features(self) -> dict[str, np.ndarray]:
        """Layout features of every test image (measured once), and its true sum."""
        with self._features_lock:
            if self._features is None:
                self._features = self._measure(len(self.scores.dataset))
            return self._features

    def _measure(self, n: int) -> dict[str, np.ndarray]:
        data = self.scores.data(n)
        feats = dict(slices.layout_features(data.images))
        feats["true_sum"] = np.asarray(data.sums)
        return feats

    def _features_of(self, n: int) -> dict[str, np.ndarray]:
        """The features of the first `n` images: measured for them alone while the whole set's are
        not yet (0.04 s for 500 images, 1.5 s for 10,000)."""
        if self._features is None and n < len(self.scores.dataset):
            return self._measure(n)
        return {k: v[:n] for k, v in self.features.items()}

    def slice_rows(self, name: str, n: int | None = None) -> list[dict]:
        """Sum (and digit) accuracy of `name` per layout slice: feature, slice, n, accuracies."""
        n, data = self._scored([name], n)
        s = self.scores.scores(name, n)
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
        n, data = self._scored([name], n)
        members = self._members(feature, label, n)
        s = self.scores.scores(name, n)
        wrong = s.pred_sum[members] != data.sums[members]
        loss = s.loss(data.sums)[members]
        return members[np.lexsort((-loss, ~wrong))]

    def slice_differences(self, names, min_n: int = 10, n: int | None = None) -> list[dict]:
        """Slices where the checkpoints' sum accuracies differ most (see slices.compare_slices)."""
        names = self._two_or_more(names, "differ")
        n, data = self._scored(names, n)
        correct = {m: self.scores.scores(m, n).pred_sum == data.sums for m in names}
        return slices.compare_slices(self._features_of(n), correct, min_n)

    def slice_disagreements(self, names, feature: str, label: str, n: int | None = None) -> np.ndarray:
        """The images of one slice on which the checkpoints' sums differ."""
        names = self.checkpoints.chosen(names)
        n = self.scores.prefix_size(names, n)
        members = self._members(feature, label, n)
        preds = np.stack([self.scores.scores(m, n).pred_sum[members] for m in names])
        return members[(preds != preds[:1]).any(0)]
