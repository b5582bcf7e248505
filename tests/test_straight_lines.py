"""Long straight lines leave a photo's ink map (`drop_straight_lines`): what is left of a page's
edge, a ruled line or a table's rim after `drop_page_edges`, which takes whole marks only."""
import numpy as np
import pytest

from digitsum.data.mnist import load_mnist
from digitsum.data.suite import render
from digitsum.reading.preprocess.page_edges import clean_page, drop_page_edges, drop_straight_lines


@pytest.fixture(scope="module")
def row():
    """Four MNIST test digits at 2x (56 px patches, ~44 px of ink) on a (140, 400) ink map."""
    patches, _ = load_mnist("test")
    ink = np.zeros((140, 400), np.float32)
    for k, x in enumerate((20, 100, 180, 260)):
        ink[40:96, x:x + 56] = np.kron(patches[k], np.ones((2, 2))) / 255.0
    return ink


def test_an_edge_in_short_pieces_goes_and_the_digits_stay(row):
    # a page's edge 3 degrees off level below the writing, broken every 30 px by a 3 px gap: no
    # piece is long enough for drop_page_edges, which keeps it all
    ink = row.copy()
    xs = np.arange(10, 390)
    ys = np.rint(110 + np.tan(np.deg2rad(3)) * (xs - 10)).astype(int)
    solid = xs % 33 < 30
    ink[ys[solid], xs[solid]] = ink[ys[solid] + 1, xs[solid]] = 0.7
    line = (ink > 0) & (row == 0)
    assert np.array_equal(drop_page_edges(ink), ink)
    cleaned = drop_straight_lines(ink)
    assert (cleaned[line] > 0).mean() < 0.05
    assert np.array_equal(cleaned[:100], row[:100])                  # the digits untouched


def test_a_digit_that_touches_a_line_loses_a_sliver_not_itself(row):
    ink = row.copy()
    ink[93:95, 5:395] = 0.9                  # a ruled line through the digits' lowest strokes
    cleaned = drop_straight_lines(ink)
    assert cleaned[93:95].max() == 0
    assert np.array_equal(cleaned[:88], row[:88])                    # all but a few rows kept
    assert (cleaned[40:96] > 0.3).sum() > 0.8 * (row[40:96] > 0.3).sum()


@pytest.mark.parametrize("name", ["course", "crowded", "drawn"])
def test_writing_without_a_line_is_left_as_it_is(name):
    """Rows of digits, touching and overlapping ones too, at 3x: no chain of strokes is a line."""
    images, _ = render(name, 40, 3)
    for image in images:
        ink = np.kron(np.asarray(image, np.float32) / 255.0, np.ones((3, 3), np.float32))
        assert np.array_equal(drop_straight_lines(ink), ink)


def test_a_stroke_that_crosses_a_ruled_line_keeps_its_ink_there(row):
    # a line through the middle of the digits: where a stroke crosses it, the ink above and below
    # meet, and stays; the line between the digits goes
    ink = row.copy()
    ink[66:68, 5:395] = np.maximum(ink[66:68, 5:395], 0.8)
    cleaned = drop_straight_lines(ink)
    crossings = (row[63] > 0.3) & (row[70] > 0.3)            # columns where a stroke crosses the line
    assert crossings.sum() >= 4
    assert (cleaned[66:68, crossings] > 0).all()
    between = np.ones(400, bool)
    between[15:320] = False                                  # right of the digits: the line alone
    assert cleaned[66:68, between].max() == 0


def squared_paper(row: np.ndarray, step: int = 30) -> np.ndarray:
    """The row on squared paper: thin lines every `step` px both ways, lighter than the ink."""
    ink = row.copy()
    ink[::step] = np.maximum(ink[::step], 0.5)
    ink[:, ::step] = np.maximum(ink[:, ::step], 0.5)
    return ink


def test_the_lines_of_squared_paper_go_and_the_digits_stay(row):
    # the grid's vertical lines are shorter than a ruled line (the frame is 3 digits tall), but
    # they run from frame to frame, and there are many of them
    ink = squared_paper(row)
    cleaned = clean_page(ink)
    grid = (ink > 0) & (row == 0)
    assert (cleaned[grid] > 0).mean() < 0.05
    digits = row > 0.3
    assert (cleaned[digits] > 0).mean() > 0.9


def test_one_tall_stroke_from_frame_to_frame_is_no_grid(row):
    # a lone "1" that reaches from the top of a tight crop to its bottom stays: a chord counts as a
    # line only beside another
    ink = row[38:98].copy()
    ink[:, 360:363] = 0.9
    assert (clean_page(ink)[:, 360:363] > 0).all()
