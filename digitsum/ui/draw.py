"""Draw tab: four digits drawn with the mouse (or a finger), read after every stroke."""
from __future__ import annotations

import gradio as gr

from digitsum.errors import BlankImageError, DataError, DigitsumError
from digitsum.storage.labeldb import parse_digits
from digitsum.reading.predict import empty_places
from digitsum.app.service import DigitsumService
from .common import PREDICT_CONCURRENCY, PRIVATE, ui_errors, user_message
from .drawpad import HEIGHT as PAD_HEIGHT, WIDTH as PAD_WIDTH, draw_pad, drawing_to_gray
from .label import describe_counts
from .panel import PredictionPanel, incomplete

EMPTY = "### Draw one digit in each box\n\nEach stroke is read as you draw; **Clear** starts again."


def build_draw_tab(service: DigitsumService, names: list[str]) -> None:
    with gr.Row():
        with gr.Column(scale=4, min_width=500):
            pad = draw_pad("sketch")
        with gr.Column(scale=1, min_width=200):
            ckpt = gr.Dropdown(names, value=names[0], label="checkpoint")
            digits_box = gr.Textbox(label="correct digits, to save (e.g. 3141)", max_lines=1)
            save = gr.Button("Save to labels", size="sm")
            status = gr.Markdown()
    panel = PredictionPanel()
    panel.text.value = EMPTY

    @ui_errors
    def on_draw(value, name):
        if not value:
            return (*panel.empty(EMPTY), "")
        try:
            gray = drawing_to_gray(value)
            pred = service.predict(gray, name, check_places=True)
        except BlankImageError as e:
            return (*panel.empty(f"*{e}*"), "")
        empty = empty_places(gray)   # shown as empty, never as the digits a reader would invent there
        digits = "" if incomplete(pred, empty) or not pred.digits else "".join(map(str, pred.digits))
        return (*panel.outputs(pred, empty), digits)

    targets = [*panel.components, digits_box]
    # always_last: strokes that come faster than predictions are read once, at the latest drawing
    # several users' strokes reach the service together, which batches their forward passes
    pad.input(on_draw, [pad, ckpt], targets, show_progress="hidden", trigger_mode="always_last",
              concurrency_limit=PREDICT_CONCURRENCY, **PRIVATE)
    ckpt.change(on_draw, [pad, ckpt], targets, show_progress="hidden", **PRIVATE)

    @ui_errors
    def on_draw_save(value, text, name):
        try:
            digits = parse_digits(text)   # first: a typo is said before anything else
            gray = drawing_to_gray(value)
            if gray.shape != (PAD_HEIGHT, PAD_WIDTH):   # the page's rule, held here too: the pad's own drawing
                raise DataError(f"a drawing to save is the pad's, {PAD_WIDTH}x{PAD_HEIGHT} px "
                                f"(this one is {gray.shape[1]}x{gray.shape[0]})")
            canvas = service.predict(gray, name).canvas
            row = service.save_drawing(canvas, digits)
        except DigitsumError as e:
            return f"⚠️ {user_message(e)}"      # the status line says it; nothing else changes
        return (f"saved as label #{row}; {service.labels_title} holds "
                f"{describe_counts(service.label_counts())}")

    save.click(on_draw_save, [pad, digits_box, ckpt], status, **PRIVATE)
