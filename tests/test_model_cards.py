"""Every shipped checkpoint's model card gives the command that made it. Run with today's defaults
for 2 steps, on small stand-ins for its data, that command must train and export the same
architecture (trunk, head, width) as the checkpoint beside the card."""
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CARDS = sorted((ROOT / "checkpoints").glob("*/README.md"))
COMMAND = re.compile(r"\*\*command\*\*: `(python -m train [^`]*)`")
DATA_FLAGS = {"--val", "--test", "--real"}          # stand-ins: a small course-format set
REPLACED = {"--steps": "2", "--eval-every": "1", "--warmup-steps": "1", "--device": "cpu", "--threads": "1"}


def card_command(card: Path) -> list[str]:
    found = COMMAND.findall(card.read_text())
    assert len(found) == 1, f"{card}: one command expected, found {len(found)}"
    return shlex.split(found[0])[3:]   # the flags after "python -m train"


def rehearsal(argv: list[str], card: Path, data: Path, out: Path) -> list[str]:
    """The card's flags with its data, outputs and length swapped for small local ones. An --init
    that names an earlier stage's output (not in the repository) starts from the card's own
    checkpoint, which has that stage's architecture."""
    swapped = {**REPLACED, "--out": str(out / "run"), "--export": str(out / "export")}
    result, i = [], 0
    while i < len(argv):
        flag = argv[i]
        value = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else None
        if value is None:
            result.append(flag)
            i += 1
            continue
        if flag in swapped:
            value = swapped[flag]
        elif flag in DATA_FLAGS:
            value = str(data)
        elif flag == "--init" and not (ROOT / value).exists():
            value = str(card.parent)
        result += [flag, value]
        i += 2
    return result


def test_each_card_has_a_train_command():
    assert len(CARDS) >= 4
    for card in CARDS:
        argv = card_command(card)
        assert "--export" in argv and "--steps" in argv, card


@pytest.mark.slow
@pytest.mark.parametrize("card", CARDS, ids=[c.parent.name for c in CARDS])
def test_the_cards_command_rebuilds_its_checkpoints_architecture(card, course_set, tmp_path):
    argv = rehearsal(card_command(card), card, course_set, tmp_path)
    run = subprocess.run([sys.executable, "-m", "train", *argv], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, f"{card.parent.name}: {' '.join(argv)}\n{run.stderr[-2000:]}"
    shipped = json.loads((card.parent / "config.json").read_text())
    rebuilt = json.loads((tmp_path / "export" / "config.json").read_text())
    keys = ("trunk", "head", "hidden", "height", "width")
    assert {k: rebuilt.get(k) for k in keys} == {k: shipped.get(k) for k in keys}
