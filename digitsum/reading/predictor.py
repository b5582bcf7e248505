"""One checkpoint's model behind its batch queue: images in, Predictions out, with the forward
passes of concurrent callers run together.

    predictor = Predictor(model)
    prediction = predictor.predict(image)   # from any thread; callers at once share a forward pass

Each caller preprocesses its own image in its own thread (`prepare`: the slow part, and the part
that fails for a blank image), then its canvas joins the next batch (`forward`), and it builds its
own Prediction (`finish`). Every model here reads each image on its own, so a lone image gets what
`predict_image` gives it; under load, images agree with it to float rounding.
"""
from __future__ import annotations

import time

from digitsum.reading.batching import BatchQueue
from digitsum.reading.predict import Prediction, finish, forward, prepare
from digitsum.reading.preprocess_pool import PreprocessPool

BATCH_SIZE = 32       # the most predictions in one forward pass
BATCH_WINDOW = 0.004  # s a batch may wait for callers still preprocessing (never when none are)


class Predictor:
    """`model` and a BatchQueue of its own (one worker thread, named `name`); `close()` stops it.
    With a `preprocess_pool`, each image is preprocessed in one of its worker processes instead of
    the caller's thread (the pool is shared, and not closed here)."""

    def __init__(self, model, max_batch_size: int = BATCH_SIZE, window: float = BATCH_WINDOW,
                 name: str = "digitsum-batch", preprocess_pool: PreprocessPool | None = None):
        self.model = model
        self.preprocess_pool = preprocess_pool
        self.queue = BatchQueue(self._forward, max_batch_size, window, name=name)

    def _prepare(self, image):
        if self.preprocess_pool is None:
            return prepare(self.model, image)
        return self.preprocess_pool.fit(image, self.model.height, self.model.width)

    def _forward(self, canvases: list) -> list:
        # each canvas travels back with its reading: `finish` needs both, in the caller's thread
        return list(zip(canvases, forward(self.model, canvases)))

    def predict(self, image, check_places: bool = False, refuse: bool = False) -> Prediction:
        """One image (PIL or array) -> its Prediction, as `predict_image` gives it (same errors,
        same warnings), timed from the start of its preprocessing to its Prediction."""
        start = time.perf_counter()
        canvas, reading = self.queue(self._prepare, image)
        return finish(canvas, reading, image, check_places, refuse,
                      milliseconds=(time.perf_counter() - start) * 1000)

    def close(self) -> None:
        """Stop the worker once the queued images are served."""
        self.queue.close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
