"""Marks that are not digits, for training the reader to find no digit in them: letters of the
handwriting and printed fonts, pen scribbles, and the straight edge of a page (`draw_edge_lines`).
The generator (`Augment.distractor_p`) puts one beside a row of four digits, where it has room, and
the row's labels stay the four digits, so the centre map learns that a letter or a scribble is no
digit's centre.

Why: the four-digit check (`digitsum.reading.predict.four_digit_score`) reads how many digit-like
marks the centre map found. A reader that never saw a letter finds digits in "ABCD" (71 % 4800).

What the four-digit check is measured on (`digitsum.data.nondigits`) is drawn another way: Hershey
stroke letters and PIL shapes. None of these sources is used there, so its rates stay a test of marks
the reader has not seen.
"""
from __future__ import annotations

import numpy as np
import torch

from digitsum.data.fontdigits import printed_fonts, render_glyphs
from digitsum.data.strokedigits import draw_strokes

# letters whose shapes no digit shares (no O, l, I, S, Z, B, G, b, g, q, z, s, nor a 7-like T or 4-like y)
LETTERS = "ACEFHKMNPRUVWXacefhkmnpruvwx"
SCRIBBLE_SHARE = 0.3   # of the distractors, the share that are scribbles rather than letters
GAP = 3                # px at least between a distractor's ink and the digits' ink
EDGE_SLANT = 4.0       # px an edge line leans over the canvas's height, at most either way


def _fonts() -> list:
    """Printed fonts always; the handwriting fonts too when they are fetched (./run train fetches
    them). Only their absence is tolerated: a font that is there but broken raises, as it should."""
    from digitsum.data.handfonts import hand_fonts, missing
    return printed_fonts() + ([] if missing() else hand_fonts())


def _scribble(rng: np.random.Generator) -> np.ndarray:
    """A random pen walk of 6-10 sharp turns, 1-2 strokes: messier than any digit."""
    strokes = [rng.uniform(0.0, 1.0, (int(rng.integers(6, 11)), 2)) for _ in range(int(rng.integers(1, 3)))]
    return draw_strokes(strokes, rng)


def render_distractors(n: int, seed: int = 0) -> np.ndarray:
    """-> (n, 28, 28) uint8 white-on-black non-digit marks stored as MNIST stores digits (20 px box,
    centred by mass). Deterministic for (n, seed) and the fonts at hand."""
    rng = np.random.default_rng([seed, 77_077])
    scribbles = rng.random(n) < SCRIBBLE_SHARE
    out = np.zeros((n, 28, 28), np.uint8)
    n_letters = int((~scribbles).sum())
    if n_letters:
        texts = [LETTERS[i] for i in rng.integers(len(LETTERS), size=n_letters)]
        out[~scribbles] = render_glyphs(_fonts(), texts, rng, centred=True)
    for i in np.flatnonzero(scribbles):
        out[i] = _scribble(rng)
    return out


def _room_beside(canvas: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """canvases (B, H, W) -> the row's first and last inked column, whether the right side is the
    wider free one, and how many columns that side leaves free, GAP px from the ink: (B,) each."""
    width = canvas.shape[2]
    inked = canvas.amax(dim=1) > 0.15                                      # (B, W)
    first = inked.float().argmax(dim=1)
    last = width - 1 - inked.flip(1).float().argmax(dim=1)
    room_left, room_right = first - GAP, width - 1 - last - GAP            # free columns each side
    right = room_right >= room_left
    return first, last, right, torch.where(right, room_right, room_left)


def paste_beside(gen, canvas: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
    """Max-blend one distractor patch (B, 28, 28) into each canvas (B, H, W) where a coin says so
    and the row of digits leaves room on its left or right (the wider side); elsewhere the canvas is
    unchanged. `gen`: the FourDigitGenerator, whose random stream it draws from."""
    bsz, height, width = canvas.shape
    first, last, right, room = _room_beside(canvas)
    cols = patches.amax(dim=1) > 0.15                                      # (B, 28)
    p_left = cols.float().argmax(dim=1)
    p_right = 27 - cols.flip(1).float().argmax(dim=1)
    ink_w = p_right - p_left + 1
    fits = room >= ink_w
    slack = (gen.uniform(bsz, 0.0, 1.0) * (room - ink_w + 1).clamp_min(1).float()).long()
    ink_left = torch.where(right, last + GAP + slack, first - GAP - ink_w + 1 - slack)
    x = ink_left - p_left                                                  # the patch's left edge
    y = gen.randint(-4, height - 28 + 5, (bsz,))
    keep = fits & gen.coin(bsz, gen.augment.distractor_p)
    # place the patch on a padded copy, then max-blend where kept
    pad = 28
    board = canvas.new_zeros(bsz, height + 2 * pad, width + 2 * pad)
    rows = torch.arange(28, device=canvas.device)
    ys = (y + pad).clamp(0, height + pad).view(-1, 1, 1) + rows.view(1, -1, 1)
    xs = (x + pad).clamp(0, width + pad).view(-1, 1, 1) + rows.view(1, 1, -1)
    b = torch.arange(bsz, device=canvas.device).view(-1, 1, 1)
    board[b, ys, xs] = patches
    placed = board[:, pad:pad + height, pad:pad + width]
    return torch.where(keep.view(-1, 1, 1), torch.maximum(canvas, placed), canvas)


def draw_edge_lines(gen, canvas: torch.Tensor) -> torch.Tensor:
    """Max-blend a long straight line beside the row into the canvases (B, H, W) a coin picks: the
    edge of a page or of a box, as a photo's crop keeps it. It runs from the canvas's top to its
    bottom (0-4 px short of each), slanted by up to EDGE_SLANT px, 1-3 px wide, of any ink, at least
    GAP px from the digits on the wider side; where that side has no room, nothing is drawn. Taller
    than any digit the generator draws (27 px at most), so the reader can learn that it is none.
    `gen`: the FourDigitGenerator, whose random stream it draws from."""
    bsz, height, width = canvas.shape
    first, last, right, room = _room_beside(canvas)
    room = room.float()
    slant = gen.uniform(bsz, -EDGE_SLANT, EDGE_SLANT)
    offset = EDGE_SLANT + 1 + gen.uniform(bsz, 0.0, 1.0) * (room - 2 * EDGE_SLANT - 2).clamp_min(0)
    x_mid = torch.where(right, last.float() + GAP + offset, first.float() - GAP - offset)
    top, bottom = gen.uniform(bsz, 0.0, 4.0), height - 1 - gen.uniform(bsz, 0.0, 4.0)
    half_width = gen.uniform(bsz, 0.5, 1.5)
    ink = gen.uniform(bsz, 0.3, 1.0)
    keep = (room >= 2 * EDGE_SLANT + 3) & gen.coin(bsz, gen.augment.edge_line_p)
    ys = torch.arange(height, device=canvas.device, dtype=canvas.dtype).view(1, -1, 1)
    xs = torch.arange(width, device=canvas.device, dtype=canvas.dtype).view(1, 1, -1)
    # the line's x at each row (a straight slant about the middle row), and each pixel's distance to it
    centre = x_mid.view(-1, 1, 1) + slant.view(-1, 1, 1) * (ys / (height - 1) - 0.5)
    along = (ys >= top.view(-1, 1, 1)) & (ys <= bottom.view(-1, 1, 1))
    level = (half_width.view(-1, 1, 1) + 0.5 - (xs - centre).abs()).clamp(0, 1) * along   # soft edges
    line = level * (ink * keep).view(-1, 1, 1)
    return torch.maximum(canvas, line)
