"""`python -m train.recipe`: the default reader's stages as one command. The stages chain (each from
the previous one's export), the shipped checkpoint is the recipe's last stage, and a stage runs
and exports from the previous stage's checkpoint."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from train.options import parser as train_parser
from train.recipe import RECIPES, stage_commands

ROOT = Path(__file__).resolve().parent.parent
# flags that say where a stage runs and what it reads and writes, not how it trains
WHERE = {"out", "export", "init", "threads", "device", "val", "test", "argv"}


def recipe(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "train.recipe", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def training(command: list[str]) -> dict:
    """A `python -m train` command's flags as parsed, less where it runs and what it reads and writes."""
    return {k: v for k, v in vars(train_parser().parse_args(command)).items() if k not in WHERE}


def test_each_stage_starts_from_the_previous_stages_export_and_the_last_exports_where_asked():
    commands = stage_commands(RECIPES["digitsum-reader"], Path("runs/r"), Path("ckpt/final"), ["--threads", "1"])
    args = [train_parser().parse_args(c) for c in commands]
    assert args[0].init is None
    for before, after in zip(args, args[1:]):
        assert after.init == str(before.export) and after.out != before.out
    assert args[-1].export == Path("ckpt/final")
    assert all(a.synthetic_fraction == 1 and a.threads == 1 and a.model == "reader" for a in args)


def test_the_shipped_default_was_trained_by_the_recipes_last_stage():
    card = (ROOT / "checkpoints" / "digitsum-reader" / "README.md").read_text()
    shipped = re.search(r"\*\*command\*\*: `python -m train (.*?)`", card).group(1).split()
    last = stage_commands(RECIPES["digitsum-reader"], Path("runs/r"), None, [])[-1]
    assert training(last) == training(shipped)


@pytest.mark.slow
def test_a_stage_trains_from_the_stage_before_and_exports(tmp_path, course_set):
    from digitsum.models.net import create_model
    from digitsum.storage.checkpoint import save_checkpoint
    torch.manual_seed(0)
    save_checkpoint(create_model("reader"), tmp_path / "out" / "4-distractors" / "export")
    tiny = ["--steps", 2, "--eval-every", 2, "--batch-size", 16, "--warmup-steps", 1, "--val", course_set,
            "--val-limit", 32, "--threads", 1]
    r = recipe("digitsum-reader", "--from-stage", 5, "--out", tmp_path / "out", "--export", tmp_path / "final", *tiny)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "stage 5/5" in r.stderr and "stage 4/5" not in r.stderr
    card = (tmp_path / "final" / "README.md").read_text()
    assert f"initialised from**: {tmp_path / 'out' / '4-distractors' / 'export'}" in card
    assert "--layout wide_stacked --augment wide_page" in card   # the stage's own command, not the recipe's
    assert json.loads((tmp_path / "final" / "config.json").read_text())["trunk"] == "reader"


@pytest.mark.parametrize("args, message", [
    (["--from-stage", "5", "--out", "{tmp}"], "stage 4's checkpoint"),
    (["--from-stage", "9"], "has stages 1 to 5"),
])
def test_a_stage_that_cannot_start_is_one_line_before_any_training(tmp_path, args, message):
    r = recipe("digitsum-reader", *[a.replace("{tmp}", str(tmp_path)) for a in args], timeout=60)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
