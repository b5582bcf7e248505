"""The synthetic generator's presets: where the four digits go (`Layout`) and how they are
distorted (`Augment`), with the named presets that training and the tests choose by name."""
from __future__ import annotations

from dataclasses import dataclass, replace

PATCH = 28  # MNIST patch size


@dataclass(frozen=True)
class Layout:
    """Where the four digits go. mode 'course' is the real layout; 'naive' abuts 28 px patches."""
    height: int = 40
    width: int = 168
    mode: str = "course"
    gap_min: int = -5     # px between one digit's ink and the next; negative = overlap
    gap_max: int = 30
    start_max: int = 16   # left margin before the first digit's ink
    vertical_slack: int = 2  # how far a patch may reach past the top/bottom (MNIST patches have ~4 px margin)
    crowd_p: float = 0.0     # share of images whose gaps are all tight (gap_min..2 px): crowded writing
    anywhere_p: float = 0.0  # share of images whose first digit starts anywhere the four fit (else 0..start_max)
    min_centre_gap: int | None = None  # px kept between neighbouring digits' centres (None: no rule,
                                        # as the course layout, where two 1s can nearly coincide)
    stack_p: float = 0.0     # share of images with stacked neighbours: a pair overlapping in x, one
                             # digit at the top of the canvas and one at the bottom (each pair of such
                             # an image is stacked with probability 1/2, at least one)
    stack_scale: tuple[float, float] = (0.6, 0.95)  # the scale of a stacked digit (two fit in the height)
    stack_overlap: tuple[float, float] = (0.1, 0.9)  # a stacked pair's x-overlap / the narrower width


@dataclass(frozen=True)
class Augment:
    """Random distortions. Probabilities are per digit (geometry, ink) or per image (noise, blur)."""
    rotation: float = 0.0              # max degrees, either way
    scale: tuple[float, float] = (1.0, 1.0)
    shear: float = 0.0                 # max shear factor
    aspect: float = 1.0                # writers' widths: a digit's width times a factor between 1/aspect
                                       # and aspect (log-uniform), its height kept; 1: off
    binarize_p: float = 0.0            # hard-edged strokes of even width, as a pen or a mouse draws them
    thicken_p: float = 0.0             # dilate strokes (3x3 max filter)
    marker_p: float = 0.0              # of the dilated digits, the share dilated twice (a marker pen)
    thin_p: float = 0.0                # erode strokes (3x3 min filter)
    ink: tuple[float, float] = (1.0, 1.0)  # per-digit peak intensity range (faint ink < 1)
    faint_p: float = 0.0               # probability that a digit's ink is drawn from `ink`
    blur_p: float = 0.0
    noise_p: float = 0.0
    noise_std: tuple[float, float] = (0.0, 0.0)
    elastic_p: float = 0.0             # smooth random displacement (Simard et al. 2003)
    elastic_alpha: float = 0.0         # its strength, in units of half a patch
    distractor_p: float = 0.0          # per image: a letter or scribble beside the row (digitsum.data.distractors)
    edge_line_p: float = 0.0           # per image: a page's edge beside the row, a line taller than any digit


# what users bring around the course layout: digits of 14-27 px, slant, thin pen to marker,
# elastic distortion, faint ink and noise
_WIDE = Augment(rotation=12, scale=(0.7, 1.35), shear=0.3, binarize_p=0.3, thicken_p=0.3, marker_p=0.15, thin_p=0.15,
                ink=(0.3, 1.0), faint_p=0.3, blur_p=0.2, noise_p=0.3, noise_std=(0.02, 0.12),
                elastic_p=0.5, elastic_alpha=0.08)
# "wide", and a third of the rows have a letter or a scribble beside them that is no digit
_WIDE_DISTRACTORS = replace(_WIDE, distractor_p=0.33)

# named presets: 'none' is the plain course layout; 'train' the default training mix;
# 'hard' the robustness test set (stronger than 'train' in every knob, on a 48x200 canvas)
AUGMENTS = {
    "none": Augment(),
    "train": Augment(rotation=12, scale=(0.8, 1.2), shear=0.2, thicken_p=0.2, thin_p=0.1,
                     ink=(0.35, 1.0), faint_p=0.25, blur_p=0.2, noise_p=0.3, noise_std=(0.02, 0.12)),
    "wide": _WIDE,
    "wide_distractors": _WIDE_DISTRACTORS,
    # "wide_distractors", and each digit narrowed or widened by up to 1.35x: writers differ in width
    # as much as in size, and MNIST's size normalisation (each digit fitted into 20x20) hides it
    "wide_writers": replace(_WIDE_DISTRACTORS, aspect=1.35),
    # "wide_distractors", and a fifth of the rows have a page's edge beside them (a photo's crop keeps one)
    "wide_page": replace(_WIDE_DISTRACTORS, edge_line_p=0.2),
    "hard": Augment(rotation=15, scale=(0.8, 1.2), shear=0.25, thicken_p=0.25, thin_p=0.15,
                    ink=(0.3, 0.8), faint_p=0.5, blur_p=0.3, noise_p=0.6, noise_std=(0.04, 0.12)),
}
LAYOUTS = {
    "course": Layout(),
    "naive": Layout(mode="naive"),
    "hard": Layout(height=48, width=200, gap_min=-8, gap_max=30, start_max=24),
    "train": Layout(gap_min=-8, gap_max=32),
    # first digit anywhere it fits (left, centred, right-aligned) half the time; overlapping to wide gaps
    "wide": Layout(gap_min=-8, gap_max=40, crowd_p=0.25, anywhere_p=0.5, vertical_slack=4, min_centre_gap=6),
    # "wide", and a fifth of the images have digits written one above the other
    "wide_stacked": Layout(gap_min=-8, gap_max=40, crowd_p=0.25, anywhere_p=0.5, vertical_slack=4, min_centre_gap=6,
                           stack_p=0.2),
}
