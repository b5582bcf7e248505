"""The seeds' systems as the seeds built them (issue 18, item 1), and the rows set beside them.

The seed's ResNets are torchvision's standard ones (`digitsum.models.seeds`: 1-channel 7x7/2 stem,
max-pool, global average pool, fc) trained with the seed's recipe (`seed_recipe`): lr 1e-3 constant,
weight decay 1e-4, no clipping, no label smoothing, EMA 0.99 per step of 128 images from the first
step, with Adam (`--optimizer adam`: torch's defaults, L2 decay). The regression row trains with MSE
(`--regression-loss mse`), as the seed did. Our designs (`plan.plan_resnet_*`: 3x3 stride-1 stem,
column head) are rows of their own.
"""
from __future__ import annotations

from .plan import NO_WEIGHTS, Plan, SeedsRun, _common, _real_only

def seed_recipe(seeds: SeedsRun, ema: float) -> tuple[list, list]:
    """-> (flags, notes): Adam lr 1e-3 constant, wd 1e-4, no clipping or smoothing, and the EMA
    (`ema` per step; train's --ema-decay is per 128 images, scaled here to the budget's batch)."""
    batch = seeds.budget.batch
    flags = ["--optimizer", "adam", "--lr", "1e-3", "--weight-decay", "1e-4", "--schedule", "constant",
             "--warmup-steps", 0, "--clip-grad", 0, "--label-smoothing", 0]
    notes = []
    if ema:
        decay = round(1 - (1 - ema) * 128 / batch, 6)
        flags += ["--ema-decay", decay, "--ema-warmup", 0]
        notes.append(f"EMA {ema} per step of {batch} images (--ema-decay {decay} per 128 images), from the first step")
    else:
        flags += ["--ema-decay", 0]
    return flags, notes


def _seed_resnet(seeds: SeedsRun, name: str, arch: str, ema: float, group: str) -> Plan:
    model = f"seed_{arch}_sum37"
    weights = arch in seeds.pretrained
    flags, notes = seed_recipe(seeds, ema)
    notes.insert(0, f"from ImageNet weights (--pretrained {arch})" if weights else NO_WEIGHTS)
    # _common first: its --warmup-steps gives way to the recipe's (argparse takes the last)
    argv = ["--model", model, *_real_only(seeds), *_common(seeds, group, name), *flags]
    settings = (f"torchvision {arch} (1-channel 7x7/2 stem, max-pool, global pool, 37-way fc), real sum labels "
                f"only, lr 1e-3 constant, wd 1e-4, " + (f"EMA {ema}" if ema else "no EMA") + " (the seed's recipe)")
    return Plan(argv, model, settings, notes, init_from=arch if weights else None)


def plan_seed_resnet50_noema(seeds: SeedsRun, name: str) -> Plan:
    return _seed_resnet(seeds, name, "resnet50", 0, "resnet")


def plan_seed_resnet50_ema(seeds: SeedsRun, name: str) -> Plan:
    return _seed_resnet(seeds, name, "resnet50", 0.99, "resnet")


def plan_seed_resnet101_ema(seeds: SeedsRun, name: str) -> Plan:
    return _seed_resnet(seeds, name, "resnet101", 0.99, "resnet101")


def plan_seed_resnet18_ema(seeds: SeedsRun, name: str) -> Plan:
    """Seed 001's ResNet-18 with the ResNet-50 recipe (it reported ResNet-18 "unable to learn")."""
    return _seed_resnet(seeds, name, "resnet18", 0.99, "resnet")


def plan_regression_sum37(seeds: SeedsRun, name: str) -> Plan:
    """Seed 003 set its regression head against a 37-way head: the regression row's own trunk and
    steps, with the sum softmax."""
    argv = ["--model", "resnet_small_sum37", *_real_only(seeds), *_common(seeds, "regression", name)]
    return Plan(argv, "resnet_small_sum37", "resnet_small, 37-way sum softmax, real sum labels only; the regression "
                "row's trunk, data and steps", ["the regression row's control (seed 003 compares the two heads)"])


def _vgg_data(seeds: SeedsRun) -> list:
    return ["--real", seeds.data["real"], "--synthetic-fraction", 0.5, "--layout", "course", "--augment", "train"]


def plan_seed_vgg(seeds: SeedsRun, name: str) -> Plan:
    weights = "vgg11" in seeds.pretrained
    flags, notes = seed_recipe(seeds, 0.99)
    notes.insert(0, "from ImageNet weights (--pretrained): frozen ImageNet features" if weights else
                 "random frozen features: no ImageNet weights offline (give --pretrained PATH), so only the adapter "
                 "and the fc learn, on top of random convolutions")
    argv = ["--model", "seed_vgg11_frozen_digits", *_vgg_data(seeds), *_common(seeds, "vgg", name), *flags]
    return Plan(argv, "seed_vgg11_frozen_digits", "torchvision vgg11, all its features frozen, learned 1x1 1->3 "
                "adapter, global pool, four 10-way fc; the VGG row's data (half real sums, half course-layout "
                "synthetic with digits); the seed's recipe", notes, init_from="vgg11" if weights else None)


def plan_vgg_baseline(seeds: SeedsRun, name: str) -> Plan:
    """Seed 003 found frozen VGG features gave "no gain" over a baseline: the 4-layer ConvNet with
    four digit heads, trained whole, on the VGG rows' data and steps."""
    argv = ["--model", "convnet4", *_vgg_data(seeds), *_common(seeds, "vgg", name)]
    return Plan(argv, "convnet4", "4-layer ConvNet trained whole, four digit heads; the VGG rows' data and steps, "
                "train defaults", ["the baseline beside frozen VGG (seed 003: no gain from VGG)"])
