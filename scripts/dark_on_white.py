"""Suite sets as a drawing or a scan shows them: dark ink on white paper (a canvas-sized set also
enlarged 3x), so that they go the way of photos and drawings through preprocessing (background,
page edges, lines, boxes, crop) instead of passing through untouched. Sum accuracy per set.

    .venv/bin/python scripts/dark_on_white.py --checkpoint checkpoints/digitsum-reader [--n 300 --seed 11]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from digitsum.data.suite import render  # noqa: E402
from digitsum.errors import BlankImageError  # noqa: E402
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
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = load_checkpoint(a.checkpoint, for_inference=True)
    print(f"| set, dark on white ({a.n} images, seed {a.seed}) | sum accuracy |")
    print("|---|---:|")
    for name in a.sets:
        images, digits = render(name, a.n, a.seed)
        right = 0
        for image, truth in zip(images, digits):
            ink = np.asarray(image)
            if ink.shape == (model.height, model.width):   # else it would pass through untouched
                ink = np.kron(ink, np.ones((3, 3), np.uint8))
            try:
                right += predict_image(model, 255 - ink).total == int(truth.sum())
            except BlankImageError:
                pass
        print(f"| {name} | {100 * right / a.n:.1f} % |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
