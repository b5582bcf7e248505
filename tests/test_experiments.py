"""`python -m train.experiments seeds` (the seeds' table), `python -m train --task mnist`, and the
registry's ImageNet-weight loading. The smoke budget runs here on a representative subset (a
sum-head run and an MNIST run as subprocesses, the reader's MNIST score in-process) plus every
system's planned command; the whole smoke budget (22 subprocesses, minutes on 2 cores) runs with
DIGITSUM_FULL_SMOKE=1."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision

from digitsum.errors import CheckpointError
from digitsum.models.net import create_model, load_torchvision_weights

ROOT = Path(__file__).resolve().parent.parent


def _seeds(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "train.experiments", "seeds", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TQDM_DISABLE": "1"})


SEED_ROWS = ["resnet50-sum37-noema", "resnet50-sum37-ema", "resnet101-sum37-ema", "resnet18-sum37-ema",
             "regression-sum37", "vgg11-frozen", "vgg11-baseline"]


@pytest.mark.slow
def test_the_seeds_rows_as_they_built_them_run_at_the_smoke_budget(tmp_path, data_root):
    """The rows of issue 18, item 1 (the seeds' torchvision ResNets and VGG, and the rows set beside
    them) each run end to end in seconds."""
    out = tmp_path / "seeds"
    only = [a for name in SEED_ROWS for a in ("--only", name)]
    r = _seeds("--budget", "smoke", "--out", out, "--data", data_root, "--threads", 2, *only, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:] + r.stdout[-2000:]
    entries = {e["name"]: e for e in json.loads((out / "results.json").read_text())}
    assert list(entries) == SEED_ROWS
    for e in entries.values():
        assert e["status"] == "done" and 0.0 <= e["ours"]["test_sum_accuracy"] <= 1.0, e
    assert entries["resnet101-sum37-ema"]["model"] == "seed_resnet101_sum37"
    assert entries["vgg11-baseline"]["model"] == "convnet4"
    assert any("from scratch" in n for n in entries["resnet50-sum37-ema"]["notes"])
    assert "from scratch" in (out / "results.md").read_text()


def test_pretrained_weights_of_each_seed_resnet_are_recognised_and_loaded(tmp_path):
    from train.experiments.inputs import _architecture, build_init
    from train.experiments.plan import BUDGETS, SeedsRun
    from train.experiments.plan_seeds import plan_seed_resnet18_ema
    for arch in ("resnet18", "resnet34", "resnet50", "resnet101", "vgg11"):
        path = tmp_path / f"{arch}.pth"
        torch.save(getattr(torchvision.models, arch)(weights=None).state_dict(), path)
        if arch == "resnet34":
            with pytest.raises(Exception, match="none of"):
                _architecture(path)
        else:
            assert _architecture(path) == arch
    seeds = SeedsRun(tmp_path / "out", BUDGETS["smoke"], data={"real": tmp_path, "val": tmp_path, "test": tmp_path},
                     pretrained={"resnet18": tmp_path / "resnet18.pth"})
    plan = plan_seed_resnet18_ema(seeds, "resnet18-sum37-ema")
    assert plan.init_from == "resnet18" and "from ImageNet weights" in plan.notes[0]
    folder = build_init(seeds, plan, "resnet18-sum37-ema")
    assert (folder / "config.json").is_file() and plan.notes[-1] == (
        "ImageNet tensors loaded: 120 (adapted: conv1.weight); trunk tensors left as they were: none")


@pytest.mark.slow
def test_smoke_budget_writes_the_table_and_resumes(tmp_path, data_root, capsys):
    from train.experiments.cli import cli
    out = tmp_path / "seeds"
    only = ["--only", "convnet4-sum37", "--only", "mnist-mlp"]
    r = _seeds("--budget", "smoke", "--out", out, "--data", data_root, "--threads", 2, *only)
    assert r.returncode == 0, r.stderr[-2000:] + r.stdout[-2000:]
    entries = json.loads((out / "results.json").read_text())
    assert [e["name"] for e in entries] == ["convnet4-sum37", "mnist-mlp"]
    for e in entries:
        assert e["status"] == "done" and e["budget"] == "smoke" and e["wall_seconds"] > 0
        assert e["seed_reported"] and e["command"].startswith("python -m train")
    conv, mlp = entries
    assert 0.0 <= conv["ours"]["test_sum_accuracy"] <= 1.0 and conv["ours"]["test_n"] == 64
    assert conv["model"] == "convnet4_sum37" and "--synthetic-fraction 0" in conv["command"]
    assert conv["checkpoint"]["megabytes"] < 10 and (out / "checkpoints" / "convnet4-sum37" / "config.json").is_file()
    # the real training set carries sums only: no digit labels anywhere
    real = next((out / "data").glob("real-train-*"))
    assert (real / "lab0.npy").is_file() and not list(real.glob("digits*"))
    assert mlp["ours"]["task"] == "mnist" and 0.0 <= mlp["ours"]["test_accuracy"] <= 1.0
    table = (out / "results.md").read_text()
    assert "| 4-layer ConvNet, 37-way sum softmax | ~10 % sum accuracy |" in table
    assert "trained from scratch" in table
    # a second call skips what is done (no subprocess) and keeps the rows
    capsys.readouterr()
    assert cli(["seeds", "--budget", "smoke", "--out", str(out), "--data", str(data_root), *only]) == 0
    assert "python -m train" not in capsys.readouterr().out
    assert json.loads((out / "results.json").read_text()) == entries
    # the table is rebuilt from results.json alone
    (out / "results.md").unlink()
    assert cli(["table", "--out", str(out)]) == 0
    assert (out / "results.md").read_text().count("\n| ") == 3   # header + two rows


def test_reader_mnist_reads_each_test_digit_once(tmp_path, capsys):
    from train.experiments.cli import cli
    out = tmp_path / "reader"
    assert cli(["reader-mnist", "--checkpoint", str(ROOT / "checkpoints" / "digitsum-reader"), "--digits", "42",
                "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_test"] == 40 and m["n_images"] == 10
    assert m["test_accuracy"] > 0.8   # the shipped default reads MNIST test digits


@pytest.mark.parametrize("budget", ["smoke", "cpu", "gpu"])
def test_every_system_is_planned_at_every_budget(tmp_path, budget, capsys):
    from train.experiments.cli import cli
    from train.experiments.systems import SYSTEMS
    assert cli(["seeds", "--budget", budget, "--out", str(tmp_path / "plan"), "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("python -m train")]
    assert len(lines) == len(SYSTEMS)
    assert sum("--task mnist" in line for line in lines) == 6
    finetuned = next(line for line in lines if "/mnist-resnet18-ft" in line)   # seed 002; offline: from scratch
    assert "--model resnet18 " in finetuned and "--pretrained" not in finetuned
    naive = next(line for line in lines if "--layout naive" in line)
    assert "--synthetic-fraction 1" in naive
    sums_only = next(line for line in lines if "/sums-only " in line)
    assert "--synthetic-fraction 0" in sums_only and "--real-digits" not in sums_only
    regression = next(line for line in lines if "/regression " in line)   # seed 003's loss
    assert "--model resnet_small_regression " in regression and "--regression-loss mse " in regression
    assert not (tmp_path / "plan" / "results.json").exists()
    if budget == "gpu":   # ours (3x3 stem, column head) beside the seeds' torchvision ResNet-50
        assert sum("--model resnet50_sum37 " in line for line in lines) == 2
        assert sum("--model seed_resnet50_sum37 " in line for line in lines) == 2
    # the seeds' rows as they built them: torchvision ResNets and VGG, the seed's recipe
    for model in ("seed_resnet50_sum37", "seed_resnet101_sum37", "seed_resnet18_sum37", "seed_vgg11_frozen_digits"):
        line = next(line for line in lines if f"--model {model} " in line)
        assert all(f in line for f in ("--lr 1e-3", "--weight-decay 1e-4", "--schedule constant", "--clip-grad 0",
                                        "--label-smoothing 0")), line
        assert line.rsplit("--warmup-steps ", 1)[1].startswith("0 ")   # the last one is the one argparse takes
    ema = next(line for line in lines if "/resnet50-sum37-ema " in line)
    assert "--ema-decay 0.99 --ema-warmup 0" in ema if budget == "gpu" else "--ema-warmup 0" in ema
    assert "--ema-decay 0 " in next(line for line in lines if "/resnet50-sum37-noema " in line) + " "


def test_bad_flags_are_one_line_errors(tmp_path, capsys):
    from train.__main__ import run
    from train.experiments.cli import cli
    for argv in (["--task", "bogus"], ["--task"], ["--task", "mnist", "--model", "nope"],
                 ["--task", "mnist", "--steps", "-1"], ["--task=mnist", "--batch-size", "0"]):
        assert run(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err, (argv, err)
    for argv in (["seeds", "--budget", "huge", "--out", str(tmp_path)], ["seeds", "--out", str(tmp_path)],
                 ["seeds", "--budget", "smoke", "--out", str(tmp_path), "--only", "nope"],
                 ["seeds", "--budget", "smoke", "--out", str(tmp_path), "--pretrained", str(tmp_path / "none.pth")]):
        assert cli(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err, (argv, err)


def test_mnist_task_trains_and_scores_on_the_test_split(tmp_path):
    from train.mnist_task import MNIST_MODELS, cli
    assert {"mlp", "cnn2", "cnn_k1", "cnn_k3", "cnn_k5", "resnet50"} <= set(MNIST_MODELS)
    for name in ("mlp", "cnn_k1", "cnn_k5"):
        assert MNIST_MODELS[name]()(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert cli(["--model", "cnn_k1", "--steps", "3", "--batch-size", "8", "--train-limit", "100",
                "--test-limit", "50", "--out", str(tmp_path / "m"), "--threads", "2"]) == 0
    m = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert m["n_test"] == 50 and m["n_train"] == 100 and m["steps"] == 3 and 0 <= m["test_accuracy"] <= 1


def test_the_mnist_task_fine_tunes_a_resnet18_from_torchvision_weights(tmp_path, capsys):
    """Seed 002's fine-tuned ResNet-18: --pretrained loads every trunk tensor of a torchvision
    resnet18 state_dict (conv1's RGB summed into one channel), the 10-way fc stays new; the seeds'
    row passes the weights it was given. A file of another kind is one line."""
    from train.experiments.plan import BUDGETS, SeedsRun
    from train.experiments.systems import SYSTEMS
    from train.mnist_task import MNIST_MODELS, cli, load_pretrained
    torch.manual_seed(1)
    imagenet = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path / "resnet18.pth"
    torch.save(imagenet, path)
    torch.manual_seed(0)
    model = MNIST_MODELS["resnet18"]()
    fc_before = model.fc.weight.clone()
    report = load_pretrained(model, path)
    sd = model.state_dict()
    assert torch.equal(sd["layer3.1.conv2.weight"], imagenet["layer3.1.conv2.weight"])
    assert torch.equal(sd["bn1.running_var"], imagenet["bn1.running_var"])
    assert torch.allclose(sd["conv1.weight"], imagenet["conv1.weight"].sum(1, keepdim=True))
    assert torch.equal(model.fc.weight, fc_before) and report["not_loaded"] == ["fc.bias", "fc.weight"]
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert cli(["--model", "resnet18", "--pretrained", str(path), "--steps", "2", "--batch-size", "8",
                "--train-limit", "64", "--test-limit", "32", "--out", str(tmp_path / "ft"), "--threads", "1"]) == 0
    m = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    assert m["initialised_from"] == str(path) and m["pretrained_tensors_loaded"] == len(imagenet) - 2
    assert "--pretrained" in m["command"] and m["steps"] == 2
    # the seeds' row fine-tunes from the weights it is given
    seeds = SeedsRun(tmp_path / "plan", BUDGETS["gpu"], data={}, pretrained={"resnet18": path})
    plan = next(s for s in SYSTEMS if s.name == "mnist-resnet18-ft").plan(seeds, "mnist-resnet18-ft")
    assert plan.argv[plan.argv.index("--pretrained") + 1] == path and "fine-tuned" in plan.settings
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), tmp_path / "resnet34.pth")
    (tmp_path / "junk.pth").write_text("not a state_dict")
    capsys.readouterr()
    for argv, message in ((["--model", "resnet18", "--pretrained", str(tmp_path / "resnet34.pth")], "not this model's"),
                          (["--model", "resnet18", "--pretrained", str(tmp_path / "junk.pth")], "not a readable"),
                          (["--model", "resnet18", "--pretrained", str(tmp_path / "none.pth")], "no such file"),
                          (["--model", "cnn2", "--pretrained", str(path)], "--pretrained takes --model")):
        assert cli([*argv, "--steps", "1", "--train-limit", "8", "--out", str(tmp_path / "bad")]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err, (argv, err)


def test_torchvision_resnet50_weights_fill_the_trunk(tmp_path):
    torch.manual_seed(0)
    source = torchvision.models.resnet50(weights=None).state_dict()
    path = tmp_path / "resnet50.pth"
    torch.save(source, path)
    model = create_model("resnet50_sum37")
    report = load_torchvision_weights(model, path)
    assert report["adapted"] == ["conv1.weight"] and not report["trunk_tensors_not_loaded"]
    assert set(report["skipped"]) == {"fc.weight", "fc.bias"}
    sd = model.state_dict()
    assert torch.equal(sd["trunk.6.2.conv3.weight"], source["layer4.2.conv3.weight"])
    assert sd["trunk.0.weight"].shape == (64, 1, 3, 3)
    # a flat patch of ink gets the same stem response as the 3-channel 7x7 kernel gave grey input
    assert torch.allclose(sd["trunk.0.weight"].sum((1, 2, 3)), source["conv1.weight"].sum((1, 2, 3)), atol=1e-4)
    with pytest.raises(CheckpointError, match="no tensor"):
        load_torchvision_weights(create_model("resnet50_sum37"), {"something.else": torch.zeros(3)})
    with pytest.raises(CheckpointError, match="no torchvision counterpart"):
        load_torchvision_weights(create_model("convnet4_sum37"), source)


def test_vgg_trunk_is_frozen_and_takes_imagenet_features():
    model = create_model("vgg11_frozen_digits")
    features = model.trunk[1]
    assert all(not p.requires_grad for p in features.parameters())
    assert all(p.requires_grad for p in model.trunk[0].parameters())      # the 1->3 channel adapter learns
    assert model.trunk(torch.rand(1, 1, 40, 168)).shape == (1, 256, 5, 21)  # stride 8: the heads' 21 columns
    source = torchvision.models.vgg11(weights=None).state_dict()
    report = load_torchvision_weights(model, source)
    assert len(report["loaded"]) == 8 and report["trunk_tensors_not_loaded"] == ["trunk.0.bias", "trunk.0.weight"]  # the adapter
    assert torch.equal(model.state_dict()["trunk.1.0.weight"], source["features.0.weight"])


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("DIGITSUM_FULL_SMOKE"), reason="the whole smoke budget takes minutes; "
                    "set DIGITSUM_FULL_SMOKE=1")
def test_whole_smoke_budget(tmp_path, data_root):
    from train.experiments.systems import SYSTEMS
    r = _seeds("--budget", "smoke", "--out", tmp_path / "all", "--data", data_root, "--threads", 2, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    entries = json.loads((tmp_path / "all" / "results.json").read_text())
    assert [e["name"] for e in entries] == [s.name for s in SYSTEMS]
    assert all(e["status"] == "done" for e in entries)


@pytest.mark.slow
def test_a_smoke_runs_records_name_the_repository_relatively(data_root):
    # results.json, results.md, the runs' model cards and metrics: a path inside the repository is
    # written relative to it (the runs start there), so the commands rerun in any clone; one outside
    # it (here --data, a temporary folder) stays absolute
    import shutil
    import uuid
    from test_records import absolute_paths
    out = Path("runs") / f"test-records-{uuid.uuid4().hex[:8]}"
    try:
        r = _seeds("--budget", "smoke", "--out", out, "--data", data_root, "--threads", 2,
                   "--only", "convnet4-sum37", "--only", "reader-mnist")
        assert r.returncode == 0, r.stderr[-2000:] + r.stdout[-2000:]
        records = {p: (ROOT / out / p).read_text() for p in
                   ("results.json", "results.md", "runs/convnet4-sum37/best/README.md",
                    "checkpoints/convnet4-sum37/README.md", "runs/reader-mnist/metrics.json")}
        for name, text in records.items():
            inside = [p for p in absolute_paths(text) if p.startswith(str(ROOT)) or p.startswith(str(ROOT.resolve()))]
            assert inside == [], name
        conv, reader = json.loads(records["results.json"])
        assert f" --out {out}/runs/convnet4-sum37 " in conv["command"]
        assert f" --real {out}/data/real-train-256 " in conv["command"]
        assert f" --val {data_root.resolve()}/val " in conv["command"]   # outside the repository: absolute
        assert conv["log"] == f"{out}/logs/convnet4-sum37.log"
        assert conv["checkpoint"]["path"] == f"{out}/checkpoints/convnet4-sum37"
        assert " --checkpoint checkpoints/digitsum-reader " in reader["command"]
        assert json.loads(records["runs/reader-mnist/metrics.json"])["checkpoint"] == "checkpoints/digitsum-reader"
        assert f"--out {out}`" in records["results.md"]
        card = records["checkpoints/convnet4-sum37/README.md"]
        assert f"--out {out}/runs/convnet4-sum37 " in card and f"real sum-only ['{out}/data/real-train-256']" in card
    finally:
        shutil.rmtree(ROOT / out, ignore_errors=True)
