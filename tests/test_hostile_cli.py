"""Hostile command lines for `python -m train` and `python -m digitsum`: each bad input is refused
before any work starts, in one `error:` line on stderr with exit code 2 and no traceback, and a
saved run in OUT is left exactly as it was (same files, same bytes, same times). app.py's are in
test_hostile_app_cli.py; a full disk while training in test_hostile_training_disk.py."""
import json
import shutil
from pathlib import Path

import pytest
import torch

from digitsum.cli import main as digitsum_main
from hostile_runs import QUICK, a_file, assert_one_error_line, nothing, snapshot, train_saved_run
from train.main import cli as train_main

RESUME = [*QUICK, "--synthetic-fraction", "1", "--out", "{run}", "--resume"]   # {run}: a copy of a saved run
NEW = [*QUICK, "--synthetic-fraction", "1", "--steps", "2", "--out", "{tmp}/new"]
NO_SYS = not Path("/sys").is_dir()   # /sys refuses new folders, even to root


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """One real 2-step run of the reader on synthetic data, which the --resume cases start from."""
    return train_saved_run(tmp_path_factory.mktemp("saved") / "run")


# ---------------------------------------------------------------- set-ups: (tmp_path, monkeypatch) -> None
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


# ---------------------------------------------------------------- the cases: id, set-up, argv, message
def case(id, setup, argv, message, marks=()):
    """A case that resumes a saved run ({run}) needs a training run first: slow."""
    marks = list(marks) if isinstance(marks, (list, tuple)) else [marks]
    if "{run}" in argv:
        marks.append(pytest.mark.slow)
    return pytest.param(setup, argv, message, id=id, marks=marks)


NEEDS_SYS = pytest.mark.skipif(NO_SYS, reason="no /sys")
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
    case("threads-negative", nothing, ["train", *NEW, "--threads", "-1"], "argument --threads: must be non-negative"),
    case("val-limit-negative", nothing, ["train", *NEW, "--val-limit", "-1"], "argument --val-limit: must be non-negative"),
    case("ema-warmup-negative", nothing, ["train", *NEW, "--ema-warmup", "-1"], "argument --ema-warmup: must be non-negative"),
    case("font-digits-all", nothing, ["train", *NEW, "--font-digits", "1"], "argument --font-digits: must be in [0, 1)"),
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
]


@pytest.mark.parametrize("setup,argv,message", CASES)
def test_a_bad_command_line_gets_one_error_line_and_changes_nothing(setup, argv, message, tmp_path, monkeypatch,
                                                                     capsys, request):
    run = tmp_path / "run"
    if "{run}" in argv:
        shutil.copytree(request.getfixturevalue("saved_run"), run)
    setup(tmp_path, monkeypatch)
    before = snapshot(run)
    entry = train_main if argv[0] == "train" else digitsum_main
    places = dict(run=run, tmp=tmp_path)
    capsys.readouterr()
    code = entry([a.format(**places) for a in argv[1:]])
    assert_one_error_line(code, capsys.readouterr().err, message.format(**places))
    assert snapshot(run) == before   # the saved run is untouched: no file rewritten, added or removed
    assert not (tmp_path / "new").exists()   # refused before anything was written
