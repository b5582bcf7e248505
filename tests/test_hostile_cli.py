"""Hostile command lines for `python -m train`, `python -m digitsum` and `app.py`: each bad input is refused
before any work starts, in one `error:` line on stderr with exit code 2 and no traceback, and a
saved run in OUT is left exactly as it was (same files, same bytes, same times)."""
import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from digitsum.cli import main as digitsum_main
from train.main import cli as train_main

QUICK = ["--threads", "1", "--batch-size", "4", "--eval-every", "2"]
RESUME = [*QUICK, "--synthetic-fraction", "1", "--out", "{run}", "--resume"]   # {run}: a copy of a saved run
NEW = [*QUICK, "--synthetic-fraction", "1", "--steps", "2", "--out", "{tmp}/new"]
NO_SYS = not Path("/sys").is_dir()   # /sys refuses new folders, even to root


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """One real 2-step run of the reader on synthetic data, which the --resume cases start from."""
    out = tmp_path_factory.mktemp("saved") / "run"
    threads = torch.get_num_threads()
    try:
        assert train_main(["--model", "reader", "--synthetic-fraction", "1", "--steps", "2", *QUICK,
                           "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)   # --threads 1 must not slow the tests that follow
    return out


# ---------------------------------------------------------------- set-ups: (tmp_path, monkeypatch) -> None
def nothing(tmp, mp):
    pass


def cut(fraction):
    def setup(tmp, mp):
        f = tmp / "run" / "last" / "state.safetensors"
        data = f.read_bytes()
        f.write_bytes(data[:int(len(data) * fraction)])
    return setup


def state_json(change):
    def setup(tmp, mp):
        f = tmp / "run" / "last" / "state.json"
        f.write_text(change(f.read_text()))
    return setup


def without(key):
    return state_json(lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != key}))


def tensors(change):
    """Set-up: the saved state's tensors changed by `change(dict of name -> tensor)` (in place)."""
    def setup(tmp, mp):
        from safetensors.torch import load_file, save_file
        f = tmp / "run" / "last" / "state.safetensors"
        flat = load_file(str(f))
        change(flat)
        save_file(flat, str(f))
    return setup


def first(flat, prefix):
    """The name of the first tensor of `flat` whose name starts with `prefix` and has 2+ dimensions."""
    return next(n for n, t in sorted(flat.items()) if n.startswith(prefix) and t.ndim >= 2)


def wrong_shape(prefix):
    def change(flat):
        name = first(flat, prefix)
        flat[name] = flat[name].flatten()[:-1].clone()
    return tensors(change)


def nan_in(prefix, value=float("nan")):
    def change(flat):
        name = first(flat, prefix)
        flat[name] = flat[name].clone()
        flat[name].view(-1)[0] = value
    return tensors(change)


def no_ema(flat):
    for name in [n for n in flat if n.startswith("ema.")]:
        del flat[name]


def remove_tensors(tmp, mp):
    (tmp / "run" / "last" / "state.safetensors").unlink()


def a_file(tmp, mp):
    (tmp / "afile").write_text("not a folder\n")


def an_empty_folder(tmp, mp):
    (tmp / "empty").mkdir()


def empty_labels_db(tmp, mp):
    from digitsum.storage.labeldb import LabelStore
    LabelStore(tmp / "labels.db")


def config(obj):
    def setup(tmp, mp):
        (tmp / "config.json").write_text(json.dumps(obj))
    return setup


def no_gpu(tmp, mp):
    mp.setattr(torch.cuda, "is_available", lambda: False)


def one_gpu(tmp, mp):
    mp.setattr(torch.cuda, "is_available", lambda: True)
    mp.setattr(torch.cuda, "device_count", lambda: 1)


def no_mps(tmp, mp):
    mp.setattr(torch.backends.mps, "is_available", lambda: False)


def no_serving(tmp, mp):
    """app.py must refuse before it serves: a launch (or the warm-up's background download) fails."""
    import app

    def launched(*args, **kwargs):
        raise AssertionError("the app started serving")
    mp.setattr(app, "launch", launched)
    mp.setattr(app.DigitsumService, "warm_up", launched)


def a_file_and_no_serving(tmp, mp):
    a_file(tmp, mp)
    no_serving(tmp, mp)


# ---------------------------------------------------------------- the cases: id, set-up, argv, message
def case(id, setup, argv, message, marks=()):
    return pytest.param(setup, argv, message, id=id, marks=marks)


