"""Hostile inputs to the library: each case is an input, the public function it goes to, and the
clear answer expected (a right result, or a one-line DigitsumError). The CLI cases are in
test_hostile_cli.py, the checkpoints' in test_hostile_checkpoints.py and the app's in
test_hostile_app.py."""
import numpy as np
import pytest
from PIL import Image

from digitsum.data.mnist import load_mnist
from digitsum.errors import BlankImageError, DataError
from digitsum.reading.predict import NotFourDigitsError, predict_image
from digitsum.reading.preprocess import WORK_PIXELS, fit_to_canvas, load_image_file, to_gray
from digitsum.storage.checkpoint import load_checkpoint
from digitsum.storage.labeldb import parse_digits

SHIPPED = "checkpoints/digitsum-reader"


@pytest.fixture(scope="module")
def reader():
    return load_checkpoint(SHIPPED)


def four_digits(digits=(3, 1, 4, 1), gap=6) -> np.ndarray:
    """MNIST test digits side by side: (28, W) uint8 white on black."""
    images, labels = load_mnist("test")
    picks = [int(np.nonzero(labels == d)[0][0]) for d in digits]
    row = np.zeros((28, len(digits) * (28 + gap)), np.uint8)
    for i, k in enumerate(picks):
        row[:, i * (28 + gap):i * (28 + gap) + 28] = images[k]
    return row


