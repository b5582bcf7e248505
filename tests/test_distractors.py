"""Letters and scribbles beside the rows (augment preset wide_distractors): what they render, where
the generator puts them, and that no other preset changes."""
from dataclasses import replace

import numpy as np
import torch

from digitsum.data.distractors import GAP, render_distractors
from digitsum.data.mnist import load_mnist
from digitsum.data.synth import FourDigitGenerator, make_generator
from digitsum.data.synth_presets import AUGMENTS, LAYOUTS


def _pool():
    images, labels = load_mnist("test")
    return images[:2000], labels[:2000]


def test_distractors_are_deterministic_inked_marks_stored_as_mnist_digits():
    a, b = render_distractors(60, seed=3), render_distractors(60, seed=3)
    assert a.shape == (60, 28, 28) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, render_distractors(60, seed=4))
    ink = a > 40
    assert ink.sum((1, 2)).min() > 10                      # every mark has ink
    rows, cols = ink.any(2), ink.any(1)
    longest = np.maximum(rows.sum(1), cols.sum(1))
    assert (longest >= 17).all() and (longest <= 22).all()  # in MNIST's 20 px box


def test_a_distractor_sits_beside_the_row_and_the_labels_stay_the_digits():
    pool = _pool()
    distractors = render_distractors(200, seed=0)
    # no other augmentation, so that the distractors' draws shift no later random choice
    plain = FourDigitGenerator(*pool, LAYOUTS["wide"], AUGMENTS["none"], seed=11)
    marked = FourDigitGenerator(*pool, LAYOUTS["wide"], replace(AUGMENTS["none"], distractor_p=0.33), seed=11,
                                distractors=distractors)
    x0, d0, c0 = plain.sample_with_centres(64)
    x1, d1, c1 = marked.sample_with_centres(64)
    assert torch.equal(d0, d1) and torch.equal(c0, c1)      # same digits, same places
    changed = (x1 != x0).flatten(1).any(1)
    assert 0.1 < changed.float().mean() < 0.6               # about a third of the rows, where there is room
    # the added ink lies beyond the digits' own ink, GAP px clear of it
    for i in torch.nonzero(changed).flatten().tolist():
        row = x0[i, 0].amax(0) > 0.15
        added = ((x1[i, 0] - x0[i, 0]).amax(0) > 0.15)
        first, last = row.float().argmax(), len(row) - 1 - row.flip(0).float().argmax()
        cols = torch.nonzero(added).flatten()
        assert ((cols < first - GAP + 1) | (cols > last + GAP - 1)).all(), i


def test_presets_without_distractors_draw_as_before():
    pool = _pool()
    assert all(a.distractor_p == 0 for name, a in AUGMENTS.items() if name not in ("wide_distractors", "wide_page", "wide_writers"))
    x0, d0 = make_generator(*pool, "wide", "wide", seed=5).sample(32)
    x1, d1 = make_generator(*pool, "wide", "wide", seed=5, distractors=render_distractors(50)).sample(32)
    assert torch.equal(x0, x1) and torch.equal(d0, d1)


def test_an_edge_line_stands_beside_the_row_taller_than_any_digit():
    # the same seed with and without edge lines: the lines are drawn after the digits, so the
    # difference is the line alone
    x, y = load_mnist("test")
    plain = FourDigitGenerator(x, y, LAYOUTS["wide"], AUGMENTS["none"], seed=4).sample(300)[0][:, 0]
    lined = FourDigitGenerator(x, y, LAYOUTS["wide"], replace(AUGMENTS["none"], edge_line_p=1.0), seed=4).sample(300)[0][:, 0]
    line = (lined - plain) > 0.05                                            # (B, H, W)
    drawn = line.any(dim=(1, 2))
    assert drawn.float().mean() > 0.5                                       # where the row leaves room
    rows = line.any(dim=2)[drawn]                                           # (n, H)
    tall = rows.float().sum(dim=1)
    assert tall.min() >= 31                                                 # digits: 27 px at most
    digit_cols = (plain > 0.15).any(dim=1)[drawn]                           # (n, W)
    line_cols = line.any(dim=1)[drawn]
    near = torch.nn.functional.max_pool1d(digit_cols.float().unsqueeze(1), 2 * GAP - 1, 1, GAP - 1).squeeze(1) > 0
    assert not (near & line_cols).any()                                     # never on or against a digit
    # and without the knob nothing is drawn
    assert torch.equal(plain, FourDigitGenerator(x, y, LAYOUTS["wide"], AUGMENTS["none"], seed=4).sample(300)[0][:, 0])
