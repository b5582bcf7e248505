"""The reader's row features: a reader widened with them reads exactly as before until trained."""
import subprocess
import sys
from pathlib import Path

import torch

from digitsum.models.net import create_model
from digitsum.models.reader import trunk_rows, widen_with_rows
from digitsum.storage.checkpoint import load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def test_trunk_rows_match_the_feature_map():
    for height in (40, 41, 48, 8):
        model = create_model("reader_rows", height=height).eval()
        with torch.no_grad():
            rows = model.trunk(torch.zeros(1, 1, height, 168)).shape[2]
        assert rows == trunk_rows(height)


def test_a_widened_reader_reads_as_its_source_until_trained():
    torch.manual_seed(0)
    narrow = create_model("reader").eval()
    for m in narrow.modules():        # non-trivial statistics, so every weight matters
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.2, 0.2)
    wide = widen_with_rows(narrow, create_model("reader_rows").eval())
    x = torch.rand(3, 1, 40, 168)
    with torch.no_grad():
        assert torch.equal(narrow(x), wide(x))
        # and the row inputs are real inputs: weights there change the maps
        wide.column_head.body[0].weight[:, 2 * 96:].normal_()
        assert not torch.allclose(narrow(x), wide(x))


def test_the_widening_script_writes_a_checkpoint_and_refuses_a_wide_one(tmp_path):
    torch.manual_seed(0)
    source = save_checkpoint(create_model("reader").eval(), tmp_path / "narrow", {"command": "test"}, {})
    script = [sys.executable, str(ROOT / "scripts" / "widen_reader.py")]
    done = subprocess.run(script + ["--checkpoint", str(source), "--out", str(tmp_path / "wide")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    wide = load_checkpoint(tmp_path / "wide")
    assert wide.row_features and wide.column_head.body[0].in_channels == (2 + 5) * 96
    again = subprocess.run(script + ["--checkpoint", str(tmp_path / "wide"), "--out", str(tmp_path / "wider")],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "row features" in again.stderr
    assert not (tmp_path / "wider").exists()
