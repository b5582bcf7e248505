"""The Label tab's queue: images with known sums whose four digits annotators type in. Several
annotators at once are each shown items no other is shown (claims in the labels database, see
labeldb.CLAIM_SECONDS); a save must add up to the known sum; an undo takes back one's own save."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from digitsum.data.course import CourseDataset, load_dataset, save_course_dataset
from digitsum.errors import DigitsumError
from digitsum.reading.sumdist import most_likely_digits_for_sum
from digitsum.storage.atomic import atomic_folder
from digitsum.storage.labeldb import LabelStore, parse_digits

from .checkpoints import CheckpointPool
from .inputs import checked_index

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


class LabelQueue:
    """The items of `images` (a course-format set: its sums are known), labelled into `store` under
    the source name `source`; `checkpoints` suggest digits."""

    def __init__(self, images: CourseDataset, source: str, store: LabelStore, checkpoints: CheckpointPool):
        self.images, self.source, self.store, self.checkpoints = images, source, store, checkpoints

    def _index(self, index) -> int:
        return checked_index(index, len(self.images), "the label queue")

    def label_item(self, index: int) -> np.ndarray:
        return self.images.images[self._index(index)]

    def label_progress(self) -> tuple[int, int]:
        return len(self.store.labeled_items(self.source)), len(self.images)

    def label_counts(self) -> dict[str, int]:
        """What the labels database holds, by where each label came from: 'queue' (this app's label
        queue), 'drawings' (saved from the Draw tab), 'other' (other queues, uploads)."""
        return self.by_kind(self.store.counts())

    def by_kind(self, counts: dict[str, int]) -> dict[str, int]:
        """Label counts by source (as the labels database keeps them) -> by kind (see label_counts)."""
        queue = counts.get(self.source, 0)
        drawings = counts.get("drawing", 0)
        return {"queue": queue, "drawings": drawings, "other": sum(counts.values()) - queue - drawings}

    def next_unlabeled(self, after: int = -1, owner: str | None = None) -> int | None:
        """The first queue item after `after` without a label and not shown to another annotator.
        With `owner` (an annotator's session), it is now shown to them: held for
        labeldb.CLAIM_SECONDS, so that two annotators are never given the same item."""
        if owner is not None:
            return self.store.claim_next(self.source, len(self.images), after, owner)
        done = self.store.labeled_items(self.source)
        return next((i for i in range(after + 1, len(self.images)) if i not in done), None)

    def show_item(self, index: int, owner: str) -> None:
        """Queue item `index` shown to `owner` again (an undo): held by them, unless another
        annotator holds it now (a one-line error)."""
        self.store.claim(self.source, self._index(index), owner)

    def suggestion(self, index: int, name: str | None = None) -> list[int] | None:
        """The most likely four digits that add up to the known sum, as checkpoint `name` (default:
        the first that reads digits) reads item `index`; None when none reads digits."""
        for candidate in ([name] if name else self.checkpoints.names):
            pred = self.checkpoints.predict(self.label_item(index), candidate)
            if pred.digit_probs is not None:
                digits, _ = most_likely_digits_for_sum(torch.from_numpy(pred.digit_probs[None]),
                                                       torch.tensor([int(self.images.sums[index])]))
                return digits[0].tolist()
        return None

    def save_item_label(self, index: int, text, owner: str | None = None) -> int:
        """Label queue item `index` (which must exist) with four digits 0-9 that add up to its known
        sum; with `owner`, only while no other annotator holds the item."""
        index = self._index(index)
        digits = parse_digits(text)
        known = int(self.images.sums[index])
        if sum(digits) != known:
            raise DigitsumError(f"{''.join(map(str, digits))} adds up to {sum(digits)}, but this image's sum is {known}")
        return self.store.save(self.label_item(index), digits, source=self.source, item=index, owner=owner)

    def save_drawing(self, canvas: np.ndarray, text, source: str = "drawing") -> int:
        """A drawing (the model's canvas of it) saved with its four digits, outside the queue."""
        return self.store.save(canvas, parse_digits(text), source=source)

    def item_label(self, index: int) -> str | None:
        """The four digits saved for label-queue item `index` ("3141"), or None."""
        return self.store.labeled_items(self.source).get(int(index))

    def undo_label(self, row_id: int, index: int | None = None, previous: str | None = None) -> None:
        """Undo one's own save (row `row_id`): an image that was relabeled gets its previous label
        back (`previous`, as `item_label` gave it before the save); one that had none loses the new
        one. Once another annotator has labelled the image again, theirs stands: a one-line error."""
        canvas = self.label_item(index) if previous is not None and index is not None else None
        self.store.undo(row_id, canvas, previous if canvas is not None else None)
