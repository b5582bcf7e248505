"""The column reader: a digit detector along the width, CenterNet-style, with no fixed slots.

A small convolutional trunk downsamples early (a 20 px digit needs no full-resolution features),
collapses the height (max and mean: a digit may sit at any height), and a 1-D convolutional stack
over the columns gives, for every half-column of the canvas (stride 2 px), one centre logit ("a
digit is centred here") and ten class logits. Every weight is shared across the width, so the
same weights read a digit wherever it sits; `decode` then takes the four strongest local peaks of
the centre map, in reading order, and reads the class logits there.

maps layout: (B, 11, S) with S = W / 2 sub-columns; channel 0 is the centre logit, 1..10 the
digit classes.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from digitsum.reading.sumdist import N_DIGITS

SUBCOLUMN = 2       # px of canvas width per output position. The training layouts keep centres
                    # 6 px apart, so two centres are never neighbours here and a 3-wide NMS keeps both


def _conv_bn_relu(cin: int, cout: int, stride=1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class Residual(nn.Sequential):
    """relu(x + layers(x)), in 1-D or 2-D."""
    def forward(self, x):
        return torch.relu(x + super().forward(x))


def reader_trunk(widths=(24, 48, 96)) -> tuple[nn.Module, int]:
    """(B, 1, H, W) -> (B, C, H/8, W/4). Strides (2,2), (2,2), (2,1): the width keeps one column
    per 4 px, enough to tell apart two digits whose centres are 6 px apart."""
    c1, c2, c3 = widths
    layers = [*_conv_bn_relu(1, c1, 2), *_conv_bn_relu(c1, c1)]                       # H/2 x W/2
    layers += [*_conv_bn_relu(c1, c2, 2),
               Residual(*_conv_bn_relu(c2, c2), nn.Conv2d(c2, c2, 3, 1, 1, bias=False), nn.BatchNorm2d(c2))]
    layers += [*_conv_bn_relu(c2, c3, (2, 1)),                                         # H/8 x W/4
               Residual(*_conv_bn_relu(c3, c3), nn.Conv2d(c3, c3, 3, 1, 1, bias=False), nn.BatchNorm2d(c3))]
    return nn.Sequential(*layers), c3


def trunk_rows(height: int) -> int:
    """Rows of the trunk's feature map for a canvas `height` px tall (three stride-2 convolutions
    with padding 1, each giving ceil(h / 2)): 5 for the course's 40 px."""
    for _ in range(3):
        height = (height + 1) // 2
    return height


def widen_with_rows(model, wide):
    """Copy `model`'s weights (a reader without row features) into `wide` (the same reader with
    them), the row features' input weights at zero: `wide` then reads exactly as `model` does, and
    training starts from there. -> wide."""
    # a state_dict's tensors share their parameters' and buffers' storage: writing them writes `wide`
    source, target = model.state_dict(), wide.state_dict()
    first = "column_head.body.0.weight"                                 # (hidden, in_ch, 5)
    for name, t in source.items():
        if name == first:
            target[name].zero_()[:, :t.shape[1]] = t
        else:
            target[name].copy_(t)
    return wide


