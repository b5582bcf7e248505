"""Preprocessing in worker processes (digitsum.reading.preprocess_pool): the same canvases and
errors as in the caller's thread, a dead worker costs no request, and app.py stays light to import
(each spawned worker imports it again)."""
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitsum.errors import BlankImageError
from digitsum.reading.preprocess import fit_to_canvas
from digitsum.reading.preprocess_pool import PreprocessPool
from digitsum.reading.predictor import Predictor
from digitsum.storage.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pool():
    with PreprocessPool(workers=2) as p:
        p.warm_up()
        yield p


def images(course_set):
    """Course images as they are, and drawn 4x larger black on white (preprocessing's full work)."""
    from digitsum.data.course import load_dataset
    out = []
    for image in load_dataset(course_set).images[:6]:
        out.append(image)
        out.append(np.asarray(Image.fromarray(255 - image).resize((672, 160), Image.BILINEAR)))
    return out


def test_the_pool_gives_the_canvases_and_the_errors_of_the_callers_thread(pool, course_set):
    for image in images(course_set):
        np.testing.assert_array_equal(pool.fit(image, 40, 168), fit_to_canvas(image, 40, 168))
    blank = np.full((80, 300), 255, np.uint8)
    with pytest.raises(BlankImageError) as here:
        fit_to_canvas(blank, 40, 168)
    with pytest.raises(BlankImageError) as there:
        pool.fit(blank, 40, 168)
    assert str(there.value) == str(here.value)


def test_a_killed_worker_costs_no_request_and_the_pool_starts_afresh(course_set):
    image = images(course_set)[1]
    expected = fit_to_canvas(image, 40, 168)
    others = {child.pid for child in multiprocessing.active_children()}   # other tests' pools
    with PreprocessPool(workers=1) as p:
        p.warm_up()
        workers = [child for child in multiprocessing.active_children() if child.pid not in others]
        assert len(workers) == 1, "the pool started no worker process of its own"
        for worker in workers:
            os.kill(worker.pid, signal.SIGKILL)
            worker.join(10)
        time.sleep(0.2)   # the pool's own thread notices the dead worker
        np.testing.assert_array_equal(p.fit(image, 40, 168), expected)   # answered all the same
        np.testing.assert_array_equal(p.fit(image, 40, 168), expected)   # and by a new worker
        assert p.restarts == 1
    np.testing.assert_array_equal(p.fit(image, 40, 168), expected)       # closed: in the caller's thread


def test_a_predictor_with_the_pool_reads_as_without_it_under_concurrent_callers(pool, course_set, tiny_checkpoint):
    model = load_checkpoint(tiny_checkpoint, for_inference=True)
    batch = images(course_set)
    with Predictor(model) as alone:
        expected = [alone.predict(image) for image in batch]
    got = [None] * len(batch)
    with Predictor(model, preprocess_pool=pool) as pooled:
        def read(i):
            got[i] = pooled.predict(batch[i])
        threads = [threading.Thread(target=read, args=(i,)) for i in range(len(batch))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a.canvas, b.canvas)
        np.testing.assert_allclose(a.sum_probs, b.sum_probs, atol=1e-5)
        assert a.total == b.total and a.warnings == b.warnings


def test_app_py_imports_neither_torch_nor_gradio_at_the_top():
    """A spawned worker imports the main script again: app.py's heavy imports live in main()."""
    code = "import sys; import app; print('torch' in sys.modules, 'gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


OWNER = """
import multiprocessing, sys, time
from digitsum.reading.preprocess_pool import PreprocessPool
pool = PreprocessPool(workers=2)
pool.warm_up()
print(*[p.pid for p in multiprocessing.active_children()], flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_workers_end_with_the_process_that_started_them_and_say_nothing(how):
    """Killed alone (kill -9, kill: its workers get no signal) or Ctrl-C (SIGINT to the whole
    process group, as a terminal sends it): no worker outlives it, and none prints a traceback."""
    proc = subprocess.Popen([sys.executable, "-c", OWNER], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    workers = [int(p) for p in proc.stdout.readline().split()]
    assert len(workers) == 2 and all(_alive(p) for p in workers)
    if how == signal.SIGINT:
        os.killpg(proc.pid, how)
    else:
        os.kill(proc.pid, how)
    proc.wait(30)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in workers)
    err = proc.stderr.read()
    assert err.count("Traceback") <= 1 and "SpawnProcess" not in err, err   # the owner's own KeyboardInterrupt at most
