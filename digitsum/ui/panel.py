"""The prediction panel that Draw and Upload share: the answer in one line, four digit charts and
the sum, the sum distribution, and the model's input marked where it read each digit.

One sum: the sum shown (in the line, on the sum card, and marked in the distribution) is the sum of
the digits shown, each digit its own likeliest value; a sum-only model's is its distribution's
likeliest. Where the distribution peaks elsewhere (uncertain digits whose likelier combinations add
up differently), the warnings say so, and the chart shows both. A drawing with empty boxes is read
only once every box holds a digit: the reader would invent the missing ones."""
from __future__ import annotations

import html

import gradio as gr
import numpy as np
import pandas as pd

from digitsum.reading.predict import Prediction
from .pictures import show

SHOWN, OTHER = "the sum shown", "other sums"
# the model's input: 144 px (its 40 px canvas at 3x, and the red ticks with their digits below), under
# its label and buttons (common.CSS moves the picture below them: they covered its top)
PICTURE_HEIGHT = 180


def answer(pred: Prediction) -> int:
    """The one sum the panel shows: the shown digits' sum (a sum-only model: its likeliest sum)."""
    return sum(pred.digits) if pred.digits else pred.total


def notes(pred: Prediction) -> list[str]:
    """Everything the reading warns about, the distribution's other peak first."""
    total = answer(pred)
    out = []
    if pred.digits and pred.total != total:
        out.append(f"the sum distribution peaks at {pred.total} ({pred.sum_probs.max():.0%}), not at {total}: "
                   f"some digits are uncertain, and their likelier combinations add up to {pred.total}")
    return out + list(pred.warnings)


def folded(warnings: list[str]) -> str:
    """Warnings as one line ("⚠️ 3 warnings: the first…") that opens to the list: however many there
    are, the digits and the sum below stay where they are."""
    if not warnings:
        return ""
    items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    count = "1 warning" if len(warnings) == 1 else f"{len(warnings)} warnings"
    return (f'\n\n<details class="warnings"><summary>⚠️ {count}: {html.escape(warnings[0])}</summary>'
            f"<ul>{items}</ul></details>")


def summary(pred: Prediction) -> str:
    """The answer in one line (a guess when the input does not look like four digits), then the
    warnings folded into one line."""
    total = answer(pred)
    p = f"{pred.sum_probs[total]:.0%}"
    if pred.digits:
        text = f"digits {' '.join(map(str, pred.digits))} &nbsp; → &nbsp; sum **{total}** ({p})"
    else:
        text = f"sum **{total}** ({p}); this model predicts sums only"
    if pred.looks_like_four_digits is False:
        text = f"best guess: {text}"
    return f"### {text}{folded(notes(pred))}"


def places(numbers: list[int]) -> str:
    words = [str(k) for k in numbers]
    listed = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
    return f"place {listed} is" if len(words) == 1 else f"places {listed} are"


def incomplete(pred: Prediction, empty: list[int]) -> bool:
    """True when a drawing has empty boxes and the reader did not find four digits elsewhere: the
    digits it gives for the empty places would be invented."""
    return bool(empty) and pred.looks_like_four_digits is not True


def digit_labels(pred: Prediction) -> list[dict]:
    if pred.digit_probs is None:
        return [{} for _ in range(4)]
    return [{str(d): float(p[d]) for d in range(10)} for p in pred.digit_probs]


def sum_chart(sum_probs: np.ndarray, shown: int | None) -> pd.DataFrame:
    """The sum distribution with the sum shown marked (a colour of its own). Both colours are always
    in it (with no sum shown, the empty bar at 0 is 'shown'): Gradio's plot keeps the colours of the
    first value it draws, and a chart first drawn without a marked bar never marked one."""
    probs = np.asarray(sum_probs, float)
    marked = shown if shown is not None else 0
    if shown is None:
        probs = np.where(np.arange(37) == 0, 0.0, probs)
    return pd.DataFrame({"sum": np.arange(37), "probability": probs,
                         "bar": [SHOWN if s == marked else OTHER for s in range(37)]})


def model_input(pred: Prediction, scale: int = 3, marks: bool = True):
    if not marks:
        return show(pred.canvas, scale)
    return show(pred.canvas, scale, x_centres=pred.x_centres, digits=pred.digits)


class PredictionPanel:
    """Create the components where the panel goes; `outputs(pred)` and `empty(message)` give their
    values in the order of `components`."""

    def __init__(self):
        # the answer first: on a projector the line, the digits and the sum sit above the fold
        self.text = gr.Markdown(elem_classes="prediction-summary")
        with gr.Row(equal_height=True):
            self.digits = [gr.Label(num_top_classes=2, label=f"digit {k}", elem_classes="digit-label", min_width=110)
                           for k in range(1, 5)]
            self.total = gr.Label(num_top_classes=2, label="sum", elem_classes="sum-label", min_width=110)
        with gr.Row():
            self.chart = gr.BarPlot(x="sum", y="probability", color="bar", height=200,
                                    label="sum distribution (orange: the sum shown)",
                                    x_lim=[0, 36], color_map={SHOWN: "#e6550d", OTHER: "#9ecae1"},
                                    color_title=" ", elem_classes="sum-chart", value=sum_chart(np.zeros(37), None))
            self.seen = gr.Image(label="the model's input; red: where it read each digit", interactive=False,
                                 height=PICTURE_HEIGHT, elem_classes="model-input")

    @property
    def components(self) -> list:
        return [*self.digits, self.total, self.chart, self.seen, self.text]

    def outputs(self, pred: Prediction, empty: list[int] | None = None) -> tuple:
        """The panel for a reading; `empty`: the drawing's empty places (1-4), if it is a drawing."""
        if incomplete(pred, empty or []):
            cards = ["empty" if k in empty else "drawn" for k in range(1, 5)]
            line = (f"### {places(empty).capitalize()} empty: draw one digit in each box\n\n"
                    "The digits and their sum come once all four boxes hold one.")
            return (*cards, "—", sum_chart(np.zeros(37), None), model_input(pred, marks=False), line)
        total = answer(pred)
        return (*digit_labels(pred), {str(total): float(pred.sum_probs[total])}, sum_chart(pred.sum_probs, total),
                model_input(pred), summary(pred))

    def empty(self, message: str) -> tuple:
        return (*[{} for _ in range(4)], {}, sum_chart(np.zeros(37), None), None, message)
