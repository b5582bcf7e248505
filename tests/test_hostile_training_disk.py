"""A saved run in training's way: `--overwrite` keeps the old run until the new one's first save,
and a full disk at each thing a run writes is one line that says where and what is kept, with every
save whole and nothing lost. Each test trains (a few steps): all are marked slow."""
import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from hostile_runs import QUICK, snapshot, train_saved_run
from train.main import cli as train_main


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """One real 2-step run of the reader on synthetic data, which each test starts from."""
    return train_saved_run(tmp_path_factory.mktemp("saved") / "run")


@pytest.mark.slow
def test_overwrite_leaves_the_old_run_as_it_was_until_the_first_save(saved_run, tmp_path, monkeypatch, capsys):
    """`--overwrite` replaces a run only from its first save on: a run that dies before (a full disk
    at the save, here) leaves the old metrics.jsonl, state and checkpoint byte for byte."""
    import train.main
    from digitsum.errors import DigitsumError
    run = tmp_path / "run"
    shutil.copytree(saved_run, run)
    before = snapshot(run)
    argv = ["--model", "reader", "--synthetic-fraction", "1", "--steps", "4", *QUICK, "--out", str(run), "--overwrite"]

    def disk_full(*args, **kwargs):
        raise DigitsumError("no space left on device")
    with monkeypatch.context() as mp:
        mp.setattr(train.main, "save_point", disk_full)
        assert train_main(argv) == 2
    after = {p: v for p, v in snapshot(run).items() if not p.name.startswith(".metrics.jsonl")}
    assert after == before
    threads = torch.get_num_threads()
    try:
        assert train_main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if r["kind"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == 4          # the new run's records only
    assert json.loads((run / "last" / "state.json").read_text())["step"] == 4


# ---------------------------------------------------------------- a full disk while training
def no_space(path="") -> OSError:
    import errno
    import os
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path) or None)


SAFETENSORS_FULL = "Error while serializing: I/O error: No space left on device (os error 28)"   # its own words


def full_at_state_save(mp, tmp):
    """safetensors' own error (not an OSError) when the run state is written."""
    import train.state
    from safetensors import SafetensorError

    def save_file(*args, **kwargs):
        raise SafetensorError(SAFETENSORS_FULL)
    mp.setattr(train.state, "save_file", save_file)


def full_at_checkpoint(which):
    """The same error when the checkpoint folder `which` (best, ckpt) is written."""
    def setup(mp, tmp):
        from digitsum.models.net import DigitSumNet
        from safetensors import SafetensorError
        save = DigitSumNet.save_pretrained

        def save_pretrained(self, folder, *args, **kwargs):
            if Path(folder).name.startswith(f".{which}.tmp-"):
                raise SafetensorError(SAFETENSORS_FULL)
            return save(self, folder, *args, **kwargs)
        mp.setattr(DigitSumNet, "save_pretrained", save_pretrained)
    return setup


def full_in_metrics_line(mp, tmp):
    """metrics.jsonl takes half a line, then the disk is full (an append that does not fit)."""
    import builtins
    import train.report

    class HalfLine:
        def __init__(self, path, mode="r", *args, **kwargs):
            self.path, self.file = path, builtins.open(path, mode, *args, **kwargs)

        def write(self, text):
            self.file.write(text[:len(text) // 2])
            self.file.flush()
            raise no_space(self.path)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()
    mp.setattr(train.report, "open", HalfLine, raising=False)


def full_at_plot(mp, tmp):
    import matplotlib.figure

    def savefig(self, path, *args, **kwargs):
        raise no_space(path)
    mp.setattr(matplotlib.figure.Figure, "savefig", savefig)


BAR = re.compile(r"^\s*train:\s+\d+%")
RESUME_TO_6 = ["--model", "reader", "--synthetic-fraction", "1", "--steps", "6", *QUICK]
# id, set-up, extra flags, where the disk filled (in the message), the message's advice, the step OUT/last holds
DISK_FULL = [
    ("state-save", full_at_state_save, ["--resume"], "{run}/last", "{run}/last holds the run at step 2; free some "
     "space, then continue with --resume", 2),
    ("best-checkpoint", full_at_checkpoint("best"), ["--resume"], "{run}/best",
     "{run}/last holds the run at step 2; free some space, then continue with --resume", 2),
    ("metrics-line", full_in_metrics_line, ["--resume"], "{run}/metrics.jsonl",
     "{run}/last holds the run at step 4; free some space, then continue with --resume", 4),
    ("final-export", full_at_checkpoint("ckpt"), ["--resume", "--export", "{tmp}/ckpt"], "{tmp}/ckpt",
     "after the last step; nothing saved is lost: {run}/best holds the trained checkpoint and {run}/last the run at "
     "step 6; free some space, then copy {run}/best to {tmp}/ckpt", 6),
    ("plot", full_at_plot, ["--resume"], "{run}/curves.png", "after the last step; nothing saved is lost", 6),
    ("first-save-of-an-overwrite", full_at_state_save, ["--overwrite"], "{run}/last",
     "before the run's first save point was complete; {run}/last still holds the earlier run", 2),
]


@pytest.mark.slow
@pytest.mark.parametrize("setup,flags,where,advice,kept", [pytest.param(*c[1:], id=c[0]) for c in DISK_FULL])
def test_a_full_disk_while_training_is_one_line_and_loses_nothing(saved_run, tmp_path, monkeypatch, capsys,
                                                                  setup, flags, where, advice, kept):
    """A full disk at each thing a run writes: one line that says where and what is kept, exit 2,
    every save whole (none half-written, no temporary folder left), and --resume then finishes the run."""
    run = tmp_path / "run"
    shutil.copytree(saved_run, run)
    places = dict(run=run, tmp=tmp_path)
    argv = [*RESUME_TO_6, "--out", str(run), *[f.format(**places) for f in flags]]
    threads = torch.get_num_threads()
    try:
        with monkeypatch.context() as mp:
            setup(mp, tmp_path)
            capsys.readouterr()
            code = train_main(argv)
        err = capsys.readouterr().err
        assert code == 2, err
        lines = [l for l in err.splitlines() if l.strip() and not BAR.match(l)]   # tqdm's bar: its own lines
        assert "Traceback" not in err and len(lines) == 1, err
        assert lines[0].startswith(f"error: the disk is full (no space left writing {where.format(**places)})"), err
        assert advice.format(**places) in lines[0], err
        assert json.loads((run / "last" / "state.json").read_text())["step"] == kept
        assert not [p.name for p in run.iterdir() if ".tmp-" in p.name or p.name.endswith(".old")]
        for line in (run / "metrics.jsonl").read_text().splitlines()[:-1]:
            json.loads(line)                     # only a last line may be cut short
        if kept < 6:                             # nothing lost: the run goes on from its last save
            resumed = [a for a in argv if a != "--overwrite"] + ([] if "--resume" in argv else ["--resume"])
            assert train_main(resumed) == 0, capsys.readouterr().err
            assert json.loads((run / "last" / "state.json").read_text())["step"] == 6
            records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
            assert [r["step"] for r in records if r["kind"] == "train"][-1] == 6
    finally:
        torch.set_num_threads(threads)
