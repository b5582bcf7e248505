import numpy as np
import pytest

from digitsum.errors import DataError
from digitsum.data.mnist import load_mnist, write_idx


def test_vendored_mnist_is_the_standard_split():
    train_x, train_y = load_mnist("train")
    test_x, test_y = load_mnist("test")
    assert train_x.shape == (60000, 28, 28) and train_x.dtype == np.uint8
    assert test_x.shape == (10000, 28, 28) and test_y.dtype == np.uint8
    assert np.bincount(train_y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(test_y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert test_y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert train_y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert train_x.max() == 255 and train_x.min() == 0


def test_loads_a_torchvision_raw_folder(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    write_idx(raw / "t10k-images-idx3-ubyte", images)          # torchvision keeps them unzipped
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.array([1, 2, 3], np.uint8))
    x, y = load_mnist("test", root=tmp_path)
    assert np.array_equal(x, images) and y.tolist() == [1, 2, 3]


def test_missing_or_corrupt_files_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="no MNIST file"):
        load_mnist("test", root=tmp_path / "nothing")
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"hello")
    with pytest.raises(DataError, match="t10k-images"):
        load_mnist("test", root=tmp_path)
    with pytest.raises(DataError, match="unknown MNIST split"):
        load_mnist("valid")
