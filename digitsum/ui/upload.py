"""Upload tab: any image file (any size, mode, polarity, transparency, orientation), or an item of
a course-format .npy set."""
from __future__ import annotations

import gradio as gr

from digitsum.errors import BlankImageError
from digitsum.app.service import DigitsumService
from .common import FILES, PRIVATE, ui_errors
from .files import file_path, image_file
from .panel import PredictionPanel


def build_upload_tab(service: DigitsumService, names: list[str]) -> None:
    with gr.Row():
        with gr.Column(scale=3):
            image = image_file(label="image of four digits (any size, mode, polarity)", sources=["upload", "clipboard"],
                               elem_id="upload-image", height=200)
        with gr.Column(scale=1, min_width=220):
            ckpt = gr.Dropdown(names, value=names[0], label="checkpoint")
            npy = file_path(label="or a course-format .npy set", file_types=[".npy"], height=90)
            index = gr.Number(label="item index (in the .npy, or the test set when none)", value=0, precision=0)
            item_btn = gr.Button("Predict item", size="sm")
    panel = PredictionPanel()

    def predicted(gray, name):
        try:
            return panel.outputs(service.predict(gray, name))
        except BlankImageError as e:
            return panel.empty(f"*{e}*")

    @ui_errors
    def on_upload(path, name):
        if not path:
            return panel.empty("")
        return predicted(service.load_image(path), name)

    @ui_errors
    def on_item(npy_path, number, name):
        number = 0 if number is None else number   # the service checks it, naming the file
        return predicted(service.load_npy_item(npy_path, number) if npy_path else service.item(number), name)

    image.change(on_upload, [image, ckpt], panel.components, **FILES, **PRIVATE)
    ckpt.change(on_upload, [image, ckpt], panel.components, **FILES, **PRIVATE)
    item_btn.click(on_item, [npy, index, ckpt], panel.components, **FILES, **PRIVATE)
