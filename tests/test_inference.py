"""Inference options: test-time shifts and ensembles average digit probabilities place by place."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from digitsum.models.inference import AveragedReader, vertical_shift
from digitsum.models.net import create_model

ROOT = Path(__file__).resolve().parent.parent


def test_vertical_shift_moves_rows_and_fills_with_blank():
    x = torch.arange(1, 6, dtype=torch.float32).view(1, 1, 5, 1)
    assert vertical_shift(x, 2).flatten().tolist() == [0, 0, 1, 2, 3]
    assert vertical_shift(x, -2).flatten().tolist() == [3, 4, 5, 0, 0]
    assert vertical_shift(x, 0) is x


def test_an_ensemble_of_one_without_shifts_is_the_model_itself():
    torch.manual_seed(0)
    model = create_model("reader").eval()
    x = torch.rand(3, 1, 40, 168)
    digits, sums = AveragedReader([model]).predict_proba(x)
    expected_digits, expected_sums = model.predict_proba(x)
    assert torch.allclose(digits, expected_digits) and torch.allclose(sums, expected_sums)


def test_averaging_is_place_by_place_and_sums_stay_distributions():
    torch.manual_seed(0)
    a, b = create_model("reader").eval(), create_model("reader").eval()
    x = torch.rand(2, 1, 40, 168)
    digits, sums = AveragedReader([a, b], shifts=(0, -2, 2)).predict_proba(x)
    assert digits.shape == (2, 4, 10) and torch.allclose(digits.sum(-1), torch.ones(2, 4), atol=1e-5)
    assert torch.allclose(sums.sum(-1), torch.ones(2), atol=1e-5)


def test_sum_only_models_cannot_be_averaged():
    with pytest.raises(ValueError, match="only models that read digits"):
        AveragedReader([create_model("resnet_small_sum37")])


def test_evaluate_cli_scores_an_ensemble_with_tta(course_set):
    ckpt = str(ROOT / "checkpoints" / "digitsum-reader")
    r = subprocess.run([sys.executable, "-m", "digitsum", "evaluate", "--checkpoint", ckpt, ckpt, "--tta",
                        "--data", str(course_set), "--json"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["n"] == 64 and result["sum_accuracy"] > 0.8 and "(TTA)" in result["checkpoint"]
