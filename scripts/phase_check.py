"""Does a reader's answer depend on the stride phase? Sum accuracy on a course-format set with the
canvas moved right by 0-3 px (the four phases of the reader's 4 px column grid), read as shipped
(aligned to the grid) and unaligned, and on the real course canvases when their folder is given.

    .venv/bin/python scripts/phase_check.py --checkpoint checkpoints/digitsum-reader --data data/test \
        --real-sets ../shared/real
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from digitsum.models import reader  # noqa: E402
from digitsum.storage.checkpoint import load_checkpoint  # noqa: E402
from digitsum.evaluation.evaluate import predict_batches  # noqa: E402
from digitsum.data.course import load_dataset  # noqa: E402
from digitsum.data.realsets import available, course_canvases  # noqa: E402


def unaligned(images, ink_level=0.3):
    """align_to_stride's signature, shifting nothing."""
    return images, torch.zeros(images.shape[0], dtype=torch.long, device=images.device)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", type=Path, default=Path("data/test"))
    p.add_argument("--real-sets", type=Path)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model, data = load_checkpoint(a.checkpoint, for_inference=True), load_dataset(a.data)
    real = course_canvases(a.real_sets) if a.real_sets is not None and available(a.real_sets) else {}

    def accuracy(images, sums):
        return float((predict_batches(model, images, 500)[1].argmax(1) == sums).mean())
    for name, align in (("aligned (as shipped)", reader.align_to_stride), ("unaligned", unaligned)):
        reader.align_to_stride = align   # read_padded looks it up at each call
        by_phase = []
        for k in range(4):
            moved = np.zeros_like(data.images)
            moved[:, :, k:] = data.images[:, :, :data.images.shape[2] - k]
            by_phase.append(accuracy(moved, data.sums))
        line = f"{name}: {a.data} by phase " + " ".join(f"{v:.4f}" for v in by_phase)
        line += "".join(f", {k} {accuracy(d.images, d.sums):.4f}" for k, d in real.items())
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
