"""Upload components that hand a handler the uploaded file's path, untouched: the library opens
it (and names it in its messages), not Gradio."""
from __future__ import annotations

import gradio as gr
from gradio.data_classes import ListFiles
from gradio_client import utils as client_utils


def file_path(**kwargs) -> gr.File:
    """gr.File(type="filepath") without the empty temporary file that Gradio 6's File.preprocess
    opens in its cache on every call and never uses (600 of them after a soak). The file-type
    check stays."""
    component = gr.File(type="filepath", **kwargs)

    def preprocess(payload):
        if payload is None:
            return None
        file = payload[0] if isinstance(payload, ListFiles) else payload
        if component.file_types and not client_utils.is_valid_file(file.path, component.file_types):
            raise gr.Error(f"Invalid file type. Please upload a file that is one of these formats: "
                           f"{component.file_types}")
        return str(file.path)
    component.preprocess = preprocess
    return component


def image_file(**kwargs) -> gr.Image:
    """gr.Image(type="filepath", image_mode=None) that passes the uploaded file's path on without
    opening it: transparency, 16 bit and EXIF reach the library as they are, and a truncated or fake
    image gets the library's message naming the file instead of Gradio's generic one. (Set on the
    instance: a subclass of a Gradio component makes Gradio write a .pyi stub.)"""
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    decode = image.preprocess

    def preprocess(payload):
        if payload is None or payload.path is None or (payload.url or "").startswith("data:"):
            return decode(payload)
        return str(payload.path)
    image.preprocess = preprocess
    return image
