import numpy as np
import pytest
import torch

from digitsum.data.mnist import load_mnist
from dataclasses import replace

from digitsum.data.synth import FourDigitGenerator, generate_dataset, make_generator
from digitsum.data.synth_presets import AUGMENTS, LAYOUTS


@pytest.mark.parametrize("layout,augment", [("course", "none"), ("train", "train"), ("hard", "hard"), ("naive", "none")])
def test_batches_have_the_layout_shape_and_labels(layout, augment):
    x, y = load_mnist("train")
    gen = make_generator(x, y, layout, augment, seed=3)
    images, digits = gen.sample(16)
    L = LAYOUTS[layout]
    assert images.shape == (16, 1, L.height, L.width) and images.dtype == torch.float32
    assert digits.shape == (16, 4) and 0 <= digits.min() and digits.max() <= 9
    assert 0 <= images.min() and images.max() <= 1 and images.amax(dim=(1, 2, 3)).min() > 0.3


@pytest.mark.parametrize("augment", ["train", "hard"])
def test_no_digit_vanishes_under_augmentation(augment):
    # a label must name a visible digit: thinning a thin, faint stroke must not erase it. The naive
    # layout gives each digit its own 28 px slot; canvas noise is off so only ink counts.
    x, y = load_mnist("test")
    distort_only = replace(AUGMENTS[augment], noise_p=0.0, blur_p=0.0)
    gen = FourDigitGenerator(x, y, LAYOUTS["naive"], distort_only, seed=5)
    images, _ = gen.sample(3000)
    slots = images[:, 0, :, :112].reshape(3000, 40, 4, 28)            # (B, H, slot, 28)
    ink_per_digit = (slots > 0.15).sum(dim=(1, 3))                      # (B, 4)
    assert ink_per_digit.min() >= 12


def test_same_seed_same_images_other_seed_other_images():
    a, da = generate_dataset("train", 32, seed=7)
    b, db = generate_dataset("train", 32, seed=7)
    c, _ = generate_dataset("train", 32, seed=8)
    assert np.array_equal(a, b) and np.array_equal(da, db) and not np.array_equal(a, c)


def test_course_layout_reads_left_to_right_with_an_empty_right_end():
    images, digits = generate_dataset("train", 500, seed=1)
    ink_cols = (images > 40).any(axis=1)                       # (N, 168)
    rightmost = 167 - np.argmax(ink_cols[:, ::-1], axis=1)
    assert np.median(rightmost) < 150                          # usually room to spare on the right
    assert (images > 40).any(axis=2)[:, :4].mean() < 0.5       # and near the left edge it starts
    # each digit is pasted at native size (~20 px of ink), at its own height: a row of them spans
    # ~30 px, seldom the whole 40 px canvas (digits scaled up would)
    rows = (images > 40).any(axis=2)
    heights = rows.shape[1] - np.argmax(rows[:, ::-1], 1) - np.argmax(rows, 1)
    assert 20 <= np.median(heights) <= 32 and (heights >= 39).mean() < 0.02


def test_test_sets_use_test_digits_and_train_sets_train_digits():
    # the naive layout pastes untouched 28x28 patches at fixed places: look each one up
    test_x, _ = load_mnist("test")
    train_x, _ = load_mnist("train")
    test_keys = {im.tobytes() for im in test_x}
    train_keys = {im.tobytes() for im in train_x}
    for split, keys, other in (("test", test_keys, train_keys), ("train", train_keys, test_keys)):
        images, digits = generate_dataset(split, 20, seed=0, layout="naive")
        y0 = (40 - 28) // 2
        for im in images:
            for k in range(4):
                patch = im[y0:y0 + 28, 28 * k:28 * k + 28].tobytes()
                assert patch in keys and patch not in other


def test_canvas_sizes_and_too_small_canvas():
    images, _ = generate_dataset("test", 8, seed=0, height=56, width=224)
    assert images.shape == (8, 56, 224)
    x, y = load_mnist("test")
    with pytest.raises(ValueError, match="too small"):
        make_generator(x, y, height=20, width=168)


def test_stacked_layout_writes_pairs_one_above_the_other_in_reading_order():
    # every image stacks (stack_p 1): some neighbouring pair overlaps in x, one digit's ink at the
    # top of the canvas and the other's at the bottom; the labels stay in x-centre order
    x, y = load_mnist("test")
    layout = replace(LAYOUTS["wide_stacked"], stack_p=1.0)
    gen = FourDigitGenerator(x, y, layout, AUGMENTS["none"], seed=11)
    images, digits, centres = gen.sample_with_centres(200)
    assert (centres[:, 1:] - centres[:, :-1]).min() >= layout.min_centre_gap - 1
    ink = images[:, 0] > 0.15                                              # (B, H, W)
    top_rows, bottom_rows = ink[:, :4].any(dim=(1, 2)), ink[:, -4:].any(dim=(1, 2))
    assert (top_rows & bottom_rows).float().mean() > 0.95                  # ink at both edges
    # a column with ink in the top quarter and in the bottom quarter: two digits stacked (most
    # images of the plain layout have none; measured 88 % against 15 %)
    def spans_height(images):
        ink = images[:, 0] > 0.15
        return (ink[:, :10].any(dim=1) & ink[:, -10:].any(dim=1)).any(dim=1).float().mean()
    plain = FourDigitGenerator(x, y, LAYOUTS["wide"], AUGMENTS["none"], seed=11).sample(200)[0]
    assert spans_height(images) > 0.8 and spans_height(plain) < 0.3
    # without stacking nothing about the stream changes: the same seed gives the same images
    again = FourDigitGenerator(x, y, replace(LAYOUTS["wide"], stack_scale=(0.1, 0.2)), AUGMENTS["none"], seed=11).sample(200)[0]
    assert torch.equal(plain, again)


def test_the_width_factor_widens_and_narrows_digits_and_keeps_their_height():
    """augment `aspect`: each digit's width times 1/aspect..aspect, its height as it was (the naive
    layout gives each digit a 28 px slot of its own, so a digit's ink extent is measurable)."""
    x, y = load_mnist("test")

    def extents(aspect):
        gen = FourDigitGenerator(x, y, LAYOUTS["naive"], replace(AUGMENTS["none"], aspect=aspect), seed=5)
        slots = gen.sample(2000)[0][:, 0, :, :112].reshape(2000, 40, 4, 28) > 0.3    # (B, H, slot, 28)
        cols, rows = slots.any(1), slots.any(3)                                      # (B, 4, 28), (B, 40, 4)
        return cols.sum(2).float(), rows.sum(1).float()
    width1, height1 = extents(1.0)
    width2, height2 = extents(1.6)
    assert abs(height2.mean() - height1.mean()) < 0.5                   # the height kept
    assert width2.std() > 1.3 * width1.std()                            # widths spread both ways
    assert (width2 > width1.max()).any() and (width2 < 0.7 * width1.mean()).float().mean() > 0.1
