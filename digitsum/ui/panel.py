"""The prediction panel that Draw and Upload share: the answer in one line, four digit charts and
the sum, the sum distribution, and the model's input marked where it read each digit."""
from __future__ import annotations

import gradio as gr
import numpy as np

from ..predict import Prediction
from .common import show, sum_frame


def summary(pred: Prediction) -> str:
    """The answer in one line, never contradicting itself: the sum shown is the shown digits' sum;
    where the sum distribution's own best differs, it is named beside it. Input that does not look
    like four digits leads with that, and the reading becomes a guess."""
    if pred.digits:
        total = sum(pred.digits)
        text = f"digits {' '.join(map(str, pred.digits))} &nbsp; → &nbsp; sum **{total}**"
        if total != pred.total:
            text += f" (the likeliest sum overall is {pred.total}, {pred.sum_probs.max():.0%})"
        else:
            text += f" ({pred.sum_probs.max():.0%})"
    else:
        text = f"sum **{pred.total}** ({pred.sum_probs.max():.0%}); this model predicts sums only"
    warnings = list(pred.warnings)
    if pred.looks_like_four_digits is False:
        text = f"### ⚠️ {warnings.pop(0)}\n\nbest guess: {text}"
    else:
        text = f"### {text}"
    if warnings:
        text += "\n\n" + "\n".join(f"- ⚠️ {w}" for w in warnings)
    return text


def digit_labels(pred: Prediction) -> list[dict]:
    if pred.digit_probs is None:
        return [{} for _ in range(4)]
    return [{str(d): float(p[d]) for d in range(10)} for p in pred.digit_probs]


def model_input(pred: Prediction, scale: int = 3):
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
            self.chart = gr.BarPlot(x="sum", y="probability", label="sum distribution", height=200, x_lim=None)
            self.seen = gr.Image(label="the model's input; red: where it read each digit", interactive=False,
                                 height=150, elem_classes="model-input")

    @property
    def components(self) -> list:
        return [*self.digits, self.total, self.chart, self.seen, self.text]

    def outputs(self, pred: Prediction) -> tuple:
        return (*digit_labels(pred), {str(s): float(p) for s, p in enumerate(pred.sum_probs)}, sum_frame(pred.sum_probs), model_input(pred), summary(pred))

    def empty(self, message: str) -> tuple:
        return (*[{} for _ in range(4)], {}, sum_frame(np.zeros(37)), None, message)
