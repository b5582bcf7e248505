"""The checkpoints that ship in checkpoints/: each loads in the evaluate CLI and scores a course set
it never saw; the default reads mouse-style drawings."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from drawings import draw_polylines

from digitsum.checkpoint import load_checkpoint
from digitsum.predict import drawing_to_gray, predict_image

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p for p in (ROOT / "checkpoints").iterdir() if (p / "config.json").is_file())
DEFAULT = ROOT / "checkpoints" / "digitsum-small"
# what each must reach on 500 fresh course images (a floor well below the measured figures in the
# README, so the test checks that a checkpoint works, not the last decimal)
FLOORS = {"digitsum-small": 0.95, "naive-concat": 0.0}


@pytest.fixture(scope="module")
def fresh_course_set(make_course_set):
    return make_course_set(500, seed=777)


def test_at_least_two_checkpoints_ship_with_model_cards():
    assert {p.name for p in SHIPPED} >= {"digitsum-small", "naive-concat"}
    for folder in SHIPPED:
        card = (folder / "README.md").read_text()
        assert "command" in card and "wall time" in card
        assert (folder / "model.safetensors").stat().st_size < 25e6


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_shipped_checkpoint_scores_in_the_evaluate_cli(folder, fresh_course_set):
    r = subprocess.run([sys.executable, "-m", "digitsum", "evaluate", "--checkpoint", str(folder),
                        "--data", str(fresh_course_set), "--json"], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["n"] == 500
    assert result["sum_accuracy"] >= FLOORS.get(folder.name, 0.0)


@pytest.mark.parametrize("width,scale", [(6, 1.0), (12, 1.0), (18, 1.0), (8, 0.6), (5, 0.35)])
def test_default_reads_mouse_style_drawings(width, scale):
    # large and small digits, thin and thick strokes: small digits sit far apart in their boxes
    model = load_checkpoint(DEFAULT)
    for text in ("7140", "2358", "6912", "0451", "8736"):
        drawing = draw_polylines(text, width, scale=scale)
        prediction = predict_image(model, drawing_to_gray(np.asarray(drawing)))
        assert "".join(map(str, prediction.digits)) == text, (width, text)
        assert prediction.total == sum(map(int, text))
