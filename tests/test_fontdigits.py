import numpy as np

from digitsum.fontdigits import available_fonts, render_font_digits
from digitsum.mnist import load_mnist


def test_font_digits_look_like_mnist_digits():
    images, labels = render_font_digits(200, seed=3)
    assert images.shape == (200, 28, 28) and images.dtype == np.uint8
    assert set(labels.tolist()) == set(range(10))
    mnist, _ = load_mnist("test")
    for im in images:
        rows, cols = np.nonzero(im.any(1))[0], np.nonzero(im.any(0))[0]
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21          # ink in MNIST's 20 px box
        ys, xs = np.indices(im.shape)
        cy, cx = (ys * im).sum() / im.sum(), (xs * im).sum() / im.sum()
        assert abs(cy - 13.5) < 2 and abs(cx - 13.5) < 2                       # centred by mass, as MNIST is
    # about as much ink as MNIST digits have (neither hairlines nor blobs)
    assert 0.5 < images.mean() / mnist[:2000].mean() < 2.0


def test_font_digits_are_deterministic_and_use_several_fonts():
    a, la = render_font_digits(50, seed=1)
    b, lb = render_font_digits(50, seed=1)
    c, _ = render_font_digits(50, seed=2)
    assert np.array_equal(a, b) and np.array_equal(la, lb) and not np.array_equal(a, c)
    assert len(available_fonts()) >= 10
