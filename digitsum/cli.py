"""`python -m digitsum {make-dataset,evaluate,robustness,benchmark-synth}`: one-line errors, no tracebacks."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from digitsum.errors import DigitsumError
from digitsum.flags import OneLineParser, check_device, check_output_folder
from digitsum.data.suite import SUITE_PRESETS
from digitsum.data.synth import AUGMENTS, LAYOUTS


def check_args(a) -> None:
    """Numbers and folders shared by the subcommands, checked before anything is loaded or rendered."""
    for name in ("n", "batch_size", "repeats", "seconds", "height", "width"):
        value = getattr(a, name, None)
        if value is not None and not value > 0:
            raise DigitsumError(f"--{name.replace('_', '-')} must be positive")
    if getattr(a, "threads", 0) < 0:
        raise DigitsumError("--threads must not be negative (0 = torch's default)")
    if a.command == "make-dataset":
        check_output_folder("--out", a.out)
    if a.command == "robustness":
        check_output_folder("--cache", a.cache)
        if a.data_test.exists() and not a.data_test.is_dir():
            raise DigitsumError(f"--data-test {a.data_test}: a course-format folder, not a file")
    if a.command == "fetch-hand-fonts" and a.folder is not None:
        check_output_folder("--folder", a.folder)
    if a.command == "benchmark-synth":
        check_device(a.device, allow_auto=False)


def cmd_make_dataset(a) -> int:
    if a.preset is not None:
        return cmd_make_suite_set(a)
    from digitsum.data.course import save_course_dataset
    from digitsum.data.synth import generate_dataset
    if a.n <= 0:
        raise DigitsumError("--n must be positive")
    overrides = {k: v for k, v in (("height", a.height), ("width", a.width)) if v}
    images, digits = generate_dataset(a.split, a.n, a.seed, a.layout, a.augment, **overrides)
    files = save_course_dataset(a.out, images, digits.sum(1), digits)
    print(f"wrote {len(images)} images {images.shape[1]}x{images.shape[2]} from MNIST {a.split} digits: "
          + ", ".join(str(f) for f in files))
    return 0


def cmd_make_suite_set(a) -> int:
    """make-dataset --preset NAME: one robustness-suite set (digitsum.data.suite), MNIST test digits only."""
    from digitsum.data.suite import get_preset, write_suite_set
    if a.split != "test":
        raise DigitsumError("--preset renders robustness test sets from MNIST test digits only: use --split test")
    if a.height or a.width:
        raise DigitsumError("--height/--width do not apply to --preset (each preset has its own canvas)")
    if a.n <= 0:
        raise DigitsumError("--n must be positive")
    files = write_suite_set(a.preset, a.n, a.seed, a.out)
    h, w = get_preset(a.preset).stored_size
    print(f"wrote {a.n} images {h}x{w} of suite set {a.preset!r} (seed {a.seed}): " + ", ".join(str(f) for f in files))
    return 0


def _cell(result: dict | None) -> str:
    if result is None:
        return "—"
    digit = result["digit_accuracy"]
    return f"{100 * result['sum_accuracy']:.1f} / " + ("—" if digit is None else f"{100 * digit:.1f}")


def cmd_robustness(a) -> int:
    """Score checkpoints on every robustness-suite set (rendered once, cached), data/test, and, with
    --real-sets, the real images of that folder (built in memory on each run, never written)."""
    import torch
    from digitsum.storage.checkpoint import load_checkpoint
    from digitsum.evaluation.evaluate import evaluate
    from digitsum.data.course import CourseDataset, load_dataset
    from digitsum.data.suite import cached_suite_set
    if a.n <= 0:
        raise DigitsumError("--n must be positive")
    if a.real_sets is not None and a.real_sets.exists() and not a.real_sets.is_dir():
        raise DigitsumError(f"--real-sets {a.real_sets}: a folder (course_canvases.npz, writers.npz), not a file")
    if a.threads:
        torch.set_num_threads(a.threads)
    models = {str(c): load_checkpoint(c) for c in a.checkpoint}
    columns: dict[str, Path | CourseDataset | None] = {name: None for name in a.sets}
    real: dict[str, CourseDataset] = {}
    if a.real_sets is not None:
        from digitsum.data.realsets import COURSE_FILE, WRITERS_FILE, available, real_sets
        if available(a.real_sets):
            if not a.json:
                print(f"real sets from {a.real_sets} (measuring only)...", file=sys.stderr, flush=True)
            real = real_sets(a.real_sets, a.n, a.seed)
            columns.update(real)
        else:
            why = f"holds neither {COURSE_FILE} nor {WRITERS_FILE}" if a.real_sets.is_dir() else "does not exist"
            print(f"real sets: {a.real_sets} {why}; their columns are skipped", file=sys.stderr, flush=True)
    if a.data_test is not None and a.data_test.exists():
        columns[str(a.data_test)] = a.data_test
    results: dict[str, dict[str, dict]] = {c: {} for c in models}
    for column, source in columns.items():
        if isinstance(source, CourseDataset):
            data = source
        else:
            path = source
            if path is None:
                if not a.json:
                    print(f"suite set {column}: {a.n} images (seed {a.seed})...", file=sys.stderr, flush=True)
                path = cached_suite_set(column, a.n, a.seed, a.cache)
            data = load_dataset(path)
        for c, model in models.items():
            r = evaluate(model, data.images, data.sums, data.digits)
            results[c][column] = {"n": r["n"], "sum_accuracy": r["sum_accuracy"], "digit_accuracy": r["digit_accuracy"],
                                  "all_digits_accuracy": r["all_digits_accuracy"]}
        del data
    if a.json:
        print(json.dumps({"n": a.n, "seed": a.seed, "sets": list(columns),
                          "real_sets": str(a.real_sets) if real else None, "results": results}))
        return 0
    print(f"robustness suite: {a.n} images per set (seed {a.seed}); cells are sum accuracy % / digit accuracy %")
    if real:
        print(f"real sets from {a.real_sets} (measuring only; — where there are no digit labels): "
              + ", ".join(f"{name} {len(data)} images" for name, data in real.items()))
    print("| checkpoint | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for c in models:
        print(f"| {c} | " + " | ".join(_cell(results[c].get(col)) for col in columns) + " |")
    return 0


def cmd_evaluate(a) -> int:
    from digitsum.storage.checkpoint import load_checkpoint
    from digitsum.evaluation.evaluate import metrics_from_probs, predict_batches
    from digitsum.data.course import load_dataset
    from digitsum.evaluation.slices import format_slices, slices_from_probs
    if a.data is None and a.images is None:
        raise DigitsumError("give --data DIR or --images X.npy --labels Y.npy")
    if a.images is not None and a.labels is None:
        raise DigitsumError("--images needs --labels (the sums file)")
    data = load_dataset(a.data) if a.data is not None else load_dataset(a.images, a.labels, a.digits)
    models = [load_checkpoint(c) for c in a.checkpoint]
    model = models[0]
    if len(models) > 1 or a.tta:   # an ensemble and/or test-time shifts, averaged
        from digitsum.models.inference import TTA_SHIFTS, AveragedReader
        try:
            model = AveragedReader(models, TTA_SHIFTS if a.tta else (0,))
        except ValueError as e:
            raise DigitsumError(str(e)) from None
    a.checkpoint = " + ".join(a.checkpoint) + (" (TTA)" if a.tta else "")
    digit_probs, sum_probs, rate = predict_batches(model, data.images, a.batch_size,
                                                   progress=not a.json and len(data) > 2000)
    result = metrics_from_probs(digit_probs, sum_probs, data.sums, data.digits)
    result["images_per_second"] = rate
    result["checkpoint"] = str(a.checkpoint)
    result["slices"] = slices_from_probs(data.images, sum_probs, data.sums, digit_probs, data.digits)
    if a.json:
        print(json.dumps(result))
        return 0
    print(f"{a.checkpoint} on {data.source}: {result['n']} images {data.images.shape[1]}x{data.images.shape[2]}")
    print(f"  sum accuracy        {result['sum_accuracy']:.4f}")
    if result["digit_accuracy"] is not None:
        print(f"  digit accuracy      {result['digit_accuracy']:.4f}  (by place: "
              + " ".join(f"{v:.4f}" for v in result["place_accuracy"]) + ")")
        print(f"  all four digits     {result['all_digits_accuracy']:.4f}")
        print("  by true digit       " + " ".join(f"{d}:{v:.3f}" for d, v in result["class_accuracy"].items()))
    print(f"  throughput          {result['images_per_second']:.0f} images/s")
    print("  accuracy per sum:   " + "  ".join(f"{s}:{v:.3f}" for s, v in result["per_sum_accuracy"].items()))
    print("  accuracy by layout slice (sum" + ("/digit" if result["digit_accuracy"] is not None else "")
          + " accuracy, images), measured from the images:")
    print("\n".join(format_slices(result["slices"])))
    return 0


def cmd_benchmark(a) -> int:
    import torch
    from digitsum.data.mnist import load_mnist
    from digitsum.data.synth import make_generator
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


def _resnet18_reference():
    """torchvision's resnet18 with a 1-channel 7x7/2 stem: the speed yardstick."""
    import torch
    import torchvision
    net = torchvision.models.resnet18(weights=None)
    net.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    return net.eval()


