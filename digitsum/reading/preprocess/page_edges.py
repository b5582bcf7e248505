"""The page's edges: in a photo of a page, the edge of the sheet and the table beyond it darken like
ink; `drop_page_edges` takes their marks out of the ink map before the digits are cropped, and
`drop_straight_lines` the long straight lines left (an edge in pieces, a ruled line); `clean_page`
does both."""
from __future__ import annotations

import numpy as np
from PIL import Image

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
    in less than HUG_ACROSS): a digit cut by the frame reaches in about as far as it runs along it.
    When every sizeable mark would go, nothing does (a tightly cropped row of touching digits).
    Digit height is the median height of the marks of some size."""
    # marks are taken from the faint mask: an edge that is strong only in parts is still one mark
    faint, _ = ink_masks(wob)
    return _drop_edge_marks(wob, faint, ink_marks(faint))[0]


def clean_page(wob: np.ndarray) -> np.ndarray:
    """An ink map of a photo -> the same without a form's boxes (`drop_boxes`) and the strokes that
    underline the digits (`drop_underlines`), the page's edges and the table (`drop_page_edges`),
    then without the straight lines left (`drop_straight_lines`), and without what is not ink
    (`keep_ink`). The ink masks are taken once: each step takes pixels away from them."""
    faint, strong = ink_masks(wob)
    marks = ink_marks(faint)
    gone = _box_pixels(faint, *marks[:2]) | _underline_pixels(faint, *marks)
    if gone.any():
        wob, faint, strong = np.where(gone, 0.0, wob).astype(np.float32), faint & ~gone, strong & ~gone
        marks = ink_marks(faint)
    wob, faint = _drop_edge_marks(wob, faint, marks)
    # the digit height from the strong ink: the faint marks can be one net of a grid's light lines
    # and the digits on them, as tall as the photo
    digit = mark_height(strong & faint)
    wob = drop_straight_lines(wob, digit, faint)
    return keep_ink(wob, faint & (wob > 0), digit)


BOX_SIDE = 0.85    # a mark whose bounding box has its ink along this share of each of its four sides,
BOX_BAND = 0.08    # within this share of the box's short side (and 2 px at least) of the side, is a box
BOX_MIN = 12       # px: the short side of the smallest box
BOX_RING = 0.5     # at most this share of the ring just inside its sides is its own ink


def drop_boxes(wob: np.ndarray) -> np.ndarray:
    """An ink map -> the same without the boxes of a form (a digit written in each box, or in the
    cells of one long box split by bars). A box is a mark whose ink runs along all four sides of its
    bounding box, with ink inside it. Its sides go, as do the bars from its top to its bottom (or
    from side to side) that split it into cells; the digits inside stay, and one that touches
    a side loses a sliver. A square "0" has nothing inside it and stays."""
    faint, _ = ink_masks(wob)
    gone = _box_pixels(faint, *ink_marks(faint)[:2])
    return np.where(gone, 0.0, wob).astype(np.float32) if gone.any() else wob


def _box_pixels(faint: np.ndarray, labels: np.ndarray, boxes: list) -> np.ndarray:
    """The pixels of the boxes' sides and bars (`drop_boxes`)."""
    from scipy import ndimage
    gone = np.zeros_like(faint)
    for i, (rows, cols) in enumerate(boxes):
        h, w = rows.stop - rows.start, cols.stop - cols.start
        if min(h, w) < BOX_MIN:
            continue
        mine = labels[rows, cols] == i + 1
        band = max(2, round(BOX_BAND * min(h, w)))
        sides = (mine[:band].any(axis=0), mine[-band:].any(axis=0), mine[:, :band].any(axis=1), mine[:, -band:].any(axis=1))
        if min(side.mean() for side in sides) < BOX_SIDE:
            continue
        inner = np.zeros_like(mine)
        inner[band:-band, band:-band] = True
        if not faint[rows, cols][inner].any():   # nothing inside: a square "0", or an empty box
            continue
        ring = inner.copy()                      # just inside the sides: clear in a box (a thick
        ring[2 * band:-2 * band, 2 * band:-2 * band] = False   # bar, a block of ink, is full)
        if mine[ring].mean() > BOX_RING:
            continue
        frame = ~inner
        # bars across the box: columns (rows) whose ink fills the whole height (width) but the band
        frame[:, mine[band:-band].mean(axis=0) >= BOX_SIDE] = True
        frame[mine[:, band:-band].mean(axis=1) >= BOX_SIDE, :] = True
        gone[rows, cols] |= ndimage.binary_dilation(frame & mine, iterations=1) & mine
    return gone


