"""Four-digit images in the course layout, generated in batches on any device.

The course data pastes MNIST digits at native size (~20 px of ink in a 28 px patch) on a black
40x168 canvas, at random heights, in reading order, with gaps between the digits' ink from
overlapping (max-blended) to ~30 px, the right end often empty. `FourDigitGenerator` reproduces
that layout and adds the augmentations that real data calls for (rotation, scale, shear, stroke
thickness, faint ink, blur, noise), all as batched tensor ops so it runs on the training device.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

PATCH = 28  # MNIST patch size


@dataclass(frozen=True)
class Layout:
    """Where the four digits go. mode 'course' is the real layout; 'naive' abuts 28 px patches."""
    height: int = 40
    width: int = 168
    mode: str = "course"
    gap_min: int = -5     # px between one digit's ink and the next; negative = overlap
    gap_max: int = 30
    start_max: int = 16   # left margin before the first digit's ink
    vertical_slack: int = 2  # how far a patch may reach past the top/bottom (MNIST patches have ~4 px margin)


@dataclass(frozen=True)
class Augment:
    """Random distortions. Probabilities are per digit (geometry, ink) or per image (noise, blur)."""
    rotation: float = 0.0              # max degrees, either way
    scale: tuple[float, float] = (1.0, 1.0)
    shear: float = 0.0                 # max shear factor
    thicken_p: float = 0.0             # dilate strokes (3x3 max filter)
    thin_p: float = 0.0                # erode strokes (3x3 min filter)
    ink: tuple[float, float] = (1.0, 1.0)  # per-digit peak intensity range (faint ink < 1)
    faint_p: float = 0.0               # probability that a digit's ink is drawn from `ink`
    blur_p: float = 0.0
    noise_p: float = 0.0
    noise_std: tuple[float, float] = (0.0, 0.0)


# named presets: 'none' is the plain course layout; 'train' the default training mix;
# 'hard' the robustness test set (stronger than 'train' in every knob, on a 48x200 canvas)
AUGMENTS = {
    "none": Augment(),
    "train": Augment(rotation=12, scale=(0.8, 1.2), shear=0.2, thicken_p=0.2, thin_p=0.1,
                     ink=(0.35, 1.0), faint_p=0.25, blur_p=0.2, noise_p=0.3, noise_std=(0.02, 0.12)),
    "hard": Augment(rotation=15, scale=(0.8, 1.2), shear=0.25, thicken_p=0.25, thin_p=0.15,
                    ink=(0.3, 0.8), faint_p=0.5, blur_p=0.3, noise_p=0.6, noise_std=(0.04, 0.12)),
}
LAYOUTS = {
    "course": Layout(),
    "naive": Layout(mode="naive"),
    "hard": Layout(height=48, width=200, gap_min=-8, gap_max=30, start_max=24),
    "train": Layout(gap_min=-8, gap_max=32),
}


class FourDigitGenerator:
    """Draws batches of (images (B, 1, H, W) float in [0, 1], digits (B, 4) long) from a digit pool.

    pool_images: (N, 28, 28) uint8 MNIST digits; pool_labels: (N,) their classes. Seeded: the same
    seed, device and batch sizes give the same stream.
    """

    def __init__(self, pool_images, pool_labels, layout: Layout = Layout(), augment: Augment = Augment(),
                 device: str | torch.device = "cpu", seed: int = 0):
        self.device = torch.device(device)
        self.pool = torch.as_tensor(np.array(pool_images, dtype=np.uint8)).to(self.device)         # (N, 28, 28) uint8
        self.labels = torch.as_tensor(np.array(pool_labels)).long().to(self.device)  # (N,)
        self.layout, self.augment = layout, augment
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        lin = (torch.arange(PATCH, device=self.device) * 2 + 1) / PATCH - 1   # pixel centres in [-1, 1]
        self._grid_x = lin.repeat(PATCH).view(1, -1)              # (1, 784) x of each output pixel
        self._grid_y = lin.repeat_interleave(PATCH).view(1, -1)   # (1, 784) y of each output pixel
        if layout.height < PATCH - 2 * layout.vertical_slack or layout.width < 4 * 8:
            raise ValueError(f"canvas {layout.height}x{layout.width} is too small for four digits")

    # ---- random helpers on the generator's device and stream
    def _uniform(self, shape, lo, hi):
        return torch.rand(shape, generator=self.gen, device=self.device) * (hi - lo) + lo

    def _randint(self, lo, hi, shape):  # inclusive of lo, exclusive of hi
        return torch.randint(lo, hi, shape, generator=self.gen, device=self.device)

    def _coin(self, shape, p):
        return torch.rand(shape, generator=self.gen, device=self.device) < p

    # ---- the pipeline
    def sample(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self._randint(0, len(self.pool), (batch_size, 4))
        digits = self.labels[idx]                                        # (B, 4)
        patches = self.pool[idx].float().div_(255.0)                     # (B, 4, 28, 28)
        patches = self._distort_digits(patches)
        canvas = self._paste(patches)                                    # (B, H, W)
        canvas = self._degrade_canvas(canvas)
        return canvas.unsqueeze(1), digits

    def _subset(self, n: int, p: float) -> torch.Tensor:
        """Indices of the items (out of n) that an augmentation with probability p touches."""
        return torch.nonzero(self._coin(n, p)).squeeze(1)

    def _distort_digits(self, patches: torch.Tensor) -> torch.Tensor:
        a = self.augment
        b = patches.shape[0] * 4
        flat = patches.view(b, 1, PATCH, PATCH)
        if a.rotation or a.shear or a.scale != (1.0, 1.0):
            angle = self._uniform(b, -a.rotation, a.rotation) * (math.pi / 180)
            scale = self._uniform(b, *a.scale)
            shear = self._uniform(b, -a.shear, a.shear)
            cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
            # output->input map: inverse rotation and scale, plus a horizontal shear. The same grid
            # as F.affine_grid(align_corners=False), built with broadcasting (3x faster on CPU).
            gx = torch.addcmul(cos[:, None] * self._grid_x, (shear - sin)[:, None], self._grid_y)
            gy = torch.addcmul(sin[:, None] * self._grid_x, cos[:, None], self._grid_y)
            grid = torch.stack([gx, gy], dim=-1).view(b, PATCH, PATCH, 2)
            flat = F.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if a.thicken_p:  # dilate a subset of digits (3x3 max filter)
            sel = self._subset(b, a.thicken_p)
            flat[sel] = F.max_pool2d(flat[sel], 3, 1, 1)
        if a.thin_p:     # erode a subset (3x3 min filter), but never so far that a digit vanishes:
            sel = self._subset(b, a.thin_p)   # a thin stroke erodes to nothing, and its label would lie
            eroded = -F.max_pool2d(-flat[sel], 3, 1, 1)
            kept = eroded.sum((1, 2, 3)) >= 0.5 * flat[sel].sum((1, 2, 3))
            flat[sel[kept]] = eroded[kept]
        if a.faint_p:
            sel = self._subset(b, a.faint_p)
            flat[sel] *= self._uniform(len(sel), *a.ink).view(-1, 1, 1, 1)
        return flat.view_as(patches)

    def _positions(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-left corner (x, y) of each 28 px patch on the canvas: (B, 4) each."""
        L = self.layout
        bsz = patches.shape[0]
        if L.mode == "naive":
            x = torch.arange(4, device=self.device).mul(PATCH).expand(bsz, 4)
            y = torch.full((bsz, 4), (L.height - PATCH) // 2, device=self.device)
            return x, y
        ink_cols = patches.amax(dim=2) > 0.15                             # (B, 4, 28)
        any_ink = ink_cols.any(dim=2)
        left = torch.where(any_ink, ink_cols.float().argmax(dim=2), 0)
        right = torch.where(any_ink, PATCH - 1 - ink_cols.flip(2).float().argmax(dim=2), PATCH - 1)
        ink_width = right - left + 1                                      # (B, 4)
        gaps = self._randint(L.gap_min, L.gap_max + 1, (bsz, 3))
        start = self._randint(0, L.start_max + 1, (bsz, 1))
        # shrink the start and then the gaps where four digits would run off the right end
        total = start.squeeze(1) + ink_width.sum(1) + gaps.sum(1)
        excess = (total - (L.width - 1)).clamp_min(0)
        cut_start = torch.minimum(excess, start.squeeze(1))
        start = start - cut_start.unsqueeze(1)
        gaps = gaps - torch.div(excess - cut_start + 2, 3, rounding_mode="floor").unsqueeze(1)
        ink_left = torch.cumsum(torch.cat([start, (ink_width[:, :3] + gaps)], dim=1), dim=1)
        x = ink_left - left
        y = self._randint(-L.vertical_slack, L.height - PATCH + L.vertical_slack + 1, (bsz, 4))
        return x, y

    def _paste(self, patches: torch.Tensor) -> torch.Tensor:
        """Max-blend each patch onto a padded canvas with one scatter, then crop the padding."""
        L = self.layout
        bsz = patches.shape[0]
        x, y = self._positions(patches)
        # padding just wide enough for patches that reach past the edges (their margins are blank)
        pad_y, pad_x = L.vertical_slack, 12
        ph, pw = L.height + 2 * pad_y, max(L.width, 4 * PATCH) + 2 * pad_x
        x = (x + pad_x).clamp(0, pw - PATCH)
        y = (y + pad_y).clamp(0, ph - PATCH)
        rows = torch.arange(PATCH, device=self.device)
        offsets = (rows[:, None] * pw + rows[None, :]).view(1, 1, -1)    # (1, 1, 784)
        index = (y * pw + x).unsqueeze(2) + offsets                        # (B, 4, 784)
        canvas = patches.new_zeros(bsz, ph * pw)
        canvas.scatter_reduce_(1, index.view(bsz, -1), patches.reshape(bsz, -1), reduce="amax")
        return canvas.view(bsz, ph, pw)[:, pad_y:pad_y + L.height, pad_x:pad_x + L.width]

    def _degrade_canvas(self, canvas: torch.Tensor) -> torch.Tensor:
        a = self.augment
        bsz = canvas.shape[0]
        if a.blur_p:  # separable [1 2 1]/4 blur on a subset of images
            sel = self._subset(bsz, a.blur_p)
            c = F.pad(canvas[sel], (1, 1, 1, 1))
            c = (c[:, :, :-2] + 2 * c[:, :, 1:-1] + c[:, :, 2:]) * 0.25
            canvas[sel] = (c[:, :-2] + 2 * c[:, 1:-1] + c[:, 2:]) * 0.25
        if a.noise_p:
            sel = self._subset(bsz, a.noise_p)
            std = self._uniform(len(sel), *a.noise_std).view(-1, 1, 1)
            noise = torch.randn((len(sel), *canvas.shape[1:]), generator=self.gen, device=self.device)
            canvas[sel] += noise * std
        return canvas.clamp_(0.0, 1.0)


def make_generator(pool_images, pool_labels, layout: str = "course", augment: str = "none",
                   device="cpu", seed: int = 0, **layout_overrides) -> FourDigitGenerator:
    """Build a generator from preset names (see LAYOUTS and AUGMENTS)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose from {sorted(LAYOUTS)}")
    if augment not in AUGMENTS:
        raise ValueError(f"unknown augment {augment!r}; choose from {sorted(AUGMENTS)}")
    return FourDigitGenerator(pool_images, pool_labels, replace(LAYOUTS[layout], **layout_overrides),
                              AUGMENTS[augment], device=device, seed=seed)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 1, H, W) float in [0, 1] -> (B, H, W) uint8, as the course files store them."""
    return images.squeeze(1).mul(255).round_().to(torch.uint8).cpu().numpy()


def generate_dataset(split: str, n: int, seed: int, layout: str = "course", augment: str = "none",
                     mnist_root=None, batch_size: int = 4096, **layout_overrides):
    """n course-format images from MNIST `split` digits only: (images (n, H, W) uint8, digits (n, 4) uint8).
    Deterministic for (split, n, seed, layout, augment)."""
    from .mnist import load_mnist
    images, labels = load_mnist(split, mnist_root)
    gen = make_generator(images, labels, layout, augment, device="cpu", seed=seed, **layout_overrides)
    out_images, out_digits = [], []
    for start in range(0, n, batch_size):
        x, d = gen.sample(min(batch_size, n - start))
        out_images.append(to_uint8(x))
        out_digits.append(d.to(torch.uint8).numpy())
    return np.concatenate(out_images), np.concatenate(out_digits)
