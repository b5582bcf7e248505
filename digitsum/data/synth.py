"""Four-digit images in the course layout, generated in batches on any device.

The course data pastes MNIST digits at native size (~20 px of ink in a 28 px patch) on a black
40x168 canvas, at random heights, in reading order, with gaps between the digits' ink from
overlapping (max-blended) to ~30 px, the right end often empty. `FourDigitGenerator` reproduces
that layout and adds the augmentations that real data calls for (rotation, scale, shear, stroke
thickness, faint ink, blur, noise), all as batched tensor ops so it runs on the training device.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from digitsum.data.synth_presets import AUGMENTS, LAYOUTS, PATCH, Augment, Layout


def max_filter3(x: torch.Tensor) -> torch.Tensor:
    """3x3 max filter over the last two dims, as two 1-D maxima of shifted views (several times
    faster on a CPU than max_pool2d on one-channel 28 px patches)."""
    p = F.pad(x, (1, 1, 1, 1), value=float("-inf"))
    rows = torch.maximum(torch.maximum(p[..., :-2, :], p[..., 1:-1, :]), p[..., 2:, :])
    return torch.maximum(torch.maximum(rows[..., :-2], rows[..., 1:-1]), rows[..., 2:])


def blur121(canvas: torch.Tensor) -> torch.Tensor:
    """Separable [1 2 1]/4 blur of canvases (B, H, W), zero beyond the edges, as shifted views
    (faster on a CPU than a convolution)."""
    c = F.pad(canvas, (1, 1, 1, 1))
    c = (c[:, :, :-2] + 2 * c[:, :, 1:-1] + c[:, :, 2:]) * 0.25
    return (c[:, :-2] + 2 * c[:, 1:-1] + c[:, 2:]) * 0.25


def inverse_affine(angle: torch.Tensor, scale: torch.Tensor, shear: torch.Tensor,
                   width: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    """A digit turned by `angle` (radians), scaled, sheared horizontally and, with `width`, made
    that many times wider (height kept) -> the output->input map's coefficients (xx, xy, yx, yy):
    input x = xx*X + xy*Y, input y = yx*X + yy*Y. The width factor divides the output's x first."""
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    cos_x, sin_x = (cos, sin) if width is None else (cos / width, sin / width)
    return cos_x, shear - sin, sin_x, cos


def _smooth_upsampler(n: int, size: int) -> torch.Tensor:
    """(size, n) linear interpolation matrix: a coarse n-point field -> size points."""
    return F.interpolate(torch.eye(n).unsqueeze(0), size=size, mode="linear", align_corners=True)[0].T