def _best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def cmd_benchmark_model(a) -> int:
    """Forward pass against resnet18 (side by side, one process), one image end to end, and
    batched evaluation of a course set, for a checkpoint."""
    import numpy as np
    import torch
    from digitsum.storage.checkpoint import load_checkpoint
    from digitsum.evaluation.evaluate import predict_batches
    from digitsum.reading.predict import predict_image
    from digitsum.data.synth import generate_dataset
    if a.threads:
        torch.set_num_threads(a.threads)
    model = load_checkpoint(a.checkpoint)
    reference = _resnet18_reference()
    x = torch.rand(a.batch_size, 1, model.height, model.width)
    with torch.inference_mode():
        # interleaved, best of `repeats`: both see the same machine state
        ref_s, ours_s = [], []
        for _ in range(a.repeats):
            ref_s.append(_best_seconds(lambda: reference(x), 1))
            ours_s.append(_best_seconds(lambda: model(x), 1))
    ref_best, ours_best = min(ref_s), min(ours_s)
    print(f"{a.checkpoint}: {torch.get_num_threads()} threads")
    print(f"  forward, batch {a.batch_size} at {model.height}x{model.width}: {ours_best * 1000:.0f} ms; "
          f"resnet18 (1-channel 7x7/2 stem) {ref_best * 1000:.0f} ms; speed-up {ref_best / ours_best:.2f}x")
    images, _ = generate_dataset("test", a.n, seed=1)
    one = images[0]
    times = []
    for _ in range(a.repeats * 5):
        start = time.perf_counter()
        predict_image(model, one)
        times.append(time.perf_counter() - start)
    print(f"  one image (preprocessing + model + decoding), median of {len(times)}: {np.median(times) * 1000:.1f} ms")
    _, _, rate = predict_batches(model, images, batch_size=500)
    print(f"  evaluation, {a.n} course images in batches of 500: {rate:,.0f} images/s")
    return 0


