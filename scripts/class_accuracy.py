"""Digit accuracy by true digit on the sets where other writers' shapes show: the suite's `drawn`
(rendered and cached by `robustness`) and, when the folder is given, USPS and Semeion canvases.

    .venv/bin/python scripts/class_accuracy.py --checkpoint checkpoints/digitsum-reader --real-sets ../shared/real
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from digitsum.storage.checkpoint import load_checkpoint  # noqa: E402
from digitsum.evaluation.evaluate import metrics_from_probs, predict_batches  # noqa: E402
from digitsum.data.course import load_dataset  # noqa: E402
from digitsum.data.realsets import available, real_sets  # noqa: E402
from digitsum.data.suite import cached_suite_set  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", action="append", required=True)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--cache", type=Path, default=Path(".cache/digitsum/suite"))
    p.add_argument("--real-sets", type=Path)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    sets = {"drawn": load_dataset(cached_suite_set("drawn", a.n, a.seed, a.cache))}
    if a.real_sets is not None and available(a.real_sets):
        sets.update({k: v for k, v in real_sets(a.real_sets, a.n, a.seed).items() if k in ("usps", "semeion")})
    print("| checkpoint | set | " + " | ".join(str(d) for d in range(10)) + " |")
    print("|---|---|" + "---:|" * 10)
    for c in a.checkpoint:
        model = load_checkpoint(c, for_inference=True)
        for name, data in sets.items():
            digit_probs, sum_probs, _ = predict_batches(model, data.images, 500)
            m = metrics_from_probs(digit_probs, sum_probs, data.sums, data.digits)
            print(f"| {c} | {name} | " + " | ".join(f"{100 * m['class_accuracy'][d]:.1f}" for d in range(10)) + " |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
