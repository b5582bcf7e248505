"""An independent robustness suite: four-digit test images laid out by rules of its own.

The models train on the batched torch generator in `digitsum.data.synth`. This package shares no
code with it (it does not import it): it is a plain PIL/numpy renderer, used for test sets only,
that pastes MNIST *test* digits (or pen strokes of Hershey font digits, preset `drawn`) by the
rules of a named preset in `SUITE_PRESETS`, so that a model can be scored on layouts it never saw.

For an MNIST preset (mnist_sets.py) each image is built so:
  1. four random MNIST test digits, each cropped to its ink bounding box;
  2. per digit: size (a scale factor, or a target ink height in px), rotation and shear (one PIL
     affine resampling), stroke width (PIL MaxFilter / MinFilter), ink intensity;
  3. left to right (placement.py): a left margin, gaps measured between the ink boxes (negative =
     overlap, blended by max), each digit at its own random height on the canvas. Reading order
     is kept: each digit's x-centre is at least `MIN_CENTRE_STEP` px right of the previous one's
     (a gap is clamped up to ensure it). Margins, then gaps, shrink until the four fit; a digit is
     never cropped;
  4. per image: blur, Gaussian pixel noise.

`stacked` (stacked.py) transforms MNIST digits as above on a noisy 48x200 canvas, where in every
image at least one pair of neighbours is stacked, one at the top of the canvas and one at the
bottom. `photo_page` photographs course-layout images on a page with its edge and the table beyond
it in the frame (`digitsum.data.photo.photograph_page`); `photo` fills the frame with paper.
`drawn` (drawn.py) draws Hershey font digits as pen strokes on canvases of several sizes, each
canvas size in a file of its own (data0.npy for the first canvas size, ...); `suite.json` records
which is which.

Output is the course format: (N, H, W) uint8 white ink on black, sums (N,), digits (N, 4).
Everything is deterministic for (preset, n, seed). presets.py says what each set is;
rendering.py renders a set by name, writes it, and keeps it in a cache.
"""
from digitsum.data.suite.placement import MIN_CENTRE_STEP
from digitsum.data.suite.presets import (SUITE_PRESETS, DrawnPreset, MnistPreset, PhotoPreset, Preset, StackedPreset,
                                         get_preset)
from digitsum.data.suite.rendering import (MANIFEST, SUITE_VERSION, cached_suite_set, render, render_parts,
                                           write_suite_set)
from digitsum.data.suite.stacked import stacked_roles

__all__ = ["MIN_CENTRE_STEP", "SUITE_PRESETS", "DrawnPreset", "MnistPreset", "PhotoPreset", "Preset", "StackedPreset",
           "get_preset", "MANIFEST", "SUITE_VERSION", "cached_suite_set", "render", "render_parts", "write_suite_set",
           "stacked_roles"]