NEEDS_SYS = pytest.mark.skipif(NO_SYS, reason="no /sys")
# the app's other inputs: a small set (none built), its own cache and labels in the test's folder
APP = ["--data", "{course}", "--label-data", "{course}", "--cache-dir", "{tmp}/cache", "--labels-db", "{tmp}/labels.db"]
CASES = [
    # a damaged saved run
    case("resume-header-cut", cut(0.0001), ["train", "--steps", "4", *RESUME],
     "{run}/last/state.safetensors: cannot read the saved run state"),
    case("resume-tensors-cut-in-half", cut(0.5), ["train", "--steps", "4", *RESUME],
     "{run}/last/state.safetensors: cannot read the saved run state"),
    case("resume-tensors-missing", remove_tensors, ["train", "--steps", "4", *RESUME],
     "{run}/last/state.safetensors: missing"),
    case("resume-bad-json", state_json(lambda text: "{not json"), ["train", "--steps", "4", *RESUME],
     "{run}/last/state.json: cannot read the saved run state"),
    case("resume-no-step", without("step"), ["train", "--steps", "4", *RESUME],
     "{run}/last/state.json: the saved run state lacks step"),
    case("resume-damaged-optimizer", state_json(lambda text: json.dumps({**json.loads(text), "optimizer": {"state": {},
                                                                     "param_groups": 3}})),
     ["train", "--steps", "4", *RESUME], "{run}/last/state.json: its optimizer state is damaged"),
    case("resume-optimizer-wrong-shape", wrong_shape("optimizer."), ["train", "--steps", "4", *RESUME],
     "--resume {run}/last/state.safetensors: its optimizer state does not fit --model reader (optimizer."),
    case("resume-no-ema", tensors(no_ema), ["train", "--steps", "4", *RESUME],
     "--resume {run}/last/state.safetensors: the saved run state has no EMA weights (ema.*): it was trained with "
     "--ema-decay 0 (resume it with --ema-decay 0) or it is damaged"),
    # NaN or infinity in a saved state: corrupt, not a learning rate to lower
    case("resume-nan-weights", nan_in("model."), ["train", "--steps", "4", *RESUME],
     "holds NaN or infinite values: the saved run state is corrupt (training never saves them)"),
    case("resume-inf-ema", nan_in("ema.", float("inf")), ["train", "--steps", "4", *RESUME],
     "holds NaN or infinite values: the saved run state is corrupt"),
    case("resume-nan-optimizer", nan_in("optimizer."), ["train", "--steps", "4", *RESUME],
     "holds NaN or infinite values: the saved run state is corrupt"),
    case("resume-nan-best", state_json(lambda text: json.dumps({**json.loads(text), "best": float("nan")})),
     ["train", "--steps", "4", *RESUME], "{run}/last/state.json: wall_seconds or best is NaN or infinite: the saved "
     "run state is corrupt"),
    # a saved run that is not this command's
    case("resume-other-model", nothing, ["train", "--model", "convnet4", "--steps", "4", *RESUME],
     "--resume: the run in {run} trained --model reader, not --model convnet4"),
    case("resume-other-model-older-state", without("model"), ["train", "--model", "convnet4", "--steps", "4", *RESUME],
     "--resume {run}/last/state.safetensors: the weights do not fit --model convnet4 (missing: "),
    case("resume-other-optimizer", nothing, ["train", "--optimizer", "sgd", "--steps", "4", *RESUME],
     "--resume: the run in {run} used --optimizer adamw, not sgd"),
    case("resume-steps-reached", nothing, ["train", "--steps", "2", *RESUME],
     "--resume: the run in {run} already reached step 2; give --steps above 2 to train further"),
    case("resume-steps-below", nothing, ["train", "--steps", "1", *RESUME], "already reached step 2"),
    # a new run into a saved one: refused unless --resume or --overwrite says what to do with it
    case("out-holds-a-run", nothing, ["train", *QUICK, "--synthetic-fraction", "1", "--steps", "4", "--out", "{run}"],
     "--out {run}: holds a run already (last, best, metrics.jsonl); continue it with --resume, replace it with "
     "--overwrite"),
    case("resume-and-overwrite", nothing, ["train", "--steps", "4", *RESUME, "--overwrite"],
     "--resume continues the run in --out and --overwrite replaces it: give one"),
    # no data, bad numbers, devices
    case("labels-db-empty", empty_labels_db, ["train", *QUICK, "--steps", "2", "--synthetic-fraction", "0",
                                          "--labels-db", "{tmp}/labels.db", "--out", "{tmp}/new"],
     "--labels-db {tmp}/labels.db: no labels saved in it yet"),
    case("threads-negative", nothing, ["train", *NEW, "--threads", "-1"], "--threads must not be negative"),
    case("val-limit-negative", nothing, ["train", *NEW, "--val-limit", "-1"], "--val-limit must not be negative"),
    case("ema-warmup-negative", nothing, ["train", *NEW, "--ema-warmup", "-1"], "--ema-warmup must not be negative"),
    case("font-digits-all", nothing, ["train", *NEW, "--font-digits", "1"], "--font-digits must lie in [0, 1)"),
    case("not-an-int", nothing, ["train", *NEW, "--steps", "abc"], "argument --steps: invalid int value: 'abc'"),
    case("device-cuda-without-gpu", no_gpu, ["train", *NEW, "--device", "cuda"], "--device: 'cuda' needs a CUDA GPU"),
    case("device-cuda-index-too-high", one_gpu, ["train", *NEW, "--device", "cuda:3"],
     "--device: 'cuda:3', but torch finds 1 CUDA GPU(s)"),
    case("device-mps-unavailable", no_mps, ["train", *NEW, "--device", "mps"], "--device: 'mps', but MPS"),
    case("device-bogus", nothing, ["train", *NEW, "--device", "bogus"], "--device: 'bogus' is not a device"),
    # outputs that could not be written after the training
    case("out-is-a-file", a_file, ["train", *NEW, "--out", "{tmp}/afile"], "--out {tmp}/afile: this is a file"),
    case("export-under-a-file", a_file, ["train", *NEW, "--export", "{tmp}/afile/ckpt"],
     "--export {tmp}/afile/ckpt: {tmp}/afile is a file, not a folder"),
    case("out-cannot-be-created", nothing, ["train", *NEW, "--out", "/sys/digitsum-test/run"],
         "--out /sys/digitsum-test/run: cannot create or write this folder", marks=NEEDS_SYS),
    case("export-cannot-be-created", nothing, ["train", *NEW, "--export", "/sys/digitsum-test/ckpt"],
         "--export /sys/digitsum-test/ckpt: cannot create or write this folder", marks=NEEDS_SYS),
    case("test-set-unreadable", an_empty_folder, ["train", *NEW, "--test", "{tmp}/empty"],
     "{tmp}/empty: no data*.npy files"),
    # config files
    case("config-list-for-a-number", config({"steps": [3]}), ["train", *NEW, "--config", "{tmp}/config.json"],
     "config.json: steps takes one value"),
    case("config-unknown-model", config({"model": "nope"}), ["train", *NEW, "--config", "{tmp}/config.json"],
     "argument --model: invalid choice: 'nope'"),
    case("config-not-an-object", config([1, 2]), ["train", *NEW, "--config", "{tmp}/config.json"],
     "config.json: a config must be a JSON object"),
    # python -m digitsum
    case("make-dataset-out-is-a-file", a_file, ["digitsum", "make-dataset", "--split", "test", "--n", "2",
                                            "--out", "{tmp}/afile"], "--out {tmp}/afile: this is a file"),
    case("make-dataset-out-under-a-file", a_file, ["digitsum", "make-dataset", "--split", "test", "--n", "2",
                                               "--out", "{tmp}/afile/set"], "{tmp}/afile is a file, not a folder"),
    case("make-dataset-width-zero", nothing, ["digitsum", "make-dataset", "--split", "test", "--n", "2", "--width", "0",
                                          "--out", "{tmp}/new"], "argument --width: must be positive"),
    case("make-dataset-n-zero", nothing, ["digitsum", "make-dataset", "--split", "test", "--n", "0",
                                      "--out", "{tmp}/new"], "argument --n: must be positive"),
    case("make-dataset-preset-n-zero", nothing, ["digitsum", "make-dataset", "--split", "test", "--preset", "course",
                                             "--n", "0", "--out", "{tmp}/new"], "argument --n: must be positive"),
    case("make-dataset-not-an-int", nothing, ["digitsum", "make-dataset", "--split", "test", "--n", "abc",
                                          "--out", "{tmp}/new"], "argument --n: invalid int value: 'abc'"),
    case("evaluate-batch-size-zero", nothing, ["digitsum", "evaluate", "--checkpoint", "{tmp}/none", "--data", "{tmp}",
                                           "--batch-size", "0"], "argument --batch-size: must be positive"),
    case("robustness-threads-negative", nothing, ["digitsum", "robustness", "--checkpoint", "{tmp}/none", "--n", "4",
                                              "--cache", "{tmp}/new", "--threads", "-1"], "argument --threads: must be non-negative"),
    case("robustness-n-zero", nothing, ["digitsum", "robustness", "--checkpoint", "{tmp}/none", "--n", "0",
                                    "--cache", "{tmp}/new"], "argument --n: must be positive"),
    case("refusal-n-negative", nothing, ["digitsum", "refusal", "--checkpoint", "{tmp}/none", "--n", "-5"],
     "argument --n: must be positive"),
    case("robustness-cache-is-a-file", a_file, ["digitsum", "robustness", "--checkpoint", "{tmp}/none", "--n", "4",
                                            "--cache", "{tmp}/afile"], "--cache {tmp}/afile: this is a file"),
    case("robustness-data-test-is-a-file", a_file, ["digitsum", "robustness", "--checkpoint", "{tmp}/none", "--n", "4",
                                                "--cache", "{tmp}/new", "--data-test", "{tmp}/afile"],
     "--data-test {tmp}/afile: a course-format folder, not a file"),
    case("benchmark-model-repeats-zero", nothing, ["digitsum", "benchmark-model", "--checkpoint", "{tmp}/none",
                                               "--repeats", "0"], "argument --repeats: must be positive"),
    case("benchmark-synth-device-bogus", nothing, ["digitsum", "benchmark-synth", "--seconds", "0.1", "--device", "bogus"],
     "--device: 'bogus' is not a device"),
    case("benchmark-synth-cuda-without-gpu", no_gpu, ["digitsum", "benchmark-synth", "--seconds", "0.1", "--device",
                                                  "cuda"], "--device: 'cuda' needs a CUDA GPU"),
    case("benchmark-synth-batch-size-zero", nothing, ["digitsum", "benchmark-synth", "--seconds", "0.1",
                                                  "--batch-size", "0"], "argument --batch-size: must be positive"),
    case("benchmark-synth-seconds-negative", nothing, ["digitsum", "benchmark-synth", "--seconds", "-1"],
     "argument --seconds: must be positive"),
    # app.py: checkpoints and folders, refused before it serves
    case("app-checkpoints-nonexistent", no_serving, ["app", "--checkpoints", "/nonexistent", *APP],
     "error: /nonexistent: no such checkpoint folder"),
    case("app-checkpoints-mistyped-folder", no_serving, ["app", "--checkpoints", "chekpoints/digitsum-reader", *APP],
     "error: chekpoints/digitsum-reader: no such checkpoint folder (a checkpoint on the Hugging Face Hub is "
     "written hf://chekpoints/digitsum-reader)"),
    case("app-checkpoints-under-an-existing-folder", no_serving, ["app", "--checkpoints", "{tmp}/digitsum-readr", *APP],
     "error: {tmp}/digitsum-readr: no such checkpoint folder"),
    case("app-checkpoints-relative", no_serving, ["app", "--checkpoints", "./nope", *APP],
     "error: ./nope: no such checkpoint folder"),
    case("app-checkpoints-a-file", a_file_and_no_serving, ["app", "--checkpoints", "{tmp}/afile", *APP],
     "error: {tmp}/afile: a file, not a checkpoint folder"),
    case("app-hub-id-not-owner-name", no_serving, ["app", "--checkpoints", "hf://a/b/c", *APP],
     "error: 'hf://a/b/c': a Hugging Face Hub checkpoint is written hf://owner/name"),
    # app.py: an address it cannot listen on, refused before anything is loaded (was a traceback, then SIGABRT)
    case("app-port-99999", no_serving, ["app", "--checkpoints", "{ckpt}", *APP, "--port", "99999"],
     "error: --port 99999: a port is a number from 1 to 65535"),
    case("app-port-0", no_serving, ["app", "--checkpoints", "{ckpt}", *APP, "--port", "0"],
     "error: --port 0: a port is a number from 1 to 65535"),
    case("app-port-in-use", no_serving, ["app", "--checkpoints", "{ckpt}", *APP, "--port", "{busy}"],
     "error: --port {busy}: another program listens on 127.0.0.1:{busy} already; stop it, or choose another --port"),
    case("app-host-not-of-this-machine", no_serving, ["app", "--checkpoints", "{ckpt}", *APP, "--host", "192.0.2.1"],
     "error: --host '192.0.2.1': not an address of this machine"),
    case("app-host-unknown", no_serving, ["app", "--checkpoints", "{ckpt}", *APP, "--host", "no-such-host.invalid"],
     "error: --host 'no-such-host.invalid': not a name or address of this machine"),
    case("app-exports-dir-is-a-file", a_file_and_no_serving,
     ["app", "--checkpoints", "{ckpt}", "--exports-dir", "{tmp}/afile", *APP],
     "error: {tmp}/afile (the exports folder): it is a file, not a folder"),
    case("app-exports-dir-under-a-file", a_file_and_no_serving,
     ["app", "--checkpoints", "{ckpt}", "--exports-dir", "{tmp}/afile/exports", *APP],
     "error: {tmp}/afile/exports (the exports folder): {tmp}/afile is a file, not a folder"),
]


