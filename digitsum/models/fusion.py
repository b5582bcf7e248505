"""Inference-only speed: each BatchNorm that directly follows a convolution in a Sequential is
folded into that convolution's weights and bias (in eval mode a BatchNorm is a fixed per-channel
affine map, so the fold gives the same outputs to float rounding, with one pass over the
activations fewer). A folded model can no longer be trained: its BatchNorms are gone."""
from __future__ import annotations

import torch.nn as nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

_CONVS = (nn.Conv1d, nn.Conv2d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold (in place) every convolution + BatchNorm pair of consecutive Sequential members; the
    model is put in eval mode. Only Sequentials are touched: there the order of the members is the
    order of the forward pass, which holds for no other module in general. -> the model."""
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            _fold_sequential(module)
    return model


def _fold_sequential(seq: nn.Sequential) -> None:
    names = list(seq._modules)
    for first, second in zip(names, names[1:]):
        conv, norm = seq._modules[first], seq._modules[second]
        if isinstance(conv, _CONVS) and isinstance(norm, _NORMS) and norm.track_running_stats:
            seq._modules[first] = fuse_conv_bn_eval(conv, norm)
            seq._modules[second] = nn.Identity()

