"""Forms and exercise books: the boxes digits are written in (`drop_boxes`) and the strokes that
underline them (`drop_underlines`) leave a photo's ink map; the digits stay. Also the scale of
touching digits written at different heights (`fit_to_canvas`)."""
import numpy as np
import pytest

from digitsum.data.mnist import load_mnist
from digitsum.data.suite import render
from digitsum.reading.preprocess import fit_to_canvas
from digitsum.reading.preprocess.page_edges import clean_page, drop_boxes, drop_underlines


@pytest.fixture(scope="module")
def patches():
    images, _ = load_mnist("test")
    return [np.kron(images[k], np.ones((2, 2))).astype(np.float32) / 255.0 for k in range(12)]


def row_in_boxes(patches, shared_sides: bool) -> tuple[np.ndarray, np.ndarray]:
    """-> (ink map of four digits at 2x, each in a 72 px box drawn with a 2 px pen; the digits alone).
    shared_sides: one long box split by bars (a comb), else four boxes 10 px apart."""
    digits = np.zeros((120, 380), np.float32)
    ink = np.zeros_like(digits)
    step = 72 if shared_sides else 82
    for k in range(4):
        x = 20 + k * step
        digits[32:88, x + 8:x + 64] = patches[k]
        ink[20:22, x:x + 73] = ink[91:93, x:x + 73] = 0.8         # top and bottom
        ink[20:93, x:x + 2] = ink[20:93, x + 71:x + 73] = 0.8     # the sides
    return np.maximum(ink, digits), digits


@pytest.mark.parametrize("shared_sides", [False, True], ids=["boxes", "comb"])
def test_the_boxes_of_a_form_go_and_the_digits_stay(patches, shared_sides):
    ink, digits = row_in_boxes(patches, shared_sides)
    cleaned = drop_boxes(ink)
    box = (ink > 0) & (digits == 0)
    assert (cleaned[box] > 0).mean() < 0.02
    assert np.array_equal(cleaned[digits > 0], ink[digits > 0])


def test_a_square_zero_and_a_thick_bar_are_no_boxes():
    ink = np.zeros((100, 200), np.float32)
    ink[20:80, 20:24] = ink[20:80, 66:70] = ink[20:24, 20:70] = ink[76:80, 20:70] = 1.0   # a square "0"
    ink[20:80, 120:140] = 1.0                                                            # a thick "1"
    assert np.array_equal(drop_boxes(ink), ink)


def test_underlines_go_and_a_digits_own_bar_stays(patches):
    ink = np.zeros((120, 380), np.float32)
    for k in range(4):
        ink[20:76, 20 + k * 85:76 + k * 85] = patches[k]
        ink[84:86, 12 + k * 85:84 + k * 85] = 0.8       # a line under each digit
    ink[8:10, 300:345] = 0.9                           # a bar over the last digit, apart from it (a 5's flag)
    cleaned = drop_underlines(ink)
    assert cleaned[80:90].max() == 0
    assert np.array_equal(cleaned[:78], ink[:78])


def test_digits_in_a_form_read_as_without_it(patches):
    """The whole photo path: the same canvas, near enough, with or without the boxes around them."""
    ink, digits = row_in_boxes(patches, shared_sides=True)
    with_form, without = fit_to_canvas(1.0 - ink), fit_to_canvas(1.0 - digits)
    assert np.abs(with_form - without).mean() < 0.02


def test_crowded_digits_enlarged_keep_a_digits_size():
    # the suite's crowded rows (touching digits, each at its own height) at 3x: the span of their
    # ink is more than one digit's height, and was taken for it, which shrank the canvas's digits to
    # two thirds of their size at 1x; now a digit is a column's ink. Rows of three touching digits
    # at different heights, narrower than 1.5 times their span, were still shrunk (median 0.82,
    # 45 % of rows within 10 % of their size at 1x) until such a run was measured against its
    # columns' ink, not its span (median 1.0, 72 %)
    images, _ = render("crowded", 40, 3)
    ratios = []
    for image in images:
        native = np.asarray(image)
        enlarged = np.kron(native, np.ones((3, 3), np.uint8))
        span = [np.ptp(np.nonzero((fit_to_canvas(a) > 0.3).any(axis=1))[0]) + 1 for a in (enlarged, native)]
        ratios.append(span[0] / span[1])
    assert np.median(ratios) >= 0.95
    assert np.mean(np.array(ratios) >= 0.9) >= 0.65