def photo(row: np.ndarray, light, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Black ink on paper at 4x, under `light` (H, W) -> (H, W), plus pixel noise: float in [0, 1]."""
    big = np.asarray(Image.fromarray(row).resize((row.shape[1] * 4, 112), Image.Resampling.BILINEAR), np.float32) / 255
    page = np.full((200, big.shape[1] + 120), 0.9, np.float32)
    page[44:156, 60:60 + big.shape[1]] -= 0.8 * big
    h, w = page.shape
    out = page * light(h, w) + np.random.default_rng(seed).normal(0, noise, (h, w))
    return np.clip(out, 0, 1).astype(np.float32)


def gradient(h, w):
    return np.linspace(0.25, 1.0, w)[None, :].repeat(h, 0)


def vignette(h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    return 1 - 0.6 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2) / 0.5


def shadow(h, w):
    light = np.ones((h, w))
    light[:, : w // 3] = 0.45                 # a hard shadow over the first digit or two
    return light


def dim(h, w):
    return np.full((h, w), 0.4)               # a dark photo of light paper


# ------------------------------------------------------------------ photos: read, never a crash
PHOTOS = {
    "gradient light": lambda: photo(four_digits(), gradient),
    "vignette": lambda: photo(four_digits(), vignette),
    "hard shadow": lambda: photo(four_digits(), shadow),
    "dark photo of light paper": lambda: photo(four_digits(), dim),
    "uniform noise behind the digits": lambda: photo(four_digits(), lambda h, w: np.ones((h, w)), noise=0.08),
    "gradient and noise": lambda: photo(four_digits(), gradient, noise=0.05),
}


@pytest.mark.parametrize("case", list(PHOTOS))
def test_photos_with_uneven_light_are_read(reader, case):
    pred = predict_image(reader, PHOTOS[case]())
    assert pred.digits == [3, 1, 4, 1], case
    assert pred.looks_like_four_digits


# ------------------------------------------------------------------ arrays of every kind
def _canvas_int32():
    a = np.zeros((40, 168), np.int32)
    a[:, 4:4 + four_digits().shape[1]] = 0
    a[6:34, 4:4 + 136] = four_digits()
    return a


def _float_rgba():
    ink = four_digits().astype(np.float32) / 255   # black ink painted on a transparent layer
    rgba = np.zeros((28, ink.shape[1], 4), np.float32)
    rgba[..., 3] = ink
    return rgba


ARRAYS = [
    ("int32 canvas of 0..255", _canvas_int32, lambda out: out.max() == 1.0 and out.min() == 0.0),
    ("float RGBA in [0, 1], ink in alpha", _float_rgba, lambda out: 0.02 < out.mean() < 0.3),
    ("int64 gray of 0..255", lambda: four_digits().astype(np.int64), lambda out: out.max() == 1.0),
    ("bool mask", lambda: four_digits() > 100, lambda out: out.max() == 1.0),
    ("float64 of 0..255", lambda: four_digits().astype(np.float64), lambda out: out.max() == 1.0),
]


@pytest.mark.parametrize("case,make,check", ARRAYS, ids=[c[0] for c in ARRAYS])
def test_arrays_of_any_dtype_are_normalised(case, make, check):
    out = fit_to_canvas(make())
    assert out.dtype == np.float32 and out.shape == (40, 168)
    assert check(out), case


# ------------------------------------------------------------------ one-line errors
ERRORS = [
    ("object array", lambda: to_gray(np.array([[None, 1]], dtype=object)), DataError, "must hold numbers"),
    ("5-D array", lambda: fit_to_canvas(np.zeros((2, 3, 4, 5, 6))), DataError, "must be 2-D"),
    ("blank page", lambda: fit_to_canvas(np.full((100, 400), 255, np.uint8)), BlankImageError, "blank"),
    ("superscript digits", lambda: parse_digits("²²²²"), DataError, "four digits 0-9"),
    ("Arabic-Indic digits", lambda: parse_digits("١٢٣٤"), DataError, "four digits 0-9"),
    ("a non-integer digit", lambda: parse_digits([1.9, 2, 3, 4]), DataError, "four digits 0-9"),
    ("a digit above 9", lambda: parse_digits([10, 2, 3, 4]), DataError, "four digits 0-9"),
    ("five digits", lambda: parse_digits("31415"), DataError, "four digits 0-9"),
    ("not a sequence", lambda: parse_digits(3141), DataError, "four digits 0-9"),
    ("a megabyte of digits", lambda: parse_digits("7" * 2**20), DataError,
     "(got '777777777777777777777777777777777777777777777777777777777777'… (1,048,576 characters))"),
]


@pytest.mark.parametrize("case,call,error,message", ERRORS, ids=[c[0] for c in ERRORS])
def test_bad_input_is_one_clear_error(case, call, error, message):
    with pytest.raises(error) as e:
        call()
    assert message in str(e.value) and "\n" not in str(e.value)


def test_parse_digits_still_reads_what_people_type():
    assert parse_digits("3 1 4 1") == parse_digits("3141") == parse_digits([3, 1, 4, 1.0]) == [3, 1, 4, 1]


# ------------------------------------------------------------------ not four digits
def salt_and_pepper(shape, seed=0):
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, 0, 255).astype(np.uint8)


NOT_FOUR = [
    ("salt and pepper on the canvas", lambda: salt_and_pepper((40, 168))),
    ("salt and pepper, larger", lambda: salt_and_pepper((120, 500))),
    ("one digit", lambda: 255 - four_digits((7,))),
    ("two digits", lambda: 255 - four_digits((2, 5))),
    ("five digits", lambda: 255 - four_digits((3, 1, 4, 1, 5))),
    ("six digits", lambda: 255 - four_digits((2, 7, 1, 8, 2, 8))),
]


@pytest.mark.parametrize("case,make", NOT_FOUR, ids=[c[0] for c in NOT_FOUR])
def test_what_is_not_four_digits_is_flagged_and_can_be_refused(reader, case, make):
    image = make()
    try:
        pred = predict_image(reader, image)
    except BlankImageError:
        return                                   # refused already: nothing stands out as ink
    assert pred.looks_like_four_digits is False
    assert "does not look like four digits" in pred.warnings[0]
    assert pred.to_json("x")["looks_like_four_digits"] is False
    with pytest.raises(NotFourDigitsError):
        predict_image(reader, image, refuse=True)


def test_four_digits_are_not_flagged(reader):
    pred = predict_image(reader, 255 - four_digits())
    assert pred.looks_like_four_digits and not pred.warnings and pred.digits == [3, 1, 4, 1]


def test_an_image_file_with_exif_rotation_is_turned_upright(tmp_path):
    row = 255 - four_digits()
    sideways = Image.fromarray(np.ascontiguousarray(np.rot90(row)))      # stored turned by 90°
    exif = Image.Exif()
    exif[0x0112] = 8                                                     # "rotate 90° clockwise to view"
    sideways.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    gray = load_image_file(tmp_path / "phone.jpg")
    assert gray.shape == row.shape


# ------------------------------------------------------------------ one pixel budget for every image
def _png_header_only(width, height) -> bytes:
    """A tiny PNG that claims width x height pixels: a decompression bomb before it is decoded."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _decode_data_url(png: bytes):
    import base64
    from digitsum.ui.drawpad import decode_data_url
    return decode_data_url("data:image/png;base64," + base64.b64encode(png).decode())


TOO_MANY_PIXELS = [   # name None: sent as the drawing pad's data URL
    ("a file over the budget", "big.png", _png_header_only(3000, 3000), "big.png: image of 3000x3000 px is too large"),
    ("a 13,000,000x3 file", "strip.png", _png_header_only(13_000_000, 3), "image of 13000000x3 px is too large"),
    ("a strip within the budget", "strip.png", _png_header_only(2_000_000, 3), "image of 2000000x3 px is too elongated"),
    ("a drawing over the budget", None, _png_header_only(13000, 13000), "the drawing: image of 13000x13000 px is too large"),
    ("a drawing strip", None, _png_header_only(4, 600_000), "the drawing: image of 4x600000 px is too elongated"),
]


@pytest.mark.parametrize("case,name,data,message", TOO_MANY_PIXELS, ids=[c[0] for c in TOO_MANY_PIXELS])
def test_images_over_the_pixel_budget_are_refused_from_their_header(tmp_path, case, name, data, message):
    with pytest.raises(DataError) as e:
        if name:
            (tmp_path / name).write_bytes(data)
            load_image_file(tmp_path / name)
        else:
            _decode_data_url(data)
    assert message in str(e.value) and "\n" not in str(e.value)


def _big(width, height, path, **save):
    """Four MNIST digits, black on white, enlarged to width x height px."""
    Image.fromarray(255 - four_digits()).resize((width, height), Image.Resampling.BILINEAR).save(path, **save)
    return path


LARGE = [   # accepted, and decoded or reduced to at most WORK_PIXELS before the float work
    ("a 10 Mpx JPEG, decoded at 1/2 scale", lambda tmp: _big(7000, 1441, tmp / "phone.jpg", quality=90)),
    ("a 6 Mpx PNG, reduced after decoding", lambda tmp: _big(5400, 1111, tmp / "scan.png")),
]


@pytest.mark.parametrize("case,make", LARGE, ids=[c[0] for c in LARGE])
def test_large_images_are_read_at_a_bounded_size(reader, tmp_path, case, make):
    path = make(tmp_path)
    with Image.open(path) as im:
        assert im.width * im.height > WORK_PIXELS
    gray = load_image_file(path)
    assert gray.size <= WORK_PIXELS and gray.shape[1] > 4 * gray.shape[0]
    assert predict_image(reader, gray).digits == [3, 1, 4, 1]


def test_a_float_tiff_in_0_to_1_is_read_as_an_image(reader, tmp_path):
    ink = (255 - four_digits()).astype(np.float32) / 255          # black ink on white paper, 0..1
    Image.fromarray(np.kron(ink, np.ones((3, 3), np.float32)), "F").save(tmp_path / "scan.tif")
    gray = load_image_file(tmp_path / "scan.tif")
    assert gray.max() == 1.0 and gray.min() == 0.0
    assert predict_image(reader, gray).digits == [3, 1, 4, 1]
