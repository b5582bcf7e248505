"""The seeds' table at the gpu budget, prepared for one H100/H200-class GPU (issue 18, item 3): the
estimates it is sized by reproduce the rows measured before, every row fits about 12 minutes in all
and each of two parts at most 8, scripts/seeds_gpu.sh plans every row here without a GPU and
publishes a finished table, and a stopped row goes on from its last save point."""
import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from train.experiments import estimate
from train.experiments.inputs import prepare_data
from train.experiments.plan import BUDGETS, SeedsRun
from train.experiments.systems import SYSTEMS

ROOT = Path(__file__).resolve().parent.parent


def estimates(budget, tmp_path) -> dict:
    seeds = SeedsRun(tmp_path, budget)
    prepare_data(seeds, tmp_path / "data", make=False)   # names the sets only
    return {s.name: estimate.estimate(s.kind, s.plan(seeds, s.name), budget) for s in SYSTEMS}


def test_the_estimates_reproduce_the_rows_measured_on_an_h100(tmp_path):
    # results/seeds-gpu before this budget: 4700 ConvNet steps in 39.1 s (host-bound), 3910 resnet18
    # steps in 85.2 s (course) and 89.2 s (naive) (GPU-bound)
    before = dataclasses.replace(BUDGETS["gpu"], steps={**BUDGETS["gpu"].steps, "convnet": 4700, "naive": 3910})
    e = estimates(before, tmp_path)
    assert e["convnet4-sum37"].bound == "host" and e["course-digits"].bound == "GPU"
    for name, measured in (("convnet4-sum37", 39.1), ("course-digits", 85.2), ("naive-digits", 89.2)):
        assert abs(e[name].seconds - measured) < 0.08 * measured, (name, e[name])


def test_the_gpu_budget_takes_about_12_minutes_in_two_parts_of_at_most_8(tmp_path):
    e = estimates(BUDGETS["gpu"], tmp_path)
    seconds = [e[s.name].seconds for s in SYSTEMS]
    assert sum(seconds) + estimate.DATA_SECONDS <= 12 * 60
    parts = estimate.split(seconds, 2)
    assert parts == sorted(parts) and set(parts) == {1, 2}   # consecutive rows, both parts used
    for k in (1, 2):
        assert sum(s for s, p in zip(seconds, parts) if p == k) <= 8 * 60
    # the seeds' findings need steps: every real-data row sees its 30k images several times
    assert all(e[name].steps * 128 >= 8 * 30000 for name in ("convnet4-sum37", "resnet50-sum37-ema", "sums-only"))


def test_split_keeps_the_order_and_balances_the_parts():
    assert estimate.split([1, 1, 1, 1], 2) == [1, 1, 2, 2]
    assert estimate.split([10, 1, 1, 1, 1], 2) == [1, 2, 2, 2, 2]
    assert estimate.split([5], 3) == [2]
    assert estimate.split([1] * 6, 3) == [1, 1, 2, 2, 3, 3]


@pytest.mark.slow
def test_the_scripts_dry_run_plans_every_row_with_its_estimate(tmp_path):
    def dry(*flags):
        r = subprocess.run(["bash", "scripts/seeds_gpu.sh", "--dry-run", *flags], cwd=ROOT, capture_output=True,
                           text=True, timeout=240, env={**os.environ, "OUT": str(tmp_path / "plan"),
                                                        "PY": sys.executable})
        assert r.returncode == 0, r.stderr[-2000:]
        return r.stdout.splitlines()
    lines = dry()
    commands = [line for line in lines if line.startswith("python -m train")]
    assert len(commands) == len(SYSTEMS) and all("--device cuda" in c for c in commands if "reader-mnist" not in c)
    table = {m.group(2): (int(m.group(1)), m.group(0).lstrip().startswith("*")) for line in lines
             if (m := re.match(r"\s*\*?\s+(\d)\s+(\S+)\s+", line)) and m.group(2) in {s.name for s in SYSTEMS}}
    assert set(table) == {s.name for s in SYSTEMS} and all(chosen for _, chosen in table.values())
    total = next(line for line in lines if line.lstrip().startswith(f"all {len(SYSTEMS)} rows"))
    minutes = [float(x) for x in re.findall(r"([\d.]+) min", total)]
    assert minutes[0] <= 12 and max(minutes[1:3]) <= 8 and minutes[0] + minutes[3] <= 12, total
    second = dry("--part", "2/2")   # the part's rows alone, the same split
    chosen = {line.split()[2] for line in second if line.startswith("  *")}
    assert chosen == {name for name, (part, _) in table.items() if part == 2}
    assert len([line for line in second if line.startswith("python -m train")]) == len(chosen)
    assert not (tmp_path / "plan" / "results.json").exists()


