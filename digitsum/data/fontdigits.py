"""Printed-digit shapes for training: the ten digits of the fonts that ship with matplotlib,
rendered as MNIST digits are stored (28x28, white on black, ink in a 20x20 box, centred by its
centre of mass), with random weight, slant and rotation.

MNIST's writers rarely drew a flagged "1" with a base, or a 6 and a 9 with round closed loops; many
people do, and so do the pens of drawing apps. Mixing these shapes into the generator's digit pool
(`python -m train --font-digits F`) shows the model them. The robustness suite's `drawn` set uses
Hershey stroke fonts, none of which is among these outline fonts, so it still tests shapes the
training data does not hold.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageFont

# font files with the ten digits in their ordinary forms (no symbol, math-italic or old-style sets)
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
              "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
              "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf",
              "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf",
              "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmb10.ttf", "cmti10.ttf")
SIZE = 56   # px: rendered large, then reduced to MNIST's 20 px box


@functools.lru_cache(maxsize=None)
def _font(name: str) -> ImageFont.FreeTypeFont:
    import matplotlib
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), SIZE)


def available_fonts() -> list[str]:
    import matplotlib
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return [f for f in FONT_FILES if (folder / f).is_file()]


def printed_fonts() -> list[ImageFont.FreeTypeFont]:
    """matplotlib's fonts of FONT_FILES that are installed, at the rendering size."""
    return [_font(f) for f in available_fonts()]


def render_font_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """-> (images (n, 28, 28) uint8 white on black, labels (n,) int64), deterministic for (n, seed)."""
    return render_digits(printed_fonts(), n, np.random.default_rng([seed, 28_282]))


def render_digits(fonts: list[ImageFont.FreeTypeFont], n: int, rng: np.random.Generator,
                  centred: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The renderer every font source shares: n random digits, each in a random font of `fonts`, with
    a random weight, slant and rotation -> (images (n, 28, 28) uint8, labels (n,) int64).
    `centred`: each glyph's ink is centred on the canvas (fonts whose digits sit anywhere in the em
    box, as handwriting fonts' do); without it the text starts at a fixed point, as it always has
    for matplotlib's fonts (their renders stay byte-identical)."""
    labels = rng.integers(0, 10, n)
    return render_glyphs(fonts, [str(d) for d in labels], rng, centred), labels.astype(np.int64)


def render_glyphs(fonts: list[ImageFont.FreeTypeFont], texts: list[str], rng: np.random.Generator,
                  centred: bool = False) -> np.ndarray:
    """Each text (one character) in a random font of `fonts`, weighted, slanted and turned at random
    -> (len(texts), 28, 28) uint8 stored as MNIST stores digits."""
    images = np.zeros((len(texts), 28, 28), np.uint8)
    for i, text in enumerate(texts):
        images[i] = _one(text, fonts[rng.integers(len(fonts))], rng, centred)
    return images


def _one(text: str, font: ImageFont.FreeTypeFont, rng: np.random.Generator, centred: bool = False) -> np.ndarray:
    canvas = Image.new("L", (SIZE * 2, SIZE * 2), 0)
    from PIL import ImageDraw
    ImageDraw.Draw(canvas).text(_origin(text, font, centred), text, font=font, fill=255,
                                stroke_width=int(rng.integers(0, 3)), stroke_fill=255)
    shear, angle = rng.uniform(-0.35, 0.35), rng.uniform(-12, 12)
    canvas = canvas.transform(canvas.size, Image.Transform.AFFINE, (1, shear, -shear * SIZE, 0, 1, 0),
                              Image.Resampling.BILINEAR).rotate(angle, Image.Resampling.BILINEAR)
    return to_mnist_box(canvas)


def _origin(text: str, font: ImageFont.FreeTypeFont, centred: bool) -> tuple[int, int]:
    """Where the text is drawn from: so its ink's box is centred on the canvas (where shear and
    rotation leave it inside), or matplotlib fonts' fixed point."""
    if not centred:
        return SIZE // 2, SIZE // 3
    left, top, right, bottom = font.getbbox(text)
    return round(SIZE - (left + right) / 2), round(SIZE - (top + bottom) / 2)


def upright_digit(text: str, font: ImageFont.FreeTypeFont) -> np.ndarray:
    """A glyph as the font draws it, centred, with no added weight, slant or rotation, as MNIST stores
    digits: what the fonts were chosen by looking at, and what a test matches renders against."""
    canvas = Image.new("L", (SIZE * 2, SIZE * 2), 0)
    from PIL import ImageDraw
    ImageDraw.Draw(canvas).text(_origin(text, font, True), text, font=font, fill=255)
    return to_mnist_box(canvas)


def to_mnist_box(canvas: Image.Image) -> np.ndarray:
    """White-on-black glyph of any size -> (28, 28) uint8 as MNIST stores digits: the ink's box
    scaled so its longer side is 20 px, placed so its centre of mass is the patch's centre."""
    glyph = canvas.crop(canvas.getbbox())
    scale = 20 / max(glyph.size)
    glyph = glyph.resize((max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))),
                         Image.Resampling.LANCZOS)
    ink = np.asarray(glyph, np.float32)
    ys, xs = np.indices(ink.shape)
    cy, cx = (ys * ink).sum() / max(ink.sum(), 1e-6), (xs * ink).sum() / max(ink.sum(), 1e-6)
    out = np.zeros((28, 28), np.uint8)
    top, left = int(round(14 - cy)), int(round(14 - cx))
    top, left = min(max(top, 0), 28 - ink.shape[0]), min(max(left, 0), 28 - ink.shape[1])
    out[top:top + ink.shape[0], left:left + ink.shape[1]] = np.asarray(glyph)
    return out
