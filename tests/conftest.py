import os

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
def rng():
    return np.random.default_rng(0)
