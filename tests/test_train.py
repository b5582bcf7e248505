"""`python -m train` end to end on tiny settings: outputs, resume after a SIGKILL, torchrun with 2
processes (gloo, CPU), and one-line errors for bad flags."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--model", "convnet4", "--batch-size", "16", "--eval-every", "3", "--val-limit", "32",
        "--warmup-steps", "2", "--threads", "1"]


def train(*args, runner=None, timeout=300):
    cmd = (runner or [sys.executable, "-m", "train"]) + [str(a) for a in args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.mark.slow
def test_training_writes_metrics_plot_and_an_evaluable_checkpoint(tmp_path, course_set):
    r = train(*TINY, "--steps", 6, "--real", course_set, "--real-digits", course_set, "--val", course_set,
              "--test", course_set, "--out", tmp_path / "run", "--export", tmp_path / "export",
              "--push-to-hub", "someone/digitsum-test")
    assert r.returncode == 0, r.stderr
    records = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    val = [rec for rec in records if rec["kind"] == "val"]
    assert [rec["step"] for rec in val] == [3, 6]
    assert all(0 <= rec[f"{w}_sum_accuracy"] <= 1 for rec in val for w in ("raw", "ema"))
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000
    card = (tmp_path / "export" / "README.md").read_text()
    assert "python -m train" in card and "wall time" in card and "test course" in card
    # the offline push fails with a clear message, and the local export stands
    assert "could not push" in r.stderr and "Traceback" not in r.stderr
    ev = subprocess.run([sys.executable, "-m", "digitsum", "evaluate", "--checkpoint", tmp_path / "export",
                         "--data", course_set, "--json"], capture_output=True, text=True, cwd=ROOT,
                        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert ev.returncode == 0 and json.loads(ev.stdout)["n"] == 64


@pytest.mark.slow
def test_the_default_reader_trains_on_synthetic_centres_and_real_sums_and_digits(tmp_path, course_set):
    # synthetic images carry digit centres (focal loss on the centre map + digits read there);
    # real ones carry only sums, or digits, scored on the digits the reader finds now
    reader = [a if a != "convnet4" else "reader" for a in TINY]
    r = train(*reader, "--steps", 4, "--eval-every", 2, "--synthetic-fraction", "0.5", "--real", course_set,
              "--real-digits", course_set, "--val", course_set, "--out", tmp_path / "run",
              "--export", tmp_path / "export")
    assert r.returncode == 0, r.stderr[-3000:]
    records = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [rec["loss"] for rec in records if rec["kind"] == "train"]
    assert losses and all(loss > 0 for loss in losses)   # the last step is always logged
    config = json.loads((tmp_path / "export" / "config.json").read_text())
    assert config["trunk"] == "reader" and config["head"] == "centers"


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_to_the_same_weights(tmp_path, course_set):
    # a real kill -9 in the middle of the run (it may land inside a save), not a clean exit
    import signal
    import time
    common = [*TINY, "--steps", 24, "--real", course_set, "--val", course_set]
    assert train(*common, "--out", tmp_path / "straight").returncode == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "train", *map(str, common), "--out", str(tmp_path / "resumed")],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "resumed" / "last" / "state.json"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads(state.read_text())["step"] >= 3:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = train(*common, "--out", tmp_path / "resumed", "--resume")
    assert r.returncode == 0, r.stderr
    a = load_file(tmp_path / "straight" / "last" / "state.safetensors")
    b = load_file(tmp_path / "resumed" / "last" / "state.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        if key.startswith(("model.", "ema.")):
            assert (a[key] == b[key]).all(), key
    steps = [json.loads(l)["step"] for l in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
             if json.loads(l)["kind"] == "val"]
    assert steps == list(range(3, 25, 3))
    assert not list((tmp_path / "resumed").glob(".last*"))  # no half-written state left behind


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(tmp_path, course_set):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
                "-m", "train"]
    r = train(*TINY, "--steps", 6, "--synthetic-fraction", "0.5", "--real", course_set, "--val", course_set,
              "--out", tmp_path / "ddp", "--export", tmp_path / "ddp-export", runner=torchrun)
    assert r.returncode == 0, r.stderr[-3000:]
    records = [json.loads(l) for l in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [rec["step"] for rec in records if rec["kind"] == "val"] == [3, 6]   # one writer, not two
    assert (tmp_path / "ddp-export" / "model.safetensors").is_file()


@pytest.mark.parametrize("args,message", [
    (["--steps", "0"], "argument --steps: must be positive"),
    (["--real", "/no/such/dir"], "/no/such/dir: no such file"),
    (["--synthetic-fraction", "1.5"], "synthetic-fraction"),
    (["--synthetic-fraction", "0"], "no training data"),
    (["--resume", "--out", "/tmp/never-ran-here"], "no saved run"),
    (["--ema-decay", "1.0"], "--ema-decay"),
    (["--compile-mode", "reduce-overhead"], "--compile-mode reduce-overhead needs --compile"),
    (["--synth", "fast"], "argument --synth: invalid choice"),
])
def test_bad_flags_fail_before_training_with_one_line(args, message):
    r = train(*args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_bad_real_data_fails_before_training(tmp_path):
    import numpy as np
    np.save(tmp_path / "data0.npy", np.zeros((3, 40, 168), np.uint8))
    np.save(tmp_path / "lab0.npy", np.array([1, 2, 99], np.uint8))
    r = train("--real", tmp_path, "--out", tmp_path / "run")
    assert r.returncode == 2 and "0-36" in r.stderr and not (tmp_path / "run").exists()
