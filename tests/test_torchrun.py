"""torchrun that scales (issue 18, item 4), each part checked with 2 CPU processes over gloo:
`--batch-size` is the global batch, split over the processes, and the model card says so; each rank
takes its own GPU from LOCAL_RANK (`cuda:N` starts the ranks at GPU N); the crash recovery of `last/`
runs on rank 0 alone, behind a barrier. Plus the same rules as plain functions, and a single process
unchanged (its device, its batch, its command)."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from digitsum.errors import DigitsumError
from train import distributed
from train.distributed import pick_device, rank_batch

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--model", "convnet4", "--eval-every", "2", "--val-limit", "16", "--warmup-steps", "1", "--threads", "1"]

# runs train.main.cli under torchrun, noting per rank (RANK.jsonl in the folder given first) each
# batch's size and each call of the recovery of last/, which it slows down as a slow disk would; with
# "--setup-only DEVICE" it only sets up, as if the machine had 4 GPUs, and notes every rank's device
WRAPPER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import torch
    import torch.distributed as dist
    from digitsum.storage import atomic
    import train.main
    from train import distributed

    notes, argv = Path(sys.argv[1]), sys.argv[2:]
    rank = os.environ["RANK"]

    def note(**record):
        with open(notes / f"{{rank}}.jsonl", "a") as f:
            f.write(json.dumps(record) + "\\n")

    if argv[0] == "--setup-only":
        torch.cuda.is_available = lambda: True
        torch.cuda.device_count = lambda: 4
        torch.cuda.set_device = lambda device: note(set_device=str(device))
        gloo = dist.init_process_group
        dist.init_process_group = lambda backend, **kw: (note(backend=backend), gloo("gloo"))
        ctx = distributed.setup(argv[1])
        devices = [None] * ctx.world
        dist.all_gather_object(devices, str(ctx.device))
        note(device=str(ctx.device), local=ctx.local, all=devices)
        distributed.teardown(ctx)
        sys.exit(0)

    class Noted(train.main.Batches):
        def next(self):
            images, parts = super().next()
            note(batch=len(images), parts={{k: v[0].stop - v[0].start for k, v in parts.items()}})
            return images, parts
    train.main.Batches = Noted

    recover = atomic.recover
    def slow_recover(folder):
        note(recover=Path(folder).name)
        time.sleep(2)   # a rank that did not wait would look for last/ meanwhile
        recover(folder)
    atomic.recover = slow_recover
    sys.exit(train.main.cli(argv))
""")


def torchrun(tmp_path, *argv, timeout=240):
    """-> (the finished process, {rank: its notes})."""
    script, notes = tmp_path / "wrapper.py", tmp_path / "notes"
    script.write_text(WRAPPER.format(root=str(ROOT)))
    notes.mkdir(exist_ok=True)
    for old in notes.glob("*.jsonl"):
        old.unlink()
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        str(script), str(notes), *map(str, argv)], capture_output=True, text=True, timeout=timeout,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
                                      "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"})
    noted = {int(f.stem): [json.loads(line) for line in f.read_text().splitlines()] for f in notes.glob("*.jsonl")}
    return r, noted


@pytest.mark.slow
def test_the_global_batch_is_split_over_the_processes_and_the_card_records_it(tmp_path, course_set):
    r, noted = torchrun(tmp_path, *TINY, "--batch-size", 16, "--steps", 4, "--synthetic-fraction", 0.5,
                        "--real", course_set, "--val", course_set, "--out", tmp_path / "run",
                        "--export", tmp_path / "export")
    assert r.returncode == 0, r.stderr[-3000:]
    for rank in (0, 1):   # each rank draws half of the 16 images a step: 4 synthetic and 4 real
        batches = [n for n in noted[rank] if "batch" in n]
        assert [n["batch"] for n in batches] == [8] * 4, noted[rank]
        assert all(n["parts"] == {"synthetic": 4, "real0": 4} for n in batches)
    card = (tmp_path / "export" / "README.md").read_text()
    assert "- **steps**: 4 x 16 images" in card
    assert "- **processes**: 2 (torchrun; global batch 16 = 2 x 8 images)" in card
    assert "- **command**: `torchrun --nproc_per_node 2 -m train " in card and "--batch-size 16" in card
    state = json.loads((tmp_path / "run" / "last" / "state.json").read_text())
    assert state["command"].startswith("torchrun --nproc_per_node 2 -m train ")