UNDERLINE_THIN = 0.15   # a level bar of ink at most this many digit heights thick,
UNDERLINE_LONG = 0.8    # at least this many long, with no ink below it, underlines the writing


def drop_underlines(wob: np.ndarray) -> np.ndarray:
    """An ink map -> the same without the strokes that underline the digits (one under each, or a
    line under them all, broken or too short for `drop_straight_lines`): separate marks that are
    level bars, thin and long, with no ink below them. A digit's own bar (a 7's top, a 5's flag,
    even when the pen left the paper) has the digit below it, and stays."""
    faint, _ = ink_masks(wob)
    gone = _underline_pixels(faint, *ink_marks(faint))
    return np.where(gone, 0.0, wob).astype(np.float32) if gone.any() else wob


def _underline_pixels(faint: np.ndarray, labels: np.ndarray, boxes: list, sizes: np.ndarray) -> np.ndarray:
    """The pixels of the underlines (`drop_underlines`), and a pixel around them."""
    from scipy import ndimage
    if not boxes:
        return np.zeros_like(faint)
    heights = np.array([b[0].stop - b[0].start for b in boxes])
    widths = np.array([b[1].stop - b[1].start for b in boxes])
    bars = heights <= np.maximum(3, UNDERLINE_THIN * widths / UNDERLINE_LONG)   # thin for their length
    if bars.all() or not bars.any():
        return np.zeros_like(faint)
    digit, _ = _digit_height([b for b, bar in zip(boxes, bars) if not bar], sizes[~bars])
    below_any = np.flipud(np.cumsum(np.flipud(faint), axis=0)) > 0   # ink in this column, here or lower
    drop = []
    for i in np.nonzero(bars)[0]:
        (rows, cols), h, w = boxes[i], heights[i], widths[i]
        if h > max(3, UNDERLINE_THIN * digit) or w < UNDERLINE_LONG * digit:
            continue
        beneath = below_any[rows.stop + 1, cols] if rows.stop + 1 < faint.shape[0] else np.zeros(w, bool)
        if beneath.mean() < 0.1:
            drop.append(i + 1)
    if not drop:
        return np.zeros_like(faint)
    return ndimage.binary_dilation(np.isin(labels, drop), iterations=1)


SPECK = 0.15        # a mark narrower and shorter than this many digit heights is a speck,
SPECK_ALONE = 0.3   # and goes when no other ink lies within this many digit heights of it
INK_RIM = 2         # px around the ink that are kept: a stroke's soft edge


def keep_ink(wob: np.ndarray, faint: np.ndarray, digit: float) -> np.ndarray:
    """An ink map -> only its ink: the faint-ink mask and a rim of INK_RIM px, without lone specks.
    What a photo's paper leaves below the ink threshold (the thin grey lines of squared paper,
    grain) would still show after the crop stretches the contrast, and the dots where a grid's
    lines cross are specks far from anything. A digit's own faint fragments lie near other ink."""
    from scipy import ndimage
    labels, boxes, _ = ink_marks(faint)
    if not boxes:
        return wob
    small = np.array([max(b[0].stop - b[0].start, b[1].stop - b[1].start) < SPECK * digit for b in boxes])
    if small.any():
        reach = 2 * round(SPECK_ALONE * digit) + 1
        # ink within reach of each pixel, less the speck's own (all of it lies within reach)
        around = ndimage.uniform_filter(faint.astype(np.float32), reach, mode="constant") * reach * reach
        own = ndimage.sum_labels(faint, labels, np.arange(1, len(boxes) + 1))
        nearby = ndimage.maximum(around, labels, np.arange(1, len(boxes) + 1)) - own
        alone = small & (np.asarray(nearby) < 0.5)
        faint = faint & ~np.isin(labels, np.nonzero(alone)[0] + 1)
    rim = ndimage.binary_dilation(faint, iterations=INK_RIM)
    return np.where(rim, wob, 0.0).astype(np.float32)


