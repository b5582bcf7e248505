import os
import socket

import numpy as np
import pytest
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the network
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def make_course_set(tmp_path_factory):
    """-> make(n, seed): a course-format set (40x168) of n images built from MNIST test digits,
    with digit labels, in a fresh folder."""
    from digitsum.data.course import save_course_dataset
    from digitsum.data.synth import generate_dataset

    def make(n: int, seed: int):
        images, digits = generate_dataset("test", n, seed=seed)
        folder = tmp_path_factory.mktemp("course")
        save_course_dataset(folder, images, digits.sum(1), digits)
        return folder
    return make


@pytest.fixture(scope="session")
def course_set(make_course_set):
    """A small course-format set, for plumbing tests."""
    return make_course_set(64, seed=5)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """An untrained small model saved as a checkpoint (for plumbing tests, not accuracy)."""
    from digitsum.storage.checkpoint import save_checkpoint
    from digitsum.models.net import create_model
    torch.manual_seed(0)
    model = create_model("convnet4").eval()
    return save_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "tiny", {"command": "test"}, {})


@pytest.fixture
def service(tmp_path, course_set, tiny_checkpoint):
    """The app's service on the tiny checkpoint and the small course set, its labels database,
    cache and exports in this test's own folder."""
    from digitsum.app.service import DigitsumService
    return DigitsumService([str(tiny_checkpoint.parent)], data_dir=course_set, labels_db=tmp_path / "labels.db",
                           cache_dir=tmp_path / "cache", exports_dir=tmp_path / "exports")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def free_port():
    """-> free_port(): a port on 127.0.0.1 that nothing listens on now, for an app to serve on."""
    return _free_port


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """val/ (MNIST train digits) and test/ (MNIST test digits), small, as the seeds' `--data` expects."""
    from digitsum.data.course import save_course_dataset
    from digitsum.data.synth import generate_dataset
    root = tmp_path_factory.mktemp("data")
    for name, split, n, seed in (("val", "train", 32, 2), ("test", "test", 64, 1234)):
        images, digits = generate_dataset(split, n, seed=seed)
        save_course_dataset(root / name, images, digits.sum(1), digits)
    return root
