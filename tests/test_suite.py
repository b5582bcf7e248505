"""The robustness suite (digitsum.data.suite): its own renderer of test sets, and the `robustness` and
`make-dataset --preset` commands, run as a user runs them."""
import ast
import json
from pathlib import Path

import numpy as np
import pytest

from digitsum.cli import main
from digitsum.data.course import load_dataset
from digitsum.data.photo import PageLook, photograph_page
from digitsum.data.suite import (MIN_CENTRE_STEP, PhotoPreset, SUITE_PRESETS, render, stacked_roles,
                                 write_suite_set)
from digitsum.data.suite.stacked import render_stacked
from digitsum.evaluation.evaluate import evaluate
from digitsum.storage.checkpoint import load_checkpoint
from digitsum_process import run_digitsum as run

ROOT = Path(__file__).resolve().parent.parent
N = 24


@pytest.fixture(scope="module")
def rendered():
    """Each preset rendered once (seed 0)."""
    return {name: render(name, N, seed=0) for name in SUITE_PRESETS}


def ink_column_runs(image: np.ndarray, level: int = 40) -> int:
    """How many separate runs of inked columns an image has."""
    cols = (image > level).any(0).astype(np.int8)
    return int((np.diff(np.concatenate([[0], cols])) == 1).sum())


def test_the_renderer_does_not_use_the_training_generator():
    files = sorted((ROOT / "digitsum" / "data" / "suite").glob("*.py"))
    assert len(files) > 1
    for file in files:
        tree = ast.parse(file.read_text())
        imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert imported and not any("synth" in m for m in imported), file.name


@pytest.mark.parametrize("name", list(SUITE_PRESETS))
def test_each_preset_renders_labelled_course_format_images(rendered, name):
    images, digits = rendered[name]
    height, width = SUITE_PRESETS[name].stored_size
    assert images.shape == (N, height, width) and images.dtype == np.uint8
    assert digits.shape == (N, 4) and digits.min() >= 0 and digits.max() <= 9
    if isinstance(SUITE_PRESETS[name], PhotoPreset):            # photos: dark ink on lit paper
        flat = images.reshape(N, -1).astype(int)
        assert (np.median(flat, 1) - flat.min(1) > 40).all()     # ink well below the paper
        assert np.median(images) > 40
    else:
        assert (images.reshape(N, -1).max(1) > 100).all()       # every image has ink
        # white ink on black; only `stacked` has pixel noise on every canvas
        assert np.median(images) <= (10 if name == "stacked" else 0)


@pytest.mark.parametrize("name", list(SUITE_PRESETS))
def test_same_seed_same_images_other_seed_other_images(rendered, name):
    images, digits = rendered[name]
    again, again_digits = render(name, N, seed=0)
    assert np.array_equal(images, again) and np.array_equal(digits, again_digits)
    other, other_digits = render(name, N, seed=1)
    assert not np.array_equal(images, other) and not np.array_equal(digits, other_digits)


def test_course_digits_start_near_the_left_edge_margin_digits_far_from_it(rendered):
    first_ink = {name: np.array([np.nonzero(im.any(0))[0][0] for im in rendered[name][0]])
                 for name in ("course", "margin")}
    assert (first_ink["course"] <= 16).all()
    assert (first_ink["margin"] >= 24).mean() >= 0.9


def test_crowded_digits_overlap_sparse_ones_stand_apart(rendered):
    crowded = [ink_column_runs(im) for im in rendered["crowded"][0]]
    sparse = [ink_column_runs(im) for im in rendered["sparse"][0]]
    assert np.mean([r < 4 for r in crowded]) >= 0.75
    assert np.mean([r >= 4 for r in sparse]) >= 0.75


def test_small_and_large_digits_differ_in_height(rendered):
    def median_height(images):
        return np.median([np.ptp(np.nonzero((im > 40).any(1))[0]) for im in images])
    assert median_height(rendered["small"][0]) < median_height(rendered["course"][0]) < median_height(rendered["large"][0])