def _drop_edge_marks(wob: np.ndarray, faint: np.ndarray, marks: tuple) -> tuple[np.ndarray, np.ndarray]:
    """-> (`drop_page_edges`'s ink map, its faint-ink mask), from the faint mask and its marks."""
    from scipy import ndimage
    labels, boxes, sizes = marks
    if len(boxes) < 2:
        return wob, faint
    edge, big, _ = _edge_marks(boxes, sizes, wob.shape)
    if not edge.any() or edge[big].all():
        return wob, faint
    # take the edge's faint rim too: everything within 2 px of the removed marks
    gone = ndimage.binary_dilation(np.isin(labels, np.nonzero(edge)[0] + 1), iterations=2)
    return np.where(gone, 0.0, wob).astype(np.float32), faint & ~gone


def _edge_marks(boxes: list, sizes: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, float]:
    """For each mark (its bounding box and pixel count): -> (is it an edge or the table, is it a
    mark of some size; and the digit height)."""
    lengths = np.array([max(b[0].stop - b[0].start, b[1].stop - b[1].start) for b in boxes])
    digit, big = _digit_height(boxes, sizes)
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
    return edge, big, digit


def _hugs_frame(box: tuple[slice, slice], shape: tuple[int, int], digit: float) -> bool:
    """Does the mark in `box` run along a side of the frame it touches, as a band (the page's edge
    seen at the side of the photo, or the table's strip beyond it)?"""
    (rows, cols), (h, w) = box, shape
    height, width = rows.stop - rows.start, cols.stop - cols.start
    at_side = cols.start <= 1 or cols.stop >= w - 1           # left or right: the band is vertical
    at_top_or_bottom = rows.start <= 1 or rows.stop >= h - 1
    return bool((at_side and height > HUG_ALONG * digit and width < HUG_ACROSS * digit)
                or (at_top_or_bottom and width > HUG_ALONG * digit and height < HUG_ACROSS * digit))


LINE_GRID_DIGIT = 20     # px a digit is tall on the reduced copy the lines are searched on,
LINE_GRID_AREA = 60_000  # which has at most this many px (so a large photo costs no more);
LINE_GRID_INK = 0.12     # a reduced pixel this share inked is ink (a 1 px line split over two cells stays)
LINE_RUN = 2.5           # a straight run of ink this many digit heights long is a line, not writing,
LINE_CHORD = 1.2         # (or this long from frame to frame, when GRID_CHORDS such chords and a line
GRID_CHORDS = 3          # are found: a grid)
FRAME_NEAR = 4           # px (reduced copy) from the frame that a chord's ends may stop
LINE_GAP = 2             # when it breaks for no more than this many px (reduced copy),
LINE_COVER = 0.9         # its ink covers this share of its positions (a chain of strokes leaves holes),
LINE_SIDES = 0.25        # at most this share of them has ink on both sides of it,
LINE_FREE = 0.25         # and at least this share has none on either side (it runs on past the writing)
LINE_BODY = 0.8          # a row of ink along a line that covers this share of it belongs to the line
LINE_CANDIDATES = 64     # the Hough cells with most votes that are looked at for a run
MAX_LINES = 40


def drop_straight_lines(wob: np.ndarray, digit: float | None = None, faint: np.ndarray | None = None) -> np.ndarray:
    """An ink map -> the same without long straight lines: what is left of a page's edge, a
    ruled line or a table's rim after `drop_page_edges`, which takes whole marks only, and so
    keeps an edge broken into short pieces and an edge that a digit touches (or takes the digit
    with it). A line is found by the Hough transform of the faint ink on a reduced copy (a digit
    about LINE_GRID_DIGIT px tall): a straight run of ink, unbroken but for gaps of LINE_GAP px,
    longer than LINE_RUN digit heights, with clear paper on at least one side along most of it.
    No stroke of a digit is that long; a row of touching digits can hold such a run (the middle
    bars of bold digits), but has ink above and below it. Once such a line is found, runs from
    frame to frame longer than LINE_CHORD digit heights go too when there are GRID_CHORDS of them
    (squared paper cropped to a few digits' height). Only the line's own ink goes, so a digit that
    touches the line loses a sliver, not itself, and where a stroke crosses the line it keeps its
    ink. `digit` and `faint` (the digit height and the faint-ink mask) when the caller has them."""
    if faint is None:
        faint, _ = ink_masks(wob)
    if digit is None:
        digit = mark_height(faint)
    h, w = wob.shape
    k = min(1.0, LINE_GRID_DIGIT / max(digit, 1.0), (LINE_GRID_AREA / (h * w)) ** 0.5)
    small = np.asarray(Image.fromarray(faint.astype(np.float32), "F")
                       .resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.BOX)) > LINE_GRID_INK
    gone, chords, n_chords = np.zeros_like(small), np.zeros_like(small), 0
    for _ in range(MAX_LINES):
        # chords count only beside a long line: until one is found, none are looked for (and a
        # drawing without lines costs one pass over few candidates)
        min_chord = LINE_CHORD * digit * k if gone.any() else np.inf
        found = _next_line(small & ~gone & ~chords, LINE_RUN * digit * k, min_chord)
        if found is None:
            break
        band, is_chord = found
        if is_chord:
            chords |= band
            n_chords += 1
        else:
            gone |= band
    # chords (all found beside a long line) are a grid's lines (squared paper, a table) when there
    # are several: the tall strokes of a drawing that fills its frame ("1", "4") are chords too
    if n_chords >= GRID_CHORDS:
        gone |= chords
    if not gone.any():
        return wob
    big = np.asarray(Image.fromarray(gone.astype(np.uint8) * 255).resize((w, h), Image.Resampling.NEAREST)) > 0
    return np.where(big & faint, 0.0, wob).astype(np.float32)


