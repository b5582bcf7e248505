"""The seeds' own models, as the seeds built them from torchvision's standard models.

`tv_resnet18/50/101`: torchvision's ResNet with its standard 7x7 stride-2 stem and 3x3 max-pool,
the stem's conv1 taking one channel instead of three; then torchvision's global average pool and
the seed's head (`SeedHead`): a 37-way `fc` (sum), four 10-way digit heads, or one regression
output. No column features, no hidden layer, no dropout: `fc` sits on the pooled features as in
torchvision. At 40x168 the stride-32 trunk leaves a 2x6 map. Our own designs (3x3 stride-1 stem,
no max-pool, the position-aware column head) are the plain `resnet*` trunks of `digitsum.models.net`.

`tv_vgg11_frozen`: torchvision's whole vgg11 `features`, frozen, after a 1x1 one-to-three-channel
adapter, then the same global pool and fc.

ImageNet weights load as for ours (`net.load_torchvision_weights`): the 7x7 stem's three input
channels are summed into one (`TV_RESNET_PREFIXES` names where torchvision's tensors go).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torchvision

SEED_TRUNKS = ("tv_resnet18", "tv_resnet50", "tv_resnet101", "tv_vgg11_frozen")

# torchvision's tensor name prefix -> ours, for a tv_ trunk (nn.Sequential: conv1, bn1, relu, maxpool, layer1..4)
TV_RESNET_PREFIXES = {"conv1.": "trunk.0.", "bn1.": "trunk.1.", "layer1.": "trunk.4.", "layer2.": "trunk.5.",
                      "layer3.": "trunk.6.", "layer4.": "trunk.7."}


def tv_resnet(arch: str) -> tuple[nn.Module, int]:
    """torchvision's `arch` up to its last stage, conv1 taking 1 channel (7x7, stride 2, as standard),
    the max-pool kept; -> (trunk, channels of its output)."""
    net = getattr(torchvision.models, arch)(weights=None)
    net.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")   # as torchvision inits it
    trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)
    return trunk, net.fc.in_features


def tv_vgg11_frozen() -> tuple[nn.Module, int]:
    """torchvision's whole vgg11 `features` (five max-pools: 40x168 -> 1x5, 512 channels), frozen, after a
    learned 1x1 adapter from one channel to three (initialised to copy the channel). Our `vgg11_frozen`
    cuts the features after the third pool and reads them with the column head instead."""
    adapter = nn.Conv2d(1, 3, 1)
    nn.init.constant_(adapter.weight, 1.0)
    nn.init.zeros_(adapter.bias)
    features = torchvision.models.vgg11(weights=None).features
    for p in features.parameters():
        p.requires_grad = False
    return nn.Sequential(adapter, features), 512


def is_seed_trunk(name: str) -> bool:
    return name in SEED_TRUNKS


class SeedHead(nn.Module):
    """torchvision's head: global average pool, then one linear layer per output (`fc` for the sum
    and the regression, four for the digits). (B, C, h, w) -> (B, 4, 10) / (B, 37) / (B,)."""

    def __init__(self, channels: int, kind: str, n_digits: int, n_sums: int):
        super().__init__()
        self.kind = kind
        self.pool = nn.AdaptiveAvgPool2d(1)
        if kind == "digits":
            self.fc = nn.ModuleList(nn.Linear(channels, 10) for _ in range(n_digits))
        else:
            self.fc = nn.Linear(channels, n_sums if kind == "sum" else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.flatten(self.pool(x), 1)
        if self.kind == "digits":
            return torch.stack([fc(z) for fc in self.fc], dim=1)
        out = self.fc(z)
        return out.squeeze(1) if self.kind == "regression" else out


TRUNKS = {**{name: (lambda arch=name[3:]: tv_resnet(arch)) for name in SEED_TRUNKS if "resnet" in name},
          "tv_vgg11_frozen": tv_vgg11_frozen}

# the registry's seed models: name -> config (net.MODELS takes them in)
MODELS = {
    **{f"seed_{arch}_sum37": dict(trunk=f"tv_{arch}", head="sum") for arch in ("resnet18", "resnet50", "resnet101")},
    **{f"seed_{arch}_digits": dict(trunk=f"tv_{arch}", head="digits") for arch in ("resnet18", "resnet50")},
    "seed_resnet18_regression": dict(trunk="tv_resnet18", head="regression"),
    "seed_vgg11_frozen_digits": dict(trunk="tv_vgg11_frozen", head="digits"),
}
