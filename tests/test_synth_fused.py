"""train.synth_fused: the training generator with its draws and tensor work fused draws the same
images in distribution as digitsum.data.synth's, preset for preset, in fewer operations; its
GPU path (pooling and convolution filters) draws the same images as its CPU path."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from digitsum.data.mnist import load_mnist
from digitsum.data.synth import FourDigitGenerator, make_generator
from digitsum.data.synth_presets import AUGMENTS, LAYOUTS
from train.synth_fused import FusedGenerator, make_fused_generator


@pytest.fixture(scope="module")
def pool():
    x, y = load_mnist("train")
    return x[:6000], y[:6000]


def statistics(images: torch.Tensor, centres: torch.Tensor) -> dict:
    """Per image: what each augmentation changes (ink amount, stroke width, faintness, hard edges,
    noise, blur, where the row sits and how wide it is, the digits' centres and spacing)."""
    x = images[:, 0]
    ink = x > 0.15
    cols, rows = ink.any(1), ink.any(2)
    width, height = x.shape[2], x.shape[1]
    first = torch.where(cols.any(1), cols.float().argmax(1), 0).float()
    last = torch.where(cols.any(1), width - 1 - cols.flip(1).float().argmax(1), 0).float()
    top = rows.float().argmax(1).float()
    bottom = (height - 1 - rows.flip(1).float().argmax(1)).float()
    dark = torch.where(~ink, x, torch.nan)
    return {"mean": x.mean((1, 2)), "ink": ink.float().mean((1, 2)), "peak": x.amax((1, 2)),
            "full": (x >= 0.999).float().mean((1, 2)), "mid": ((x > 0.3) & (x < 0.7)).float().mean((1, 2)),
            "background": dark.nanmean((1, 2)), "first": first, "last": last, "span": last - first, "top": top,
            "rows": bottom - top,
            **{f"centre{k}": centres[:, k] for k in range(4)},
            "spacing": (centres[:, 1:] - centres[:, :-1]).mean(1), "tight": (centres[:, 1:] - centres[:, :-1]).amin(1)}


GEOMETRY = replace(AUGMENTS["none"], rotation=40, scale=(0.6, 1.4), shear=0.5, elastic_p=0.5, elastic_alpha=0.15)
WIDTHS = replace(AUGMENTS["none"], aspect=1.8)   # the width factor alone, strong


@pytest.mark.parametrize("layout,augment", [("wide", "wide"), ("course", "train"), ("hard", "hard"),
                                            ("course", "none"), ("train", "train"), ("wide", GEOMETRY),
                                            ("wide", "wide_writers"), ("course", WIDTHS)])
def test_the_fused_generator_draws_the_plain_ones_images_in_distribution(pool, layout, augment):
    torch.manual_seed(0)
    n = 4000
    if isinstance(augment, str):
        plain = make_generator(*pool, layout, augment, seed=1)
        fused = make_fused_generator(*pool, layout, augment, seed=2)
    else:   # the geometry alone, strong, where a wrong angle, scale, shear or field shows most
        plain = FourDigitGenerator(*pool, LAYOUTS[layout], augment, seed=1)
        fused = FusedGenerator(*pool, LAYOUTS[layout], augment, seed=2)
    assert isinstance(fused, FusedGenerator) and fused.fused
    a, b = statistics(*plain.sample_with_centres(n)[::2]), statistics(*fused.sample_with_centres(n)[::2])
    for name in a:
        x, y = a[name].double(), b[name].double()
        se = ((x.var() + y.var()) / n).sqrt().item()
        assert abs(x.mean().item() - y.mean().item()) <= 4.5 * se + 1e-6, (name, x.mean().item(), y.mean().item(), se)
        # the spread too (a wrong range shows in it before the mean); an image's peak is nearly always
        # 1, so its spread is a few outliers' and too noisy to compare
        assert name == "peak" or abs(x.std().item() - y.std().item()) <= 0.06 * max(x.std().item(), 1e-3) + 1e-6, (name, x.std(), y.std())


def test_the_fused_generator_is_seeded_labelled_and_in_range(pool):
    a = make_fused_generator(*pool, "wide", "wide", seed=3).sample_with_centres(64)
    b = make_fused_generator(*pool, "wide", "wide", seed=3).sample_with_centres(64)
    c = make_fused_generator(*pool, "wide", "wide", seed=4).sample_with_centres(64)
    assert all(torch.equal(u, v) for u, v in zip(a, b)) and not torch.equal(a[0], c[0])
    images, digits, centres = a
    assert images.shape == (64, 1, 40, 168) and 0 <= images.min() and images.max() <= 1
    assert digits.shape == (64, 4) and int(digits.min()) >= 0 and int(digits.max()) <= 9
    assert (centres[:, 1:] - centres[:, :-1]).min() >= 6 - 1          # the layout's min_centre_gap
    labels = torch.as_tensor(np.asarray(pool[1]))
    gen = make_fused_generator(*pool, "course", "none", seed=5)
    idx = gen.draw(64)[0][:, :4]                                       # the digits it draws are the pool's
    assert torch.equal(labels[idx], make_fused_generator(*pool, "course", "none", seed=5).sample(64)[1])


def test_the_gpu_paths_filters_draw_what_the_cpu_paths_do(pool):
    # one max-pool for each 3x3 max filter and one convolution for the blur (on CUDA) against the
    # shifted views of the CPU: the same images, to float rounding
    cpu = make_fused_generator(*pool, "wide", "wide", seed=7)
    gpu = make_fused_generator(*pool, "wide", "wide", seed=7)
    gpu.pooled = True
    (x, d, c), (y, e, f) = cpu.sample_with_centres(128), gpu.sample_with_centres(128)
    assert torch.equal(d, e) and torch.equal(c, f) and (x - y).abs().max() < 1e-5


def test_layouts_it_does_not_fuse_draw_as_the_plain_generator(pool):
    for layout in ("naive", "wide_stacked"):
        fused, plain = make_fused_generator(*pool, layout, "wide", seed=9), make_generator(*pool, layout, "wide", seed=9)
        assert not fused.fused
        assert all(torch.equal(u, v) for u, v in zip(fused.sample_with_centres(16), plain.sample_with_centres(16)))


def test_the_fused_generator_launches_fewer_operations(pool):
    """Kernels a batch (aten operations other than views): about two thirds of the plain generator's
    on a CPU, about half with the GPU's filters (one pooling or convolution each)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Kernels(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.n += not func.is_view
            return func(*args, **(kwargs or {}))

    def kernels(gen):
        gen.sample(16)
        with Kernels() as k:
            gen.sample_with_centres(16)
        return k.n
    plain = kernels(make_generator(*pool, "wide", "wide"))
    fused = make_fused_generator(*pool, "wide", "wide")
    cpu = kernels(fused)
    fused.pooled = True
    gpu = kernels(fused)
    assert cpu < 0.7 * plain and gpu < 0.56 * plain, (plain, cpu, gpu)
