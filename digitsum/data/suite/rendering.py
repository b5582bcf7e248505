"""A suite set by name: rendered in memory (`render`, `render_parts`), written in the course format
with its manifest (`write_suite_set`), or kept in a cache folder (`cached_suite_set`)."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from digitsum.data.photo import PageLook, photograph, photograph_page
from digitsum.data.suite.drawn import hershey_fonts, render_drawn
from digitsum.data.suite.mnist_sets import render_mnist
from digitsum.data.suite.presets import DrawnPreset, PhotoPreset, StackedPreset, get_preset, preset_rng
from digitsum.data.suite.stacked import render_stacked
from digitsum.errors import DataError

SUITE_VERSION = 1        # bump when a preset or the renderer changes: cached sets are keyed by it
MANIFEST = "suite.json"


def render_parts(name: str, n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Render suite set `name`: a list of (images (k, H, W) uint8 white on black, digits (k, 4))
    parts, one per file to write (one for MNIST presets, one per canvas size for `drawn`), all of
    the preset's `stored_size`. Deterministic for (name, n, seed)."""
    p = get_preset(name)
    if n <= 0:
        raise DataError("the number of images must be positive")
    if isinstance(p, DrawnPreset):
        return [part for part in render_drawn(name, p, n, seed) if len(part[0])]
    if isinstance(p, PhotoPreset):
        images, digits = render_mnist(name, p.base, n, seed)
        rng = preset_rng(name + "/photo", seed)
        shoot = photograph_page if isinstance(p.look, PageLook) else photograph
        return [(np.stack([shoot(im, p.look, rng) for im in images]), digits)]
    if isinstance(p, StackedPreset):
        return [render_stacked(name, p, n, seed)[:2]]
    return [render_mnist(name, p, n, seed)]


def render(name: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Render suite set `name` -> (images (n, H, W) uint8 white on black, digits (n, 4) int64)."""
    parts = render_parts(name, n, seed)
    return np.concatenate([im for im, _ in parts]), np.concatenate([d for _, d in parts])


def write_suite_set(name: str, n: int, seed: int, folder) -> list[Path]:
    """Render suite set `name` into `folder` in the course format (data{k}/lab{k}/digits{k}.npy,
    k = 0, 1, ...) plus suite.json, which records the preset and what each file holds."""
    from digitsum.data.course import save_course_dataset
    p = get_preset(name)
    folder = Path(folder)
    parts = render_parts(name, n, seed)
    stale = [f.name for f in sorted(folder.glob("data*.npy")) if f.name not in {f"data{k}.npy" for k in range(len(parts))}]
    if stale:
        raise DataError(f"{folder}: already holds {stale[0]}, which would be mixed into this set; use an empty folder")
    written = []
    files = []
    for k, (images, digits) in enumerate(parts):
        written += save_course_dataset(folder, images, digits.sum(1), digits, suffix=str(k))
        entry = {"suffix": str(k), "n": int(len(images))}
        if isinstance(p, DrawnPreset):
            entry["canvas"] = list(p.canvases[k])     # drawn on this canvas, then padded to `size`
        files.append(entry)
    manifest = {"preset": name, "n": n, "seed": seed, "version": SUITE_VERSION,
                "size": list(p.stored_size), "files": files, "parameters": asdict(p)}
    if isinstance(p, DrawnPreset):
        manifest["fonts_used"] = list(hershey_fonts(p.fonts)[3])
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return written + [folder / MANIFEST]


def cached_suite_set(name: str, n: int, seed: int, cache_dir) -> Path:
    """The folder of suite set (name, n, seed) under `cache_dir`, rendered there once (written
    to a temporary folder, then renamed into place, so a killed run leaves no half set)."""
    from digitsum.storage.atomic import atomic_folder
    get_preset(name)
    folder = Path(cache_dir) / f"{name}-n{n}-seed{seed}-v{SUITE_VERSION}"
    if not (folder / MANIFEST).is_file():
        with atomic_folder(folder) as tmp:
            write_suite_set(name, n, seed, tmp)
    return folder
