"""digitsum.reading.batching: concurrent callers' forward passes as one batch, each caller its own result
or its own exception; and the service's predictions through it equal the unbatched ones."""
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from digitsum.reading.batching import BatchQueue
from digitsum.errors import BlankImageError
from digitsum.models.net import create_model
from digitsum.reading.predict import finish, forward, predict_image, prepare
from digitsum.reading.predictor import Predictor
from digitsum.data.course import load_dataset


def run_threads(fn, args_list):
    """fn(*args) in one thread each, all started together -> [(result, exception)] in order."""
    out = [None] * len(args_list)
    start = threading.Barrier(len(args_list))

    def call(i, args):
        start.wait()
        try:
            out[i] = (fn(*args), None)
        except Exception as e:   # noqa: BLE001 - the test looks at it
            out[i] = (None, e)
    threads = [threading.Thread(target=call, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    return out


def doubled(items):
    return [2 * x for x in items]


@pytest.fixture
def queue():
    q = BatchQueue(doubled, max_batch_size=8, window=0.002)
    yield q
    q.close()


# ------------------------------------------------------------------ the queue itself
def test_items_that_queue_up_while_a_batch_runs_make_the_next_batch():
    gate, sizes = threading.Event(), []

    def run(items):
        sizes.append(len(items))
        gate.wait(10)
        return doubled(items)
    q = BatchQueue(run, max_batch_size=8, window=0.002)
    first = threading.Thread(target=lambda: q.submit(100))
    first.start()
    while not sizes:                       # the first batch is running (and held)
        time.sleep(0.001)
    results = [None] * 12

    def call(i):
        results[i] = q.submit(i)
    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    while len(q._queue) < 12:              # all twelve are queued behind the held batch
        time.sleep(0.001)
    gate.set()
    for t in [first, *threads]:
        t.join(10)
    q.close()
    assert results == [2 * i for i in range(12)]   # each caller its own result
    assert sizes == [1, 8, 4]                     # max_batch_size, then the rest
    assert q.batches == 3 and q.items == 13 and q.largest_batch == 8


def test_concurrent_callers_each_get_their_own_result(queue):
    out = run_threads(lambda i: queue(lambda v: v + 0.5, i), [(i,) for i in range(20)])
    assert [r for r, _ in out] == [2 * i + 1 for i in range(20)]
    assert all(e is None for _, e in out)


def test_a_failing_prepare_raises_only_in_its_own_caller(queue):
    def prep(v):
        if v == 3:
            raise ValueError("bad input 3")
        return v
    out = run_threads(lambda i: queue(prep, i), [(i,) for i in range(8)])
    for i, (result, error) in enumerate(out):
        if i == 3:
            assert isinstance(error, ValueError) and "bad input 3" in str(error)
        else:
            assert error is None and result == 2 * i
    assert queue._preparing == 0


def test_an_item_that_fails_the_batch_fails_only_its_own_caller():
    gate, calls = threading.Event(), []

    def run(items):
        calls.append(list(items))
        gate.wait(10)
        if -1 in items:
            raise RuntimeError("cannot run -1")
        return doubled(items)
    q = BatchQueue(run, max_batch_size=8, window=0.002)
    holder = threading.Thread(target=lambda: q.submit(0))
    holder.start()
    while not calls:
        time.sleep(0.001)
    out = [None] * 5

    def call(i, v):
        try:
            out[i] = ("ok", q.submit(v))
        except RuntimeError as e:
            out[i] = ("error", str(e))
    threads = [threading.Thread(target=call, args=(i, v)) for i, v in enumerate([1, 2, -1, 3, 4])]
    for t in threads:
        t.start()
    while len(q._queue) < 5:
        time.sleep(0.001)
    gate.set()
    for t in [holder, *threads]:
        t.join(10)
    assert out == [("ok", 2), ("ok", 4), ("error", "cannot run -1"), ("ok", 6), ("ok", 8)]
    assert sorted(calls[1]) == [-1, 1, 2, 3, 4]       # tried as one batch first, then alone
    assert q.submit(5) == 10                          # the worker carries on
    q.close()


def test_the_worker_survives_an_exception_and_a_wrong_number_of_results():
    def run(items):
        if items == ["boom"]:
            raise KeyError("boom")
        if items == ["short"]:
            return []
        return doubled(items)
    q = BatchQueue(run, window=0.002)
    with pytest.raises(KeyError):
        q.submit("boom")
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        q.submit("short")
    assert q.submit(21) == 42
    assert q._thread.is_alive()
    q.close()
    assert not q._thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        q.submit(1)


def test_a_lone_call_does_not_wait_for_the_window():
    q = BatchQueue(doubled, window=2.0)          # a window no test could sit out
    q.submit(1)                                   # the thread is up
    start = time.perf_counter()
    for i in range(20):
        assert q(lambda v: v, i) == 2 * i
    assert time.perf_counter() - start < 1.0      # twenty lone calls, none waited 2 s
    q.close()


def test_a_batch_waits_for_callers_still_preparing_within_the_window():
    sizes = []

    def run(items):
        sizes.append(len(items))
        return doubled(items)
    q = BatchQueue(run, window=5.0)
    slow_started, release = threading.Event(), threading.Event()

    def slow_prepare(v):
        slow_started.set()
        release.wait(10)
        return v
    results = {}
    slow = threading.Thread(target=lambda: results.__setitem__("slow", q(slow_prepare, 7)))
    slow.start()
    slow_started.wait(10)
    fast = threading.Thread(target=lambda: results.__setitem__("fast", q(None, 1)))
    fast.start()
    while not q._queue:
        time.sleep(0.001)
    time.sleep(0.05)
    assert not sizes                              # the fast one waits for the one preparing
    release.set()
    slow.join(10)
    fast.join(10)
    q.close()
    assert results == {"slow": 14, "fast": 2} and sizes == [2]


# ------------------------------------------------------------------ the model, batched
def canvases_of(model, course_set, n=12):
    images = load_dataset(course_set).images[:n]
    big = [np.asarray(Image.fromarray(255 - im).resize((336, 80))) for im in images[n // 2:]]  # drawings
    return [prepare(model, im) for im in [*images[: n // 2], *big]]


@pytest.mark.parametrize("kind", ["convnet4", "reader"])
def test_a_batched_forward_equals_one_image_at_a_time(kind, course_set):
    torch.manual_seed(0)
    model = create_model(kind).eval()
    canvases = canvases_of(model, course_set)
    with torch.inference_mode():
        batched = forward(model, canvases)
        alone = [forward(model, [c])[0] for c in canvases]
    for b, a in zip(batched, alone):
        for tb, ta in zip(b, a):
            assert (tb is None) == (ta is None)
            if tb is not None:
                assert tb.shape == ta.shape and tb.shape[0] == 1
                assert torch.allclose(tb, ta, atol=1e-5), (tb - ta).abs().max()
    pred = finish(canvases[0], batched[0])
    ref = predict_image(model, canvases[0])
    assert np.allclose(pred.sum_probs, ref.sum_probs, atol=1e-5) and pred.warnings == ref.warnings
    assert pred.x_centres == ref.x_centres


def test_a_lone_image_through_a_predictor_is_read_exactly_as_predict_image_reads_it(course_set):
    # what lets `python -m digitsum refusal` go through a Predictor with its table unchanged
    torch.manual_seed(0)
    model = create_model("reader").eval()
    images = load_dataset(course_set).images[:4]
    with Predictor(model) as predictor:
        for image in images:
            mine, ref = predictor.predict(image, check_places=True), predict_image(model, image, check_places=True)
            assert np.array_equal(mine.sum_probs, ref.sum_probs) and np.array_equal(mine.digit_probs, ref.digit_probs)
            assert mine.four_digit_score == ref.four_digit_score and mine.warnings == ref.warnings
            assert mine.x_centres == ref.x_centres and mine.milliseconds > 0
        with pytest.raises(BlankImageError):
            predictor.predict(np.zeros((40, 168), np.uint8))
    with pytest.raises(RuntimeError, match="closed"):
        predictor.predict(images[0])


def test_concurrent_service_predictions_equal_unbatched_and_a_blank_image_fails_alone(service, course_set):
    images = list(load_dataset(course_set).images[:16])
    blank = np.zeros((40, 168), np.uint8)
    model = service.model("tiny")
    expected = [predict_image(model, im, check_places=True) for im in images]
    out = run_threads(lambda im: service.predict(im, "tiny", check_places=True), [(im,) for im in [*images, blank]])
    for (pred, error), ref in zip(out, expected):
        assert error is None
        assert np.allclose(pred.sum_probs, ref.sum_probs, atol=1e-5)
        assert np.allclose(pred.digit_probs, ref.digit_probs, atol=1e-5)
        assert np.array_equal(pred.canvas, ref.canvas) and pred.warnings == ref.warnings
        assert pred.milliseconds > 0
    assert isinstance(out[-1][1], BlankImageError)
    predictor = service.predictor("tiny")
    assert predictor is service.predictor("tiny")               # one queue per checkpoint, for every caller
    assert predictor.queue.items == len(images)                 # each image through it once (the blank one never)
    assert service.predict(images[0], "tiny").total == expected[0].total   # still serving
    assert predictor.queue.items == len(images) + 1
