"""The train package's parts, in-process and fast: the EMA's foreach update, --preset, evaluation on
the model's own device, no "cpu" in the loop, one generator per run, and one line when one rank of
a torchrun fails."""
import io
import os
import subprocess
import sys
import textwrap
import tokenize
from pathlib import Path

import numpy as np
import pytest
import torch

from train.ema import EMA, decay_per_step
from train.options import PRESETS, parse

ROOT = Path(__file__).resolve().parent.parent


def small_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))


def test_the_ema_update_is_the_expected_lerp_of_parameters_and_buffers():
    net = small_net()
    ema = EMA(net, decay=0.9, warmup=0)
    ema.update(net)   # the first update copies
    before = {k: v.clone() for k, v in ema.module.state_dict().items()}
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    net.train()(torch.randn(8, 3))   # moves BatchNorm's running statistics and its step count
    ema.update(net)
    now = net.state_dict()
    for key, value in ema.module.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, 0.9 * before[key] + 0.1 * now[key], rtol=1e-6, atol=1e-6)
        else:   # num_batches_tracked: copied, not averaged
            assert value == now[key]
    assert ema.updates == 2 and int(ema.n_averaged) == 2


def test_the_ema_update_reads_nothing_back_from_the_device():
    # meta tensors hold no values: any .item(), float() or bool() of one raises
    net = small_net().to("meta")
    ema = EMA(net, decay=0.999, warmup=100)
    for _ in range(3):
        ema.update(net)
    assert ema.updates == 3 and ema.module[0].weight.device.type == "meta"


def test_the_ema_warms_up_and_scales_with_the_images_per_step():
    ema = EMA(small_net(), decay=0.999, warmup=100)
    ema.updates = 1
    assert ema.current_decay() == pytest.approx(2 / 101)   # early on it follows the weights
    ema.updates = 10**6
    assert ema.current_decay() == pytest.approx(0.999)
    assert decay_per_step(0.999, 128) == pytest.approx(0.999)    # the reference step: unchanged
    assert decay_per_step(0.999, 512) == pytest.approx(0.996)    # 4x the images: 4x the update weight
    assert decay_per_step(0.9, 8 * 512) == 0.0                   # capped: alpha <= 1


def test_the_ema_state_keeps_averaged_models_keys_and_its_count_on_load():
    net = small_net()
    ema = EMA(net, decay=0.99)
    for _ in range(5):
        ema.update(net)
    state = ema.state_dict()
    assert "n_averaged" in state and all(k == "n_averaged" or k.startswith("module.") for k in state)
    other = EMA(small_net(), decay=0.99)
    other.load_state_dict(state)
    assert other.updates == 5 and other.current_decay() == ema.current_decay()


def test_a_resumed_optimizer_state_has_its_parameters_memory_format(tmp_path):
    # fused AdamW on a GPU refuses moments whose strides differ from their channels_last parameters'
    import argparse
    from digitsum.models.net import create_model
    from train.loop import make_optimizer
    from train.state import resume, save_state
    model = create_model("convnet4").to(memory_format=torch.channels_last)
    args = argparse.Namespace(out=tmp_path, model="convnet4", steps=10, optimizer="adamw", weight_decay=0.0, lr=1e-3)
    optimizer = make_optimizer(args, model, torch.device("cpu"))
    for group in optimizer.param_groups:
        group["initial_lr"] = group["lr"]   # as the schedule leaves it
    model(torch.rand(2, 1, 40, 168)).float().mean().backward()
    optimizer.step()
    save_state(tmp_path / "last", model=model, ema=None, optimizer=optimizer, info={"step": 1, "wall_seconds": 0.0, "best": 0.0})
    fresh = make_optimizer(args, model, torch.device("cpu"))
    resume(args, model, None, fresh)
    for p in model.parameters():
        for key in ("exp_avg", "exp_avg_sq"):
            assert fresh.state[p][key].stride() == p.stride(), key
            assert torch.equal(fresh.state[p][key], optimizer.state[p][key])


def test_preset_gpu_sets_defaults_and_explicit_flags_and_config_win(tmp_path):
    args = parse(["--preset", "gpu", "--synthetic-fraction", "1"])
    assert (args.batch_size, args.model, args.lr) == (PRESETS["gpu"]["batch_size"], PRESETS["gpu"]["model"],
                                                      PRESETS["gpu"]["lr"])
    args = parse(["--preset", "gpu", "--batch-size", "64", "--model", "convnet4"])
    assert (args.batch_size, args.model, args.steps) == (64, "convnet4", PRESETS["gpu"]["steps"])
    config = tmp_path / "c.json"
    config.write_text('{"preset": "gpu", "lr": 0.001}')
    args = parse(["--config", str(config)])
    assert (args.batch_size, args.lr) == (PRESETS["gpu"]["batch_size"], 0.001)
    assert parse([]).batch_size == 128   # the CPU default stays the default