@pytest.fixture
def busy_port():
    """A port another program listens on (127.0.0.1), for as long as the test runs."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def snapshot(folder: Path) -> dict:
    """Every file and folder below `folder` with its modification time (and bytes, for files)."""
    return {p.relative_to(folder): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))} if folder.exists() else {}


@pytest.mark.parametrize("setup,argv,message", CASES)
def test_a_bad_command_line_gets_one_error_line_and_changes_nothing(setup, argv, message, tmp_path, monkeypatch,
                                                                     capsys, request):
    run = tmp_path / "run"
    if "{run}" in argv:
        shutil.copytree(request.getfixturevalue("saved_run"), run)
    setup(tmp_path, monkeypatch)
    before = snapshot(run)
    if argv[0] == "app":
        import app
        entry = app.main
    else:
        entry = train_main if argv[0] == "train" else digitsum_main
    places = dict(run=run, tmp=tmp_path)
    if any("{busy}" in a for a in argv):
        places["busy"] = request.getfixturevalue("busy_port")
    if argv[0] == "app":
        places.update(course=request.getfixturevalue("course_set"), ckpt=request.getfixturevalue("tiny_checkpoint"))
    capsys.readouterr()
    code = entry([a.format(**places) for a in argv[1:]])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert message.format(**places) in lines[0]
    assert "lower --lr" not in lines[0]   # advice for a diverging run, never for a refused one
    assert snapshot(run) == before   # the saved run is untouched: no file rewritten, added or removed
    assert not (tmp_path / "new").exists()   # refused before anything was written


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


# ---------------------------------------------------------------- app.py where it cannot listen, as a process
@pytest.mark.parametrize("flags,message", [
    (["--port", "99999"], "error: --port 99999: a port is a number from 1 to 65535"),
    (["--port", "{busy}"], "error: --port {busy}: another program listens on 127.0.0.1:{busy} already"),
    (["--host", "192.0.2.1"], "error: --host '192.0.2.1': not an address of this machine"),
], ids=["port-99999", "port-in-use", "host-not-of-this-machine"])
def test_the_app_where_it_cannot_listen_exits_with_one_line(flags, message, busy_port, tiny_checkpoint, course_set,
                                                             tmp_path):
    """`python app.py` itself: one line and exit 2 (it was Gradio's traceback, then SIGABRT, rc 134)."""
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    flags = [f.format(busy=busy_port) for f in flags]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(root / "app.py"), "--checkpoints", str(tiny_checkpoint),
                           *[a.format(course=course_set, tmp=tmp_path) for a in APP], *flags],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message.format(busy=busy_port)), proc.stderr[-2000:]
    assert "ready at" not in proc.stdout
    assert not (tmp_path / "labels.db").exists()    # refused before anything was loaded or made


def test_an_address_taken_after_the_check_is_one_line_too(monkeypatch, busy_port, tiny_checkpoint, course_set,
                                                          tmp_path, capsys):
    """The address taken between the check and Gradio's start (a race): still one line, exit 2,
    and the warm-up thread never started (its torch threads made the interpreter abort at exit)."""
    import app
    monkeypatch.setattr(app, "check_address", lambda host, port: None, raising=False)
    warmed = []
    monkeypatch.setattr(app.DigitsumService, "warm_up", lambda self: warmed.append(self))
    monkeypatch.chdir(tmp_path)
    code = app.main(["--checkpoints", str(tiny_checkpoint), *[a.format(course=course_set, tmp=tmp_path) for a in APP],
                     "--port", str(busy_port)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --host 127.0.0.1 --port {busy_port}: the app could not "
                                                   "start serving there"), err
    assert not warmed
