"""The suite's presets: what each robustness set is (canvas, digit sizes, transforms, spacing), as
frozen dataclasses, and `SUITE_PRESETS`, the sets by name."""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from digitsum.data.photo import PageLook, PhotoLook
from digitsum.errors import DataError


@dataclass(frozen=True)
class MnistPreset:
    """A suite set built from cropped MNIST test digits. Ranges are (low, high), inclusive."""
    description: str
    height: int = 40
    width: int = 168
    align: str = "left"                 # "left": margin then digits; "right_or_centre": see `margin`
    margin: tuple[int, int] = (0, 16)   # px before the first digit's ink ("left"); from the right edge
                                        # to the last digit's ink ("right_or_centre", when right-aligned)
    gap: tuple[int, int] = (-4, 30)     # px between consecutive ink boxes; negative = overlap
    digit_height: tuple[float, float] | None = None  # target ink height in px; None = native MNIST
    scale: tuple[float, float] = (1.0, 1.0)          # size factor (on top of digit_height)
    rotation: float = 0.0               # max degrees, either way
    shear: float = 0.0                  # max horizontal shear factor, either way
    thicken_p: float = 0.0              # per digit: thicker strokes (max filter)
    thin_p: float = 0.0                 # per digit: thinner strokes (min filter at 2x resolution)
    faint_p: float = 0.0                # per digit: peak ink drawn from `ink`
    ink: tuple[float, float] = (1.0, 1.0)
    noise_p: float = 0.0                # per image: Gaussian pixel noise, std drawn from `noise_std`
    noise_std: tuple[float, float] = (0.0, 0.0)   # in units of full white (255)
    blur_p: float = 0.0                 # per image: Gaussian blur, radius drawn from `blur_radius`
    blur_radius: tuple[float, float] = (0.5, 1.0)

    @property
    def stored_size(self) -> tuple[int, int]:
        return self.height, self.width


@dataclass(frozen=True)
class DrawnPreset:
    """Pen-stroke digits from Hershey fonts, black ink on white canvases, stored inverted.
    Lengths in px are given for a 100 px tall canvas and scale with the canvas height."""
    description: str
    canvases: tuple[tuple[int, int], ...] = ((100, 400), (160, 672), (60, 240), (120, 360))  # (H, W)
    # (Hershey font, weight, least pen width / digit height). rowmans and cursive draw the digits as
    # futural does (single strokes); futuram (duplex), scripts (italic) and timesr (serif) draw
    # strokes as 2-3 parallel lines, gothiceng as several: a broad enough pen merges them
    fonts: tuple[tuple[str, float, float], ...] = (
        ("futural", 2.0, 0.0), ("rowmans", 1.0, 0.0), ("cursive", 1.0, 0.0), ("scripts", 2.0, 0.08),
        ("futuram", 1.0, 0.08), ("timesr", 1.0, 0.12), ("gothiceng", 0.5, 0.12))
    pen: tuple[float, float] = (1.0, 6.0)            # pen width, px at 100 px canvas height
    digit_height: tuple[float, float] = (0.5, 0.9)   # each digit's ink height / canvas height
    slant: float = 0.35                 # max shear of the handwriting (per image), either way
    slant_jitter: float = 0.08          # per-digit variation of the slant
    tremor: tuple[float, float] = (0.0, 0.025)       # amplitude of the hand's wobble / digit height
    crowded_p: float = 0.4              # per image: crowded spacing, else spread out
    crowded_gap: tuple[float, float] = (-0.15, 0.03)  # gap / mean digit height
    spread_gap: tuple[float, float] = (0.05, 0.7)
    margin: tuple[float, float] = (0.02, 0.3)        # left margin / canvas width

    @property
    def stored_size(self) -> tuple[int, int]:
        return max(h for h, _ in self.canvases), max(w for _, w in self.canvases)


@dataclass(frozen=True)
class StackedPreset:
    """MNIST test digits transformed by `digits` (its size, rotation, strokes, ink, noise and
    canvas; its `gap` is the gap between neighbours that are not stacked), where some neighbours
    are stacked: they overlap in x, one at the top of the canvas and one at the bottom."""
    description: str
    digits: MnistPreset
    stacked_p: float = 0.4              # per neighbouring pair; every image has at least one
    overlap: tuple[float, float] = (0.2, 0.8)   # a stacked pair's overlap in x / the narrower width
    edge: tuple[int, int] = (0, 2)      # px from a stacked digit to the top (or bottom) edge
    max_overlap_y: int = 2              # px: a stacked pair taller than the canvas plus this is shrunk

    @property
    def stored_size(self) -> tuple[int, int]:
        return self.digits.stored_size


