"""What the systems of one `seeds` call share: the data sets (made once under DIR/data, never mixing
MNIST train and test digits) and the ImageNet weights, and the --init checkpoints built from them."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from digitsum.errors import DigitsumError

from .plan import Plan, SeedsRun, shown


def prepare_data(seeds: SeedsRun, root: Path, make: bool = True) -> None:
    """seeds.data: real-train (sums only), val (ROOT/val when there) and the first test images of
    ROOT/test, each made now when missing; with make=False (--dry-run) only named."""
    data, b = seeds.out / "data", seeds.budget
    real = data / f"real-train-{b.real_n}"
    val = root / "val" if _complete(root / "val") else data / "val"
    test = data / f"test-{b.test_n}"
    if make:
        if not _complete(real):
            _make_real_train(real, b.real_n)
        if not _complete(val):
            _make_val(val, b.val_limit)
        if not _complete(test):
            _make_test(test, root / "test", b.test_n)
    seeds.data = {"real": real, "val": val, "test": test}


def _complete(folder: Path) -> bool:
    """Whether a course set is there: its sums file is, as every set made here has one."""
    return (folder / "lab0.npy").is_file()


def _make_real_train(folder: Path, n: int) -> None:
    """MNIST train digits with their sums only: no digit labels, as the course gave."""
    from digitsum.data.course import save_course_dataset
    from digitsum.data.synth import generate_dataset
    images, digits = generate_dataset("train", n, seed=1)
    save_course_dataset(folder, images, digits.sum(1).astype(np.uint8), None)


def _make_val(folder: Path, n: int) -> None:
    from digitsum.data.course import save_course_dataset
    from digitsum.data.synth import generate_dataset
    images, digits = generate_dataset("train", n, seed=2)   # README: 2000, seed 2
    save_course_dataset(folder, images, digits.sum(1), digits)


def _make_test(folder: Path, source: Path, n: int) -> None:
    """The first n images of `source` when it is there, else n made as the README makes data/test."""
    from digitsum.data.course import load_dataset, save_course_dataset
    from digitsum.data.synth import generate_dataset
    if _complete(source):
        full = load_dataset(source)
        images, sums, digits = full.images[:n], full.sums[:n], full.digits[:n]
    else:
        images, digits = generate_dataset("test", n, seed=1234)   # README: 10000, seed 1234
        sums = digits.sum(1)
    save_course_dataset(folder, images, sums, digits)


def prepare_pretrained(seeds: SeedsRun, paths: list, download: bool) -> None:
    """seeds.pretrained: each --pretrained file under the architecture its keys name; with
    --torchvision-weights, torchvision's download for those still missing."""
    for path in paths:
        seeds.pretrained[_architecture(path)] = Path(path)
    if download:
        for arch in ("resnet18", "resnet50", "resnet101", "vgg11"):
            if arch not in seeds.pretrained:
                _download(seeds, arch)


def _architecture(path: Path) -> str:
    from digitsum.models.net import read_state_dict
    sd = read_state_dict(path, f"--pretrained {path}")
    keys = set(sd) if isinstance(sd, dict) else set()
    if "layer3.22.conv3.weight" in keys:
        return "resnet101"
    if "layer4.2.conv3.weight" in keys and "layer3.6.conv1.weight" not in keys:
        return "resnet50"
    if "layer4.1.conv2.weight" in keys and not {"layer4.1.conv3.weight", "layer3.2.conv1.weight"} & keys:
        return "resnet18"
    if "features.0.weight" in keys:
        return "vgg11"
    raise DigitsumError(f"--pretrained {path}: none of a torchvision resnet18, resnet50, resnet101 or vgg11 state_dict")


def _download(seeds: SeedsRun, arch: str) -> None:
    """torchvision's IMAGENET1K_V1 weights into DIR/pretrained (once); offline, a note and one line."""
    import torch
    import torchvision
    target = seeds.out / "pretrained" / f"{arch}.pth"
    try:
        if not target.is_file():
            net = getattr(torchvision.models, arch)(weights="IMAGENET1K_V1")
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.save(net.state_dict(), target)
        seeds.pretrained[arch] = target
        seeds.pretrained_notes.append(f"{arch}: torchvision IMAGENET1K_V1 weights")
    except Exception as e:   # offline: one line, then from scratch
        line = f"{arch}: torchvision weights could not be downloaded ({type(e).__name__}); trained from scratch"
        seeds.pretrained_notes.append(line)
        print(line, file=sys.stderr)


def build_init(seeds: SeedsRun, plan: Plan, name: str) -> Path:
    """An --init checkpoint: the plan's model with ImageNet weights in its trunk."""
    from digitsum.storage.checkpoint import save_checkpoint
    from digitsum.models.net import create_model, load_torchvision_weights
    import torch
    torch.manual_seed(0)
    model = create_model(plan.model)
    report = load_torchvision_weights(model, seeds.pretrained[plan.init_from])
    folder = seeds.out / "init" / name
    save_checkpoint(model, folder, {"initialised from": shown(seeds.pretrained[plan.init_from])})
    plan.notes.append(f"ImageNet tensors loaded: {len(report['loaded'])} (adapted: "
                      f"{', '.join(report['adapted']) or 'none'}); "
                      f"trunk tensors left as they were: {_names(report['trunk_tensors_not_loaded'])}")
    return folder


def _names(names: list, shown: int = 4) -> str:
    if not names:
        return "none"
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