def test_drawn_set_loads_as_one_course_format_folder(tmp_path):
    files = write_suite_set("drawn", 10, seed=3, folder=tmp_path)
    data = load_dataset(tmp_path)
    assert len(data) == 10 and data.images.shape[1:] == SUITE_PRESETS["drawn"].stored_size
    assert np.array_equal(data.digits.sum(1), data.sums)
    manifest = json.loads((tmp_path / "suite.json").read_text())
    assert manifest["preset"] == "drawn" and sum(f["n"] for f in manifest["files"]) == 10
    assert len([f for f in files if f.name.startswith("data")]) == len(SUITE_PRESETS["drawn"].canvases)
    images, digits = render("drawn", 10, seed=3)
    assert np.array_equal(data.images, images) and np.array_equal(data.digits, digits)


@pytest.mark.slow
def test_robustness_prints_a_table_of_every_set_and_caches_the_sets(tmp_path):
    cache = tmp_path / "cache"
    r = run("robustness", "--checkpoint", ROOT / "checkpoints" / "naive-concat", "--n", 20, "--cache", cache,
            "--data-test", tmp_path / "no-such-folder", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    header = next(line for line in r.stdout.splitlines() if line.startswith("| checkpoint"))
    for name in SUITE_PRESETS:
        assert f" {name} " in header
    row = next(line for line in r.stdout.splitlines() if "naive-concat" in line)
    assert row.count("/") >= len(SUITE_PRESETS) and "no-such-folder" not in r.stdout
    cached = sorted(p.name for p in cache.iterdir())
    assert len(cached) == len(SUITE_PRESETS) and all("-n20-seed7-" in p for p in cached)


def test_robustness_json_uses_the_cache_and_the_test_folder(tmp_path, capsys):
    cache = tmp_path / "cache"
    write_suite_set("course", 20, seed=7, folder=tmp_path / "test")   # stands in for data/test
    args = ["robustness", "--checkpoint", str(ROOT / "checkpoints" / "naive-concat"), "--n", "20",
            "--cache", str(cache), "--sets", "crowded", "margin", "--data-test", str(tmp_path / "test"), "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    scores = first["results"][str(ROOT / "checkpoints" / "naive-concat")]
    assert list(scores) == ["crowded", "margin", str(tmp_path / "test")]
    # each column holds the checkpoint's scores on that set's images, as the library computes them
    model = load_checkpoint(ROOT / "checkpoints" / "naive-concat")
    for column, folder in [("crowded", cache / "crowded-n20-seed7-v1"), ("margin", cache / "margin-n20-seed7-v1"),
                           (str(tmp_path / "test"), tmp_path / "test")]:
        data = load_dataset(folder)
        expected = evaluate(model, data.images, data.sums, data.digits)
        assert scores[column] == {k: expected[k] for k in ("n", "sum_accuracy", "digit_accuracy", "all_digits_accuracy")}
    assert all(s["n"] == 20 for s in scores.values())
    assert sorted(p.name for p in cache.iterdir()) == ["crowded-n20-seed7-v1", "margin-n20-seed7-v1"]
    stamp = (cache / "crowded-n20-seed7-v1" / "data0.npy").stat().st_mtime_ns
    assert main(args) == 0                                  # the second run reads the cached sets
    assert json.loads(capsys.readouterr().out) == first
    assert (cache / "crowded-n20-seed7-v1" / "data0.npy").stat().st_mtime_ns == stamp


def test_make_dataset_with_a_preset_and_its_errors(tmp_path, capsys):
    assert main(["make-dataset", "--split", "test", "--preset", "sparse", "--n", "12", "--seed", "4",
                 "--out", str(tmp_path / "s")]) == 0
    data = load_dataset(tmp_path / "s")
    assert np.array_equal(data.images, render("sparse", 12, seed=4)[0])
    capsys.readouterr()
    assert main(["make-dataset", "--split", "train", "--preset", "sparse", "--n", "12", "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert "--split test" in err and len(err.strip().splitlines()) == 1
    # a folder that holds more files than the new set writes would mix them in: refused
    assert main(["make-dataset", "--split", "test", "--preset", "drawn", "--n", "4", "--out", str(tmp_path / "d")]) == 0
    assert main(["make-dataset", "--split", "test", "--preset", "course", "--n", "4", "--out", str(tmp_path / "d")]) == 2
    assert "data1.npy" in capsys.readouterr().err


def test_stacked_neighbours_overlap_in_x_at_clearly_different_heights():
    images, digits, boxes = render_stacked("stacked", SUITE_PRESETS["stacked"], 120, seed=2)
    assert images.shape == (120, 48, 200)
    x, y, w, h = (boxes[..., k].astype(float) for k in range(4))
    cx, cy = x + w / 2, y + h / 2
    assert (np.diff(cx, axis=1) >= MIN_CENTRE_STEP * 48 / 40).all()   # reading order: by x-centre
    x_overlap = (x + w)[:, :-1] - x[:, 1:]
    y_overlap = np.minimum((y + h)[:, :-1], (y + h)[:, 1:]) - np.maximum(y[:, :-1], y[:, 1:])
    stacked = (x_overlap >= 2) & (np.abs(np.diff(cy, axis=1)) >= 15) & (y_overlap <= 6)
    assert stacked.any(1).mean() >= 0.9 and stacked.sum() >= 150
    # the digits are transformed and the canvas is noisy: little of the background is clean black
    ink = np.zeros(images.shape, bool)
    for i, b in enumerate(boxes):
        for bx, by, bw, bh in b:
            ink[i, by:by + bh, bx:bx + bw] = True
    assert all((im[~m] > 0).mean() > 0.3 for im, m in zip(images, ink))
    again = render_stacked("stacked", SUITE_PRESETS["stacked"], 120, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(again, (images, digits, boxes)))


def test_stacked_roles_alternate_along_a_chain():
    rng = np.random.default_rng(0)
    for _ in range(50):
        stacked = rng.random(3) < 0.5
        roles = stacked_roles(stacked, rng)
        for j in range(3):
            if stacked[j]:
                assert {roles[j], roles[j + 1]} == {"high", "low"}
        assert all(roles[k] is None for k in range(4)
                   if not (k < 3 and stacked[k]) and not (k > 0 and stacked[k - 1]))


def test_photo_page_frames_the_line_with_the_page_edge_and_the_table():
    """With the light, texture, blur and noise held still, a photo has three levels: paper, table,
    ink. The table lies beyond the page's edge at the frame's border; the line is 3-8x its size."""
    look = PageLook(paper=(0.9, 0.9), ink=(0.05, 0.05), texture=(0, 0), table=(0.3, 0.3), grain=(0, 0),
                    page_shadow=(0, 0), gradient=(0, 0), vignette=(0, 0), shadow_p=0, blob_p=0,
                    exposure=(1, 1), blur=(0, 0), noise=(0, 0), jpeg=(95, 95))
    clean, _ = render("course", 16, seed=5)
    rng = np.random.default_rng(0)
    angles = []
    for im in clean:
        photo = photograph_page(im, look, rng).astype(int)
        assert photo.shape == look.size
        table = np.abs(photo - 0.3 * 255) < 12
        paper = np.abs(photo - 0.9 * 255) < 12
        ink = photo < 0.15 * 255
        assert 0.01 < table.mean() < 0.6 and paper.mean() > 0.35 and ink.any()
        border = np.concatenate([table[0], table[-1], table[:, 0], table[:, -1]])
        assert border.any()                                   # the table reaches the frame's edge
        ink_rows, ink_cols = np.nonzero(ink)
        clean_cols = np.nonzero(im.any(0))[0]
        scale = np.ptp(ink_cols) / np.ptp(clean_cols)
        assert 2.5 < scale < 8.6
        angles.append(line_angle(ink_rows, ink_cols) - line_angle(*np.nonzero(im > 128)))
    angles = np.abs(angles)
    assert angles.max() < 12 and (angles > 3).sum() >= 3           # the line is turned, by up to ~10°


def line_angle(rows: np.ndarray, cols: np.ndarray) -> float:
    """The direction (degrees) of the longer principal axis of a cloud of pixels."""
    yy, xx = rows - rows.mean(), cols - cols.mean()
    return float(np.degrees(0.5 * np.arctan2(2 * (xx * yy).mean(), (xx ** 2).mean() - (yy ** 2).mean())))
