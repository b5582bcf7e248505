"""What the hostile command-line tests share: a saved 2-step run to resume, a snapshot that shows
whether a folder changed at all, the simplest set-ups, and the check that a refusal is one line."""
from __future__ import annotations

from pathlib import Path

import torch

QUICK = ["--threads", "1", "--batch-size", "4", "--eval-every", "2"]


def train_saved_run(out: Path) -> Path:
    """One real 2-step run of the reader on synthetic data in `out`, for the cases that resume,
    overwrite or fill the disk of a saved run."""
    from train.main import cli as train_main
    threads = torch.get_num_threads()
    try:
        assert train_main(["--model", "reader", "--synthetic-fraction", "1", "--steps", "2", *QUICK,
                           "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)   # --threads 1 must not slow the tests that follow
    return out


def snapshot(folder: Path) -> dict:
    """Every file and folder below `folder` with its modification time (and bytes, for files)."""
    return {p.relative_to(folder): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))} if folder.exists() else {}


# set-ups: (tmp_path, monkeypatch) -> None
def nothing(tmp, mp):
    pass


def a_file(tmp, mp):
    (tmp / "afile").write_text("not a folder\n")


def assert_one_error_line(code: int, err: str, message: str) -> None:
    """Refused: exit 2, one `error:` line on stderr that holds `message`, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert message in lines[0]
    assert "lower --lr" not in lines[0]   # advice for a diverging run, never for a refused one
