"""DIR/results.json (one object per system) and DIR/results.md (the same as a table), each written
whole (digitsum.storage.atomic.write_file): a stopped call leaves the previous table readable."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from digitsum.errors import DigitsumError
from digitsum.storage.atomic import write_file

from .plan import shown

NO_IMAGENET = "No ImageNet weights were given (offline): every model here trained from scratch."


def write_results(out: Path, entries: list, budget: str, extra_notes: list) -> None:
    write_file(out / "results.json", json.dumps(entries, indent=2, default=str))
    write_file(out / "results.md", markdown(out, entries, budget, extra_notes))


def markdown(out: Path, entries: list, budget: str, extra_notes: list) -> str:
    minutes = sum(e.get("wall_seconds", 0) for e in entries) / 60
    lines = [f"# The seeds' table, budget `{budget}`", "",
             f"`python -m train.experiments seeds --budget {budget} --out {shown(out)}`; wall time, all rows together: "
             f"{minutes:.1f} min. Test images: the first ones of `data/test` (course layout, MNIST "
             "*test* digits); training: `real-train` (MNIST *train* digits, sums only) and/or the synthetic generator.",
             "", "| system | seed reported | ours (test) | model and data | wall | notes |", "|---|---|---|---|---|---|"]
    for e in entries:
        wall = f"{e['wall_seconds'] / 60:.1f} min" if "wall_seconds" in e else "-"
        notes = "; ".join(e.get("notes", []))
        lines.append(f"| {e['system']} | {e['seed_reported']} | {ours_text(e)} | {e['settings']} | {wall} | {notes} |")
    if extra_notes:
        lines += [""] + [f"- {n}" for n in extra_notes]
    lines += ["", "Commands: see `results.json` (`command` of each row); logs in `logs/`, runs in `runs/`, "
              "exported fp16 checkpoints in `checkpoints/`.", ""]
    return "\n".join(lines)


def ours_text(e: dict) -> str:
    """A row's "ours (test)" cell: its test accuracies, or why it has none."""
    if e.get("status") != "done":
        return e.get("status", "-") + (f": {e['error']}" if e.get("error") else "")
    o = e["ours"]
    if "test_accuracy" in o:
        return f"{_percent(o['test_accuracy'])} digit accuracy ({o['n_test']:,} MNIST test digits)"
    text = f"{_percent(o['test_sum_accuracy'])} sum"
    if o.get("test_digit_accuracy") is not None:
        text += f", {_percent(o['test_digit_accuracy'])} digit"
    return text + f" ({o['test_n']:,} test images)"


def _percent(v) -> str:
    return "-" if v is None else f"{100 * v:.2f} %"


def scale_note(test: Path) -> list:
    """What knowing nothing scores on these test images: always the most common sum; a digit at chance."""
    try:
        sums = np.load(test / "lab0.npy")
    except OSError:
        return []
    counts = np.bincount(sums, minlength=37)
    return [f"For scale: always answering the most common sum of these {len(sums):,} test images ({counts.argmax()}) "
            f"scores {100 * counts.max() / len(sums):.2f} % sum accuracy; a digit guessed at random, 10 %."]


def rewrite_table(out: Path) -> None:
    """The `table` command: DIR/results.md again from DIR/results.json (after editing notes, or
    merging runs); results.json is rewritten with the entries it holds."""
    path = out / "results.json"
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DigitsumError(f"{path}: cannot read ({e})") from None
    budgets = sorted({e.get("budget", "?") for e in entries})
    weights = any("from ImageNet" in n for e in entries for n in e.get("notes", []))
    extra = [] if weights else [NO_IMAGENET]
    tests = sorted((out / "data").glob("test-*"))
    extra += scale_note(tests[0]) if len(tests) == 1 else []
    write_results(out, entries, "/".join(budgets), extra)
