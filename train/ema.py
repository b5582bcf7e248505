"""An exponential moving average of the weights, updated without a host sync (timm's ModelEmaV3).

The decay is computed on the host from a Python step counter, and the whole update is one
`torch._foreach_lerp_` over the floating tensors (parameters and BatchNorm statistics alike, so the
averaged weights and their statistics stay consistent). torch's AveragedModel with a custom avg_fn
instead reads its device-side counter once per tensor: ~90 host syncs a step on a GPU.
"""
from __future__ import annotations

import copy

import torch

REFERENCE_IMAGES = 128   # --ema-decay is the decay per this many training images (the CPU default step)


def decay_per_step(decay: float, images_per_step: int) -> float:
    """--ema-decay is defined per REFERENCE_IMAGES images; a step of `images_per_step` images (all
    processes together) scales the update weight as torchvision's references do:
    alpha = min(1, (1 - decay) * images_per_step / REFERENCE_IMAGES). A run on 8 GPUs with batch 512
    then averages over the same number of images as one process with batch 128."""
    alpha = min(1.0, (1.0 - decay) * images_per_step / REFERENCE_IMAGES)
    return 1.0 - alpha


class EMA(torch.nn.Module):
    """`ema.module` is the averaged copy of `model`. Its state_dict has AveragedModel's keys
    (module.*, n_averaged), so run states saved before this class still resume."""

    def __init__(self, model: torch.nn.Module, decay: float, warmup: int = 0, images_per_step: int = REFERENCE_IMAGES):
        super().__init__()
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay_per_step(decay, images_per_step)
        self.warmup = warmup
        self.updates = 0   # host copy of n_averaged: the decay is computed from it without a sync
        self.register_buffer("n_averaged", torch.tensor(0, dtype=torch.long, device=next(model.parameters()).device))

    def current_decay(self) -> float:
        """Early on the average follows the weights closely, so it is not frozen at the random
        init: (1 + n) / (warmup + n) after n updates, capped at the per-step decay."""
        n = self.updates
        return min(self.decay, (1.0 + n) / (self.warmup + n)) if self.warmup + n > 0 else self.decay

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        mine = [*self.module.parameters(), *self.module.buffers()]
        theirs = [*model.parameters(), *model.buffers()]
        if self.updates == 0:   # the first update copies, as AveragedModel does
            torch._foreach_copy_(mine, theirs)
        else:
            floats = [(a, b) for a, b in zip(mine, theirs) if a.is_floating_point()]
            others = [(a, b) for a, b in zip(mine, theirs) if not a.is_floating_point()]   # BN's step counts
            if floats:
                torch._foreach_lerp_([a for a, _ in floats], [b for _, b in floats], 1.0 - self.current_decay())
            if others:
                torch._foreach_copy_([a for a, _ in others], [b for _, b in others])
        self.updates += 1
        self.n_averaged.fill_(self.updates)   # a host int into a device tensor: a kernel launch, no sync

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.updates = int(self.n_averaged)   # one host read, at resume only
        return result
