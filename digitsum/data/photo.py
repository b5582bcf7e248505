"""Photograph a clean four-digit image: the paper, the light, the lens and the JPEG a phone adds.

Used by the robustness suite's `photo` preset, to test preprocessing on what users upload. A
white-on-black course image (uint8) becomes dark ink on lit paper, at a larger size, with uneven
light (a gradient, a vignette, sometimes a shadow's edge), paper texture, a slight rotation, blur,
sensor noise and JPEG compression. Output: uint8 gray, black ink on paper, like a photo.

`photograph` fills the frame with paper; `photograph_page` (preset `photo_page`) photographs the
line as a phone does: at 3-8x, turned by up to 10°, on a page whose edge (or corner) and the table
beyond it are in the frame, with the page's shadow, mild perspective and a round shadow besides.
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
    return _camera(image, look, rng)


def _camera(image: np.ndarray, look, rng: np.random.Generator) -> np.ndarray:
    """(H, W) float scene in [0, 1] -> uint8 photo as a camera saves it: lens blur, sensor noise,
    JPEG at a random quality (`look`'s blur, noise and jpeg ranges; PhotoLook or PageLook)."""
    h, w = image.shape
    pil = Image.fromarray((image.clip(0, 1) * 255).round().astype(np.uint8))
    radius = rng.uniform(*look.blur)
    if radius > 0.1:
        pil = pil.filter(ImageFilter.GaussianBlur(radius))
    noisy = np.asarray(pil, np.float32) / 255.0 + rng.standard_normal((h, w)).astype(np.float32) * rng.uniform(*look.noise)
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


@dataclass(frozen=True)
class PageLook:
    """A phone's photo of a line of digits on a page, with the page's edge (or a corner) and the
    table beyond it in the frame. Ranges (low, high); levels in units of full white; lengths in
    photo px unless said otherwise. The `_light` fields mean what they mean in `PhotoLook`."""
    size: tuple[int, int] = (360, 960)         # (H, W) of the photo
    scale: tuple[float, float] = (3.0, 8.0)    # photo px per course px; capped so the line fits `fill`
    fill: float = 0.8                          # the line's box takes at most this share of H and of W
    paper: tuple[float, float] = (0.7, 0.95)
    ink: tuple[float, float] = (0.03, 0.3)
    texture: tuple[float, float] = (0.0, 0.05)
    table: tuple[float, float] = (0.05, 0.55)  # the table's reflectance: darker than the paper
    grain: tuple[float, float] = (0.0, 0.35)   # relative amplitude of the table's wood grain and blotches
    two_edges_p: float = 0.45                  # two of the page's edges in the frame (a corner, or both
                                               # sides of a narrow page), else one
    edge_room: tuple[float, float] = (0.3, 0.85)  # where the edge lies between the ink and the frame's
                                               # far border (share of that room: the rest is table)
    min_room: float = 0.08                     # an edge needs this share of the frame's height between
                                               # the ink and the border
    rotation: float = 10.0                     # the whole line turned, degrees either way
    page_skew: float = 3.0                     # the page's edges vs the line, degrees either way
    perspective: float = 0.03                  # each frame corner moves by up to this share of H and W
    page_shadow: tuple[float, float] = (0.0, 0.5)     # light lost on the table at the page's edge
    page_shadow_width: tuple[float, float] = (0.005, 0.03)  # its fall-off, share of W
    gradient: tuple[float, float] = (0.1, 0.6)
    vignette: tuple[float, float] = (0.0, 0.5)
    shadow_p: float = 0.4                      # a straight shadow edge (`_light`)
    shadow: tuple[float, float] = (0.2, 0.5)
    blob_p: float = 0.35                       # a round soft shadow (a hand, the phone)
    blob: tuple[float, float] = (0.15, 0.45)   # light lost in it
    exposure: tuple[float, float] = (0.5, 1.1)
    blur: tuple[float, float] = (0.0, 2.5)
    noise: tuple[float, float] = (0.005, 0.04)
    jpeg: tuple[int, int] = (30, 90)


def _perspective_coeffs(src: np.ndarray, dst: np.ndarray) -> tuple[float, ...]:
    """PIL's PERSPECTIVE coefficients that map output points `dst` (4, 2) to input points `src`."""
    rows = []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    return tuple(np.linalg.solve(np.array(rows, np.float64), src.reshape(-1).astype(np.float64)))


def photograph_page(clean: np.ndarray, look: PageLook, rng: np.random.Generator) -> np.ndarray:
    """(h, w) uint8 white ink on black -> (H, W) uint8 photo of that line of digits written on a
    page: dark ink on paper, the page's edge(s) and the table beyond in the frame.

    The line (the ink's box) is enlarged `scale` times (capped so that, turned, it fits `fill` of
    the frame), turned by up to `rotation` degrees and placed at random. The page's edges run
    along and across the line (turned a further `page_skew`); one or two of them lie in the frame,
    each between the ink and the frame's border on its side, with the table beyond. The page casts
    a soft shadow on the table. The scene is built on a padded canvas and then warped by a mild
    perspective (each frame corner moved by up to `perspective`), lit unevenly (gradient,
    vignette, a straight shadow edge, a round shadow), blurred, made noisy and JPEG-compressed.
    Each step draws from `rng` in turn, in this order."""
    H, W = look.size
    ink_patch, angle = _turned_line(clean, look, rng)
    # the padded scene: the perspective warp samples inside it, never beyond
    px, py = math.ceil(look.perspective * W) + 2, math.ceil(look.perspective * H) + 2
    ink_map, ink_pts = _place_line(ink_patch, (H, W), (py, px), rng)
    page, outside = _page_beyond_edges(ink_pts, angle, ink_map.shape, (py, px), look, rng)
    reflect = _page_on_table(page, outside, look, rng)
    reflect = reflect - (reflect - rng.uniform(*look.ink)) * ink_map.clip(0, 1) * page
    photo = _perspective(Image.fromarray(reflect.astype(np.float32)), (py, px), look, rng)
    image = photo * _light_and_round_shadow((H, W), look, rng)
    return _camera(image, look, rng)


def _turned_line(clean: np.ndarray, look: PageLook, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The line's ink box, enlarged and turned -> (ink patch in [0, 1], its angle in degrees)."""
    H, W = look.size
    rows, cols = np.nonzero(clean)
    if len(rows) == 0:
        raise ValueError("photograph_page: the image holds no ink")
    line = clean[max(rows.min() - 1, 0):rows.max() + 2, max(cols.min() - 1, 0):cols.max() + 2]
    h, w = line.shape
    angle = rng.uniform(-look.rotation, look.rotation)
    c, s = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    scale = min(rng.uniform(*look.scale), look.fill * W / (w * c + h * s), look.fill * H / (w * s + h * c))
    big = Image.fromarray(line).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BICUBIC)
    # PIL turns counter-clockwise on screen for a positive angle
    big = big.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    return np.asarray(big, np.float32) / 255.0, angle


def _place_line(ink_patch: np.ndarray, frame: tuple[int, int], pad: tuple[int, int],
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The patch at a random place in the frame, on the scene padded by `pad` (py, px) -> (the
    scene's ink map, the inked points in frame coordinates (k, 2) as x, y)."""
    (H, W), (py, px) = frame, pad
    SH, SW = H + 2 * py, W + 2 * px
    # the ink's top-left corner in frame coordinates: inside the frame, clear of the warp's reach
    bh, bw = ink_patch.shape
    x0 = px + int(rng.integers(0, max(W - 2 * px - bw, 0) + 1))
    y0 = py + int(rng.integers(0, max(H - 2 * py - bh, 0) + 1))
    ink_map = np.zeros((SH, SW), np.float32)
    ink_map[py + y0:py + y0 + bh, px + x0:px + x0 + bw] = ink_patch[:SH - py - y0, :SW - px - x0]
    ys, xs = np.nonzero(ink_patch > 0.1)
    ink_pts = np.stack([xs + x0 + 0.5, ys + y0 + 0.5], 1) if len(xs) else np.array([[x0 + bw / 2, y0 + bh / 2]])
    return ink_map, ink_pts


def _page_beyond_edges(ink_pts: np.ndarray, angle: float, scene: tuple[int, int], pad: tuple[int, int],
                       look: PageLook, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The page: half-planes along and across the line, one or two of whose edges lie in the frame.
    -> (page coverage (SH, SW) in [0, 1], anti-aliased; signed distance beyond the page's edges)."""
    H, W = look.size
    (SH, SW), (py, px) = scene, pad
    centre = ink_pts.mean(0)
    t = math.radians(angle + rng.uniform(-look.page_skew, look.page_skew))
    along = np.array([math.cos(t), -math.sin(t)])     # a positive angle turns the line up to the right
    across = np.array([math.sin(t), math.cos(t)])     # down the page
    # each edge's normal points away from the ink
    normals = {"top": -across, "bottom": across, "left": -along, "right": along}
    frame = np.array([[0, 0], [W, 0], [0, H], [W, H]], np.float64)
    edges = []
    for side, nrm in normals.items():
        ink_reach = float(((ink_pts - centre) @ nrm).max())
        frame_reach = float(((frame - centre) @ nrm).max())
        room = frame_reach - ink_reach
        if room >= look.min_room * H:
            edges.append((side, nrm, ink_reach, room))
    if not edges:            # the line fills the frame: the widest room, whatever it is
        best = max(normals.items(), key=lambda kv: float(((frame - centre) @ kv[1]).max() - ((ink_pts - centre) @ kv[1]).max()))
        nrm = best[1]
        edges = [(best[0], nrm, float(((ink_pts - centre) @ nrm).max()),
                  float(((frame - centre) @ nrm).max() - ((ink_pts - centre) @ nrm).max()))]
    k = 2 if len(edges) > 1 and rng.random() < look.two_edges_p else 1
    chosen = [edges[j] for j in rng.choice(len(edges), k, replace=False)]
    yy, xx = np.mgrid[0:SH, 0:SW].astype(np.float32)
    fx, fy = xx - px - centre[0], yy - py - centre[1]         # scene px -> frame coords about the centre
    outside = np.full((SH, SW), -np.inf, np.float32)          # signed distance beyond the page's edges
    for _, nrm, ink_reach, room in chosen:
        dist = ink_reach + max(rng.uniform(*look.edge_room) * room, 2.0)
        outside = np.maximum(outside, fx * np.float32(nrm[0]) + fy * np.float32(nrm[1]) - np.float32(dist))
    return np.clip(0.5 - outside, 0, 1), outside


def _page_on_table(page: np.ndarray, outside: np.ndarray, look: PageLook, rng: np.random.Generator) -> np.ndarray:
    """The scene's reflectance without the ink: textured paper where the page is, beyond it a
    table of wood grain and blotches, darkened by the page's soft shadow near its edge."""
    W = look.size[1]
    SH, SW = page.shape
    yy, xx = np.mgrid[0:SH, 0:SW].astype(np.float32)
    paper = rng.uniform(*look.paper) + _blotches((SH, SW), rng) * rng.uniform(*look.texture)
    # the table: wood grain (stripes along a random direction, wavering) and blotches
    phi = rng.uniform(0, math.pi)
    period = rng.uniform(0.01, 0.05) * W
    waver = _blotches((SH, SW), rng) * rng.uniform(0, 3)
    stripes = np.sin(2 * math.pi * (xx * math.cos(phi) + yy * math.sin(phi)) / period + waver)
    grain = rng.uniform(*look.grain)
    table = rng.uniform(*look.table) * (1 + grain * (0.5 * stripes + 0.5 * _blotches((SH, SW), rng)))
    shadow_depth = rng.uniform(*look.page_shadow)
    shadow_width = rng.uniform(*look.page_shadow_width) * W
    table = table * (1 - shadow_depth * np.exp(-np.maximum(outside, 0) / shadow_width))
    return page * paper + (1 - page) * table


def _perspective(scene: Image.Image, pad: tuple[int, int], look: PageLook, rng: np.random.Generator) -> np.ndarray:
    """The padded scene seen in mild perspective: the frame's corners come from points up to
    `perspective` away -> (H, W) float32."""
    H, W = look.size
    py, px = pad
    corners = np.array([[0, 0], [W, 0], [W, H], [0, H]], np.float64)
    jitter = rng.uniform(-1, 1, (4, 2)) * np.array([look.perspective * W, look.perspective * H])
    src = corners + jitter + np.array([px, py])
    return np.asarray(scene.transform((W, H), Image.Transform.PERSPECTIVE, _perspective_coeffs(src, corners),
                                      Image.Resampling.BILINEAR), np.float32)


def _light_and_round_shadow(shape: tuple[int, int], look: PageLook, rng: np.random.Generator) -> np.ndarray:
    """`_light`, and sometimes (`blob_p`) a round soft shadow: a hand, the phone."""
    H, W = shape
    light = _light((H, W), look, rng)
    if rng.random() < look.blob_p:
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        cx, cy, r = rng.uniform(0, W), rng.uniform(0, H), rng.uniform(0.15, 0.5) * W
        soft = rng.uniform(0.05, 0.3) * r
        light *= 1 - rng.uniform(*look.blob) / (1 + np.exp((np.hypot(xx - cx, yy - cy) - r) / soft))
    return light
