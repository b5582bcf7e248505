"""Digit-sum models: a convolutional trunk, column features, and one of four heads.

The default, `reader`, is the column reader of `digitsum.models.reader`: its weights are shared across the
width, it finds each digit's centre and reads the digit there, and it reports where it read.
The seeds' designs below read fixed column slots instead, so they learn where a generator puts
digits; they stay in the registry for comparison.

Trunks are torchvision ResNets adapted to one-channel 40x168 images (3x3 stem, no max-pool, so a
20 px digit spans ~2.5 columns of the stride-8 feature map) or the 4-layer ConvNet baseline.
Heads: 'digits' (four 10-way digit heads; the sum follows exactly, see sumdist), 'sum' (one
37-way head, trained on sums only) and 'regression' (one number). `MODELS` is the registry of
named builders; tests run over all of it.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn as nn
import torchvision
from huggingface_hub import PyTorchModelHubMixin
from torchvision.models.resnet import BasicBlock, conv1x1

from digitsum.models import reader, seeds
from digitsum.reading.sumdist import N_DIGITS, N_SUMS, sum_distribution

MNIST_MEAN, MNIST_STD = 0.13, 0.31  # of a course canvas is lower, but this keeps inputs ~unit scale
HEADS = ("digits", "sum", "regression", "centers")
COLUMNS = 21                         # column features the heads see (168 / 8)


def _small_resnet(widths=(32, 64, 128, 192)) -> tuple[nn.Module, int]:
    """ResNet with one torchvision BasicBlock a stage, for training on a CPU."""
    layers = [nn.Conv2d(1, 24, 3, 1, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU(inplace=True)]
    in_ch = 24
    for width, stride in zip(widths, (2, 2, 2, 1)):
        down = nn.Sequential(conv1x1(in_ch, width, stride), nn.BatchNorm2d(width))
        layers.append(BasicBlock(in_ch, width, stride, downsample=down))
        in_ch = width
    return nn.Sequential(*layers), in_ch


def _torchvision_resnet(arch: str) -> tuple[nn.Module, int]:
    """A torchvision ResNet trunk with a 1-channel 3x3 stem and no max-pool (CIFAR-style)."""
    net = getattr(torchvision.models, arch)(weights=None)
    net.conv1 = nn.Conv2d(1, 64, 3, 1, 1, bias=False)
    trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.layer1, net.layer2, net.layer3, net.layer4)
    return trunk, net.fc.in_features


def _convnet4() -> tuple[nn.Module, int]:
    """The seeds' baseline: four conv-BN-ReLU layers, three 2x2 max-pools."""
    layers, in_ch = [], 1
    for i, width in enumerate((32, 64, 128, 128)):
        layers += [nn.Conv2d(in_ch, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        if i < 3:
            layers.append(nn.MaxPool2d(2))
        in_ch = width
    return nn.Sequential(*layers), in_ch


def _vgg11_frozen() -> tuple[nn.Module, int]:
    """Seed 003's VGG transfer: a learned 1x1 adapter from the one-channel canvas to three
    channels, then torchvision vgg11's convolutions cut after the third max-pool (stride 8, so
    40x168 gives the 21 columns the heads read), with requires_grad False: only the adapter and
    the head learn. Frozen features only mean something with ImageNet weights loaded
    (`load_torchvision_weights`); without them they stay random."""
    adapter = nn.Conv2d(1, 3, 1)
    nn.init.constant_(adapter.weight, 1.0)
    nn.init.zeros_(adapter.bias)
    features = torchvision.models.vgg11(weights=None).features
    cut = [i for i, m in enumerate(features) if isinstance(m, nn.MaxPool2d)][2] + 1
    features = features[:cut]
    for p in features.parameters():
        p.requires_grad = False
    return nn.Sequential(adapter, features), 256


TRUNKS = {
    "resnet_small": _small_resnet,
    "resnet18": lambda: _torchvision_resnet("resnet18"),
    "resnet34": lambda: _torchvision_resnet("resnet34"),
    "resnet50": lambda: _torchvision_resnet("resnet50"),
    "resnet101": lambda: _torchvision_resnet("resnet101"),
    "convnet4": _convnet4,
    "reader": reader.reader_trunk,
    "vgg11_frozen": _vgg11_frozen,
    **seeds.TRUNKS,      # the seeds' torchvision ResNets: 7x7/2 stem, max-pool, global pool (digitsum.models.seeds)
}


class DigitSumNet(nn.Module, PyTorchModelHubMixin, library_name="digitsum",
                  tags=["digitsum", "mnist", "image-classification"], license="mit"):
    """images (B, 1, H, W) in [0, 1], white ink on black -> head outputs (see `forward`).

    The constructor arguments are the whole config: PyTorchModelHubMixin saves them as
    config.json beside model.safetensors and rebuilds the model from them.
    """

    def __init__(self, trunk: str = "resnet_small", head: str = "digits", height: int = 40,
                 width: int = 168, hidden: int = 256, dropout: float = 0.1, head_blocks: int = 1,
                 row_features: bool = False):
        super().__init__()
        if trunk not in TRUNKS:
            raise ValueError(f"unknown trunk {trunk!r}; choose from {sorted(TRUNKS)}")
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; choose from {HEADS}")
        self.trunk_name, self.head_kind, self.height, self.width = trunk, head, height, width
        if (trunk == "reader") != (head == "centers"):
            raise ValueError("the 'reader' trunk and the 'centers' head go together")
        if row_features and head != "centers":
            raise ValueError("row_features is an option of the reader ('centers' head) only")
        self.row_features = row_features
        self.trunk, channels = TRUNKS[trunk]()
        if seeds.is_seed_trunk(trunk):   # torchvision's global pool and fc, as the seeds built them
            self.seed_head = seeds.SeedHead(channels, head, N_DIGITS, N_SUMS)
            return
        if head == "centers":   # position-free: per-column maps, decoded into four digits
            # row_features: each feature row too, beside their max and mean, so that two digits in
            # the same columns at different heights (written one above the other) stay apart
            rows = reader.trunk_rows(height) if row_features else 0
            self.column_head = reader.ColumnHead((2 + rows) * channels, hidden, dropout, head_blocks)
            return
        # column features: max and mean over height (digits sit at any height), resampled to a
        # fixed number of columns, so position along the canvas is what tells the digits apart
        self.columns = nn.AdaptiveAvgPool1d(COLUMNS)
        self.mix = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * channels * COLUMNS, hidden),
                                 nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Dropout(dropout))
        n_out = {"digits": 10, "sum": N_SUMS, "regression": 1}[head]
        n_heads = N_DIGITS if head == "digits" else 1
        self.heads = nn.ModuleList(nn.Linear(hidden, n_out) for _ in range(n_heads))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """-> digits: (B, 4, 10) logits; sum: (B, 37) logits; regression: (B,) predicted sum;
        centers: (B, 11, W/2) maps (centre logit + 10 class logits per 2 px of width)."""
        x = self.trunk((images - MNIST_MEAN) / MNIST_STD)               # (B, C, h, w)
        if seeds.is_seed_trunk(self.trunk_name):
            return self.seed_head(x)
        cols = torch.cat([x.amax(dim=2), x.mean(dim=2)], dim=1)          # (B, 2C, w)
        if self.head_kind == "centers":
            if self.row_features:
                cols = torch.cat([cols, x.flatten(1, 2)], dim=1)           # (B, (2 + h) C, w)
            return self.column_head(cols)
        z = self.mix(self.columns(cols))                                 # (B, hidden)
        if self.head_kind == "digits":
            return torch.stack([head(z) for head in self.heads], dim=1)  # (B, 4, 10)
        out = self.heads[0](z)
        return out.squeeze(1) if self.head_kind == "regression" else out

    @property
    def reads_positions(self) -> bool:
        return self.head_kind == "centers"

    @torch.no_grad()
    def read(self, images: torch.Tensor) -> Reading:
        """-> a Reading: digits, sum, and (readers only) where each digit was read and how strong
        the centre peaks were."""
        if self.head_kind == "centers":
            logits, where, peaks = reader.read_padded(self, images)
            digit_probs = torch.softmax(logits, dim=-1)
            return Reading(digit_probs, sum_distribution(digit_probs), where, peaks)
        if self.head_kind == "digits":
            digit_probs = torch.softmax(self(images).float(), dim=-1)
            return Reading(digit_probs, sum_distribution(digit_probs))
        return Reading(*self.predict_proba(images))

    @torch.no_grad()
    def predict_proba(self, images: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """-> (digit probabilities (B, 4, 10) or None for sum-only heads, sum probabilities (B, 37))."""
        if self.head_kind == "centers":
            return self.read(images)[:2]
        out = self(images).float()
        if self.head_kind == "digits":
            digit_probs = torch.softmax(out, dim=-1)
            return digit_probs, sum_distribution(digit_probs)
        if self.head_kind == "sum":
            return None, torch.softmax(out, dim=-1)
        # regression: a unit-width discretised Gaussian around the predicted value
        values = torch.arange(N_SUMS, device=out.device, dtype=out.dtype)
        return None, torch.softmax(-0.5 * ((values[None] - out[:, None]) / 0.5) ** 2, dim=-1)


class Reading(NamedTuple):
    digit_probs: torch.Tensor | None          # (B, 4, 10); None for sum-only heads
    sum_probs: torch.Tensor                   # (B, 37)
    x_centres: torch.Tensor | None = None     # (B, 4) canvas px where each digit was read (readers)
    peak_probs: torch.Tensor | None = None    # (B, 5) the strongest centre peaks, strongest first (readers)


# the registry: name -> config; `create_model(name)` builds one
MODELS: dict[str, dict] = {
    "reader": dict(trunk="reader", head="centers", hidden=128),
    "reader_deep": dict(trunk="reader", head="centers", hidden=128, head_blocks=3),
    "reader_rows": dict(trunk="reader", head="centers", hidden=128, row_features=True),
    "resnet_small": dict(trunk="resnet_small", head="digits"),
    "resnet18": dict(trunk="resnet18", head="digits"),
    "resnet34": dict(trunk="resnet34", head="digits"),
    "resnet50": dict(trunk="resnet50", head="digits"),
    "resnet101": dict(trunk="resnet101", head="digits"),
    "resnet_small_sum37": dict(trunk="resnet_small", head="sum"),
    "resnet_small_regression": dict(trunk="resnet_small", head="regression"),
    "convnet4": dict(trunk="convnet4", head="digits"),
    # the seeds' other designs (python -m train.experiments seeds)
    "convnet4_sum37": dict(trunk="convnet4", head="sum"),
    "resnet50_sum37": dict(trunk="resnet50", head="sum"),
    "vgg11_frozen_digits": dict(trunk="vgg11_frozen", head="digits"),
    # the seeds' ResNets as they built them: torchvision stem, global pool, fc (digitsum.models.seeds)
    **seeds.MODELS,
}


DEFAULT_MODEL = "reader"


def create_model(name: str, **overrides) -> DigitSumNet:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return DigitSumNet(**{**MODELS[name], **overrides})


def load_torchvision_weights(model: DigitSumNet, source) -> dict:
    """Load a torchvision ImageNet state_dict (a file read with torch.load(weights_only=True), or
    the dict itself) into the trunk of a 'resnet18/34/50/101', 'tv_resnet18/50/101', 'vgg11_frozen' or 'tv_vgg11_frozen' model; the head
    stays as it is. A ResNet's 3-channel 7x7 stem becomes our 1-channel 3x3 stem, or the seeds' 1-channel
    7x7 one (`_gray_stem`).
    -> {"loaded": [names], "adapted": [names], "skipped": [names of the source's]}.
    A shape that fits nowhere is an error, never a silent skip."""
    from digitsum.errors import CheckpointError
    if not isinstance(source, dict):
        source = read_state_dict(source)
    if isinstance(source, dict) and isinstance(source.get("state_dict"), dict):   # a training script's wrapper
        source = source["state_dict"]
    trunk = model.trunk_name
    mine = model.state_dict()
    new, loaded, adapted = {}, [], []
    for theirs, ours in _torchvision_names(trunk, source).items():
        if ours not in mine:
            continue          # e.g. VGG layers past our cut
        t = source[theirs]
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"{theirs}: not a tensor")
        if t.shape != mine[ours].shape and theirs == "conv1.weight" and t.ndim == 4:
            t = _gray_stem(t, mine[ours].shape[-1])
            adapted.append(theirs)
        if t.shape != mine[ours].shape:
            raise CheckpointError(f"{theirs} {tuple(t.shape)} does not fit {ours} {tuple(mine[ours].shape)}")
        new[ours] = t.to(mine[ours].dtype)
        loaded.append(theirs)
    if not loaded:
        raise CheckpointError(f"no tensor of the given state_dict fits the {trunk} trunk (not torchvision weights?)")
    missing = sorted(k for k in mine if k.startswith("trunk.") and k not in new)
    with torch.no_grad():
        for name, t in new.items():
            mine[name].copy_(t)
    return {"loaded": loaded, "adapted": adapted, "skipped": sorted(set(source) - set(loaded)),
            "trunk_tensors_not_loaded": missing}


