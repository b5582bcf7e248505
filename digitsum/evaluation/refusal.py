"""How often the four-digit check refuses what it should read, and accepts what it should not.

False rejects: robustness-suite sets of four digits (every preset, or those asked for) that the
check calls "not four digits" (or that preprocessing finds blank). False accepts: each kind of
the non-digit set (`digitsum.data.nondigits`) that passes as four digits. Every image goes through
a Predictor, the path the app and `predict_json` take, one image at a time: a batched forward
agrees with a lone one only to float rounding, which could move an image across the threshold.
"""
from __future__ import annotations

import numpy as np

from digitsum.errors import BlankImageError
from digitsum.data.nondigits import render_non_digits
from digitsum.reading.predictor import Predictor
from digitsum.data.suite import SUITE_PRESETS, render

DIGIT_SETS = tuple(SUITE_PRESETS)  # the target is <= 2 % false rejects on every one of them


def accepted(predictor: Predictor, image) -> bool:
    """Does the check take this image as four digits?"""
    try:
        return bool(predictor.predict(image).looks_like_four_digits)
    except BlankImageError:
        return False


def refusal_rates(model, n: int = 600, seed: int = 1, sets=DIGIT_SETS) -> dict:
    """-> {"false_reject": {set: rate}, "false_accept": {kind: rate}, "n": {...}}."""
    out = {"false_reject": {}, "false_accept": {}, "n": {}}
    with Predictor(model, name="digitsum-refusal") as predictor:
        for name in sets:
            images, _ = render(name, n, seed)
            out["false_reject"][name] = 1.0 - float(np.mean([accepted(predictor, im) for im in images]))
            out["n"][name] = n
        images, kinds = render_non_digits(n, seed)
        for kind in dict.fromkeys(kinds):
            mine = [im for im, k in zip(images, kinds) if k == kind]
            out["false_accept"][kind] = float(np.mean([accepted(predictor, im) for im in mine]))
            out["n"][kind] = len(mine)
        out["false_accept"]["all non-digits"] = float(np.mean([accepted(predictor, im) for im in images]))
    out["n"]["all non-digits"] = len(images)
    return out
