"""Suite sets as a drawing or a scan shows them: dark ink on white paper (a canvas-sized set also
enlarged 3x), so that they go the way of photos and drawings through preprocessing (background,
page edges, lines, boxes, crop) instead of passing through untouched. Sum accuracy per set.
`--real-sets DIR` adds the real sets (`digitsum.data.realsets`: course canvases, USPS and Semeion
layouts) the same way, 3x and dark on white, beside their accuracy as canvases: real writing
through the drawing path (skipped, with one line, when the folder is absent).

    .venv/bin/python scripts/dark_on_white.py --checkpoint checkpoints/digitsum-reader [--n 300 --seed 11]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from digitsum.data import realsets  # noqa: E402
from digitsum.data.suite import render  # noqa: E402
from digitsum.errors import BlankImageError  # noqa: E402
from digitsum.evaluation.evaluate import evaluate  # noqa: E402
from digitsum.reading.predict import predict_image  # noqa: E402
from digitsum.storage.checkpoint import load_checkpoint  # noqa: E402

SETS = ("course", "crowded", "drawn", "shifted", "stacked")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="checkpoints/digitsum-reader")
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--real-sets", metavar="DIR", help="also the real sets in DIR (e.g. ../shared/real), "
                   "n canvases of each writer set (seed 7, the robustness table's), all course canvases")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = load_checkpoint(a.checkpoint, for_inference=True)
    print(f"| set, dark on white ({a.n} images, seed {a.seed}) | sum accuracy |")
    print("|---|---:|")
    for name in a.sets:
        images, digits = render(name, a.n, a.seed)
        sums = [int(truth.sum()) for truth in digits]
        print(f"| {name} | {accuracy(model, [np.asarray(im) for im in images], sums):.1f} % |", flush=True)
    if a.real_sets and not realsets.available(a.real_sets):
        print(f"{a.real_sets}: no real sets there; skipped", file=sys.stderr)
    elif a.real_sets:
        print("\n| real set, 3x dark on white | sum accuracy | as a canvas |\n|---|---:|---:|")
        for name, data in realsets.real_sets(a.real_sets, a.n, seed=7).items():
            as_canvas = 100 * evaluate(model, data.images, data.sums)["sum_accuracy"]
            print(f"| {name} ({len(data)}) | {accuracy(model, list(data.images), data.sums):.1f} % | "
                  f"{as_canvas:.1f} % |", flush=True)
    return 0


def accuracy(model, images: list[np.ndarray], sums) -> float:
    """% of sums read right from white-on-black images drawn dark on white (canvas-sized ones 3x)."""
    right = 0
    for ink, total in zip(images, sums):
        if ink.shape == (model.height, model.width):   # else it would pass through untouched
            ink = np.kron(ink, np.ones((3, 3), np.uint8))
        try:
            right += predict_image(model, 255 - ink).total == int(total)
        except BlankImageError:
            pass
    return 100 * right / len(images)


if __name__ == "__main__":
    sys.exit(main())
