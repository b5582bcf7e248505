"""Folding BatchNorm into the convolutions for inference: the same readings, fewer modules."""
import pytest
import torch
import torch.nn as nn

from digitsum.models.fusion import fold_batchnorm
from digitsum.models.net import MODELS, create_model
from digitsum.storage.checkpoint import load_checkpoint, save_checkpoint


def _with_running_stats(model: nn.Module, seed: int = 0) -> nn.Module:
    """A model whose BatchNorms hold non-trivial statistics and affine weights (fresh ones are the
    identity map, which any fold would get right)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.2)
    return model.eval()


# one model per trunk (the heads but the reader's are linear layers, which folding leaves alone)
ONE_PER_TRUNK = sorted({config["trunk"]: name for name, config in sorted(MODELS.items())}.values())


@pytest.mark.parametrize("name", ONE_PER_TRUNK)
def test_folding_keeps_every_trunks_outputs(name):
    torch.manual_seed(0)
    model = _with_running_stats(create_model(name))
    x = torch.rand(2, 1, model.height, model.width)
    with torch.no_grad():
        before = model(x)
        after = fold_batchnorm(model)(x)
    # to float rounding, relative to the outputs' scale (random statistics make deep ones huge)
    assert (before - after).abs().max() <= 1e-5 * before.abs().max().clamp_min(1.0)


def test_the_reader_keeps_no_batchnorm_and_reads_the_same_from_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = _with_running_stats(create_model("reader"))
    folder = save_checkpoint(model, tmp_path / "reader", {"command": "test"}, {})
    plain, served = load_checkpoint(folder), load_checkpoint(folder, for_inference=True)
    assert any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in served.modules())
    x = torch.rand(3, 1, 40, 168)
    a, b = plain.read(x), served.read(x)
    assert torch.allclose(a.digit_probs, b.digit_probs, atol=1e-5) and torch.equal(a.x_centres, b.x_centres)


def test_a_batchnorm_that_does_not_follow_a_convolution_is_left_alone():
    seq = _with_running_stats(nn.Sequential(nn.ReLU(), nn.BatchNorm2d(3), nn.Conv2d(3, 3, 1), nn.ReLU()))
    fold_batchnorm(seq)
    assert isinstance(seq[1], nn.BatchNorm2d)
