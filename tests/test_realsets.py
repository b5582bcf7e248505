"""Real images for measuring (digitsum.data.realsets, `robustness --real-sets`). They live beside the
checkout in ../shared/real and are never committed: the tests that read them are skipped where the
folder is absent (a user's fresh clone); the skip itself is tested everywhere."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from digitsum.errors import DataError
from digitsum.data.realsets import (COURSE_COLUMNS, DIGIT_SIZE, MARGIN, available, course_canvases, mnist_like,
                                   real_sets, writer_canvases, writer_digits)
from digitsum_process import run_digitsum as run

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "real"
needs_real = pytest.mark.skipif(not available(REAL), reason=f"{REAL} is absent (the real sets are not in the repo)")


def test_a_binary_digit_is_smoothed_to_mnist_size_and_grey_edges():
    slash = np.zeros((16, 16), np.uint8)
    for r in range(16):                           # a slanted binary stroke, 3 px wide: a staircase
        slash[r, 8 - r // 2:11 - r // 2] = 255
    out = mnist_like(slash, 20, binary=True)
    assert out.shape == (20, 13) or out.shape == (20, 12)     # aspect kept: longer side 20
    assert out.max() == 255
    ink = out[out > 0]
    assert ((ink > 0) & (ink < 255)).mean() > 0.3             # anti-aliased edges, not a hard staircase
    grey = np.zeros((16, 16), np.uint8)
    grey[0:16, 6:10] = 128
    out = mnist_like(grey, 19, binary=False)
    assert out.shape[0] == 19 and out.max() == 255            # peak raised to full white


def test_an_absent_folder_is_not_available_and_is_refused(tmp_path):
    assert not available(tmp_path) and not available(tmp_path / "none")
    with pytest.raises(DataError, match="no such folder"):
        real_sets(tmp_path / "none", 4)
    assert real_sets(tmp_path, 4) == {}                        # a folder without the files: no columns


@pytest.mark.slow
def test_robustness_without_the_real_folder_skips_its_columns_with_one_line(tmp_path):
    r = run("robustness", "--checkpoint", ROOT / "checkpoints" / "naive-concat", "--n", 4, "--sets", "course",
            "--cache", tmp_path / "cache", "--data-test", tmp_path / "none", "--real-sets", tmp_path / "shared" / "real",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    skipped = [line for line in r.stderr.splitlines() if "real sets" in line]
    assert len(skipped) == 1 and "skipped" in skipped[0] and "Traceback" not in r.stderr
    header = next(line for line in r.stdout.splitlines() if line.startswith("| checkpoint"))
    assert header == "| checkpoint | course |"


@needs_real
def test_course_canvases_by_subset():
    sets = course_canvases(REAL)
    assert list(sets) == list(COURSE_COLUMNS)
    assert len(sets["real-random"]) == 133 and len(sets["real-hard"]) == 110
    for data in sets.values():
        assert data.images.shape[1:] == (40, 168) and data.images.dtype == np.uint8
        assert data.digits is None and data.sums.min() >= 0 and data.sums.max() <= 36
        assert 10 < data.images.mean() < 25                    # white ink on black, as the course's


@needs_real
@pytest.mark.parametrize("name", ["usps", "semeion"])
def test_writer_canvases_are_labelled_course_layout_images(name):
    data = writer_canvases(REAL, name, 60, seed=3)
    assert data.images.shape == (60, 40, 168) and data.images.dtype == np.uint8
    assert data.digits.shape == (60, 4) and np.array_equal(data.digits.sum(1), data.sums)
    x, y = writer_digits(REAL, name)
    assert set(np.unique(data.digits)) <= set(range(10)) and len(np.unique(data.digits)) == 10
    for im in data.images:
        rows, cols = np.nonzero(im > 0)
        assert im.max() == 255
        assert MARGIN[0] - 1 <= cols.min() <= MARGIN[1] and cols.max() < 168
        assert rows.min() >= 1 and rows.max() <= 38 and DIGIT_SIZE[0] - 3 <= rows.max() - rows.min() + 1
    ink = data.images[data.images > 0]
    assert ((ink > 0) & (ink < 255)).mean() > 0.2              # grey strokes, also from binary Semeion
    again = writer_canvases(REAL, name, 60, seed=3)
    assert np.array_equal(again.images, data.images) and np.array_equal(again.digits, data.digits)
    other = writer_canvases(REAL, name, 60, seed=4)
    assert not np.array_equal(other.images, data.images)


@needs_real
def test_every_writer_digit_is_used_before_any_is_used_twice():
    x, y = writer_digits(REAL, "semeion")
    n = len(x) // 4                    # one shuffled pass: each digit once (sampling with replacement
    data = writer_canvases(REAL, "semeion", n, seed=0)        # would miss the counts by ~10 a class)
    short = np.bincount(y, minlength=10) - np.bincount(data.digits.ravel(), minlength=10)
    assert short.min() >= 0 and short.sum() == len(x) - 4 * n


@pytest.mark.slow
@needs_real
def test_robustness_prints_the_real_columns(tmp_path):
    r = run("robustness", "--checkpoint", ROOT / "checkpoints" / "digitsum-reader", "--n", 6, "--sets", "course",
            "--cache", tmp_path / "cache", "--data-test", tmp_path / "none", "--real-sets", REAL, "--threads", 1,
            cwd=ROOT)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| checkpoint"))
    assert header == "| checkpoint | course | real-random | real-hard | usps | semeion |"
    row = next(line for line in lines if "digitsum-reader" in line).split("|")[2:-1]
    cells = [c.strip() for c in row]
    assert cells[1].endswith("/ —") and cells[2].endswith("/ —")     # sums only
    assert all(re.fullmatch(r"\d+\.\d / \d+\.\d", c) for c in (cells[0], cells[3], cells[4]))
    assert float(cells[1].split()[0]) > 90                               # the course layout: read well
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["course-n6-seed7-v1"]   # nothing real written
    j = run("robustness", "--checkpoint", ROOT / "checkpoints" / "digitsum-reader", "--n", 6, "--sets", "course",
            "--cache", tmp_path / "cache", "--data-test", tmp_path / "none", "--real-sets", REAL, "--threads", 1,
            "--json", cwd=ROOT)
    out = json.loads(j.stdout)
    scores = out["results"][str(ROOT / "checkpoints" / "digitsum-reader")]
    assert scores["real-hard"]["n"] == 110 and scores["usps"]["n"] == 6 and scores["real-random"]["digit_accuracy"] is None