def cmd_refusal(a) -> int:
    """The four-digit check's false-reject and false-accept rates (digitsum.evaluation.refusal)."""
    import torch
    from digitsum.storage.checkpoint import load_checkpoint
    from digitsum.evaluation.refusal import refusal_rates
    if a.threads:
        torch.set_num_threads(a.threads)
    model = load_checkpoint(a.checkpoint)
    if not model.reads_positions:
        raise DigitsumError(f"{a.checkpoint}: only readers (models that find digit centres) have the four-digit check")
    rates = refusal_rates(model, a.n, a.seed)
    if a.json:
        print(json.dumps({"checkpoint": a.checkpoint, "seed": a.seed, **rates}))
        return 0
    print(f"four-digit check of {a.checkpoint} (seed {a.seed})")
    print("| set | images | rate |\n|---|---:|---:|")
    for kind, table in (("false reject", rates["false_reject"]), ("false accept", rates["false_accept"])):
        for name, rate in table.items():
            print(f"| {kind}: {name} | {rates['n'][name]} | {100 * rate:.1f} % |")
    return 0


def cmd_fetch_hand_fonts(a) -> int:
    """The handwriting fonts of training's --hand-digits (digitsum.data.handfonts), fetched once."""
    from digitsum.data.handfonts import HAND_FONTS, cache_folder, fetch
    fetch(a.folder, say=print)
    print(f"{len(HAND_FONTS)} handwriting fonts in {cache_folder(a.folder)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m digitsum", description="digitsum: four handwritten digits and their sum")
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
    m.add_argument("--preset", choices=list(SUITE_PRESETS),
                   help="a robustness-suite set (digitsum.data.suite, its own renderer; --split test only); "
                        "--layout/--augment are then not used")
    m.set_defaults(func=cmd_make_dataset)
    e = sub.add_parser("evaluate", help="score a checkpoint on a labelled course-format set")
    e.add_argument("--checkpoint", required=True, nargs="+",
                   help="checkpoint folder, or hf://owner/name for one on the Hugging Face Hub; several: their ensemble "
                        "(digit probabilities averaged)")
    e.add_argument("--tta", action="store_true", help="test-time augmentation: average over small vertical shifts")
    e.add_argument("--images", type=Path, help="images .npy (N, H, W) uint8")
    e.add_argument("--labels", type=Path, help="sums .npy (N,)")
    e.add_argument("--digits", type=Path, help="digit labels .npy (N, 4)")
    e.add_argument("--data", type=Path, help="course-format folder (data*/lab*[/digits*].npy or labels.csv)")
    e.add_argument("--batch-size", type=int, default=500)
    e.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    e.set_defaults(func=cmd_evaluate)
    r = sub.add_parser("robustness", help="score checkpoints on the robustness suite (layouts not in training)")
    r.add_argument("--checkpoint", action="append", required=True,
                   help="checkpoint folder, or hf://owner/name for one on the Hugging Face Hub; repeat for several")
    r.add_argument("--n", type=int, default=2000, help="images per suite set")
    r.add_argument("--seed", type=int, default=7)
    r.add_argument("--sets", nargs="+", choices=list(SUITE_PRESETS), default=list(SUITE_PRESETS))
    r.add_argument("--cache", type=Path, default=Path(".cache/digitsum/suite"),
                   help="where rendered suite sets are kept (by preset, n and seed)")
    r.add_argument("--data-test", type=Path, default=Path("data/test"),
                   help="a course-format test folder, added as a column when it exists")
    r.add_argument("--real-sets", type=Path, default=None,
                   help="a folder of real images, for measuring only (e.g. ../shared/real: course_canvases.npz, "
                        "writers.npz): their columns are added when it exists, skipped with a note when not")
    r.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    r.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    r.set_defaults(func=cmd_robustness)
    bm = sub.add_parser("benchmark-model", help="time a checkpoint: forward vs resnet18, one image, evaluation")
    bm.add_argument("--checkpoint", default="checkpoints/digitsum-reader")
    bm.add_argument("--batch-size", type=int, default=256)
    bm.add_argument("--repeats", type=int, default=5)
    bm.add_argument("--n", type=int, default=5000, help="course images for the evaluation figure")
    bm.add_argument("--threads", type=int, default=0)
    bm.set_defaults(func=cmd_benchmark_model)
    rf = sub.add_parser("refusal", help="how often the four-digit check refuses digits and accepts non-digits")
    rf.add_argument("--checkpoint", default="checkpoints/digitsum-reader")
    rf.add_argument("--n", type=int, default=600, help="images per digit set, and non-digit images in all")
    rf.add_argument("--seed", type=int, default=1, help="the threshold was set on seed 5; report on others")
    rf.add_argument("--threads", type=int, default=0)
    rf.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    rf.set_defaults(func=cmd_refusal)
    b = sub.add_parser("benchmark-synth", help="measure the synthetic generator's images per second")
    b.add_argument("--layout", choices=sorted(LAYOUTS), default="course")
    b.add_argument("--augment", choices=sorted(AUGMENTS), nargs="+", default=["none", "train"])
    b.add_argument("--batch-size", type=int, default=2048)
    b.add_argument("--seconds", type=float, default=5.0)
    b.add_argument("--device", default="cpu")
    b.add_argument("--threads", type=int, default=0)
    b.set_defaults(func=cmd_benchmark)
    hf = sub.add_parser("fetch-hand-fonts", help="download the pinned handwriting fonts of training's --hand-digits "
                        "from the npm registry (verified; nothing is downloaded when they are there)")
    hf.add_argument("--folder", type=Path, default=None, help="where they are kept (default: digitsum.data.handfonts.CACHE, "
                    ".cache/digitsum/hand-fonts under the repo)")
    hf.set_defaults(func=cmd_fetch_hand_fonts)
    return p


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        check_args(args)
        return args.func(args)
    except (DigitsumError, ValueError) as e:  # ValueError: e.g. a canvas too small for the chosen layout
        print("error: " + " ".join(str(e).splitlines()), file=sys.stderr)
        return 2
