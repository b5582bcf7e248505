"""Hostile command lines for `python -m train`, `python -m digitsum` and `app.py`: each bad input is refused
before any work starts, in one `error:` line on stderr with exit code 2 and no traceback, and a
saved run in OUT is left exactly as it was (same files, same bytes, same times)."""
import json
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


def remove_tensors(tmp, mp):
    (tmp / "run" / "last" / "state.safetensors").unlink()


def a_file(tmp, mp):
    (tmp / "afile").write_text("not a folder\n")


def an_empty_folder(tmp, mp):
    (tmp / "empty").mkdir()


def empty_labels_db(tmp, mp):
    from digitsum.labeldb import LabelStore
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
                                          "--out", "{tmp}/new"], "--width must be positive"),
    case("make-dataset-not-an-int", nothing, ["digitsum", "make-dataset", "--split", "test", "--n", "abc",
                                          "--out", "{tmp}/new"], "argument --n: invalid int value: 'abc'"),
    case("evaluate-batch-size-zero", nothing, ["digitsum", "evaluate", "--checkpoint", "{tmp}/none", "--data", "{tmp}",
                                           "--batch-size", "0"], "--batch-size must be positive"),
    case("robustness-threads-negative", nothing, ["digitsum", "robustness", "--checkpoint", "{tmp}/none", "--n", "4",
                                              "--cache", "{tmp}/new", "--threads", "-1"], "--threads must not be negative"),
    case("robustness-cache-is-a-file", a_file, ["digitsum", "robustness", "--checkpoint", "{tmp}/none", "--n", "4",
                                            "--cache", "{tmp}/afile"], "--cache {tmp}/afile: this is a file"),
    case("robustness-data-test-is-a-file", a_file, ["digitsum", "robustness", "--checkpoint", "{tmp}/none", "--n", "4",
                                                "--cache", "{tmp}/new", "--data-test", "{tmp}/afile"],
     "--data-test {tmp}/afile: a course-format folder, not a file"),
    case("benchmark-model-repeats-zero", nothing, ["digitsum", "benchmark-model", "--checkpoint", "{tmp}/none",
                                               "--repeats", "0"], "--repeats must be positive"),
    case("benchmark-synth-device-bogus", nothing, ["digitsum", "benchmark-synth", "--seconds", "0.1", "--device", "bogus"],
     "--device: 'bogus' is not a device"),
    case("benchmark-synth-cuda-without-gpu", no_gpu, ["digitsum", "benchmark-synth", "--seconds", "0.1", "--device",
                                                  "cuda"], "--device: 'cuda' needs a CUDA GPU"),
    case("benchmark-synth-batch-size-zero", nothing, ["digitsum", "benchmark-synth", "--seconds", "0.1",
                                                  "--batch-size", "0"], "--batch-size must be positive"),
    case("benchmark-synth-seconds-negative", nothing, ["digitsum", "benchmark-synth", "--seconds", "-1"],
     "--seconds must be positive"),
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
    case("app-exports-dir-is-a-file", a_file_and_no_serving,
     ["app", "--checkpoints", "{ckpt}", "--exports-dir", "{tmp}/afile", *APP],
     "error: {tmp}/afile (the exports folder): it is a file, not a folder"),
    case("app-exports-dir-under-a-file", a_file_and_no_serving,
     ["app", "--checkpoints", "{ckpt}", "--exports-dir", "{tmp}/afile/exports", *APP],
     "error: {tmp}/afile/exports (the exports folder): {tmp}/afile is a file, not a folder"),
]


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
