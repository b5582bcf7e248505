import numpy as np
import pytest
from PIL import Image

from digitsum.errors import BlankImageError, DataError
from digitsum.data.mnist import load_mnist
from digitsum.reading.preprocess import fit_to_canvas, load_image_file
from digitsum.data.synth import generate_dataset


@pytest.fixture(scope="module")
def course_image():
    images, _ = generate_dataset("test", 1, seed=11)
    return images[0]                                   # (40, 168) uint8 white on black


def ink_height(canvas):
    rows = np.nonzero((canvas > 0.3).any(1))[0]
    return rows[-1] - rows[0] + 1


def test_course_image_at_canvas_size_passes_through(course_image):
    out = fit_to_canvas(course_image)
    assert out.shape == (40, 168) and np.allclose(out, course_image / 255.0)


def test_polarity_modes_and_bit_depths_agree(course_image):
    reference = fit_to_canvas(Image.fromarray(course_image).resize((672, 160), Image.Resampling.NEAREST))
    black_on_white = Image.fromarray(255 - course_image).resize((672, 160), Image.Resampling.NEAREST)
    rgb = black_on_white.convert("RGB")
    rgba = black_on_white.convert("RGBA")
    sixteen = (np.asarray(black_on_white).astype(np.uint16) * 257)
    for variant in (black_on_white, rgb, rgba, sixteen, Image.fromarray(sixteen), np.asarray(rgb)):
        out = fit_to_canvas(variant)
        assert out.shape == (40, 168)
        assert np.abs(out - reference).mean() < 0.01


def test_transparent_png_with_black_ink(tmp_path, course_image):
    rgba = np.zeros((40, 168, 4), np.uint8)
    rgba[..., 3] = course_image                       # ink only in the alpha channel, black colour
    Image.fromarray(rgba, "RGBA").save(tmp_path / "ink.png")
    out = fit_to_canvas(load_image_file(tmp_path / "ink.png"))
    assert np.abs(out - course_image / 255.0).mean() < 0.02


def test_large_drawing_is_scaled_to_native_digit_size_without_stretching(course_image):
    big = Image.fromarray(255 - course_image).resize((168 * 6, 40 * 6), Image.Resampling.BILINEAR)
    wide = Image.new("L", (3000, 400), 255)
    wide.paste(big, (100, 50))
    out = fit_to_canvas(wide)
    assert out.shape == (40, 168)
    assert 16 <= ink_height(out) <= 40
    cols = np.nonzero((out > 0.3).any(0))[0]
    assert cols[0] < 12                                # left-aligned like the course layout


def test_noisy_background_does_not_change_the_fit():
    # noise must neither count as ink (a crop of the whole image, a wrong digit height) nor hide
    # a faint digit from the crop: the noisy fit's column profile matches the clean fit's
    images, _ = generate_dataset("test", 8, seed=3)
    image = images[np.argmax([np.nonzero((im > 40).any(0))[0][-1] for im in images])]
    right = np.nonzero((image > 40).any(0))[0][-1]
    bigger = np.zeros((48, 200), np.float32)
    bigger[4:44, 16:184] = image / 255.0
    bigger[4:44, 16 + right - 18:184] *= 0.4                         # a faint last digit
    noisy = (bigger + np.random.default_rng(0).normal(0, 0.1, bigger.shape)).clip(0, 1)
    clean_fit, noisy_fit = fit_to_canvas(bigger), fit_to_canvas(noisy.astype(np.float32))
    assert np.corrcoef(clean_fit.sum(0), noisy_fit.sum(0))[0, 1] > 0.9
    assert np.corrcoef(clean_fit.sum(1), noisy_fit.sum(1))[0, 1] > 0.9


def test_small_digits_far_apart_keep_their_native_size():
    # a drawing with small digits in wide boxes: the gaps shrink, not the digits
    patches, _ = load_mnist("test")
    spread = np.zeros((40, 4 * 150), np.uint8)
    for k in range(4):
        spread[6:34, k * 150 + 60:k * 150 + 88] = patches[k]
    assert 16 <= ink_height(fit_to_canvas(spread)) <= 24


