"""Four MNIST test digits written on a page's lines: plain paper, ruled lines, squared paper, one
box per digit, a form's comb (one box split by bars), one underline per digit. Dark ink on white
at 2-4x, as a scan or a tidy photo; the sum accuracy of a checkpoint on each, and how often the
four-digit check refuses. These rules were written here, beside the preprocessing they test: a
check of what it handles, not a measure of other people's pages.

    .venv/bin/python scripts/paper_lines.py --checkpoint checkpoints/digitsum-reader [--n 200 --seed 0]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from digitsum.data.mnist import load_mnist  # noqa: E402
from digitsum.reading.predict import predict_image  # noqa: E402
from digitsum.storage.checkpoint import load_checkpoint  # noqa: E402

LAYOUTS = ("plain", "ruled", "squared", "boxes", "comb", "underlined")


def page(layout: str, digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Four 28x28 MNIST digits -> (H, W) uint8 page, dark ink on white, each digit in a cell."""
    s = rng.uniform(2.0, 4.0)                          # px per MNIST px
    cell, pen = int(36 * s), max(1, int(s * 0.7))
    gap = 0 if layout == "comb" else int(rng.uniform(0, 20) * s)
    w, h = 4 * cell + 3 * gap + 40, cell + 40
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    for k, digit in enumerate(digits):
        x0, y0 = 20 + k * (cell + gap), 20
        patch = Image.fromarray(255 - digit).resize((int(28 * s), int(28 * s)), Image.Resampling.BILINEAR)
        at = (x0 + (cell - patch.width) // 2, y0 + (cell - patch.height) // 2)
        under = img.crop((*at, at[0] + patch.width, at[1] + patch.height))
        img.paste(Image.fromarray(np.minimum(np.asarray(under), np.asarray(patch))), at)
        if layout in ("boxes", "comb"):
            inset = 3 if layout == "boxes" else 0
            draw.rectangle([x0 + inset, y0, x0 + cell - inset, y0 + cell], outline=int(rng.uniform(0, 120)), width=pen)
        elif layout == "underlined":
            draw.line([x0, y0 + cell, x0 + cell, y0 + cell], fill=60, width=pen)
    out = np.asarray(img).copy()
    if layout in ("ruled", "squared"):             # printed lines: thinner and lighter than the ink
        step, level = int(rng.uniform(0.45, 0.7) * cell), int(rng.uniform(120, 200))
        first, width = int(rng.integers(0, step)), max(1, int(s * 0.4))
        for y in range(first, h, step):
            out[y:y + width] = np.minimum(out[y:y + width], level)
        if layout == "squared":
            for x in range(first, w, step):
                out[:, x:x + width] = np.minimum(out[:, x:x + width], level)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="checkpoints/digitsum-reader")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--layouts", nargs="+", choices=LAYOUTS, default=list(LAYOUTS))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = load_checkpoint(a.checkpoint, for_inference=True)
    images, labels = load_mnist("test")
    print(f"| layout ({a.n} pages, seed {a.seed}) | sum accuracy | refused by the four-digit check |")
    print("|---|---:|---:|")
    for layout in a.layouts:
        rng = np.random.default_rng([a.seed, LAYOUTS.index(layout)])
        right = refused = 0
        for _ in range(a.n):
            pick = rng.integers(0, len(images), 4)
            prediction = predict_image(model, page(layout, images[pick], rng))
            right += prediction.total == int(labels[pick].sum())
            refused += prediction.looks_like_four_digits is False
        print(f"| {layout} | {100 * right / a.n:.1f} % | {100 * refused / a.n:.1f} % |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
