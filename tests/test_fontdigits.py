import numpy as np

from digitsum.data.fontdigits import available_fonts, render_font_digits


# stored as MNIST stores its digits: tests/test_strokedigits.py checks every pool source alike


def test_font_digits_are_deterministic_and_use_several_fonts():
    a, la = render_font_digits(50, seed=1)
    b, lb = render_font_digits(50, seed=1)
    c, _ = render_font_digits(50, seed=2)
    assert np.array_equal(a, b) and np.array_equal(la, lb) and not np.array_equal(a, c)
    assert len(available_fonts()) >= 10