def read_state_dict(path, name: str | None = None) -> object:
    """What a torchvision weights file holds, read with weights_only=True (plain tensors only; a
    missing file or another pickle is a CheckpointError). `name`: how the error calls the file
    (default: its path)."""
    from digitsum.errors import CheckpointError
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a missing file, a pickle that is not plain tensors
        raise CheckpointError(f"{name or path}: not a readable state_dict ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:200]})") from None


def _torchvision_names(trunk: str, source: dict) -> dict[str, str]:
    """{torchvision's tensor name: ours} for the tensors of `source` that belong in our `trunk`."""
    from digitsum.errors import CheckpointError
    mapping: dict[str, str] = {}
    if trunk.startswith("tv_resnet") or (trunk.startswith("resnet") and trunk != "resnet_small"):
        prefixes = seeds.TV_RESNET_PREFIXES if seeds.is_seed_trunk(trunk) else {
            "conv1.": "trunk.0.", "bn1.": "trunk.1.", "layer1.": "trunk.3.", "layer2.": "trunk.4.",
            "layer3.": "trunk.5.", "layer4.": "trunk.6."}
        for name in source:
            for theirs, ours in prefixes.items():
                if name.startswith(theirs):
                    mapping[name] = ours + name[len(theirs):]
    elif trunk in ("vgg11_frozen", "tv_vgg11_frozen"):
        for name in source:
            if name.startswith("features."):
                mapping[name] = "trunk.1." + name[len("features."):]
    else:
        raise CheckpointError(f"trunk {trunk!r} has no torchvision counterpart to load ImageNet weights from")
    return mapping


def _gray_stem(t: torch.Tensor, k: int) -> torch.Tensor:
    """A 3-channel stem kernel -> 1 channel, k x k: summed over the input channels, then resampled
    (area average), the kernel's sum kept so flat ink gets the same response."""
    t = t.float().sum(1, keepdim=True)
    pooled = torch.nn.functional.adaptive_avg_pool2d(t, k) * (t.shape[-1] ** 2 / k ** 2)
    # the bins overlap (7 into 3): spread what the sum lost, so flat ink gets the same response
    return pooled + (t.sum((2, 3), keepdim=True) - pooled.sum((2, 3), keepdim=True)) / (k * k)
