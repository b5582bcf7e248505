"""The commands that write data: `make-dataset` (a course-format set from the training generator, or
with --preset one robustness-suite set) and `fetch-hand-fonts`. Their numbers were checked by the
parser, so --n is positive here."""
from __future__ import annotations

from digitsum.errors import DigitsumError


def cmd_make_dataset(a) -> int:
    if a.preset is not None:
        return cmd_make_suite_set(a)
    from digitsum.data.course import save_course_dataset
    from digitsum.data.synth import generate_dataset
    overrides = {k: v for k, v in (("height", a.height), ("width", a.width)) if v}
    images, digits = generate_dataset(a.split, a.n, a.seed, a.layout, a.augment, **overrides)
    files = save_course_dataset(a.out, images, digits.sum(1), digits)
    print(f"wrote {len(images)} images {images.shape[1]}x{images.shape[2]} from MNIST {a.split} digits: "
          + ", ".join(str(f) for f in files))
    return 0


def cmd_make_suite_set(a) -> int:
    """make-dataset --preset NAME: one robustness-suite set (digitsum.data.suite), MNIST test digits only."""
    from digitsum.data.suite import get_preset, write_suite_set
    if a.split != "test":
        raise DigitsumError("--preset renders robustness test sets from MNIST test digits only: use --split test")
    if a.height or a.width:
        raise DigitsumError("--height/--width do not apply to --preset (each preset has its own canvas)")
    files = write_suite_set(a.preset, a.n, a.seed, a.out)
    h, w = get_preset(a.preset).stored_size
    print(f"wrote {a.n} images {h}x{w} of suite set {a.preset!r} (seed {a.seed}): " + ", ".join(str(f) for f in files))
    return 0


def cmd_fetch_hand_fonts(a) -> int:
    """The handwriting fonts of training's --hand-digits (digitsum.data.handfonts), fetched once."""
    from digitsum.data.handfonts import HAND_FONTS, cache_folder, fetch
    fetch(a.folder, say=print)
    print(f"{len(HAND_FONTS)} handwriting fonts in {cache_folder(a.folder)}")
    return 0
