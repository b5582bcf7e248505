"""`python -m digitsum {make-dataset,evaluate,benchmark-synth}`: one-line errors, no tracebacks."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .errors import DigitsumError
from .synth import AUGMENTS, LAYOUTS


def cmd_make_dataset(a) -> int:
    from .realdata import save_course_dataset
    from .synth import generate_dataset
    if a.n <= 0:
        raise DigitsumError("--n must be positive")
    overrides = {k: v for k, v in (("height", a.height), ("width", a.width)) if v}
    images, digits = generate_dataset(a.split, a.n, a.seed, a.layout, a.augment, **overrides)
    files = save_course_dataset(a.out, images, digits.sum(1), digits)
    print(f"wrote {len(images)} images {images.shape[1]}x{images.shape[2]} from MNIST {a.split} digits: "
          + ", ".join(str(f) for f in files))
    return 0


def cmd_evaluate(a) -> int:
    from .checkpoint import load_checkpoint
    from .evaluate import evaluate
    from .realdata import load_dataset
    if a.data is None and a.images is None:
        raise DigitsumError("give --data DIR or --images X.npy --labels Y.npy")
    if a.images is not None and a.labels is None:
        raise DigitsumError("--images needs --labels (the sums file)")
    data = load_dataset(a.data) if a.data is not None else load_dataset(a.images, a.labels, a.digits)
    model = load_checkpoint(a.checkpoint)
    result = evaluate(model, data.images, data.sums, data.digits, batch_size=a.batch_size,
                      progress=not a.json and len(data) > 2000)
    result["checkpoint"] = str(a.checkpoint)
    if a.json:
        print(json.dumps(result))
        return 0
    print(f"{a.checkpoint} on {data.source}: {result['n']} images {data.images.shape[1]}x{data.images.shape[2]}")
    print(f"  sum accuracy        {result['sum_accuracy']:.4f}")
    if result["digit_accuracy"] is not None:
        print(f"  digit accuracy      {result['digit_accuracy']:.4f}  (by place: "
              + " ".join(f"{v:.4f}" for v in result["place_accuracy"]) + ")")
        print(f"  all four digits     {result['all_digits_accuracy']:.4f}")
    print(f"  throughput          {result['images_per_second']:.0f} images/s")
    print("  accuracy per sum:   " + "  ".join(f"{s}:{v:.3f}" for s, v in result["per_sum_accuracy"].items()))
    return 0


def cmd_benchmark(a) -> int:
    import torch
    from .mnist import load_mnist
    from .synth import make_generator
    if a.threads:
        torch.set_num_threads(a.threads)
    images, labels = load_mnist("train")
    for augment in a.augment:
        gen = make_generator(images, labels, a.layout, augment, device=a.device, seed=0)
        gen.sample(a.batch_size)  # warm-up
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < a.seconds:
            gen.sample(a.batch_size)
            n += a.batch_size
        if a.device.startswith("cuda"):
            torch.cuda.synchronize()
        rate = n / (time.perf_counter() - start)
        print(f"synthetic generator, layout {a.layout}, augment {augment}, {a.device}, "
              f"{torch.get_num_threads()} threads, batch {a.batch_size}: {rate:,.0f} images/s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m digitsum", description="digitsum: four handwritten digits and their sum")
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make-dataset", help="write a course-format set built from MNIST digits")
    m.add_argument("--split", choices=["train", "test"], required=True, help="MNIST digits to draw from")
    m.add_argument("--n", type=int, required=True)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--layout", choices=sorted(LAYOUTS), default="course")
    m.add_argument("--augment", choices=sorted(AUGMENTS), default="none")
    m.add_argument("--height", type=int, help="canvas height (default: the layout's)")
    m.add_argument("--width", type=int, help="canvas width (default: the layout's)")
    m.set_defaults(func=cmd_make_dataset)
    e = sub.add_parser("evaluate", help="score a checkpoint on a labelled course-format set")
    e.add_argument("--checkpoint", required=True, help="checkpoint folder or Hub repo id")
    e.add_argument("--images", type=Path, help="images .npy (N, H, W) uint8")
    e.add_argument("--labels", type=Path, help="sums .npy (N,)")
    e.add_argument("--digits", type=Path, help="digit labels .npy (N, 4)")
    e.add_argument("--data", type=Path, help="course-format folder (data*/lab*[/digits*].npy or labels.csv)")
    e.add_argument("--batch-size", type=int, default=500)
    e.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    e.set_defaults(func=cmd_evaluate)
    b = sub.add_parser("benchmark-synth", help="measure the synthetic generator's images per second")
    b.add_argument("--layout", choices=sorted(LAYOUTS), default="course")
    b.add_argument("--augment", choices=sorted(AUGMENTS), nargs="+", default=["none", "train"])
    b.add_argument("--batch-size", type=int, default=2048)
    b.add_argument("--seconds", type=float, default=5.0)
    b.add_argument("--device", default="cpu")
    b.add_argument("--threads", type=int, default=0)
    b.set_defaults(func=cmd_benchmark)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except DigitsumError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # e.g. a canvas too small for the chosen layout
        print(f"error: {e}", file=sys.stderr)
        return 2
