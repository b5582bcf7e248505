"""Inference options measured against their cost: test-time augmentation (small vertical shifts)
and ensembles of checkpoints. Both average the digit probabilities place by place (reading order),
then take the exact sum distribution of the average."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from digitsum.reading.sumdist import sum_distribution

TTA_SHIFTS = (0, -2, 2)   # px up and down: the trunk strides 8 px vertically, so these resample it


def vertical_shift(images: torch.Tensor, dy: int) -> torch.Tensor:
    """(B, 1, H, W) moved down by dy px (up if negative), zero-filled."""
    if dy == 0:
        return images
    h = images.shape[2]
    padded = F.pad(images, (0, 0, max(dy, 0), max(-dy, 0)))
    return padded[:, :, :h] if dy > 0 else padded[:, :, -h:]


class AveragedReader(nn.Module):
    """Digit-reading models (and optionally TTA shifts) as one model with `predict_proba`."""

    def __init__(self, models, shifts=(0,)):
        super().__init__()
        bad = [m for m in models if getattr(m, "head_kind", None) not in ("digits", "centers")]
        if bad:
            raise ValueError("only models that read digits can be averaged (not sum-only or regression heads)")
        self.members = nn.ModuleList(models)
        self.shifts = tuple(shifts)
        self.height, self.width = models[0].height, models[0].width
        self.head_kind = "digits"

    @torch.no_grad()
    def predict_proba(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        total = 0.0
        for model in self.members:
            for dy in self.shifts:
                total = total + model.read(vertical_shift(images, dy))[0]
        digit_probs = total / (len(self.members) * len(self.shifts))
        return digit_probs, sum_distribution(digit_probs)
