"""The page's edges: in a photo of a page, the edge of the sheet and the table beyond it darken like
ink; `drop_page_edges` takes them out of the ink map before the digits are cropped."""
from __future__ import annotations

import numpy as np

from digitsum.reading.preprocess.ink import ink_masks

LINE_FRAME = 1.5      # a mark touching the frame and longer than this many digit heights is the page's edge
LINE_LONG = 6.0       # any mark longer than this many digit heights is no digit (a ruled line, an edge)
LINE_TABLE = 3.5      # a region at the frame this many digit heights long is the table, not a group of digits
LINE_THIN = 4.0       # an edge is this many times as elongated (length^2 / area) as the median mark
HUG_ALONG = 1.4       # a mark along the frame, longer than this many digit heights ...
HUG_ACROSS = 0.45     # ... and reaching in from the frame less than this many, is the page's edge


def drop_page_edges(wob: np.ndarray) -> np.ndarray:
    """An ink map of a photo -> the same without the page's edges and the table beyond them.

    In a photo of a page the edge of the sheet (and the table's grain) darkens like ink. Such marks
    are long and thin: their length squared over their area (their elongation) is many times a
    digit's, where a group of touching digits is about as elongated as one digit. A mark is taken
    for an edge when it is LINE_THIN times as elongated as the median mark and either touches the
    frame and is longer than LINE_FRAME digit heights, or is longer than LINE_LONG anywhere; a
    region at the frame longer than LINE_TABLE digit heights is the table (or its grain) and goes
    too, as does a band that hugs the frame (longer along it than HUG_ALONG digit heights, reaching
    in less than HUG_ACROSS): a digit cut by the frame reaches in about as far as it runs along it. When every sizeable mark would go, nothing does (a tightly cropped row of touching
    digits). Digit height is the median height of the marks of some size."""
    from scipy import ndimage
    # marks are taken from the faint mask: an edge that is strong only in parts is still one mark
    faint, _ = ink_masks(wob)
    labels, n = ndimage.label(faint, structure=np.ones((3, 3)))
    if n < 2:
        return wob
    edge, big = _edge_marks(ndimage.find_objects(labels), np.bincount(labels.ravel())[1:].astype(np.float64),
                            wob.shape)
    if not edge.any() or edge[big].all():
        return wob
    # take the edge's faint rim too: everything within 2 px of the removed marks
    gone = ndimage.binary_dilation(np.isin(labels, np.nonzero(edge)[0] + 1), iterations=2)
    return np.where(gone, 0.0, wob).astype(np.float32)


def _edge_marks(boxes: list, sizes: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For each mark (its bounding box and pixel count): -> (is it an edge or the table, is it a
    mark of some size)."""
    heights = np.array([b[0].stop - b[0].start for b in boxes])
    lengths = np.array([max(b[0].stop - b[0].start, b[1].stop - b[1].start) for b in boxes])
    big = sizes >= max(12, 0.2 * sizes.max())
    digit = float(np.median(heights[big]))
    elongation = lengths ** 2 / sizes
    thin = elongation > LINE_THIN * np.median(elongation[big])
    h, w = shape
    at_frame = np.array([b[0].start <= 1 or b[1].start <= 1 or b[0].stop >= h - 1 or b[1].stop >= w - 1
                         for b in boxes])
    hugs = np.array([_hugs_frame(b, shape, digit) for b in boxes])
    # a mark at the frame is the page's edge when it is thin, or the table beyond it when it is a
    # region longer than any group of touching digits; away from the frame only long lines go
    edge = (at_frame & (lengths > LINE_FRAME * digit) & (thin | (lengths > LINE_TABLE * digit))) \
        | (thin & (lengths > LINE_LONG * digit)) | hugs
    return edge, big


def _hugs_frame(box: tuple[slice, slice], shape: tuple[int, int], digit: float) -> bool:
    """Does the mark in `box` run along a side of the frame it touches, as a band (the page's edge
    seen at the side of the photo, or the table's strip beyond it)?"""
    (rows, cols), (h, w) = box, shape
    height, width = rows.stop - rows.start, cols.stop - cols.start
    at_side = cols.start <= 1 or cols.stop >= w - 1           # left or right: the band is vertical
    at_top_or_bottom = rows.start <= 1 or rows.stop >= h - 1
    return bool((at_side and height > HUG_ALONG * digit and width < HUG_ACROSS * digit)
                or (at_top_or_bottom and width > HUG_ALONG * digit and height < HUG_ACROSS * digit))