def _conv1d_bn_relu(cin: int, cout: int, k: int = 5) -> list[nn.Module]:
    return [nn.Conv1d(cin, cout, k, 1, k // 2, bias=False), nn.BatchNorm1d(cout), nn.ReLU(inplace=True)]


class ColumnHead(nn.Module):
    """Column features (B, 2C, W/4) -> maps (B, 11, W/2). 5-wide 1-D convolutions (1 + 2 x blocks
    of them; 3 see ~13 columns, ~52 px) give each column the context of a digit and its neighbours,
    which is what tells overlapping strokes apart."""

    def __init__(self, in_ch: int, hidden: int = 128, dropout: float = 0.1, blocks: int = 1):
        super().__init__()
        residuals = [Residual(*_conv1d_bn_relu(hidden, hidden),
                                nn.Conv1d(hidden, hidden, 5, 1, 2, bias=False), nn.BatchNorm1d(hidden))
                     for _ in range(blocks)]
        self.body = nn.Sequential(*_conv1d_bn_relu(in_ch, hidden), *residuals, nn.Dropout(dropout))
        self.out = nn.Conv1d(hidden, 2 * 11, 1)   # two sub-columns per column, 11 channels each
        nn.init.constant_(self.out.bias[0::11], -4.0)  # centres are rare: start near p = 0.02

    def forward(self, cols: torch.Tensor) -> torch.Tensor:
        b, _, w = cols.shape
        maps = self.out(self.body(cols))                                    # (B, 22, w)
        return maps.view(b, 2, 11, w).permute(0, 2, 3, 1).reshape(b, 11, 2 * w)  # (B, 11, 2w)


WIDTH_STRIDE = 4    # px of canvas width per trunk column


def align_to_stride(images: torch.Tensor, ink_level: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift each image left by (its first inked column mod WIDTH_STRIDE), zero-filled: the ink then
    starts on the same phase of the trunk's 4 px column grid wherever it sat, so a sideways move of
    the ink gives the same maps, only shifted (strided convolutions are equivariant to shifts by
    their stride alone). -> (aligned images, shifts (B,) in px). Ink never falls off: the shift is
    at most the first inked column."""
    cols = images.amax(dim=(1, 2))                                          # (B, W)
    inked = cols > ink_level * cols.amax(dim=1, keepdim=True).clamp_min(1e-6)
    first = inked.float().argmax(dim=1)                                     # (B,), 0 for a blank image
    shift = first % WIDTH_STRIDE
    w = images.shape[-1]
    src = (torch.arange(w, device=images.device).view(1, w) + shift.view(-1, 1)).clamp_max(w - 1)  # (B, W)
    aligned = images.gather(3, src.view(-1, 1, 1, w).expand_as(images))
    inside = torch.arange(w, device=images.device).view(1, w) < w - shift.view(-1, 1)  # zero-fill the right end
    return aligned * inside.view(-1, 1, 1, w), shift


EDGE_PAD = 8  # px of blank added at each side before reading (a multiple of WIDTH_STRIDE)


def read_padded(model, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """images (B, 1, H, W) -> (digit logits (B, 4, 10), x-centres in px (B, 4), the five strongest
    centre peaks' probabilities (B, 5)), read with a canonical stride phase and blank margins, so
    the answer does not depend on where the ink sits."""
    aligned, shift = align_to_stride(images)
    maps = model(pad_edges(aligned)).float()
    margin = EDGE_PAD // SUBCOLUMN
    logits, positions = decode(maps, margin=margin)
    where = positions_to_px(positions) - EDGE_PAD + shift.unsqueeze(1)
    return logits, where.clamp(0, images.shape[-1] - 1), peak_probabilities(maps, N_DIGITS + 1, margin)


def peak_probabilities(maps: torch.Tensor, k: int, margin: int = 0) -> torch.Tensor:
    """maps (B, 11, S) -> (B, k): the centre probabilities of the k strongest local peaks, strongest
    first (0 where there are fewer peaks). Four digits show four strong peaks and a weak fifth."""
    heat = maps[:, 0]
    peak = heat >= F.max_pool1d(heat.unsqueeze(1), 3, 1, 1).squeeze(1)
    if margin:
        peak[:, :margin] = peak[:, -margin:] = False
    prob = torch.where(peak, torch.sigmoid(heat), torch.zeros_like(heat))
    return prob.topk(k, dim=1).values


def pad_edges(images: torch.Tensor, pad: int = EDGE_PAD) -> torch.Tensor:
    """Ink that touches the canvas edge is read as if it did not: the model sees blank beyond it."""
    return F.pad(images, (pad, pad))


def decode(maps: torch.Tensor, k: int = N_DIGITS, margin: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """maps (B, 11, S) -> (digit logits (B, k, 10), positions (B, k) sub-column indices), the k
    strongest local maxima of the centre map in reading order. Fewer than k peaks: the strongest
    non-peak positions fill in (a digit hidden in another's shoulder). `margin` sub-columns at
    each end (blank padding) hold no digit."""
    heat = maps[:, 0]                                                     # (B, S)
    peak = heat >= F.max_pool1d(heat.unsqueeze(1), 3, 1, 1).squeeze(1)
    score = torch.where(peak, heat, heat - 1e4)
    if margin:
        score[:, :margin] = score[:, -margin:] = -1e9
    positions = score.topk(k, dim=1).indices.sort(dim=1).values           # (B, k)
    return gather_classes(maps, positions), positions


def gather_classes(maps: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Class logits (B, k, 10) at sub-column positions (B, k)."""
    return maps[:, 1:].gather(2, positions.unsqueeze(1).expand(-1, 10, -1)).transpose(1, 2)


def centre_positions(centres_px: torch.Tensor, n_positions: int) -> torch.Tensor:
    """Digit x-centres in canvas px (B, k) -> sub-column indices (B, k)."""
    return (centres_px / SUBCOLUMN).floor().long().clamp_(0, n_positions - 1)


def positions_to_px(positions: torch.Tensor) -> torch.Tensor:
    """Sub-column indices -> x-centre in canvas px (the middle of the sub-column)."""
    return (positions.float() + 0.5) * SUBCOLUMN


def centre_loss(heat: torch.Tensor, positions: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss on the centre map. heat (B, S) logits, positions
    (B, k) true centres. Near a true centre the penalty for a positive answer fades (Gaussian)."""
    s = heat.shape[1]
    grid = torch.arange(s, device=heat.device, dtype=heat.dtype)
    dist2 = (grid.view(1, 1, s) - positions.unsqueeze(2).to(heat.dtype)) ** 2   # (B, k, S)
    near = torch.exp(-dist2 / (2 * sigma ** 2)).amax(1)                          # (B, S), 1 at centres
    pos = torch.zeros_like(heat, dtype=torch.bool).scatter_(1, positions, True)
    p = torch.sigmoid(heat).clamp(1e-4, 1 - 1e-4)
    pos_loss = -torch.log(p) * (1 - p) ** 2
    neg_loss = -torch.log(1 - p) * p ** 2 * (1 - near) ** 4
    return torch.where(pos, pos_loss, neg_loss).sum() / positions.numel()


def class_loss(maps: torch.Tensor, positions: torch.Tensor, digits: torch.Tensor,
               label_smoothing: float = 0.0, neighbour_weight: float = 0.5) -> torch.Tensor:
    """Cross-entropy of the class logits at each true centre, and (with a lower weight) at its two
    neighbours, so a peak found one sub-column off still reads the right digit."""
    s = maps.shape[2]
    total, weights = 0.0, 0.0
    for shift, w in ((0, 1.0), (-1, neighbour_weight), (1, neighbour_weight)):
        logits = gather_classes(maps, (positions + shift).clamp(0, s - 1))
        total = total + w * F.cross_entropy(logits.reshape(-1, 10), digits.reshape(-1), label_smoothing=label_smoothing)
        weights += w
    return total / weights