@pytest.mark.slow
def test_a_batch_that_does_not_split_evenly_is_one_line(tmp_path, course_set):
    r, noted = torchrun(tmp_path, *TINY, "--batch-size", 15, "--steps", 2, "--synthetic-fraction", 0,
                        "--real", course_set, "--out", tmp_path / "run")
    assert r.returncode != 0 and not noted
    ours = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert ours == ["error: --batch-size 15 is the global batch, split evenly over the 2 processes: give a "
                    "multiple of 2 (e.g. 14)"], r.stderr[-2000:]
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_each_rank_takes_its_own_gpu_from_local_rank(tmp_path):
    # the machine "has" 4 GPUs (the CUDA calls are stubbed, the process group is gloo): auto (as cuda)
    # puts rank L on cuda:L, cuda:1 starts the ranks at GPU 1, and NCCL is what a CUDA run asks for
    for flag, expected in (("cuda:1", ["cuda:1", "cuda:2"]), ("auto", ["cuda:0", "cuda:1"])):
        r, noted = torchrun(tmp_path, "--setup-only", flag)
        assert r.returncode == 0, r.stderr[-3000:]
        for rank in (0, 1):
            seen = {k: v for n in noted[rank] for k, v in n.items()}
            assert seen["set_device"] == expected[rank] and seen["local"] == rank and seen["backend"] == "nccl"
            assert seen["all"] == expected, flag


@pytest.mark.slow
def test_resume_recovers_last_on_rank_0_alone_behind_a_barrier(tmp_path, course_set):
    # a single-process run saved at step 2, then killed between the two renames of its next save:
    # its state is left as .last.old. Two ranks resume it: rank 0 puts it back (slowly), rank 1 waits
    import train.main
    from train.options import parse
    flags = [*TINY, "--batch-size", 8, "--steps", 4, "--synthetic-fraction", 0, "--real", course_set,
             "--out", tmp_path / "run"]
    train.main.main(parse([str(f) for f in flags] + ["--stop-after", "2"]))
    (tmp_path / "run" / "last").rename(tmp_path / "run" / ".last.old")
    r, noted = torchrun(tmp_path, *flags, "--resume")
    assert r.returncode == 0, r.stderr[-3000:]
    recovered = {rank: [n["recover"] for n in notes if "recover" in n] for rank, notes in noted.items()}
    assert recovered[0][0] == "last" and recovered[1] == [], recovered   # rank 0's (then its saves' own)
    assert [n["batch"] for n in noted[1] if "batch" in n] == [4, 4]   # rank 1 resumed too, at step 2
    assert json.loads((tmp_path / "run" / "last" / "state.json").read_text())["step"] == 4
    assert not list((tmp_path / "run").glob(".last*"))


def test_pick_device_gives_each_local_rank_its_own_gpu():
    assert pick_device("cuda:1", 0, 2) == torch.device("cuda", 1)    # one process: the GPU named
    assert pick_device("cuda:1", 1, 4) == torch.device("cuda", 2)    # torchrun: consecutive GPUs from 1
    assert pick_device("cuda", 3, 4) == torch.device("cuda", 3)
    assert pick_device("auto", 1, 2) == torch.device("cuda", 1)
    assert pick_device("auto", 1, 0) == torch.device("cpu")
    assert pick_device("cpu", 1, 8) == torch.device("cpu")
    with pytest.raises(DigitsumError, match=r"cuda:1\+LOCAL_RANK 1 = cuda:2, but torch finds 2 CUDA GPU"):
        pick_device("cuda:1", 1, 2)
    with pytest.raises(DigitsumError, match="needs cuda:0 = cuda:0, but torch finds 0"):
        pick_device("cuda", 0, 0)


def test_rank_batch_splits_the_global_batch():
    assert rank_batch(128, 1) == 128 and rank_batch(512, 4) == 128
    with pytest.raises(DigitsumError, match="multiple of 4"):
        rank_batch(130, 4)


def test_a_single_process_keeps_its_flags_device_and_command(monkeypatch):
    import train.main
    from train.options import parse
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    ctx = distributed.setup("cpu")
    assert (ctx.rank, ctx.world, ctx.local, ctx.device) == (0, 1, 0, torch.device("cpu"))
    args = parse(["--batch-size", "7", "--synthetic-fraction", "1"])
    assert train.main.rank_share(args, ctx) is args   # the same namespace: the same draws as before
    assert train.main.launcher(ctx) == "python -m train "
    monkeypatch.setenv("WORLD_SIZE", "2")   # the same flags under 2-process torchrun: refused while parsing
    with pytest.raises(DigitsumError, match="multiple of 2"):
        parse(["--batch-size", "7", "--synthetic-fraction", "1"])
