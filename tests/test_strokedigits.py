import numpy as np
import pytest

from digitsum.data import handfonts
from digitsum.data.fontdigits import render_font_digits
from digitsum.data.mnist import load_mnist
from digitsum.data.strokedigits import STYLES, catmull_rom, draw_strokes, load_pendigits, render_pen_digits, render_style_digits
from handfontcheck import hand_fonts_or_skip

RENDERERS = [render_style_digits, render_pen_digits]


def render_hand_digits(n: int, seed: int):
    """digitsum.data.handfonts' renderer, its fonts fetched first (or the test skipped, saying why)."""
    hand_fonts_or_skip()
    return handfonts.render_hand_digits(n, seed)


# every pool source beside MNIST: how far its centre of mass may sit from the patch's centre (px)
# and the range of its mean ink against MNIST's (neither hairlines nor blobs); fonts are the tightest
POOL_SOURCES = [(render_font_digits, 2.0, (0.5, 2.0)), (render_style_digits, 2.5, (0.4, 2.5)),
                (render_pen_digits, 2.5, (0.4, 2.5)), (render_hand_digits, 2.0, (0.5, 2.0))]


@pytest.mark.parametrize("render, centre_within, ink_ratio", POOL_SOURCES, ids=lambda v: getattr(v, "__name__", ""))
def test_pool_digits_are_stored_as_mnist_stores_digits(render, centre_within, ink_ratio):
    images, labels = render(200, seed=3)
    assert images.shape == (200, 28, 28) and images.dtype == np.uint8 and labels.shape == (200,)
    assert set(labels.tolist()) == set(range(10))
    mnist, _ = load_mnist("test")
    for im in images:
        rows, cols = np.nonzero(im.any(1))[0], np.nonzero(im.any(0))[0]
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21          # ink in MNIST's 20 px box
        ys, xs = np.indices(im.shape)
        cy, cx = (ys * im).sum() / im.sum(), (xs * im).sum() / im.sum()
        assert abs(cy - 13.5) < centre_within and abs(cx - 13.5) < centre_within   # centred by mass
    assert ink_ratio[0] < images.mean() / mnist[:2000].mean() < ink_ratio[1]


@pytest.mark.parametrize("render", RENDERERS, ids=lambda r: r.__name__)
def test_stroke_digits_are_deterministic_and_vary(render):
    a, la = render(40, seed=1)
    b, lb = render(40, seed=1)
    c, _ = render(40, seed=2)
    assert np.array_equal(a, b) and np.array_equal(la, lb) and not np.array_equal(a, c)
    same_label = [im for im, lab in zip(a, la) if lab == la[0]]
    assert len({im.tobytes() for im in same_label}) == len(same_label)          # no two alike


def test_every_digit_has_the_styles_mnist_lacks():
    assert all(len(STYLES[d]) >= 2 for d in range(10))
    assert {"flag", "flag-base", "stick"} <= set(STYLES[1]) and "crossbar" in STYLES[7]
    assert {"open", "closed"} <= set(STYLES[4]) and "loop" in STYLES[2] and "two-circles" in STYLES[8]


def test_a_flagged_one_with_a_base_is_drawn_with_its_base():
    rng = np.random.default_rng(0)
    based = draw_strokes([np.asarray(s, float) for s in STYLES[1]["flag-base"]], rng)
    stick = draw_strokes([np.asarray(s, float) for s in STYLES[1]["stick"]], np.random.default_rng(0))
    def bottom_width(im):
        rows = np.nonzero(im.max(1) > 128)[0]
        return (im[rows[-3]:rows[-1] + 1] > 128).any(0).sum()
    assert bottom_width(based) >= 2 * bottom_width(stick)


def test_spline_passes_through_its_control_points():
    points = np.array([[0.0, 0.0], [1.0, 0.5], [0.0, 1.0], [1.0, 1.0]])
    path = catmull_rom(points, per_segment=8)
    for p in points:
        assert np.min(np.linalg.norm(path - p, axis=1)) < 1e-9


def test_pendigits_are_other_writers_trajectories():
    points, labels = load_pendigits()
    assert points.shape == (10992, 8, 2) and set(labels.tolist()) == set(range(10))
    assert points.min() >= 0 and points.max() <= 1
