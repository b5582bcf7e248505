"""Where the training images come from, all held on the training device.

Real course-format sets are uploaded whole (uint8) and sampled by index; the synthetic generator
draws from MNIST train digits (and --font-digits, --pen-digits, --style-digits, --hand-digits). Both
are built once per run and reseeded at each save point, so a resumed run draws exactly what the
uninterrupted run would have drawn.
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from digitsum.errors import DigitsumError
from digitsum.data.mnist import load_mnist
from digitsum.reading.preprocess import fit_batch
from digitsum.data.course import load_dataset
from digitsum.data.synth import make_generator

from .synth_fused import make_fused_generator


def stream_seed(seed: int, rank: int, step: int) -> int:
    """Every stream restarts from (seed, rank, step) at each save point: no generator state is saved."""
    return (seed * 1_000_003 + rank * 7919 + step) % (2**62)


def reseed(seed: int, rank: int, step: int) -> int:
    """Seed torch's global stream (initial weights, dropout) from (seed, rank, step); -> that seed."""
    s = stream_seed(seed, rank, step)
    torch.manual_seed(s)
    return s


class LabeledTensors:
    """A real dataset held whole on the device: uint8 canvases (N, 1, H, W) and labels."""

    def __init__(self, images: np.ndarray, sums: np.ndarray, digits: np.ndarray | None, height: int, width: int,
                 device):
        images = self.fit(images, height, width)
        self.images = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1).to(device)
        self.sums = torch.from_numpy(np.asarray(sums, np.int64)).to(device)
        self.digits = None if digits is None else torch.from_numpy(np.asarray(digits, np.int64)).to(device)

    @staticmethod
    def fit(images: np.ndarray, height: int, width: int) -> np.ndarray:
        """uint8 (N, h, w) -> uint8 (N, height, width); untouched when the size already matches."""
        if images.shape[1:] == (height, width):
            return images
        return (fit_batch(images, height, width) * 255).round().astype(np.uint8)

    def __len__(self):
        return len(self.sums)

    def sample(self, n: int, gen: torch.Generator):
        """-> images (n, 1, H, W) float in [0, 1], sums (n,), digits (n, 4) or None; drawn on the device."""
        idx = torch.randint(0, len(self), (n,), generator=gen, device=gen.device)
        return self.images[idx].float().div_(255.0), self.sums[idx], None if self.digits is None else self.digits[idx]

    def extend(self, other: "LabeledTensors") -> "LabeledTensors":
        self.images, self.sums = torch.cat([self.images, other.images]), torch.cat([self.sums, other.sums])
        self.digits = torch.cat([self.digits, other.digits])
        return self


def load_real(paths, with_digits: bool, model, device) -> LabeledTensors | None:
    parts = [load_dataset(p) for p in paths]
    if not parts:
        return None
    if with_digits:
        for p in parts:
            if p.digits is None:
                raise DigitsumError(f"{p.source}: --real-digits needs digit labels (digits*.npy or d1..d4 columns)")
    # parts may differ in canvas size: fit each to the model's canvas, then join them
    images = np.concatenate([LabeledTensors.fit(p.images, model.height, model.width) for p in parts])
    sums = np.concatenate([p.sums for p in parts])
    digits = np.concatenate([p.digits for p in parts]) if with_digits else None
    return LabeledTensors(images, sums, digits, model.height, model.width, device)


def load_labels_db(path, model, device) -> LabeledTensors | None:
    """The app's saved drawings, with digit labels (None when none are saved yet)."""
    from digitsum.storage.labeldb import LabelStore
    labeled = LabelStore(path).as_dataset(model.height, model.width)
    if not len(labeled):
        return None
    return LabeledTensors(labeled.images, labeled.sums, labeled.digits, model.height, model.width, device)


