"""The Gradio UI: one module per tab, the only place that imports gradio. `build(service)` wires
the tabs to a `digitsum.app.service.DigitsumService`; app.py only parses flags and launches."""
from __future__ import annotations

import os
import threading

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio's queue rebuilds a pandas summary of its last 10,000 events after every event (for its
# /monitoring page, which app.py turns off): 2 ms of CPU per event after a few hundred events, 8 ms
# after 10,000, on every stroke, tick and API call. Read when the queue is made: never, here.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(10**12))

import gradio as gr  # noqa: E402

from digitsum.errors import DigitsumError  # noqa: E402
from digitsum.app.service import DigitsumService  # noqa: E402
from .common import DELETE_CACHE, PRIVATE, QUEUE_SIZE, bound_messages, ui_errors  # noqa: E402
from .compare import build_compare_tab  # noqa: E402
from .draw import build_draw_tab  # noqa: E402
from .error_browser import build_errors_tab  # noqa: E402
from .files import file_path  # noqa: E402
from .label import build_label_tab  # noqa: E402
from .status import add_scoring_status  # noqa: E402
from .upload import build_upload_tab  # noqa: E402

STATUS_UPDATE_S = 1.0  # s between queue-position messages to waiting events
API_CONCURRENCY = 8    # /predict_json requests at once: they reach the service together, which batches them


def build(service: DigitsumService, delete_cache: tuple[int, int] = DELETE_CACHE) -> gr.Blocks:
    """The app. Every event has a concurrency limit (1 unless it says otherwise), the queue holds at
    most QUEUE_SIZE events, and uploads and outputs are deleted `delete_cache` = (every, age) s."""
    names = service.names
    with gr.Blocks(title="digitsum", delete_cache=delete_cache) as demo:   # launch() adds CSS
        gr.Markdown(f"**digitsum**: four handwritten digits, each digit and their sum (0-36). "
                    f"Test set: {service.dataset_title}, {len(service.dataset):,} images.")
        add_scoring_status(service)
        with gr.Tab("Draw", id="draw"):
            build_draw_tab(service, names)
        with gr.Tab("Upload", id="upload"):
            build_upload_tab(service, names)
        # the other tabs fill when first opened, not at page load: the Draw tab's first strokes
        # never queue behind their work
        with gr.Tab("Compare", id="compare") as tab:
            build_compare_tab(service, names, tab)
        with gr.Tab("Errors", id="errors") as tab:
            build_errors_tab(service, names, tab)
        with gr.Tab("Label", id="label") as tab:
            build_label_tab(service, tab)
        add_api(service, names[0])
        # a no-op round trip at page load opens the page's event connection, which the first event
        # of a page otherwise pays for (~1 s measured): the first stroke is then answered at once
        demo.load(on_page_open, None, None, show_progress="hidden", **PRIVATE)
    bound_messages(demo)
    # queue positions go to waiting events once a second, not to every waiting event each time one
    # starts (Gradio's "auto": with N waiting, N messages per event)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=1, status_update_rate=STATUS_UPDATE_S)
    return demo


def warm_up_events() -> threading.Thread:
    """In the background: what the app's first event would otherwise pay for on the server's event
    loop, stalling every other request meanwhile. Gradio wraps each event in a switch of
    matplotlib's backend, and the first one imports matplotlib and pyplot: ~350 ms of CPU."""
    def run():
        try:
            from gradio.utils import MatplotlibBackendMananger
            with MatplotlibBackendMananger():
                pass
        except (ImportError, AttributeError):   # another Gradio: its first event pays, as before
            pass
    thread = threading.Thread(target=run, daemon=True, name="digitsum-warm-up-events")
    thread.start()
    return thread


def on_page_open() -> None:
    """Nothing: see build()."""


def add_api(service: DigitsumService, default: str) -> None:
    """The one public endpoint, `/predict_json`: an image file and a checkpoint name -> the reading."""
    file = file_path(visible=False)
    checkpoint = gr.Textbox(visible=False)
    out = gr.JSON(visible=False)

    @ui_errors
    def predict_json(path, name):
        if not path:
            raise DigitsumError("send an image file")
        name = name or default
        return service.predict(service.load_image(path), name).to_json(name)

    checkpoint.submit(predict_json, [file, checkpoint], out, api_name="predict_json", api_visibility="public",
                      concurrency_limit=API_CONCURRENCY)
