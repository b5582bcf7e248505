"""Accuracy by layout slice: features measured from hand-built images with known layouts, their bins,
slice accuracy, and `python -m digitsum evaluate` reporting it."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from digitsum.evaluation.evaluate import metrics_from_probs
from digitsum.data.course import save_course_dataset
from digitsum.evaluation.slices import (LAYOUT_FEATURES, bin_labels, layout_features, slice_accuracy, slice_members,
                                        slices_from_probs)
from digitsum_process import run_digitsum

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ["smallest_gap", "left_margin", "digit_height", "ink", "blobs"]


def canvas(blocks, h=40, w=168, background=0):
    """A white-on-black image of solid blocks (left, width, top, height, value)."""
    image = np.full((h, w), background, np.uint8)
    for left, width, top, height, value in blocks:
        image[top:top + height, left:left + width] = value
    return image


def row(left, widths, gaps, top=10, height=20, value=255):
    """Blocks side by side from `left`: widths[i] wide, gaps[i] empty columns after block i."""
    blocks, x = [], left
    for i, width in enumerate(widths):
        blocks.append((x, width, top, height, value))
        x += width + (gaps[i] if i < len(gaps) else 0)
    return blocks


def features_of(*images):
    return layout_features(np.stack(images))


def one(features, i=0):
    return {k: float(v[i]) for k, v in features.items()}


def label_of(feature, value):
    labels, index = bin_labels(feature, np.array([value]))
    return labels[index[0]]


def test_four_separate_digits():
    f = one(features_of(canvas(row(10, [14, 12, 15, 13], [3, 7, 12]))))
    assert f == {"smallest_gap": 3, "left_margin": 10, "digit_height": 20, "ink": 1.0, "blobs": 4}


def test_touching_and_overlapping_digits_are_gap_zero():
    touching = canvas(row(5, [14, 12, 15, 13], [0, 9, 6]))             # two digits' ink meet
    overlapping = canvas(row(5, [14, 12, 15, 13], [-4, -3, 8]))        # three digits share columns
    one_blob = canvas(row(5, [14, 12, 15, 13], [-2, -2, -2]))
    f = features_of(touching, overlapping, one_blob)
    assert list(f["blobs"]) == [3, 2, 1]
    assert list(f["smallest_gap"]) == [0, 0, 0]
    assert label_of("smallest_gap", 0) == "<=0 (touching)"


def test_a_digit_broken_into_two_blobs_is_not_the_smallest_gap():
    # the second digit is two strokes 1 px apart: 5 blobs, digit gaps 6, 8, 9
    blocks = row(20, [14], []) + row(40, [5, 5], [1]) + row(59, [14, 14], [9])
    f = one(features_of(canvas(blocks)))
    assert f["blobs"] == 5 and f["smallest_gap"] == 6 and f["left_margin"] == 20
    assert label_of("blobs", 5) == "5+" and label_of("blobs", 7) == "5+"


def test_isolated_noise_and_faint_background_are_ignored():
    image = canvas(row(30, [14, 12, 15, 13], [5, 5, 5]), background=40)   # 40 < 0.25 * 255
    image[3, 2] = image[30, 150] = 255                                   # single-pixel columns
    f = one(features_of(image))
    assert f["left_margin"] == 30 and f["blobs"] == 4 and f["smallest_gap"] == 5 and f["digit_height"] == 20


def test_digit_height_is_the_median_blob_height():
    blocks = [(5, 10, 0, 10, 255), (20, 10, 0, 14, 255), (35, 10, 5, 18, 255), (50, 10, 2, 30, 255)]
    f = one(features_of(canvas(blocks)))
    assert f["digit_height"] == 16                                       # median of 10, 14, 18, 30
    # a blob spans the rows of all its columns: two 6-row strokes, diagonally apart, span rows 0-25
    blocks = [(5, 4, 0, 6, 255), (9, 8, 20, 6, 255), (30, 10, 0, 20, 255), (50, 10, 0, 24, 255),
              (70, 10, 0, 30, 255)]
    assert one(features_of(canvas(blocks)))["digit_height"] == 25      # median of 20, 24, 26, 30


def test_ink_is_the_peak_intensity_of_the_inked_pixels():
    faint = canvas(row(10, [14, 12, 15, 13], [5, 5, 5], value=100))
    mid = canvas(row(10, [14, 12, 15, 13], [5, 5, 5], value=180))
    strong = canvas(row(10, [14, 12, 15, 13], [5, 5, 5], value=230))
    f = features_of(faint, mid, strong)
    assert np.allclose(f["ink"], [100 / 255, 180 / 255, 230 / 255])
    assert [label_of("ink", v) for v in f["ink"]] == ["faint <0.5", "0.5-0.8", ">0.8"]
    assert label_of("ink", 204 / 255) == "0.5-0.8" and label_of("ink", 205 / 255) == ">0.8"
    # a few bright specks do not set the peak: the 99th percentile of the inked pixels does
    image = faint.copy()
    image[12, 11] = image[13, 11] = 255
    assert one(features_of(image))["ink"] == pytest.approx(100 / 255)


def test_bins_in_order():
    cases = {
        "smallest_gap": [(-3, "<=0 (touching)"), (1, "1-4"), (4, "1-4"), (5, "5-10"), (10, "5-10"),
                         (11, "11-20"), (20, "11-20"), (21, ">20")],
        "left_margin": [(0, "0-8"), (8, "0-8"), (9, "9-16"), (16, "9-16"), (17, "17-30"), (30, "17-30"),
                        (31, ">30")],
        "digit_height": [(15, "<16"), (15.5, "<16"), (16, "16-19"), (19.5, "16-19"), (20, "20-23"),
                         (23.5, "20-23"), (24, ">=24")],
        "blobs": [(1, "1"), (2, "2"), (3, "3"), (4, "4"), (5, "5+")],
    }
    for feature, pairs in cases.items():
        assert [label_of(feature, v) for v, _ in pairs] == [label for _, label in pairs], feature
    assert label_of("smallest_gap", math.nan) == "blank" and label_of("blobs", 0) == "blank"


def test_blank_image_and_other_sizes():
    big = canvas(row(40, [16, 14, 17, 15], [25, 22, 30], top=8, height=26), h=48, w=200)
    f = features_of(big, np.zeros((48, 200), np.uint8))
    assert one(f) == {"smallest_gap": 22, "left_margin": 40, "digit_height": 26, "ink": 1.0, "blobs": 4}
    assert all(math.isnan(f[k][1]) for k in ("smallest_gap", "left_margin", "digit_height", "ink"))
    assert f["blobs"][1] == 0
    # floats in 0..1 measure the same as uint8
    floats = layout_features(np.stack([big, big]).astype(np.float32) / 255)
    assert one(floats) == one(f)


def test_slice_accuracy_counts_add_up_and_accuracies_are_per_slice(rng):
    images, gaps = [], []
    for i in range(40):
        gap = [0, 2, 7, 15, 25][i % 5]
        images.append(canvas(row(3 + i % 20, [14, 12, 15, 13], [gap + 2, gap + 1, gap], value=100 + 3 * i)))
        gaps.append(gap)
    images.append(np.zeros((40, 168), np.uint8))
    features = layout_features(np.stack(images))
    assert list(features["smallest_gap"][:5]) == [0, 2, 7, 15, 25]
    correct_sum = np.array([g >= 7 for g in gaps] + [False])             # wrong on small gaps
    correct_digits = rng.random((41, 4)) < 0.8
    slices = slice_accuracy(features, correct_sum, correct_digits)
    assert list(slices) == FEATURES + ["place"]
    for name in FEATURES:
        assert sum(r["n"] for r in slices[name]) == 41, name
        for r in slices[name]:                # each slice's accuracy is that of its own images
            members = slice_members(features, name, r["slice"])
            assert r["n"] == len(members) > 0, (name, r["slice"])
            assert r["sum_accuracy"] == pytest.approx(correct_sum[members].mean()), (name, r["slice"])
            assert r["digit_accuracy"] == pytest.approx(correct_digits[members].mean()), (name, r["slice"])
    by_gap = {r["slice"]: (r["n"], r["sum_accuracy"]) for r in slices["smallest_gap"]}
    assert by_gap == {"<=0 (touching)": (8, 0.0), "1-4": (8, 0.0), "5-10": (8, 1.0), "11-20": (8, 1.0),
                      ">20": (8, 1.0), "blank": (1, 0.0)}
    assert [r["slice"] for r in slices["smallest_gap"]][-1] == "blank"
    touching = features["smallest_gap"] == 0
    assert slices["smallest_gap"][0]["digit_accuracy"] == pytest.approx(correct_digits[touching].mean())
    assert [r["digit_accuracy"] for r in slices["place"]] == pytest.approx(correct_digits.mean(0))
    # without digit labels: no digit accuracy, no places
    slices = slice_accuracy(features, correct_sum, None)
    assert slices["place"] == [] and all(r["digit_accuracy"] is None for r in slices["ink"])


def test_slices_from_probs_agree_with_the_metrics(rng):
    n = 30
    images = np.stack([canvas(row(5 + i, [14, 12, 15, 13], [i % 9, 4, 6])) for i in range(n)])
    digits = rng.integers(0, 10, (n, 4))
    sums = digits.sum(1)
    sum_probs = rng.random((n, 37))
    digit_probs = rng.random((n, 4, 10))
    slices = slices_from_probs(images, sum_probs, sums, digit_probs, digits)
    assert list(slices) == FEATURES + ["place", "true_sum"]
    metrics = metrics_from_probs(digit_probs, sum_probs, sums, digits)
    assert {int(r["slice"]): r["sum_accuracy"] for r in slices["true_sum"]} == metrics["per_sum_accuracy"]
    assert [r["digit_accuracy"] for r in slices["place"]] == metrics["place_accuracy"]
    assert sum(r["n"] for r in slices["true_sum"]) == n
    assert tuple(LAYOUT_FEATURES) == tuple(FEATURES)


@pytest.mark.slow
def test_evaluate_json_and_report_include_slices(tmp_path):
    images, digits = [], []
    for i in range(24):
        gap = [-2, 3, 8, 14][i % 4]
        images.append(canvas(row(4 + 2 * i, [12, 10, 13, 11], [gap, gap + 3, gap + 5],
                                 height=[14, 18, 22, 26][i // 6], value=[90, 170, 255][i % 3])))
        digits.append([i % 10, (i * 3) % 10, (i * 7) % 10, 1])
    images, digits = np.stack(images), np.array(digits, np.uint8)
    save_course_dataset(tmp_path, images, digits.sum(1).astype(np.uint8), digits)

    def run(*args):
        return run_digitsum("evaluate", "--checkpoint", ROOT / "checkpoints" / "naive-concat", "--data", tmp_path, *args)

    r = run("--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["n"] == 24 and result["images_per_second"] > 0 and "per_sum_accuracy" in result
    slices = result["slices"]
    assert list(slices) == FEATURES + ["place", "true_sum"]
    for name in FEATURES + ["true_sum"]:
        assert sum(r["n"] for r in slices[name]) == 24, name
        assert set(slices[name][0]) == {"slice", "n", "sum_accuracy", "digit_accuracy"}
    assert [r["slice"] for r in slices["smallest_gap"]] == ["<=0 (touching)", "1-4", "5-10", "11-20"]
    assert [r["slice"] for r in slices["digit_height"]] == ["<16", "16-19", "20-23", ">=24"]
    assert [r["slice"] for r in slices["ink"]] == ["faint <0.5", "0.5-0.8", ">0.8"]
    assert [r["digit_accuracy"] for r in slices["place"]] == pytest.approx(result["place_accuracy"])
    weighted = sum(r["n"] * r["sum_accuracy"] for r in slices["blobs"]) / 24
    assert weighted == pytest.approx(result["sum_accuracy"])

    r = run()
    assert r.returncode == 0, r.stderr
    assert "accuracy by layout slice" in r.stdout and "smallest_gap" in r.stdout and "<=0 (touching)" in r.stdout


def test_slice_members_and_compare_slices():
    from digitsum.evaluation.slices import compare_slices
    features = {"smallest_gap": np.array([0, 3, 3, 15, np.nan]), "true_sum": np.array([5, 5, 7, 7, 9])}
    assert slice_members(features, "smallest_gap", "1-4").tolist() == [1, 2]
    assert slice_members(features, "smallest_gap", "blank").tolist() == [4]
    assert slice_members(features, "true_sum", "7").tolist() == [2, 3]
    with pytest.raises(KeyError):
        slice_members(features, "smallest_gap", "99")
    correct = {"a": np.array([1, 1, 1, 1, 1], bool), "b": np.array([1, 0, 0, 1, 1], bool)}
    rows = compare_slices(features, correct, min_n=2)
    assert rows[0]["gap"] == 1.0 and {rows[0]["feature"], rows[0]["slice"]} <= {"smallest_gap", "1-4", "true_sum", "7"}
    assert all(r["n"] >= 2 for r in rows) and [r["gap"] for r in rows] == sorted((r["gap"] for r in rows), reverse=True)
    seven = next(r for r in rows if r["feature"] == "true_sum" and r["slice"] == "7")
    assert seven["a"] == 1.0 and seven["b"] == 0.5 and seven["gap"] == 0.5
