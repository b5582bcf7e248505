"""The command-line tools, run as a user runs them: through `python -m digitsum`."""
import json

import numpy as np
import pytest

from digitsum.evaluation.evaluate import evaluate
from digitsum.storage.checkpoint import load_checkpoint
from digitsum_process import run_digitsum as run


def test_make_dataset_writes_the_course_format_deterministically(tmp_path):
    for out in ("a", "b"):
        r = run("make-dataset", "--split", "test", "--n", 50, "--seed", 3, "--out", tmp_path / out)
        assert r.returncode == 0, r.stderr
    a_images = np.load(tmp_path / "a" / "data0.npy")
    assert a_images.shape == (50, 40, 168) and a_images.dtype == np.uint8
    sums = np.load(tmp_path / "a" / "lab0.npy")
    digits = np.load(tmp_path / "a" / "digits0.npy")
    assert sums.dtype == np.uint8 and np.array_equal(digits.sum(1), sums)
    assert np.array_equal(a_images, np.load(tmp_path / "b" / "data0.npy"))


@pytest.mark.slow
@pytest.mark.parametrize("height,width", [(40, 168), (48, 200)])
def test_evaluate_prints_one_json_object(tmp_path, tiny_checkpoint, height, width):
    r = run("make-dataset", "--split", "test", "--n", 40, "--seed", 1, "--out", tmp_path,
            "--height", height, "--width", width)
    assert r.returncode == 0, r.stderr
    r = run("evaluate", "--checkpoint", tiny_checkpoint, "--images", tmp_path / "data0.npy",
            "--labels", tmp_path / "lab0.npy", "--digits", tmp_path / "digits0.npy", "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["n"] == 40
    # the scores of this checkpoint on these images, as the library computes them
    expected = evaluate(load_checkpoint(tiny_checkpoint), np.load(tmp_path / "data0.npy"),
                        np.load(tmp_path / "lab0.npy").astype(np.int64), np.load(tmp_path / "digits0.npy"))
    assert (result["sum_accuracy"], result["digit_accuracy"]) == (expected["sum_accuracy"], expected["digit_accuracy"])
    assert result["images_per_second"] > 0
    r = run("evaluate", "--checkpoint", tiny_checkpoint, "--data", tmp_path, "--json")
    assert json.loads(r.stdout)["n"] == 40
    r = run("evaluate", "--checkpoint", tiny_checkpoint, "--images", tmp_path / "data0.npy",
            "--labels", tmp_path / "lab0.npy", "--json")
    assert json.loads(r.stdout)["digit_accuracy"] is None


def test_evaluate_human_readable_report(course_set, tiny_checkpoint):
    r = run("evaluate", "--checkpoint", tiny_checkpoint, "--data", course_set)
    assert r.returncode == 0, r.stderr
    assert "sum accuracy" in r.stdout and "digit accuracy" in r.stdout and "accuracy per sum" in r.stdout
    assert "images/s" in r.stdout


@pytest.mark.parametrize("args,message", [
    (["--images", "missing.npy", "--labels", "missing_lab.npy"], "missing.npy"),
    (["--data", "."], "no data"),
    (["--images", "x.npy"], "--labels"),
    ([], "--data"),
])
def test_evaluate_bad_arguments_give_one_line_errors(tiny_checkpoint, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("evaluate", "--checkpoint", tiny_checkpoint, *args)
    assert r.returncode != 0
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_evaluate_bad_checkpoint_and_bad_labels(tmp_path, course_set):
    r = run("evaluate", "--checkpoint", tmp_path / "none", "--data", course_set)
    assert r.returncode == 2 and "no such checkpoint" in r.stderr and "Traceback" not in r.stderr
    np.save(tmp_path / "lab.npy", np.full(64, 40, np.uint8))
    r = run("evaluate", "--checkpoint", tmp_path / "none", "--images", course_set / "data0.npy", "--labels",
            tmp_path / "lab.npy")
    assert r.returncode == 2 and "0-36" in r.stderr


def test_benchmark_prints_its_rate():
    r = run("benchmark-synth", "--seconds", 0.3, "--batch-size", 256, "--augment", "none")
    assert r.returncode == 0, r.stderr
    assert "images/s" in r.stdout


@pytest.mark.parametrize("command", ["evaluate", "robustness"])
def test_checkpoint_help_says_how_a_hub_checkpoint_is_written(command):
    """A checkpoint on the Hub is hf://owner/name (a bare owner/name is a path, never a download)."""
    r = run(command, "--help")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "hf://owner/name" in text and "repo id" not in text