def test_digits_written_one_above_the_other_are_not_read_as_one_tall_digit():
    # two stacked pairs, each overlapping in x: a column of ink is two digits tall, and the fit must
    # size the digits by one digit's height (as tall as the canvas allows), not by the pair's
    patches, _ = load_mnist("test")
    stacked = np.zeros((64, 160), np.uint8)
    for k, (x, y) in enumerate([(4, 2), (12, 34), (80, 2), (88, 34)]):
        stacked[y:y + 28, x:x + 28] = np.maximum(stacked[y:y + 28, x:x + 28], patches[k])
    canvas = fit_to_canvas(stacked)
    top_half = canvas[:20]
    assert ink_height(top_half) >= 12     # a pair fills the canvas: each digit ~half of 38 px
    assert ink_height(canvas) >= 32


def test_blank_and_near_blank_input_is_reported():
    with pytest.raises(BlankImageError, match="blank"):
        fit_to_canvas(np.full((40, 168), 255, np.uint8))
    with pytest.raises(BlankImageError):
        fit_to_canvas(np.zeros((300, 900), np.uint8))
    speck = np.zeros((40, 168), np.uint8)
    speck[10, 10] = 255
    with pytest.raises(BlankImageError, match="almost blank"):
        fit_to_canvas(speck)


def test_unreadable_files_are_clear_errors(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError, match="not a readable image"):
        load_image_file(tmp_path / "x.png")
    with pytest.raises(DataError, match="no such image"):
        load_image_file(tmp_path / "none.png")
    with pytest.raises(DataError, match="2-D"):
        fit_to_canvas(np.zeros((2, 3, 4, 5)))


def _page_photo(course_image, edge=True, table=True):
    """Black ink on grey paper at 3x; the page ends 25 px below the writing, with a
    dark, grainy table beyond it."""
    from digitsum.reading.preprocess import to_gray
    big = Image.fromarray(course_image).resize((168 * 3, 40 * 3), Image.Resampling.BICUBIC)
    big = np.asarray(big, np.float32) / 255
    h, w = big.shape
    photo = np.full((h + 60, w + 40), 0.8, np.float32)
    photo[20:20 + h, 20:20 + w] -= 0.7 * big
    if table:
        rng = np.random.default_rng(0)
        grain = 0.25 + 0.08 * np.sin(np.arange(w + 40) / 3.0)[None, :] + 0.03 * rng.standard_normal((15, w + 40))
        photo[-15:] = grain
    if edge:
        photo[-17:-15] = 0.1   # the page's rim casts a dark line
    return (to_gray(photo) * 255).astype(np.uint8)


def test_the_page_edge_and_the_table_leave_the_crop(course_image):
    from digitsum.reading.preprocess import drop_page_edges, flatten_background
    photo = _page_photo(course_image)
    ink = flatten_background(photo / 255.0, dark_ink=True)
    assert ink[-17:].max() > 0.3                                       # the edge and table show as ink
    cleaned = drop_page_edges(ink)
    # gone, but for specks of the table's noise too faint to count as ink
    assert (cleaned[-17:] > 0.05).sum() < 0.05 * (ink[-17:] > 0.05).sum()
    writing = (slice(20, -40), slice(20, -20))
    assert np.allclose(cleaned[writing], ink[writing])                  # the digits untouched
    canvas = fit_to_canvas(photo)
    clean = fit_to_canvas(_page_photo(course_image, edge=False, table=False))
    assert ink_height(canvas) == pytest.approx(ink_height(clean), abs=2)   # the crop holds only the writing


def test_touching_digits_cropped_at_the_frame_are_kept():
    from digitsum.reading.preprocess import drop_page_edges
    row = np.zeros((20, 70), np.float32)
    row[:, 0:3] = row[:, 20:23] = row[:, 45:48] = row[:, 67:70] = 1.0    # four strokes joined by a bar
    row[0:2, :] = 1.0
    assert np.array_equal(drop_page_edges(row), row)