def mark_height(faint: np.ndarray) -> float:
    """The median height of the marks of some size (connected faint ink): about a digit's."""
    _, boxes, sizes = ink_marks(faint)
    return _digit_height(boxes, sizes)[0] if boxes else float(faint.shape[0])


def ink_marks(faint: np.ndarray) -> tuple[np.ndarray, list, np.ndarray]:
    """The marks of an ink mask (8-connected) -> (their labels, bounding boxes, pixel counts)."""
    from scipy import ndimage
    labels, _ = ndimage.label(faint, structure=np.ones((3, 3)))
    return labels, ndimage.find_objects(labels), np.bincount(labels.ravel())[1:].astype(np.float64)


def _digit_height(boxes: list, sizes: np.ndarray) -> tuple[float, np.ndarray]:
    """Marks' bounding boxes and pixel counts -> (the median height of the marks of some size,
    which of them are of some size)."""
    heights = np.array([b[0].stop - b[0].start for b in boxes])
    big = sizes >= min(max(12, 0.2 * sizes.max()), sizes.max())   # (specks only: the largest of them)
    return float(np.median(heights[big])), big


# 1 degree apart: a run of 50 px (2.5 digits) strays at most 0.44 px from its cell
_ANGLES = np.deg2rad(np.arange(0.0, 180.0, 1.0)).astype(np.float32)
_SIDE = 8   # px (reduced copy) across a line that its profile looks at, either way


def _next_line(mask: np.ndarray, min_run: float, min_chord: float) -> tuple[np.ndarray, bool] | None:
    """The pixels of the longest line in `mask` (a straight run with a clear side, of at least
    `min_run` px, or a chord from frame to frame of at least `min_chord` px), and whether it is
    such a chord only; or None. Candidates are the Hough accumulator's cells with that many votes."""
    ys, xs = np.nonzero(mask)
    if len(xs) < min_run:
        return None
    xs, ys = xs.astype(np.float32), ys.astype(np.float32)
    cos, sin = np.cos(_ANGLES), np.sin(_ANGLES)
    rho = np.rint(xs[:, None] * cos[None, :] + ys[:, None] * sin[None, :]).astype(np.int64)   # (N, A)
    lo = rho.min()
    n_rho = int(rho.max() - lo + 1)
    votes = np.zeros((len(_ANGLES), n_rho), np.int64)
    for a in range(len(_ANGLES)):
        votes[a] = np.bincount(rho[:, a] - lo, minlength=n_rho)
    flat = votes.ravel()
    least = min(min_run, min_chord)
    if flat.max() < least:
        return None
    # the cells that hold the most votes of their neighbourhood: one line fills several neighbouring
    # cells, and a row through a line of digits and the strokes that cross it can outvote a line
    from scipy import ndimage
    peak = (votes == ndimage.maximum_filter(votes, size=3, mode="nearest")).ravel() & (flat >= least)
    cells = np.nonzero(peak)[0]
    if len(cells) > LINE_CANDIDATES:
        cells = cells[np.argpartition(flat[cells], -LINE_CANDIDATES)[-LINE_CANDIDATES:]]
    runs = []
    for a, r in zip(*np.unravel_index(cells[flat[cells] >= least], votes.shape)):
        on = rho[:, a] == r + lo
        t = np.sort(-xs[on] * sin[a] + ys[on] * cos[a])                  # positions along the line
        start, end = _longest_run(t)
        covered = np.count_nonzero(np.bincount(np.rint(t[(t >= start) & (t <= end)] - start).astype(np.int64)))
        if covered < LINE_COVER * (end - start + 1):
            continue
        chord = end - start < min_run
        if chord and not (end - start >= min_chord and _at_frame(mask.shape, _ANGLES[a], r + lo, start, end)):
            continue
        runs.append((end - start, float(_ANGLES[a]), float(r + lo), start, end, chord))
    for _, angle, offset, start, end, chord in sorted(runs, reverse=True):
        band = _line_band(mask, angle, offset, start, end)
        if band is not None:
            return band, chord
    return None


