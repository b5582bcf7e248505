"""Where the `stacked` suite set loses: digit accuracy of the digits in a stacked pair (ink at the
top or bottom edge of the canvas) against the free digits of the same images.

    .venv/bin/python scripts/stacked_pairs.py --checkpoint checkpoints/digitsum-reader [--n 300 --seed 7]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from digitsum.data.suite.presets import SUITE_PRESETS  # noqa: E402
from digitsum.data.suite.stacked import render_stacked  # noqa: E402
from digitsum.errors import DigitsumError  # noqa: E402
from digitsum.reading.preprocess.canvas import fit_batch  # noqa: E402
from digitsum.storage.checkpoint import load_checkpoint  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", action="append", required=True)
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    preset = SUITE_PRESETS["stacked"]
    images, digits, boxes = render_stacked("stacked", preset, a.n, a.seed)   # boxes: x, y, width, height
    height = images.shape[1]
    in_pair = (boxes[..., 1] <= preset.edge[1]) | (boxes[..., 1] + boxes[..., 3] >= height - preset.edge[1])
    for checkpoint in a.checkpoint:
        try:
            model = load_checkpoint(checkpoint, for_inference=True)
        except DigitsumError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        canvases = fit_batch(images, model.height, model.width)
        reading = model.read(torch.from_numpy(canvases[:, None]))
        right = reading.digit_probs.argmax(-1).numpy() == digits
        print(f"{checkpoint}: {a.n} images, all four digits right {right.all(1).mean():.1%}; digits in a stacked "
              f"pair {right[in_pair].mean():.1%} ({in_pair.sum()}), free digits {right[~in_pair].mean():.1%} "
              f"({(~in_pair).sum()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