class FourDigitGenerator:
    """Draws batches of (images (B, 1, H, W) float in [0, 1], digits (B, 4) long) from a digit pool.

    pool_images: (N, 28, 28) uint8 MNIST digits; pool_labels: (N,) their classes. Seeded: the same
    seed, device and batch sizes give the same stream.
    """

    def __init__(self, pool_images, pool_labels, layout: Layout = Layout(), augment: Augment = Augment(),
                 device: str | torch.device = "cpu", seed: int = 0, distractors=None):
        self.device = torch.device(device)
        # (M, 28, 28) uint8 non-digit marks, used when augment.distractor_p > 0
        self.distractors = None if distractors is None else torch.as_tensor(np.asarray(distractors, np.uint8)).to(self.device)
        self.pool = torch.as_tensor(np.array(pool_images, dtype=np.uint8)).to(self.device)         # (N, 28, 28) uint8
        self.labels = torch.as_tensor(np.array(pool_labels)).long().to(self.device)  # (N,)
        self.layout, self.augment = layout, augment
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        lin = (torch.arange(PATCH, device=self.device) * 2 + 1) / PATCH - 1   # pixel centres in [-1, 1]
        self._grid_x = lin.repeat(PATCH).view(1, -1)              # (1, 784) x of each output pixel
        self._grid_y = lin.repeat_interleave(PATCH).view(1, -1)   # (1, 784) y of each output pixel
        self._upsample = _smooth_upsampler(4, PATCH).to(self.device)   # (28, 4)
        if layout.height < PATCH - 2 * layout.vertical_slack or layout.width < 4 * 8:
            raise ValueError(f"canvas {layout.height}x{layout.width} is too small for four digits")

    def reseed(self, seed: int) -> "FourDigitGenerator":
        """Restart the random stream at `seed`: the same draws as a new generator with that seed,
        without rebuilding it (the digit pool stays where it is, on the device)."""
        self.gen.manual_seed(seed)
        return self

    # ---- random draws on the generator's device and stream (the distractors draw from it too)
    def uniform(self, shape, lo, hi):
        return torch.rand(shape, generator=self.gen, device=self.device) * (hi - lo) + lo

    def randint(self, lo, hi, shape):  # inclusive of lo, exclusive of hi
        return torch.randint(lo, hi, shape, generator=self.gen, device=self.device)

    def coin(self, shape, p):
        return torch.rand(shape, generator=self.gen, device=self.device) < p

    # ---- the pipeline
    def sample(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """-> images (B, 1, H, W), digits (B, 4)."""
        images, digits, _ = self.sample_with_centres(batch_size)
        return images, digits

    def sample_with_centres(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> images (B, 1, H, W), digits (B, 4), x-centres of the digits' ink in canvas px (B, 4)."""
        idx = self.randint(0, len(self.pool), (batch_size, 4))
        digits = self.labels[idx]                                        # (B, 4)
        patches = self.pool[idx].float().div_(255.0)                     # (B, 4, 28, 28)
        stacked = self._stacked_pairs(batch_size)                        # (B, 3) bool or None
        patches = self._distort_digits(patches, None if stacked is None else _in_a_pair(stacked))
        canvas, centres = self._paste(patches, stacked)                  # (B, H, W), (B, 4)
        if self.augment.distractor_p and self.distractors is not None:
            canvas = self._add_distractors(canvas)
        if self.augment.edge_line_p:
            canvas = self._add_edge_lines(canvas)
        canvas = self._degrade_canvas(canvas)
        return canvas.unsqueeze(1), digits, centres

    def _where(self, n: int, p: float, changed: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
        """Each of n items (dim 0) takes `changed` with probability p, else `kept`. A mask, not an
        index subset: no host sync and no dynamic shapes, so it runs as fast on a GPU."""
        coin = self.coin(n, p).view(-1, *([1] * (kept.dim() - 1)))
        return torch.where(coin, changed, kept)

    def _stacked_pairs(self, bsz: int) -> torch.Tensor | None:
        """(B, 3) bool: which neighbouring pairs are stacked; None when the layout stacks none (no
        random draws then, so the other layouts' streams are as they were)."""
        L = self.layout
        if not L.stack_p:
            return None
        pairs = self.coin((bsz, 3), 0.5)
        one = F.one_hot(self.randint(0, 3, (bsz,)), 3).bool()            # at least one pair
        pairs = torch.where(pairs.any(1, keepdim=True), pairs, one)
        return pairs & self.coin((bsz, 1), L.stack_p)

    def _distort_digits(self, patches: torch.Tensor, small: torch.Tensor | None = None) -> torch.Tensor:
        """small: (B, K) bool, digits drawn at the layout's `stack_scale` (half the canvas height)."""
        a = self.augment
        b = patches.shape[0] * patches.shape[1]   # (B, K, 28, 28): K patches a row
        flat = patches.view(b, 1, PATCH, PATCH)
        if a.rotation or a.shear or a.scale != (1.0, 1.0) or a.aspect != 1.0 or a.elastic_p or small is not None:
            angle = self.uniform(b, -a.rotation, a.rotation) * (math.pi / 180)
            scale = self.uniform(b, *a.scale)
            if small is not None:
                scale = torch.where(small.reshape(-1), self.uniform(b, *self.layout.stack_scale), scale)
            shear = self.uniform(b, -a.shear, a.shear)
            # the width factor is drawn last, so that the other presets' random streams are as they were
            width = torch.exp(self.uniform(b, -math.log(a.aspect), math.log(a.aspect))) if a.aspect != 1.0 else None
            xx, xy, yx, yy = inverse_affine(angle, scale, shear, width)
            # the same grid as F.affine_grid(align_corners=False), built with broadcasting (3x faster on CPU)
            gx = torch.addcmul(xx[:, None] * self._grid_x, xy[:, None], self._grid_y)
            gy = torch.addcmul(yx[:, None] * self._grid_x, yy[:, None], self._grid_y)
            grid = torch.stack([gx, gy], dim=-1).view(b, PATCH, PATCH, 2)
            if a.elastic_p:  # a smooth field: 4x4 random vectors, upsampled (cheaper than a Gaussian blur)
                coarse = torch.randn((b, 2, 4, 4), generator=self.gen, device=self.device) * a.elastic_alpha
                coarse = coarse * self.coin(b, a.elastic_p).view(-1, 1, 1, 1)
                u = self._upsample
                grid = grid + torch.einsum("ij,bcjk,lk->bilc", u, coarse, u)   # (b, 28, 28, 2)
            flat = F.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if a.binarize_p:  # MNIST strokes have soft edges and uneven width; a pen's do not
            level = self.uniform(b, 0.25, 0.6).view(-1, 1, 1, 1)
            flat = self._where(b, a.binarize_p, (flat > level).to(flat.dtype), flat)
        if a.thicken_p:  # dilate some digits (3x3 max filter), a marker's share of them twice
            thick = max_filter3(flat)
            if a.marker_p:
                thick = self._where(b, a.marker_p, max_filter3(thick), thick)
            flat = self._where(b, a.thicken_p, thick, flat)
        if a.thin_p:     # erode some (3x3 min filter), but never so far that a digit vanishes:
            eroded = -max_filter3(-flat)   # a thin stroke erodes to nothing, and its label would lie
            kept = (eroded.sum((1, 2, 3)) >= 0.5 * flat.sum((1, 2, 3))).view(-1, 1, 1, 1)
            flat = self._where(b, a.thin_p, torch.where(kept, eroded, flat), flat)
        if a.faint_p:
            ink = self._where(b, a.faint_p, self.uniform(b, *a.ink), torch.ones(b, device=self.device))
            flat = flat * ink.view(-1, 1, 1, 1)
        return flat.reshape(patches.shape)

    def _positions(self, patches: torch.Tensor, stacked: torch.Tensor | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Top-left corner (x, y) of each 28 px patch on the canvas, and the ink's x-centre within
        the patch: (B, 4) each. stacked: (B, 3) bool, neighbouring pairs written one above the other."""
        L = self.layout
        bsz = patches.shape[0]
        if L.mode == "naive":
            x = torch.arange(4, device=self.device).mul(PATCH).expand(bsz, 4)
            y = torch.full((bsz, 4), (L.height - PATCH) // 2, device=self.device)
            return x, y, torch.full((bsz, 4), (PATCH - 1) / 2, device=self.device)
        ink_cols = patches.amax(dim=2) > 0.15                             # (B, 4, 28)
        any_ink = ink_cols.any(dim=2)
        left = torch.where(any_ink, ink_cols.float().argmax(dim=2), 0)
        right = torch.where(any_ink, PATCH - 1 - ink_cols.flip(2).float().argmax(dim=2), PATCH - 1)
        ink_width = right - left + 1                                      # (B, 4)
        gaps = self.randint(L.gap_min, L.gap_max + 1, (bsz, 3))
        if L.crowd_p:
            gaps = self._where(bsz, L.crowd_p, self.randint(L.gap_min, min(2, L.gap_max) + 1, (bsz, 3)), gaps)
        if stacked is not None:   # a stacked pair overlaps in x by a share of the narrower digit
            narrower = torch.minimum(ink_width[:, :3], ink_width[:, 1:]).float()
            overlap = (self.uniform((bsz, 3), *L.stack_overlap) * narrower).round().long()
            gaps = torch.where(stacked, -overlap, gaps)
        if L.min_centre_gap is not None:  # overlap no further than keeps the centres apart
            min_gap = torch.div(2 * L.min_centre_gap - ink_width[:, :3] - ink_width[:, 1:] + 1, 2, rounding_mode="floor")
            gaps = torch.maximum(gaps, min_gap)
        start = self.randint(0, L.start_max + 1, (bsz, 1))
        if L.anywhere_p:  # the first digit anywhere the four still fit: left, centred, right-aligned
            room = (L.width - 1 - ink_width.sum(1) - gaps.sum(1)).clamp_min(0)          # (B,)
            anywhere = (self.uniform(bsz, 0.0, 1.0) * (room + 1).float()).long().unsqueeze(1)
            start = self._where(bsz, L.anywhere_p, anywhere, start)
        # shrink the start and then the gaps where four digits would run off the right end
        total = start.squeeze(1) + ink_width.sum(1) + gaps.sum(1)
        excess = (total - (L.width - 1)).clamp_min(0)
        cut_start = torch.minimum(excess, start.squeeze(1))
        start = start - cut_start.unsqueeze(1)
        gaps = gaps - torch.div(excess - cut_start + 2, 3, rounding_mode="floor").unsqueeze(1)
        ink_left = torch.cumsum(torch.cat([start, (ink_width[:, :3] + gaps)], dim=1), dim=1)
        x = ink_left - left
        y = self.randint(-L.vertical_slack, L.height - PATCH + L.vertical_slack + 1, (bsz, 4))
        if stacked is not None:
            y = torch.where(_in_a_pair(stacked), self._stacked_heights(patches), y)
        return x, y, (left + right).float() / 2

    def _stacked_heights(self, patches: torch.Tensor) -> torch.Tensor:
        """(B, 4) patch tops that put each digit's ink 0-3 px from the canvas's top or bottom,
        alternating along the row (so the two digits of any stacked pair are one high, one low)."""
        bsz, H = patches.shape[0], self.layout.height
        ink_rows = patches.amax(dim=3) > 0.15                              # (B, 4, 28)
        any_ink = ink_rows.any(dim=2)
        top = torch.where(any_ink, ink_rows.float().argmax(dim=2), 0)
        bottom = torch.where(any_ink, PATCH - 1 - ink_rows.flip(2).float().argmax(dim=2), PATCH - 1)
        edge = self.randint(0, 4, (bsz, 4))
        high = (torch.arange(4, device=self.device) + self.randint(0, 2, (bsz, 1))) % 2 == 0
        return torch.where(high, edge - top, H - 1 - edge - bottom)

    def _paste(self, patches: torch.Tensor, stacked: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Max-blend each patch onto a padded canvas with one scatter, then crop the padding.
        -> canvas (B, H, W), x-centres of the digits' ink on it (B, 4)."""
        L = self.layout
        bsz = patches.shape[0]
        x, y, ink_centre = self._positions(patches, stacked)
        # padding just wide enough for patches that reach past the edges (their margins are blank;
        # a small stacked digit's patch reaches up to half a patch past the top or bottom)
        pad_y, pad_x = (L.vertical_slack if stacked is None else max(L.vertical_slack, PATCH // 2)), 12
        ph, pw = L.height + 2 * pad_y, max(L.width, 4 * PATCH) + 2 * pad_x
        x = (x + pad_x).clamp(0, pw - PATCH)
        y = (y + pad_y).clamp(0, ph - PATCH)
        rows = torch.arange(PATCH, device=self.device)
        offsets = (rows[:, None] * pw + rows[None, :]).view(1, 1, -1)    # (1, 1, 784)
        index = (y * pw + x).unsqueeze(2) + offsets                        # (B, 4, 784)
        canvas = patches.new_zeros(bsz, ph * pw)
        canvas.scatter_reduce_(1, index.view(bsz, -1), patches.reshape(bsz, -1), reduce="amax")
        centres = x - pad_x + ink_centre
        return canvas.view(bsz, ph, pw)[:, pad_y:pad_y + L.height, pad_x:pad_x + L.width], centres

    def _add_distractors(self, canvas: torch.Tensor) -> torch.Tensor:
        from digitsum.data.distractors import paste_beside
        pick = self.randint(0, len(self.distractors), (canvas.shape[0],))
        marks = self._distort_digits(self.distractors[pick].float().div_(255.0).unsqueeze(1)).squeeze(1)
        return paste_beside(self, canvas, marks)

    def _add_edge_lines(self, canvas: torch.Tensor) -> torch.Tensor:
        from digitsum.data.distractors import draw_edge_lines
        return draw_edge_lines(self, canvas)

    def _degrade_canvas(self, canvas: torch.Tensor) -> torch.Tensor:
        a = self.augment
        bsz = canvas.shape[0]
        if a.blur_p:  # on some images
            canvas = self._where(bsz, a.blur_p, blur121(canvas), canvas)
        if a.noise_p:
            std = self.uniform(bsz, *a.noise_std) * self.coin(bsz, a.noise_p)
            noise = torch.randn(canvas.shape, generator=self.gen, device=self.device)
            canvas = torch.addcmul(canvas, noise, std.view(-1, 1, 1))
        return canvas.clamp_(0.0, 1.0)


def _in_a_pair(stacked: torch.Tensor) -> torch.Tensor:
    """(B, 3) stacked neighbouring pairs -> (B, 4) digits that belong to one."""
    return F.pad(stacked, (0, 1)) | F.pad(stacked, (1, 0))


def make_generator(pool_images, pool_labels, layout: str = "course", augment: str = "none",
                   device="cpu", seed: int = 0, distractors=None, generator_class=None,
                   **layout_overrides) -> FourDigitGenerator:
    """Build a generator from preset names (see LAYOUTS and AUGMENTS). generator_class: a
    FourDigitGenerator subclass to build instead (train's fused one)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose from {sorted(LAYOUTS)}")
    if augment not in AUGMENTS:
        raise ValueError(f"unknown augment {augment!r}; choose from {sorted(AUGMENTS)}")
    return (generator_class or FourDigitGenerator)(pool_images, pool_labels, replace(LAYOUTS[layout], **layout_overrides),
                                                   AUGMENTS[augment], device=device, seed=seed, distractors=distractors)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 1, H, W) float in [0, 1] -> (B, H, W) uint8, as the course files store them."""
    return images.squeeze(1).mul(255).round_().to(torch.uint8).cpu().numpy()


def generate_dataset(split: str, n: int, seed: int, layout: str = "course", augment: str = "none",
                     mnist_root=None, batch_size: int = 4096, **layout_overrides):
    """n course-format images from MNIST `split` digits only: (images (n, H, W) uint8, digits (n, 4) uint8).
    Deterministic for (split, n, seed, layout, augment)."""
    from digitsum.data.mnist import load_mnist
    images, labels = load_mnist(split, mnist_root)
    gen = make_generator(images, labels, layout, augment, device="cpu", seed=seed, **layout_overrides)
    out_images, out_digits = [], []
    for start in range(0, n, batch_size):
        x, d = gen.sample(min(batch_size, n - start))
        out_images.append(to_uint8(x))
        out_digits.append(d.to(torch.uint8).numpy())
    return np.concatenate(out_images), np.concatenate(out_digits)
