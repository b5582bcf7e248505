"""One image through one checkpoint: what the app shows and the `predict_json` API returns."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from digitsum.errors import DigitsumError
from digitsum.reading.preprocess import fit_to_canvas, to_gray, to_white_on_black

UNCERTAIN = 0.6  # a digit whose top probability is below this gets a warning
FOUR_DIGITS_MIN = 0.5  # a four-digit score below this: "this does not look like four digits".
                       # Set on a calibration seed of the suite and the non-digit set; the rates it
                       # gives on other seeds: `python -m digitsum refusal` (README)


def four_digit_score(peak_probs) -> float:
    """How much an image looks like four digits to a reader, from its centre peaks (strongest
    first): the weaker of "there is a 4th digit" (p4) and "there is no 5th" (1 - p5). Noise, a
    blank page with a speck and one to three digits have no strong 4th peak; five or more digits,
    and most letters, have a strong 5th."""
    return float(min(peak_probs[3], 1.0 - peak_probs[4]))


def not_four_digits_message(peak_probs) -> str:
    if peak_probs[3] < 1.0 - peak_probs[4]:
        return "this does not look like four digits: fewer than four digit-like marks were found"
    return "this does not look like four digits: more than four digit-like marks were found (five digits, or letters?)"


class NotFourDigitsError(DigitsumError):
    """The image does not look like four digits, and the caller asked to refuse such input."""


@dataclass
class Prediction:
    canvas: np.ndarray                 # (H, W) float32: the model's input as it saw it
    digit_probs: np.ndarray | None     # (4, 10), None for sum-only heads
    sum_probs: np.ndarray              # (37,)
    warnings: list[str] = field(default_factory=list)
    milliseconds: float = 0.0
    x_centres: list[float] | None = None  # where on `canvas` each digit was read (px), for readers that say
    four_digit_score: float | None = None  # see `four_digit_score`; None for models that read fixed slots

    @property
    def looks_like_four_digits(self) -> bool | None:
        return None if self.four_digit_score is None else self.four_digit_score >= FOUR_DIGITS_MIN

    @property
    def digits(self) -> list[int] | None:
        return None if self.digit_probs is None else [int(v) for v in self.digit_probs.argmax(1)]

    @property
    def total(self) -> int:
        return int(self.sum_probs.argmax())

    def to_json(self, checkpoint: str) -> dict:
        return {
            "checkpoint": checkpoint,
            "digits": self.digits,
            "digit_probs": None if self.digit_probs is None else np.round(self.digit_probs, 6).tolist(),
            "sum": self.total,
            "sum_probs": np.round(self.sum_probs, 6).tolist(),
            "sum_confidence": float(self.sum_probs.max()),
            "x_centres": self.x_centres,
            "four_digit_score": None if self.four_digit_score is None else round(self.four_digit_score, 4),
            "looks_like_four_digits": self.looks_like_four_digits,
            "warnings": self.warnings,
            "milliseconds": round(self.milliseconds, 2),
        }


def empty_places(image, places: int = 4, min_ink: float = 0.004) -> list[int]:
    """1-based places (equal-width slots of a drawing) holding almost no ink. For the Draw tab,
    whose canvas shows one guide box per digit."""
    wob = to_white_on_black(to_gray(image))
    ink = wob > 0.5
    slots = np.array_split(ink, places, axis=1)
    return [i + 1 for i, s in enumerate(slots) if s.mean() < min_ink]


def prepare(model, image) -> np.ndarray:
    """The preprocessing half of `predict_image`: any image -> the model's (H, W) float32 canvas.
    Raises BlankImageError for blank input. Runs in the caller's thread when predictions are
    batched (`digitsum.reading.predictor`)."""
    return fit_to_canvas(image, model.height, model.width)


def forward(model, canvases) -> list:
    """The model half: canvases (a list of (H, W) arrays, or (B, H, W)) -> one Reading per canvas,
    each with batch size 1, on the CPU. One forward pass for all of them; every model here reads
    each image on its own (BatchNorm in eval mode), so a canvas's Reading does not depend on the
    others in its batch."""
    device = next(model.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(np.stack(canvases), dtype=np.float32))[:, None].to(device)
    r = model.read(x)
    parts = [None if t is None else t.detach().cpu() for t in r]
    return [type(r)(*[None if t is None else t[i:i + 1] for t in parts]) for i in range(len(x))]


def finish(canvas: np.ndarray, r, image=None, check_places: bool = False, refuse: bool = False,
           milliseconds: float = 0.0) -> Prediction:
    """A Reading of one canvas (batch size 1) -> its Prediction, warnings included (`image`, the
    input `prepare` got, is needed only with `check_places`)."""
    pred = Prediction(canvas, None if r.digit_probs is None else r.digit_probs[0].cpu().numpy(),
                      r.sum_probs[0].cpu().numpy(),
                      x_centres=None if r.x_centres is None else [round(float(v), 1) for v in r.x_centres[0]])
    pred.milliseconds = milliseconds
    if r.peak_probs is not None:
        peaks = r.peak_probs[0].cpu().numpy()
        pred.four_digit_score = four_digit_score(peaks)
        if not pred.looks_like_four_digits:
            if refuse:
                raise NotFourDigitsError(not_four_digits_message(peaks))
            pred.warnings.append(not_four_digits_message(peaks))
    if pred.digit_probs is not None:
        for place, probs in enumerate(pred.digit_probs, 1):
            if probs.max() < UNCERTAIN:
                top2 = probs.argsort()[::-1][:2]
                pred.warnings.append(f"digit {place} is uncertain: {top2[0]} ({probs[top2[0]]:.0%}) "
                                     f"or {top2[1]} ({probs[top2[1]]:.0%})")
    if check_places:
        for place in empty_places(image):
            pred.warnings.append(f"place {place} looks empty: write one digit in each of the four boxes")
    if pred.sum_probs.max() < UNCERTAIN:
        pred.warnings.append(f"the sum is uncertain ({pred.sum_probs.max():.0%} for {pred.total})")
    return pred


@torch.no_grad()
def predict_image(model, image, check_places: bool = False, refuse: bool = False) -> Prediction:
    """Any image (PIL or array) -> Prediction. Raises BlankImageError for blank input; with
    `refuse`, NotFourDigitsError for input that does not look like four digits (otherwise that is
    the first warning). `prepare`, `forward` and `finish` in turn, for one image; a Predictor
    batches the `forward` of concurrent callers instead (`digitsum.reading.predictor`)."""
    start = time.perf_counter()
    canvas = prepare(model, image)
    reading = forward(model, [canvas])[0]
    return finish(canvas, reading, image, check_places, refuse, (time.perf_counter() - start) * 1000)