def test_evaluation_follows_the_models_device(monkeypatch):
    # the model on "meta": the batches must go there, with no device named anywhere
    from digitsum.models.net import create_model
    from train.export import validate
    model = create_model("convnet4").to("meta")
    seen = []

    def predict_proba(x):
        seen.append(x.device.type)
        return torch.full((len(x), 4, 10), 0.1), torch.full((len(x), 37), 1 / 37)
    monkeypatch.setattr(model, "predict_proba", predict_proba)
    val = type("Set", (), dict(images=np.zeros((3, 40, 168), np.uint8), sums=np.zeros(3, np.int64),
                                digits=np.zeros((3, 4), np.int64)))
    record = validate(model, None, val, step=1, wall=0.0)
    assert seen == ["meta"] and "raw_sum_accuracy" in record


def test_nothing_in_the_training_loop_names_the_cpu():
    # the loop's tensors follow the model's device: train/distributed.py chooses it (cpu when there
    # is no GPU), and only the state file (train/state.py) copies tensors to the host
    for name in ("main", "loop", "data", "ema", "export", "run"):
        source = (ROOT / "train" / f"{name}.py").read_text()
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        assert not [t.string for t in tokens if t.type == tokenize.STRING and t.string.strip("\"'") == "cpu"], name
        assert ".cpu()" not in source, name


@pytest.mark.slow
def test_the_generator_is_built_once_per_run_and_reseeded(monkeypatch, tmp_path, course_set):
    import train.data
    import train.main
    built = []
    real_make = train.data.make_fused_generator   # the default, --synth fused

    def counting(*a, **k):
        built.append(1)
        return real_make(*a, **k)
    monkeypatch.setattr(train.data, "make_fused_generator", counting)
    args = parse(["--model", "convnet4", "--batch-size", "8", "--steps", "6", "--eval-every", "2", "--stop-after", "4",
                  "--synthetic-fraction", "1", "--val", str(course_set), "--val-limit", "8", "--warmup-steps", "1",
                  "--out", str(tmp_path / "run")])
    train.main.main(args)
    assert len(built) == 1                       # not once per save point
    assert (tmp_path / "run" / "last" / "state.json").is_file()


def test_a_reseeded_generator_draws_what_a_new_one_would():
    from digitsum.data.mnist import load_mnist
    from digitsum.data.synth import make_generator
    x, y = load_mnist("test")
    gen = make_generator(x[:500], y[:500], "wide", "wide", seed=1)
    gen.sample(7)
    a = gen.reseed(42).sample_with_centres(5)
    b = make_generator(x[:500], y[:500], "wide", "wide", seed=42).sample_with_centres(5)
    for u, v in zip(a, b):
        assert torch.equal(u, v)