def test_a_band_along_the_frame_goes_and_a_digit_cut_by_the_frame_stays():
    # a strip of the table (or the page's rim) along the right side, a quarter of a digit wide: not
    # elongated enough to count as a line (3.5x the digits', where lines are 4x+), nor long enough
    # to be the table, yet it runs along the frame and reaches in only a little
    from digitsum.reading.preprocess import drop_page_edges
    patches, _ = load_mnist("test")
    big = [np.kron(patches[k], np.ones((2, 2))) / 255.0 for k in range(5)]   # 56 px patches, ~44 px digits
    ink = np.zeros((140, 400), np.float32)
    for k, x in enumerate((20, 100, 180, 260)):
        ink[40:96, x:x + 56] = big[k]
    band = ink.copy()
    band[:, 387:] = 0.8                                        # 140 px along the frame, 13 across
    cleaned = drop_page_edges(band)
    assert cleaned[:, 370:].max() == 0 and np.array_equal(cleaned[:, :340], ink[:, :340])
    cut = ink.copy()
    cut[40:96, 372:] = big[4][:, :28]                          # half a digit at the frame stays
    assert np.array_equal(drop_page_edges(cut), cut)


def test_thick_dense_digits_in_a_tight_crop_keep_their_ink():
    # a marker's strokes fill more of a tight crop than the background window: the estimate of the
    # paper sank into them and took most of their ink away (median 0.3 of full ink before)
    from PIL import ImageFilter
    from digitsum.reading.preprocess import flatten_background
    images, _ = generate_dataset("test", 3, seed=11)
    for image in images:
        thick = Image.fromarray(image).resize((504, 120), Image.Resampling.BILINEAR).filter(ImageFilter.MaxFilter(7))
        ink = np.asarray(thick) / 255.0
        rows, cols = np.nonzero(ink > 0.5)
        ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]    # cropped to the writing
        found = flatten_background(1.0 - ink, dark_ink=True)              # drawn dark on white
        assert np.percentile(found[ink > 0.9], 10) > 0.8


@pytest.mark.parametrize("table", [0.15, 0.25, 0.35])
@pytest.mark.parametrize("shadow", [0.4, 0.5])
def test_a_page_in_shadow_with_a_lit_wedge_and_the_table_is_dark_ink(course_image, table, shadow):
    # the step from lit paper to shadow and to the table is no stroke: a wide blur took it for
    # one, and read the pen on this page as chalk (then the crop was the lit wedge)
    from digitsum.reading.preprocess.ink import ink_is_dark
    ink = np.asarray(Image.fromarray(course_image).resize((504, 120), Image.Resampling.BILINEAR)) / 255.0
    rows, cols = np.mgrid[:360, :960]
    grain = 0.08 * np.random.default_rng(0).standard_normal((360, 140))
    lit = (cols - 600) + (360 - rows) * 0.5 > 150
    page = np.full((360, 960), shadow)
    page[lit] = 0.85                                                   # the lit wedge
    page[:, 820:] = table + grain                                      # the table beyond the page
    page[120:240, 150:654] *= 1 - 0.85 * ink                          # written across the shadow's edge
    assert ink_is_dark(np.clip(page, 0, 1))
    board = np.full((360, 960), 1 - shadow - 0.3)                      # the same light on a blackboard:
    board[lit] = 0.45
    board[:, 820:] = 1 - table + grain                                 # a light wall beyond it
    board[120:240, 150:654] = np.maximum(board[120:240, 150:654], 0.95 * ink)   # chalk
    assert not ink_is_dark(np.clip(board, 0, 1))


def test_white_marker_digits_filling_the_frame_are_light_ink():
    # strokes as wide as a median of a fifth of the frame: the median followed them, and the dark
    # loops inside the digits were taken for the ink
    from PIL import ImageFilter
    from digitsum.reading.preprocess.ink import ink_is_dark
    images, _ = generate_dataset("test", 3, seed=11)
    for image in images:
        rows, cols = np.nonzero(image > 128)
        tight = Image.fromarray(image[rows.min():rows.max() + 1, cols.min():cols.max() + 1])
        marker = tight.resize((tight.width * 8, tight.height * 8), Image.Resampling.BILINEAR).filter(ImageFilter.MaxFilter(15))
        assert not ink_is_dark(np.asarray(marker) / 255.0)
