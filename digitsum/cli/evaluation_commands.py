"""The commands that score checkpoints: `evaluate` (one labelled set, in detail), `robustness` (every
suite set, data/test and the real sets, as one table) and `refusal` (the four-digit check's rates)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from digitsum.errors import DigitsumError


def cmd_evaluate(a) -> int:
    from digitsum.storage.checkpoint import load_checkpoint
    from digitsum.evaluation.evaluate import metrics_from_probs, predict_batches
    from digitsum.data.course import load_dataset
    from digitsum.evaluation.slices import slices_from_probs
    if a.data is None and a.images is None:
        raise DigitsumError("give --data DIR or --images X.npy --labels Y.npy")
    if a.images is not None and a.labels is None:
        raise DigitsumError("--images needs --labels (the sums file)")
    data = load_dataset(a.data) if a.data is not None else load_dataset(a.images, a.labels, a.digits)
    models = [load_checkpoint(c, for_inference=True) for c in a.checkpoint]
    model = models[0]
    if len(models) > 1 or a.tta:   # an ensemble and/or test-time shifts, averaged
        from digitsum.models.inference import TTA_SHIFTS, AveragedReader
        try:
            model = AveragedReader(models, TTA_SHIFTS if a.tta else (0,))
        except ValueError as e:
            raise DigitsumError(str(e)) from None
    name = " + ".join(a.checkpoint) + (" (TTA)" if a.tta else "")
    digit_probs, sum_probs, rate = predict_batches(model, data.images, a.batch_size,
                                                   progress=not a.json and len(data) > 2000)
    result = metrics_from_probs(digit_probs, sum_probs, data.sums, data.digits)
    result["images_per_second"] = rate
    result["checkpoint"] = name
    result["slices"] = slices_from_probs(data.images, sum_probs, data.sums, digit_probs, data.digits)
    if a.json:
        print(json.dumps(result))
    else:
        _print_evaluation(name, data, result)
    return 0


def _print_evaluation(name: str, data, result: dict) -> None:
    from digitsum.evaluation.slices import format_slices
    print(f"{name} on {data.source}: {result['n']} images {data.images.shape[1]}x{data.images.shape[2]}")
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


def cmd_robustness(a) -> int:
    """Score checkpoints on every robustness-suite set (rendered once, cached), data/test, and, with
    --real-sets, the real images of that folder (built in memory on each run, never written)."""
    import torch
    from digitsum.storage.checkpoint import load_checkpoint
    if a.threads:
        torch.set_num_threads(a.threads)
    models = {str(c): load_checkpoint(c, for_inference=True) for c in a.checkpoint}
    real = _real_sets(a)
    # a column's source: None (a suite set, rendered or read from the cache), a folder, or a set in memory
    columns: dict = {name: None for name in a.sets}
    columns.update(real)
    if a.data_test is not None and a.data_test.exists():
        columns[str(a.data_test)] = a.data_test
    results = _score_columns(models, columns, a)
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


def _real_sets(a) -> dict:
    """--real-sets: {name: CourseDataset} of that folder's real images, or {} (with a note on stderr
    when the folder holds none)."""
    if a.real_sets is None:
        return {}
    from digitsum.data.realsets import COURSE_FILE, WRITERS_FILE, available, real_sets
    if not available(a.real_sets):
        why = f"holds neither {COURSE_FILE} nor {WRITERS_FILE}" if a.real_sets.is_dir() else "does not exist"
        print(f"real sets: {a.real_sets} {why}; their columns are skipped", file=sys.stderr, flush=True)
        return {}
    if not a.json:
        print(f"real sets from {a.real_sets} (measuring only)...", file=sys.stderr, flush=True)
    return real_sets(a.real_sets, a.n, a.seed)


def _score_columns(models: dict, columns: dict, a) -> dict[str, dict[str, dict]]:
    """-> {checkpoint: {column: scores}}, one column's images in memory at a time."""
    from digitsum.evaluation.evaluate import evaluate
    results: dict[str, dict[str, dict]] = {c: {} for c in models}
    for column, source in columns.items():
        data = _column_data(column, source, a)
        for c, model in models.items():
            r = evaluate(model, data.images, data.sums, data.digits)
            results[c][column] = {"n": r["n"], "sum_accuracy": r["sum_accuracy"], "digit_accuracy": r["digit_accuracy"],
                                  "all_digits_accuracy": r["all_digits_accuracy"]}
        del data
    return results


def _column_data(column: str, source, a):
    """A column's images: a real set as it is, a folder read, a suite set read from the cache
    (rendered into it the first time)."""
    from digitsum.data.course import CourseDataset, load_dataset
    from digitsum.data.suite import cached_suite_set
    if isinstance(source, CourseDataset):
        return source
    path: Path | None = source
    if path is None:
        if not a.json:
            print(f"suite set {column}: {a.n} images (seed {a.seed})...", file=sys.stderr, flush=True)
        path = cached_suite_set(column, a.n, a.seed, a.cache)
    return load_dataset(path)


def _cell(result: dict | None) -> str:
    if result is None:
        return "—"
    digit = result["digit_accuracy"]
    return f"{100 * result['sum_accuracy']:.1f} / " + ("—" if digit is None else f"{100 * digit:.1f}")


def cmd_refusal(a) -> int:
    """The four-digit check's false-reject and false-accept rates (digitsum.evaluation.refusal)."""
    import torch
    from digitsum.storage.checkpoint import load_checkpoint
    from digitsum.evaluation.refusal import refusal_rates
    if a.threads:
        torch.set_num_threads(a.threads)
    model = load_checkpoint(a.checkpoint, for_inference=True)
    if not model.reads_positions:
        raise DigitsumError(f"{a.checkpoint}: only readers (models that find digit centres) have the four-digit check")
    rates = refusal_rates(model, a.n, a.seed, sets=a.sets)
    if a.json:
        print(json.dumps({"checkpoint": a.checkpoint, "seed": a.seed, **rates}))
        return 0
    print(f"four-digit check of {a.checkpoint} (seed {a.seed})")
    print("| set | images | rate |\n|---|---:|---:|")
    for kind, table in (("false reject", rates["false_reject"]), ("false accept", rates["false_accept"])):
        for name, rate in table.items():
            print(f"| {kind}: {name} | {rates['n'][name]} | {100 * rate:.1f} % |")
    return 0