@pytest.mark.slow
def test_one_failing_torchrun_rank_stops_the_others_with_one_line(tmp_path):
    # rank 0 fails (as when a save fails, on rank 0 alone) while rank 1 waits at a barrier: no rank
    # waits forever, and the user reads one "error:" line, no traceback of ours
    script = tmp_path / "one_rank.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from digitsum.errors import DigitsumError
        from train import distributed
        def main():
            ctx = distributed.setup("cpu")
            if ctx.rank == 0:
                raise DigitsumError("rank zero could not go on")
            distributed.barrier(ctx)
        try:
            main()
        except DigitsumError as e:
            distributed.report(e)
            sys.exit(2)
        except Exception as e:
            distributed.defer(e)
            raise
    """))
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29547",
                        str(script)], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode != 0
    ours = [line for line in r.stderr.splitlines() if "error: " in line and "could not" in line]
    assert ours == ["error: rank zero could not go on"], r.stderr[-2000:]
    assert "[rank1]: Traceback" not in r.stderr   # rank 1's broken barrier: ended by torchrun, not reported


def test_a_non_finite_loss_stops_the_run_with_one_line(tmp_path, course_set, capsys):
    from train.main import cli
    code = cli(["--model", "convnet4", "--batch-size", "8", "--steps", "4", "--eval-every", "2", "--real", str(course_set),
                "--synthetic-fraction", "0", "--lr", "1e30", "--clip-grad", "0", "--warmup-steps", "0",
                "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and [l for l in err.splitlines() if "error:" in l][0].split("error: ")[1].startswith("the loss became")
    assert not (tmp_path / "run" / "last").exists()   # nothing non-finite saved


def test_a_run_from_init_starts_from_the_checkpoints_weights(tmp_path, course_set, monkeypatch):
    # no step taken (train_steps does nothing), so the first save point shows what the run started
    # from: its validation is the checkpoint's, and its best weights are the checkpoint's, tensor for tensor
    import train.main
    from digitsum.data.course import load_dataset
    from digitsum.evaluation.evaluate import evaluate
    from digitsum.models.net import create_model
    from digitsum.storage.checkpoint import load_checkpoint, save_checkpoint
    torch.manual_seed(123)   # not the run's own start (--seed 0): the two weights differ
    source = save_checkpoint(create_model("convnet4").eval(), tmp_path / "source", {"command": "test"}, {})
    monkeypatch.setattr(train.main, "train_steps", lambda *args, **kwargs: None)

    def step_zero(name, *flags):
        args = parse(["--model", "convnet4", "--steps", "2", "--eval-every", "1", "--stop-after", "1",
                      "--real", str(course_set), "--synthetic-fraction", "0", "--val", str(course_set),
                      "--out", str(tmp_path / name), *flags])
        record = train.main.main(args)
        return record, load_checkpoint(tmp_path / name / "best").state_dict()

    record, weights = step_zero("from-init", "--init", str(source))
    expected = load_checkpoint(source).state_dict()
    assert weights.keys() == expected.keys()
    assert all(torch.equal(weights[k], expected[k]) for k in expected)
    val = load_dataset(course_set)
    m = evaluate(load_checkpoint(source), val.images, val.sums, val.digits)
    for tag in ("raw", "ema"):
        assert record[f"{tag}_sum_accuracy"] == m["sum_accuracy"]
        assert record[f"{tag}_digit_accuracy"] == m["digit_accuracy"]
        assert record[f"{tag}_sum_nll"] == pytest.approx(m["sum_nll"], rel=1e-5)
    _, random_start = step_zero("from-seed")   # without --init the same run starts elsewhere
    assert not all(torch.equal(random_start[k], expected[k]) for k in expected)


@pytest.mark.parametrize("saved, resumed", [("adam", "adamw"), ("adamw", "adam"), ("sgd", "adam")])
def test_adam_is_the_seeds_l2_adam_and_resume_tells_it_from_adamw(tmp_path, saved, resumed):
    import argparse
    from digitsum.errors import DigitsumError
    from digitsum.models.net import create_model
    from train.loop import make_optimizer
    from train.state import resume, save_state
    model = create_model("convnet4")
    args = argparse.Namespace(out=tmp_path, model="convnet4", steps=10, optimizer=saved, weight_decay=1e-4, lr=1e-3)
    optimizer = make_optimizer(args, model, torch.device("cpu"))
    if saved == "adam":   # torch's Adam with its decay coupled into the gradient (L2), as the seeds trained
        assert type(optimizer) is torch.optim.Adam and optimizer.defaults["decoupled_weight_decay"] is False
        assert optimizer.param_groups[0]["weight_decay"] == 1e-4 and optimizer.defaults["betas"] == (0.9, 0.999)
    for group in optimizer.param_groups:
        group["initial_lr"] = group["lr"]
    model(torch.rand(2, 1, 40, 168)).float().mean().backward()
    optimizer.step()
    save_state(tmp_path / "last", model=model, ema=None, optimizer=optimizer, info={"step": 1, "wall_seconds": 0.0, "best": 0.0})
    resume(args, model, None, make_optimizer(args, model, torch.device("cpu")))   # the same optimizer resumes
    other = argparse.Namespace(**{**vars(args), "optimizer": resumed})
    with pytest.raises(DigitsumError, match=f"used --optimizer {saved}, not {resumed}"):
        resume(other, model, None, make_optimizer(other, model, torch.device("cpu")))


def test_the_regression_head_trains_with_mse_when_asked_and_reads_the_rounded_sum():
    """--regression-loss mse: the seeds' squared error on the sum (smooth L1 stays the default); the
    head's reading is its output rounded to the nearest sum, 0-36."""
    from digitsum.models.net import create_model
    from train.loop import compute_loss
    assert parse([]).regression_loss == "smooth_l1"
    out = torch.tensor([0.0, 20.0, 7.4, 30.0])
    sums = torch.tensor([2, 18, 7, 30])
    parts = {"real": (slice(0, 4), sums, None, None)}
    mse = compute_loss(parse(["--regression-loss", "mse"]), out, "regression", parts)
    huber = compute_loss(parse([]), out, "regression", parts)
    assert mse.item() == pytest.approx((4 + 4 + 0.4 ** 2 + 0) / 4)
    assert huber.item() == pytest.approx((1.5 + 1.5 + 0.5 * 0.4 ** 2 + 0) / 4)
    torch.manual_seed(0)
    model = create_model("resnet_small_regression").eval()
    images = torch.rand(6, 1, 40, 168)
    for shift in (-3.0, 0.4, 12.6, 17.5, 35.8, 50.0):
        with torch.no_grad():
            model.heads[0].bias.fill_(shift)
            predicted = model(images).float()
        read = model.read(images).sum_probs.argmax(1)
        assert torch.equal(read, predicted.round().clamp(0, 36).long()), shift
