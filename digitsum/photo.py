"""Photograph a clean four-digit image: the paper, the light, the lens and the JPEG a phone adds.

Used by the robustness suite's `photo` preset, to test preprocessing on what users upload. A
white-on-black course image (uint8) becomes dark ink on lit paper, at a larger size, with uneven
light (a gradient, a vignette, sometimes a shadow's edge), paper texture, a slight rotation, blur,
sensor noise and JPEG compression. Output: uint8 gray, black ink on paper, like a photo.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class PhotoLook:
    """Ranges (low, high) each photo draws from. Levels are in units of full white."""
    size: tuple[int, int] = (160, 560)         # (H, W) of the photo
    scale: tuple[float, float] = (1.6, 3.2)    # the course image's enlargement
    paper: tuple[float, float] = (0.7, 0.95)   # paper reflectance
    ink: tuple[float, float] = (0.03, 0.3)     # ink reflectance (pen to pencil)
    texture: tuple[float, float] = (0.0, 0.06)  # amplitude of the paper's blotches
    gradient: tuple[float, float] = (0.1, 0.6)  # light falls by this much across the photo
    vignette: tuple[float, float] = (0.0, 0.5)  # and by this much more in the corners
    shadow_p: float = 0.3                      # a shadow's edge crosses the photo
    shadow: tuple[float, float] = (0.2, 0.5)   # light lost in the shadow
    exposure: tuple[float, float] = (0.45, 1.1)  # dark photos of light paper, too
    rotation: float = 3.0                      # degrees, either way
    blur: tuple[float, float] = (0.0, 1.5)     # Gaussian radius, px
    noise: tuple[float, float] = (0.005, 0.04)  # sensor noise std
    jpeg: tuple[int, int] = (30, 90)           # JPEG quality


def photograph(clean: np.ndarray, look: PhotoLook, rng: np.random.Generator) -> np.ndarray:
    """(h, w) uint8 white ink on black -> (H, W) uint8 photo of it: black ink on lit paper."""
    H, W = look.size
    scale = min(rng.uniform(*look.scale), (W - 4) / clean.shape[1], (H - 4) / clean.shape[0])
    big = Image.fromarray(clean).resize((round(clean.shape[1] * scale), round(clean.shape[0] * scale)),
                                        Image.Resampling.BICUBIC)
    # the writing sits at a slight angle on the paper (the paper fills the photo: no edges)
    big = big.rotate(rng.uniform(-look.rotation, look.rotation), Image.Resampling.BICUBIC, expand=True)
    big = big.crop(big.getbbox() or (0, 0, 1, 1))
    if big.width > W - 4 or big.height > H - 4:
        big = big.resize((min(big.width, W - 4), min(big.height, H - 4)), Image.Resampling.BOX)
    ink_map = np.zeros((H, W), np.float32)
    y, x = rng.integers(0, H - big.height + 1), rng.integers(0, W - big.width + 1)
    ink_map[y:y + big.height, x:x + big.width] = np.asarray(big, np.float32) / 255.0
    paper, ink = rng.uniform(*look.paper), rng.uniform(*look.ink)
    reflect = paper + _blotches((H, W), rng) * rng.uniform(*look.texture)
    reflect = reflect - (reflect - ink) * ink_map.clip(0, 1)
    image = reflect * _light((H, W), look, rng)
    pil = Image.fromarray((image.clip(0, 1) * 255).round().astype(np.uint8))
    radius = rng.uniform(*look.blur)
    if radius > 0.1:
        pil = pil.filter(ImageFilter.GaussianBlur(radius))
    noisy = np.asarray(pil, np.float32) / 255.0 + rng.standard_normal((H, W)).astype(np.float32) * rng.uniform(*look.noise)
    pil = Image.fromarray((noisy.clip(0, 1) * 255).round().astype(np.uint8))
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=int(rng.integers(look.jpeg[0], look.jpeg[1] + 1)))
    return np.asarray(Image.open(buf).convert("L"))


def _blotches(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Smooth noise in [-1, 1]: a coarse random grid, enlarged bicubically."""
    coarse = rng.uniform(0, 255, (max(2, shape[0] // 20), max(2, shape[1] // 20))).astype(np.uint8)
    return np.asarray(Image.fromarray(coarse).resize(shape[::-1], Image.Resampling.BICUBIC), np.float32) / 127.5 - 1


def _light(shape: tuple[int, int], look: PhotoLook, rng: np.random.Generator) -> np.ndarray:
    """The illumination (H, W) in (0, 1.1]: exposure x gradient x vignette x maybe a shadow."""
    H, W = shape
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    u, v = xx / W - 0.5, yy / W - 0.5 * H / W          # centred, in units of the width
    theta = rng.uniform(0, 2 * math.pi)
    along = u * math.cos(theta) + v * math.sin(theta)   # -0.5..0.5 across the photo
    light = 1 - rng.uniform(*look.gradient) * (along - along.min()) / max(np.ptp(along), 1e-6)
    light *= 1 - rng.uniform(*look.vignette) * (u ** 2 + v ** 2) / 0.3
    if rng.random() < look.shadow_p:
        phi, offset = rng.uniform(0, 2 * math.pi), rng.uniform(-0.3, 0.3)
        side = u * math.cos(phi) + v * math.sin(phi) - offset
        light *= 1 - rng.uniform(*look.shadow) / (1 + np.exp(-side * 60))   # soft edge, ~2 % of the width
    return light * rng.uniform(*look.exposure)
