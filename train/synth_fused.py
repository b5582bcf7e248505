"""The synthetic generator as training draws it: the same images in distribution as
`digitsum.data.synth.FourDigitGenerator`, in about half the operations a batch (issue 18, item 5).

On a GPU a step of the reader's training is bound by the host launching its operations one by one,
and the generator launched ~180 kernels a batch (~240 aten calls with views): three for each random
draw, two more for each coin's mask, a grid built in ten steps, left and right ink edges found with
flips and argmaxes. `FusedGenerator` draws every random number of a batch at once, in one table of
integers and one of floats (coins and uniforms side by side, their ranges and probabilities
precomputed), builds each patch's affine-plus-elastic sampling grid with one matrix product, finds
both ink edges with one max, and on a GPU runs the 3x3 max filters and the blur as one pooling or
convolution each (on a CPU the shifted-view versions stay: they are several times faster there).

What it does to the digits is the parent's, augmentation for augmentation, with the same
probabilities and ranges; only the order of the random draws differs, so the same seed gives other
images (tests/test_synth_fused.py compares the two generators' statistics). The library's generator
stays as it was, so every data set made with `generate_dataset` (data/test, the robustness sets) is
unchanged. Layouts it does not fuse (naive, stacked) fall back to the parent's pipeline.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from digitsum.data.synth import (PATCH, FourDigitGenerator, _smooth_upsampler, blur121, inverse_affine, make_generator,
                                 max_filter3)

INT_HIGH = 2 ** 62   # integers drawn below this, then reduced modulo each range: a bias below 1e-17


class _Fields:
    """Named columns of one random table: name -> (start, width), plus each column's parameters."""

    def __init__(self):
        self.slices, self.params = {}, []

    def add(self, name: str, width: int, *param):
        self.slices[name] = (len(self.params), width)
        self.params += [param] * width

    def __len__(self):
        return len(self.params)

    def take(self, table: torch.Tensor, name: str) -> torch.Tensor:
        start, width = self.slices[name]
        return table[:, start:start + width]