def _at_frame(shape: tuple[int, int], angle: float, offset: float, start: float, end: float) -> bool:
    """Do both ends of the run along (angle, offset, start..end) lie at the frame? (Within a few px:
    a line found before may have taken the grid's last line, at the frame, with the ends of this one.)"""
    cos, sin = np.cos(angle), np.sin(angle)
    h, w = shape
    for t in (start, end):
        x, y = -t * sin + offset * cos, t * cos + offset * sin
        if min(x, y, w - 1 - x, h - 1 - y) > FRAME_NEAR:
            return False
    return True


def _longest_run(t: np.ndarray) -> tuple[float, float]:
    """Sorted positions -> (start, end) of the longest stretch without a gap over LINE_GAP."""
    breaks = np.flatnonzero(np.diff(t) > LINE_GAP + 1)
    starts, ends = np.concatenate(([0], breaks + 1)), np.append(breaks, len(t) - 1)
    i = int(np.argmax(t[ends] - t[starts]))
    return float(t[starts[i]]), float(t[ends[i]])


def _line_band(mask: np.ndarray, angle: float, offset: float, start: float, end: float) -> np.ndarray | None:
    """The pixels of the line along (angle, offset, start..end): its body (the rows across it that
    its ink covers along LINE_BODY of its length) and a pixel beyond. None when the ink two pixels
    beyond the body lies on both sides along more than LINE_SIDES of it: a run through a row of
    touching digits, not a line."""
    cos, sin = np.cos(angle), np.sin(angle)
    along = np.arange(np.floor(start), np.ceil(end) + 1, dtype=np.float32)
    across = np.arange(-_SIDE, _SIDE + 1, dtype=np.float32)
    x = np.rint(across[:, None] * cos - along[None, :] * sin + offset * cos).astype(np.int64)   # (D, T)
    y = np.rint(across[:, None] * sin + along[None, :] * cos + offset * sin).astype(np.int64)
    inside = (x >= 0) & (x < mask.shape[1]) & (y >= 0) & (y < mask.shape[0])
    ink = np.zeros(x.shape, bool)
    ink[inside] = mask[y[inside], x[inside]]
    body = ink.mean(axis=1) >= LINE_BODY                                   # (D,)
    lo = hi = _SIDE                                                        # the body around offset 0
    while lo > 0 and body[lo - 1]:
        lo -= 1
    while hi < 2 * _SIDE and body[hi + 1]:
        hi += 1
    if lo < 2 or hi > 2 * _SIDE - 2:                                       # no room to see its sides
        return None
    above, below = ink[:lo - 1].any(axis=0), ink[hi + 2:].any(axis=0)      # (T,) from 2 px beyond
    if (above & below).mean() > LINE_SIDES or (~above & ~below).mean() < LINE_FREE:
        return None
    # a stroke that crosses the line (a digit written on ruled paper) has ink just beyond both sides
    # at the same place along it: the line's pixels there are the stroke's too, and stay
    near = np.ones(3, bool)
    crossing = np.convolve(ink[max(lo - 3, 0):lo - 1].any(axis=0), near, "same").astype(bool) \
        & np.convolve(ink[hi + 2:hi + 4].any(axis=0), near, "same").astype(bool)
    band = np.zeros_like(mask)
    rows = slice(lo - 1, hi + 2)
    keep = inside[rows] & ~crossing[None, :]
    band[y[rows][keep], x[rows][keep]] = True
    return band
