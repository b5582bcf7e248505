"""Operations per training step of `python -m train`, and its images/s, for the reader's default
training (stage 1 of the README: --synthetic-fraction 1 --font-digits 0.1, model reader, layout and
augment wide, batch 128) or any other flags of `python -m train`.

Counts the aten operations the host launches (one per kernel on a GPU, where a step this small is
bound by launches): those of the synthetic generator's batch, of the batch (generator plus the
batch's assembly), and of a whole step (batch, forward, loss, backward, clipping, optimizer, EMA),
each counted at the dispatcher (what `train/experiments/estimate.py` counts) and by torch.profiler
(the aten events that no other aten event called), and the kernels (the dispatcher's calls less
views, which launch nothing on a GPU); where the generator is the fused one on a CPU, its count with
the GPU's filters too (generator_gpu_path). Then times --time-steps steps (after --warmup
steps) and the generator alone, and prints images/s.

    .venv/bin/python scripts/step_ops.py --threads 1                  # the CPU figure
    .venv/bin/python scripts/step_ops.py --device cuda                # on a GPU
    .venv/bin/python scripts/step_ops.py --device cuda --compile      # torch.compile of the model
    .venv/bin/python scripts/step_ops.py --threads 1 -- --synth plain   # the generator before it was fused
    .venv/bin/python scripts/step_ops.py --json out.json -- --batch-size 512 --model reader_deep

Flags after `--` go to python -m train (they replace the defaults above where they name the same flag).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

DEFAULT_TRAIN = ["--synthetic-fraction", "1", "--font-digits", "0.1", "--batch-size", "128", "--model", "reader"]


def _dispatch_counter():
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        n = kernels = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.n += 1
            self.kernels += not func.is_view   # a view launches nothing on a GPU
            return func(*args, **(kwargs or {}))
    return Count()


def count_ops(fn) -> dict:
    """-> {"dispatch": aten ops at the dispatcher, "kernels": those of them that are not views,
    "profiler": top-level aten events} of one call."""
    with _dispatch_counter() as c:
        fn()
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = prof.events()

    def under_aten(e) -> bool:
        p = e.cpu_parent
        while p is not None:
            if p.name.startswith("aten::"):
                return True
            p = p.cpu_parent
        return False
    top = [e for e in events if e.name.startswith("aten::") and not under_aten(e)]
    return {"dispatch": c.n, "kernels": c.kernels, "profiler": len(top)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    train_argv = []
    if "--" in argv:
        i = argv.index("--")
        argv, train_argv = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch's default)")
    p.add_argument("--compile", action="store_true", help="python -m train --compile: torch.compile the model")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--time-steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3, help="timings; the median is printed")
    p.add_argument("--json", type=Path, help="also write the figures here")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)

    from digitsum.errors import DigitsumError
    from train import distributed
    from train.data import Batches
    from train.ema import EMA
    from train.loop import make_optimizer, make_scheduler, train_steps
    from train.main import initial_model, wrapped
    from train.options import parse
    from train.report import MetricsLog
    from train.run import Run

    out = Path(tempfile.mkdtemp(prefix="step_ops-"))
    try:
        args = parse([*DEFAULT_TRAIN, "--device", a.device, "--out", str(out / "run"), "--overwrite",
                      *(["--compile"] if a.compile else []), *train_argv])
    except DigitsumError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ctx = distributed.setup(args.device)
    model = initial_model(args, ctx)
    optimizer = make_optimizer(args, model, ctx.device)
    ema = EMA(model, args.ema_decay, args.ema_warmup, args.batch_size) if args.ema_decay else None
    run = Run(args=args, command="step_ops", ctx=ctx, model=model, train_model=wrapped(model, args, ctx),
              optimizer=optimizer, scheduler=make_scheduler(args, optimizer), ema=ema,
              log=MetricsLog(out, enabled=False))
    batches = Batches(args, model, ctx.device, 0)
    batches.reseed(0)

    class Bar:   # train_steps' progress bar, silent
        def update(self, *_): pass
        def set_postfix(self, **_): pass

    step = [0]

    def one_step():
        train_steps(run, batches, Bar(), step[0], step[0] + 1)
        step[0] += 1

    for _ in range(a.warmup):   # first steps: allocations, compilation
        one_step()
    gen = batches.synthetic
    n_syn = batches.n_syn
    ops = {"generator": count_ops(lambda: gen.sample_with_centres(n_syn)) if gen is not None else None,
           "batch": count_ops(batches.next), "step": count_ops(one_step)}
    if gen is not None and getattr(gen, "pooled", True) is False:   # the fused generator's GPU filters, counted here
        gen.pooled = True
        ops["generator_gpu_path"] = count_ops(lambda: gen.sample_with_centres(n_syn))
        gen.pooled = False

    def rate(fn, images: int) -> float:
        times = []
        for _ in range(a.repeats):
            sync(ctx.device)
            t0 = time.perf_counter()
            for _ in range(a.time_steps):
                fn()
            sync(ctx.device)
            times.append(time.perf_counter() - t0)
        return images * a.time_steps / statistics.median(times)

    figures = {
        "device": str(ctx.device) if ctx.device.type != "cuda" else torch.cuda.get_device_name(ctx.device),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "compile": args.compile,
        "train_flags": [*DEFAULT_TRAIN, *train_argv], "batch_size": args.batch_size, "synthetic_per_step": n_syn,
        "ops_per_step": ops,
        "step_images_per_second": round(rate(one_step, args.batch_size), 1),
        "generator_images_per_second": round(rate(lambda: gen.sample_with_centres(n_syn), n_syn), 1) if gen else None,
    }
    print(f"{figures['device']}, {figures['threads']} thread(s), torch {figures['torch']}, compile {args.compile}, "
          f"synth {args.synth}, batch {args.batch_size} ({n_syn} synthetic)")
    print("operations per step: aten calls at the dispatcher / of them kernels (not views) / profiler's top-level aten")
    for name, c in ops.items():
        if c:
            print(f"  {name:<18} {c['dispatch']:>5} / {c['kernels']:>5} / {c['profiler']:>5}")
    print(f"training: {figures['step_images_per_second']:,.0f} images/s; generator alone: "
          f"{figures['generator_images_per_second'] or 0:,.0f} images/s")
    if a.json:
        a.json.write_text(json.dumps(figures, indent=1))
    distributed.teardown(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