@dataclass(frozen=True)
class PhotoPreset:
    """Photos of course-layout images (`base`, MNIST test digits): black ink on unevenly lit
    paper, rotated, blurred, noisy and JPEG-compressed (see `digitsum.data.photo`). Stored as photos
    are, dark ink on light paper: preprocessing must find the ink. A `PageLook` photographs the
    page with its edge and the table beyond it (`photograph_page`), a `PhotoLook` fills the frame
    with paper (`photograph`)."""
    description: str
    base: MnistPreset = MnistPreset("the course layout")
    look: PhotoLook | PageLook = PhotoLook()

    @property
    def stored_size(self) -> tuple[int, int]:
        return self.look.size


Preset = MnistPreset | DrawnPreset | PhotoPreset | StackedPreset

SUITE_PRESETS: dict[str, Preset] = {
    "course": MnistPreset("the course layout: 40x168, margin 0-16 px, gaps -4..30 px, native size"),
    "margin": MnistPreset("the four digits right-aligned (0-6 px from the right edge) or centred, gaps 0..12 px",
                          align="right_or_centre", margin=(0, 6), gap=(0, 12)),
    "crowded": MnistPreset("heavy overlap: gaps -8..0 px", margin=(0, 16), gap=(-8, 0)),
    "sparse": MnistPreset("spread out: gaps 20..40 px (shrunk to fit), margin 0-8 px", margin=(0, 8), gap=(20, 40)),
    "small": MnistPreset("small digits, 14-17 px of ink", digit_height=(14, 17)),
    "large": MnistPreset("large digits, 24-28 px of ink", margin=(0, 12), gap=(-4, 20), digit_height=(24, 28)),
    "shifted": MnistPreset("48x200, rotation ±15°, scale 0.8-1.25, shear, thicker/thinner strokes, faint ink, "
                           "noise, blur", height=48, width=200, margin=(0, 24), gap=(-6, 30),
                           scale=(0.8, 1.25), rotation=15, shear=0.2, thicken_p=0.25, thin_p=0.25,
                           faint_p=0.6, ink=(0.3, 1.0), noise_p=0.7, noise_std=(0.03, 0.12), blur_p=0.3),
    "drawn": DrawnPreset("pen strokes of Hershey font digits on 100x400, 160x672, 60x240 and 120x360 canvases, "
                         "stored padded to 160x672"),
    "photo": PhotoPreset("course-layout images photographed: 160x560 dark ink on paper, gradient light, vignette, "
                         "shadows, texture, rotation ±3°, blur, noise, JPEG quality 30-90"),
    "stacked": StackedPreset(
        "48x200 noisy canvas, rotation ±14°, scale 0.8-1.2, thicker/thinner strokes, faint ink; in every image "
        "one or more neighbouring pairs overlap in x, one digit high and one low",
        MnistPreset("the digits of `stacked`", height=48, width=200, margin=(0, 24), gap=(-2, 26), scale=(0.8, 1.2),
                    rotation=14, thicken_p=0.25, thin_p=0.25, faint_p=0.6, ink=(0.3, 1.0), noise_p=1.0,
                    noise_std=(0.03, 0.12), blur_p=0.3)),
    "photo_page": PhotoPreset("course-layout images photographed on a page: 360x960, dark ink at 3-8x, the page's "
                              "edge (or corner) and the table in the frame, the line turned ±10°, mild perspective, "
                              "uneven light, shadows, blur, noise, JPEG quality 30-90", look=PageLook()),
}


def preset_rng(name: str, seed: int) -> np.random.Generator:
    """The random stream of set `name` at `seed`: every set is deterministic for (name, n, seed), and
    sets of different names draw different streams from the same seed."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def get_preset(name: str) -> Preset:
    if name not in SUITE_PRESETS:
        raise DataError(f"unknown suite preset {name!r}: choose one of {', '.join(SUITE_PRESETS)}")
    return SUITE_PRESETS[name]