def digit_pool(args) -> tuple[np.ndarray, np.ndarray]:
    """The synthetic generator's digits: MNIST train, plus printed font digits (--font-digits), other
    writers' pen trajectories (--pen-digits), synthesized pen styles (--style-digits) and handwriting
    fonts' digits (--hand-digits), each the given share of the pool (so of every batch, on average)."""
    from digitsum.data.fontdigits import render_font_digits
    from digitsum.data.handfonts import fetch, render_hand_digits
    from digitsum.data.strokedigits import render_pen_digits, render_style_digits
    if args.hand_digits:   # fetched when missing (nothing is downloaded when they are there); else one line
        fetch(say=lambda m: print(m, file=sys.stderr, flush=True))
    pool_x, pool_y = load_mnist("train")
    shares = {render_font_digits: args.font_digits, render_pen_digits: args.pen_digits,
              render_style_digits: args.style_digits, render_hand_digits: args.hand_digits}
    total = round(len(pool_x) / (1 - sum(shares.values())))
    xs, ys = [pool_x], [pool_y]
    for render, share in shares.items():
        if share:
            x, y = render(round(total * share), seed=args.seed)
            xs.append(x)
            ys.append(y.astype(pool_y.dtype))
    return np.concatenate(xs), np.concatenate(ys)


DISTRACTORS = 20_000   # non-digit marks in the pool of an augment preset with distractor_p > 0


def distractor_pool(args) -> np.ndarray | None:
    """Letters and scribbles the generator puts beside some rows (digitsum.data.distractors), when
    the --augment preset asks for them; None otherwise (and nothing is rendered)."""
    from digitsum.data.synth_presets import AUGMENTS
    if not AUGMENTS[args.augment].distractor_p:
        return None
    from digitsum.data.distractors import render_distractors
    return render_distractors(DISTRACTORS, seed=args.seed)


def load_eval_sets(args) -> tuple:
    """-> (validation set or None, {path: test set}); read now, so an unreadable one fails before training."""
    val = load_dataset(args.val) if args.val else None
    if val is not None and args.val_limit:
        val.images, val.sums = val.images[:args.val_limit], val.sums[:args.val_limit]
        val.digits = None if val.digits is None else val.digits[:args.val_limit]
    return val, {path: load_dataset(path) for path in args.test}


class Batches:
    """Each batch: the synthetic share first, then each real source in proportion to its size, in
    fixed counts (the same shapes every step)."""

    def __init__(self, args, model, device, rank: int):
        self.args, self.rank = args, rank
        real_sum = load_real(args.real, False, model, device)
        real_digit = load_real(args.real_digits, True, model, device)
        if args.labels_db:
            db = load_labels_db(args.labels_db, model, device)
            if db is not None:
                real_digit = db if real_digit is None else real_digit.extend(db)
        self.n_syn = round(args.batch_size * args.synthetic_fraction)
        self.sources = [s for s in (real_sum, real_digit) if s is not None]
        n_real, sizes = args.batch_size - self.n_syn, [len(s) for s in self.sources]
        self.counts = [round(n_real * sz / sum(sizes)) for sz in sizes] if self.sources else []
        if self.counts:
            self.counts[-1] = n_real - sum(self.counts[:-1])
        # built once per run (its digit pool is ~47 MB on the device) and reseeded, never rebuilt
        build = make_fused_generator if getattr(args, "synth", "fused") == "fused" else make_generator
        self.synthetic = build(*digit_pool(args), args.layout, args.augment, device=device,
                                        distractors=distractor_pool(args),
                                        height=model.height, width=model.width) if self.n_syn else None
        self.gen = torch.Generator(device=device)

    def reseed(self, step: int) -> None:
        """Restart every stream at `step`'s seed: a resumed run continues the uninterrupted one's draws."""
        s = reseed(self.args.seed, self.rank, step)
        if self.synthetic is not None:
            self.synthetic.reseed(s)
        self.gen.manual_seed(s + 1)

    def next(self) -> tuple[torch.Tensor, dict]:
        """-> images (B, 1, H, W) channels_last, parts: name -> (slice, sums, digits or None, centres or None)."""
        xs, parts, offset = [], {}, 0
        if self.n_syn:
            x, d, c = self.synthetic.sample_with_centres(self.n_syn)
            xs.append(x)
            parts["synthetic"] = (slice(0, self.n_syn), d.sum(1), d, c)
            offset = self.n_syn
        for i, (src, count) in enumerate(zip(self.sources, self.counts)):
            if count:
                x, s, d = src.sample(count, self.gen)
                xs.append(x)
                parts[f"real{i}"] = (slice(offset, offset + count), s, d, None)
                offset += count
        return torch.cat(xs).contiguous(memory_format=torch.channels_last), parts