class FusedGenerator(FourDigitGenerator):
    """`FourDigitGenerator` with each batch's random draws and tensor work fused (see the module)."""

    def __init__(self, *args, pooled: bool | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        L, a, dev = self.layout, self.augment, self.device
        self.fused = L.mode == "course" and not L.stack_p
        # one pooling / convolution per filter where launches cost most; shifted views on a CPU
        self.pooled = dev.type == "cuda" if pooled is None else pooled
        self.geometric = bool(a.rotation or a.shear or a.scale != (1.0, 1.0) or a.aspect != 1.0 or a.elastic_p)
        ints, coins, uniforms = _Fields(), _Fields(), _Fields()
        ints.add("idx", 4, 0, len(self.pool))
        ints.add("gaps", 3, L.gap_min, L.gap_max + 1)
        if L.crowd_p:
            ints.add("crowd_gaps", 3, L.gap_min, min(2, L.gap_max) + 1)
            coins.add("crowd", 1, L.crowd_p)
        ints.add("start", 1, 0, L.start_max + 1)
        # patch tops already padded by vertical_slack (the paste's padding): never off the board
        ints.add("y", 4, 0, L.height - PATCH + 2 * L.vertical_slack + 1)
        if L.anywhere_p:
            coins.add("anywhere", 1, L.anywhere_p)
            uniforms.add("anywhere", 1, 0.0, 1.0)
        if self.geometric:
            deg = math.pi / 180
            uniforms.add("angle", 4, -a.rotation * deg, a.rotation * deg)
            uniforms.add("scale", 4, *a.scale)
            uniforms.add("shear", 4, -a.shear, a.shear)
            if a.aspect != 1.0:
                uniforms.add("log_aspect", 4, -math.log(a.aspect), math.log(a.aspect))
        if a.elastic_p:
            coins.add("elastic", 4, a.elastic_p)
        if a.binarize_p:
            coins.add("binarize", 4, a.binarize_p)
            uniforms.add("level", 4, 0.25, 0.6)
        if a.thicken_p:
            coins.add("thicken", 4, a.thicken_p)
            if a.marker_p:
                coins.add("marker", 4, a.marker_p)
        if a.thin_p:
            coins.add("thin", 4, a.thin_p)
        if a.faint_p:
            coins.add("faint", 4, a.faint_p)
            uniforms.add("ink", 4, *a.ink)
        if a.blur_p:
            coins.add("blur", 1, a.blur_p)
        if a.noise_p:
            coins.add("noise", 1, a.noise_p)
            uniforms.add("noise_std", 1, *a.noise_std)
        self.ints, self.coins, self.uniforms = ints, coins, uniforms
        self._int_lo = torch.tensor([p[0] for p in ints.params], device=dev)
        self._int_span = torch.tensor([p[1] - p[0] for p in ints.params], device=dev)
        self._coin_p = torch.tensor([p[0] for p in coins.params], device=dev, dtype=torch.float32)
        self._u_lo = torch.tensor([p[0] for p in uniforms.params], device=dev, dtype=torch.float32)
        self._u_span = torch.tensor([p[1] - p[0] for p in uniforms.params], device=dev, dtype=torch.float32)
        # the sampling grid = [affine 2x2 | elastic 2x16] @ basis: pixel x and y, then the 16 smooth
        # fields that the parent's einsum makes of a 4x4 coarse displacement, pre-scaled by its alpha
        basis = [self._grid_x[0], self._grid_y[0]]
        if a.elastic_p:
            u = _smooth_upsampler(4, PATCH).to(dev)
            basis += list(torch.einsum("ij,lk->jkil", u, u).reshape(16, PATCH * PATCH) * a.elastic_alpha)
        self._basis = torch.stack(basis)                                             # (q, 784)
        # both ink edges of a patch with one max: (28 - col) peaks at the left edge, (col + 1) at the right
        cols = torch.arange(PATCH, device=dev)
        self._edge_weights = torch.stack([PATCH - cols, cols + 1])                   # (2, 28)
        self._edge_sign = torch.tensor([-1, 1], device=dev)
        self._edge_offset = torch.tensor([PATCH, -1], device=dev)
        self._edge_none = torch.tensor([0, PATCH - 1], device=dev)                   # a patch without ink
        self._pad_x, self._pw = 12, max(L.width, 4 * PATCH) + 24
        self._ph = L.height + 2 * L.vertical_slack
        self._offsets = (cols[:, None] * self._pw + cols[None, :]).view(1, 1, -1)    # (1, 1, 784)
        k = torch.tensor([1.0, 2.0, 1.0], device=dev)
        self._blur_kernel = (k[:, None] * k[None, :] / 16).view(1, 1, 3, 3)

    def _max3(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, 3, 1, 1) if self.pooled else max_filter3(x)

    def draw(self, bsz: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All of one batch's random numbers: (integers (B, ni), coins (B, nc) bool, uniforms (B, nu))."""
        ints = torch.randint(0, INT_HIGH, (bsz, len(self.ints)), generator=self.gen, device=self.device)
        ints = ints % self._int_span + self._int_lo
        u = torch.rand((bsz, len(self.coins) + len(self.uniforms)), generator=self.gen, device=self.device)
        nc = len(self.coins)
        return ints, u[:, :nc] < self._coin_p, torch.addcmul(self._u_lo, u[:, nc:], self._u_span)

    def sample_with_centres(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not self.fused:
            return super().sample_with_centres(batch_size)
        ints, coins, uniforms = self.draw(batch_size)
        draws = {"int": lambda n: self.ints.take(ints, n), "coin": lambda n: self.coins.take(coins, n),
                 "u": lambda n: self.uniforms.take(uniforms, n)}
        idx = draws["int"]("idx")
        digits = self.labels[idx]                                              # (B, 4)
        patches = self._distort(self.pool[idx].float().div_(255.0), draws)     # (B, 4, 28, 28)
        canvas, centres = self._paste_fused(patches, draws)
        if self.augment.distractor_p and self.distractors is not None:
            canvas = self._add_distractors(canvas)                             # the parent's draws, after these
        if self.augment.edge_line_p:
            canvas = self._add_edge_lines(canvas)                              # the parent's draws too
        return self._degrade(canvas, draws).unsqueeze(1), digits, centres

    def _distort(self, patches: torch.Tensor, draws) -> torch.Tensor:
        a, (bsz, k) = self.augment, patches.shape[:2]
        coin, u = draws["coin"], draws["u"]

        def each(mask):   # (B, 4) per patch -> broadcast over its pixels
            return mask[..., None, None]
        flat = patches
        if self.geometric:
            b = bsz * k
            width = u("log_aspect").exp() if a.aspect != 1.0 else None
            # output->input: the parent's map (inverse rotation and scale, a horizontal shear, the width)
            m = torch.stack(inverse_affine(u("angle"), u("scale"), u("shear"), width), -1).view(b, 2, 2)
            if a.elastic_p:
                coarse = torch.randn((bsz, k, 32), generator=self.gen, device=self.device) * coin("elastic")[..., None]
                m = torch.cat([m, coarse.view(b, 2, 16)], -1)
            grid = (m.view(2 * b, -1) @ self._basis).view(b, 2, PATCH, PATCH).permute(0, 2, 3, 1)
            flat = F.grid_sample(patches.view(b, 1, PATCH, PATCH), grid, mode="bilinear", padding_mode="zeros",
                                 align_corners=False).view(bsz, k, PATCH, PATCH)
        if a.binarize_p:   # a pen's hard edges: 1 above a random level, else 0
            flat = torch.where(each(coin("binarize")), flat > each(u("level")), flat)
        if a.thicken_p:    # dilate, a marker's share twice
            thick = self._max3(flat)
            if a.marker_p:
                thick = torch.where(each(coin("marker")), self._max3(thick), thick)
            flat = torch.where(each(coin("thicken")), thick, flat)
        if a.thin_p:       # erode, unless it would take half the ink (a thin stroke would vanish)
            eroded = self._max3(flat.neg()).neg_()
            kept = torch.sub(eroded, flat, alpha=0.5).sum((2, 3)) >= 0
            flat = torch.where(each(coin("thin") & kept), eroded, flat)
        if a.faint_p:
            flat = flat * each(torch.where(coin("faint"), u("ink"), 1.0))
        return flat

    def _paste_fused(self, patches: torch.Tensor, draws) -> tuple[torch.Tensor, torch.Tensor]:
        """The parent's _positions and _paste (course mode), on the drawn numbers."""
        L, bsz = self.layout, patches.shape[0]
        integer, coin, u = draws["int"], draws["coin"], draws["u"]
        ink_cols = patches.amax(dim=2) > 0.15                                    # (B, 4, 28)
        peaks = (ink_cols.unsqueeze(2) * self._edge_weights).amax(-1)             # (B, 4, 2)
        edges = torch.where(peaks > 0, peaks * self._edge_sign + self._edge_offset, self._edge_none)
        left, right = edges[..., 0], edges[..., 1]
        ink_width = right - left + 1
        gaps = integer("gaps")
        if L.crowd_p:
            gaps = torch.where(coin("crowd"), integer("crowd_gaps"), gaps)
        if L.min_centre_gap is not None:   # overlap no further than keeps the centres apart
            min_gap = torch.div(2 * L.min_centre_gap + 1 - ink_width[:, :3] - ink_width[:, 1:], 2, rounding_mode="floor")
            gaps = torch.maximum(gaps, min_gap)
        start = integer("start")                                                 # (B, 1)
        widths, gap_sum = ink_width.sum(1), gaps.sum(1)
        if L.anywhere_p:   # the first digit anywhere the four still fit
            room = (L.width - 1 - widths - gap_sum).clamp_min(0)
            anywhere = (u("anywhere")[:, 0] * (room + 1).float()).long()
            start = torch.where(coin("anywhere"), anywhere.unsqueeze(1), start)
        # shrink the start and then the gaps where four digits would run off the right end
        excess = (start[:, 0] + widths + gap_sum - (L.width - 1)).clamp_min(0)
        cut_start = torch.minimum(excess, start[:, 0])
        gaps = gaps - torch.div(excess - cut_start + 2, 3, rounding_mode="floor").unsqueeze(1)
        ink_left = torch.cumsum(torch.cat([start - cut_start.unsqueeze(1), ink_width[:, :3] + gaps], dim=1), dim=1)
        x = (ink_left - left + self._pad_x).clamp(0, self._pw - PATCH)
        index = (integer("y") * self._pw + x).unsqueeze(2) + self._offsets       # (B, 4, 784)
        canvas = patches.new_zeros(bsz, self._ph * self._pw)
        canvas.scatter_reduce_(1, index.view(bsz, -1), patches.reshape(bsz, -1), reduce="amax")
        centres = x - self._pad_x + (left + right).float() / 2
        pad_y = L.vertical_slack
        return canvas.view(bsz, self._ph, self._pw)[:, pad_y:pad_y + L.height, self._pad_x:self._pad_x + L.width], centres

    def _degrade(self, canvas: torch.Tensor, draws) -> torch.Tensor:
        a = self.augment
        coin, u = draws["coin"], draws["u"]
        if a.blur_p:   # [1 2 1]/4 both ways
            if self.pooled:
                blurred = F.conv2d(canvas.unsqueeze(1), self._blur_kernel, padding=1).squeeze(1)
            else:
                blurred = blur121(canvas)
            canvas = torch.where(coin("blur")[..., None], blurred, canvas)
        if a.noise_p:
            std = torch.where(coin("noise"), u("noise_std"), 0.0)                   # (B, 1)
            noise = torch.randn(canvas.shape, generator=self.gen, device=self.device)
            canvas = torch.addcmul(canvas, noise, std[..., None])
        return canvas.clamp_(0.0, 1.0)


def make_fused_generator(pool_images, pool_labels, layout: str = "course", augment: str = "none", device="cpu",
                         seed: int = 0, distractors=None, **layout_overrides) -> FusedGenerator:
    """`digitsum.data.synth.make_generator`, fused: the same presets, the same images in distribution."""
    return make_generator(pool_images, pool_labels, layout, augment, device=device, seed=seed, distractors=distractors,
                          generator_class=FusedGenerator, **layout_overrides)