@pytest.mark.slow
def test_the_script_publishes_a_finished_table_with_estimates_beside_wall_times(tmp_path):
    # every row already done at the gpu budget: the call runs nothing (DEVICE=cpu skips the GPU
    # check), then copies the table and writes commands.txt where RESULTS says
    from digitsum.data.course import save_course_dataset
    from digitsum.data.synth import generate_dataset
    out = tmp_path / "seeds"
    images, digits = generate_dataset("test", 8, seed=3)
    for name in ("real-train-30000", "test-10000"):   # the sets are there: nothing is made
        save_course_dataset(out / "data" / name, images, digits.sum(1).astype(np.uint8), None)
    save_course_dataset(tmp_path / "data" / "val", images, digits.sum(1), digits)
    rows = [{"name": s.name, "system": s.title, "seed_reported": s.seed, "budget": "gpu", "status": "done",
             "settings": "-", "command": f"python -m train --row {s.name}", "wall_seconds": 60.0,
             "estimated_seconds_h100": 50.0, "ours": {"test_accuracy": 0.99, "n_test": 10000}} for s in SYSTEMS]
    (out / "results.json").write_text(json.dumps(rows))
    r = subprocess.run(["bash", "scripts/seeds_gpu.sh", "--data", str(tmp_path / "data")], cwd=ROOT,
                       capture_output=True, text=True, timeout=300,
                       env={**os.environ, "OUT": str(out), "PY": sys.executable, "DEVICE": "cpu",
                            "RESULTS": str(tmp_path / "published")})
    assert r.returncode == 0, r.stderr[-2000:] + r.stdout[-2000:]
    assert "python -m train --row" not in r.stdout.split("seeds_gpu: this call")[0]   # nothing ran again
    assert re.search(r"convnet4-sum37\s+50 s\s+60 s\s+99.00 % digit accuracy", r.stdout), r.stdout
    published = tmp_path / "published"
    assert json.loads((published / "results.json").read_text())[0]["name"] == SYSTEMS[0].name
    assert "| 4-layer ConvNet" in (published / "results.md").read_text()
    assert (published / "commands.txt").read_text().splitlines() == [f"python -m train --row {s.name}" for s in SYSTEMS]


def _seeds(*args):
    return subprocess.run([sys.executable, "-m", "train.experiments", "seeds", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "TQDM_DISABLE": "1"})


@pytest.mark.slow
def test_a_stopped_row_goes_on_from_its_last_save_point(tmp_path, data_root):
    # the row's own command, stopped after its first save point (as a killed call leaves it): the
    # next `seeds` call resumes it (--resume), where a finished or foreign run would start over
    from train.experiments.systems import run_system
    out = tmp_path / "seeds"
    seeds = SeedsRun(out.resolve(), BUDGETS["smoke"], threads=1, dry_run=True)
    prepare_data(seeds, data_root.resolve(), make=False)
    entry = run_system(seeds, SYSTEMS[0])   # dry: the command the call will run
    assert entry["name"] == "convnet4-sum37" and entry["command"].startswith("python -m train ")
    argv = entry["command"].split()[3:]
    r = _seeds("--budget", "smoke", "--out", out, "--data", data_root, "--threads", 1, "--only", "mnist-mlp")
    assert r.returncode == 0, r.stderr[-2000:]   # makes the data sets the row reads
    stopped = subprocess.run([sys.executable, "-m", "train", *argv, "--stop-after", "1"], cwd=ROOT,
                             capture_output=True, text=True, timeout=300, env={**os.environ, "TQDM_DISABLE": "1"})
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    state = out / "runs" / "convnet4-sum37" / "last" / "state.json"
    info = json.loads(state.read_text())
    assert info["step"] == 1 and info["step"] < int(argv[argv.index("--steps") + 1])
    info["command"] = info["command"].removesuffix(" --stop-after 1")   # the row's command, killed at step 1
    state.write_text(json.dumps(info))
    r = _seeds("--budget", "smoke", "--out", out, "--data", data_root, "--threads", 1, "--only", "convnet4-sum37")
    assert r.returncode == 0, r.stderr[-2000:]
    resumed = json.loads(state.read_text())
    assert resumed["command"].endswith(" --resume") and resumed["step"] == int(argv[argv.index("--steps") + 1])
    vals = [json.loads(line)["step"] for line in (state.parent.parent / "metrics.jsonl").read_text().splitlines()
            if json.loads(line)["kind"] == "val"]
    assert vals == list(range(1, resumed["step"] + 1))   # one run's records, not two
    rows = {e["name"]: e for e in json.loads((out / "results.json").read_text())}
    assert rows["convnet4-sum37"]["status"] == "done" and rows["mnist-mlp"]["status"] == "done"
    # a rerun of a done MNIST row starts over (the MNIST task takes no --overwrite)
    r = _seeds("--budget", "smoke", "--out", out, "--data", data_root, "--threads", 1, "--only", "mnist-mlp",
               "--rerun")
    assert r.returncode == 0, r.stderr[-2000:] + r.stdout[-1000:]