def test_a_wide_scribble_is_not_enlarged_as_touching_digits():
    # a wave, much wider than tall: each of its columns holds one stroke, far shorter than the wave.
    # It is scaled as one mark as tall as the wave (to a digit's 20 px), not blown up to fill the canvas
    from PIL import Image, ImageDraw
    page = Image.new("L", (600, 200), 255)
    xs = np.linspace(50, 550, 200)
    ImageDraw.Draw(page).line(list(zip(xs, 100 + 40 * np.sin(xs / 25))), fill=0, width=4)
    canvas = fit_to_canvas(np.asarray(page))
    rows = np.nonzero((canvas > 0.3).any(axis=1))[0]
    assert rows[-1] - rows[0] + 1 <= 24


@pytest.mark.parametrize("faint_place", [0, 3])
def test_a_digit_written_fainter_than_the_rest_stays_on_the_canvas(patches, faint_place):
    # dark ink on paper, one digit at 30 % of the others' darkness (a pen running dry, a lighter
    # touch): its ink is no strong ink, and the crop, which reaches only half a digit from strong
    # ink on a page, cut it off. It is a mark shaped like a digit in the line of writing, and stays
    def row(faint_place):
        ink = np.zeros((120, 380), np.float32)
        for k in range(4):
            ink[30:86, 20 + k * 85:76 + k * 85] = patches[k] * (0.3 if k == faint_place else 1.0)
        return fit_to_canvas(1.0 - ink)
    span = [np.ptp(np.nonzero((c > 0.1).any(axis=0))[0]) for c in (row(faint_place), row(None))]
    assert span[0] >= 0.9 * span[1]


def test_digits_written_one_above_the_other_keep_a_digits_size(patches):
    # two pairs of MNIST digits at native size, each pair one digit above the other, the lower
    # one's top in or just below the upper one's rows (no clear row between them). Each pair was
    # taken for one digit twice as tall, and the canvas shrank all four to half their size
    ink = np.zeros((60, 200), np.uint8)
    images, _ = load_mnist("test")
    for k, (y, x) in zip([1, 3, 4, 7], [(0, 10), (20, 24), (2, 90), (22, 102)]):   # 2 over 0, 4 over 9
        ink[y:y + 28, x:x + 28] = np.maximum(ink[y:y + 28, x:x + 28], images[k])
    rows = np.nonzero(ink.any(axis=1))[0]
    canvas = fit_to_canvas(ink)
    height = np.ptp(np.nonzero((canvas > 0.3).any(axis=1))[0]) + 1
    assert height >= 0.8 * min(rows[-1] - rows[0] + 1, 38)


def test_eights_drawn_as_two_circles_are_not_taken_for_two_digits():
    # a drawing of "8 1 8 7" whose 8s are two circles each, apart: as tall as the 1 and the 7 beside
    # them, so each is one digit, and the canvas shows the four at a digit's size
    from PIL import Image, ImageDraw
    page = Image.new("L", (420, 120), 255)
    pen = ImageDraw.Draw(page)
    for x in (30, 230):
        pen.ellipse((x, 20, x + 36, 50), outline=0, width=3)
        pen.ellipse((x - 3, 54, x + 39, 90), outline=0, width=3)
    pen.line([(140, 20), (140, 90)], fill=0, width=3)
    pen.line([(310, 20), (350, 20), (325, 90)], fill=0, width=3)
    canvas = fit_to_canvas(np.asarray(page))
    height = np.ptp(np.nonzero((canvas > 0.3).any(axis=1))[0]) + 1
    assert 16 <= height <= 24
