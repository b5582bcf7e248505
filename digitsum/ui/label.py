"""Label tab: type the four digits of an image whose sum is known; the labels go to the SQLite
labels database and can be exported in the course format."""
from __future__ import annotations

import gradio as gr

from ..errors import DigitsumError
from ..service import DigitsumService
from .common import PRIVATE, show, ui_errors, user_message


def build_label_tab(service: DigitsumService, tab: gr.Tab) -> None:
    gr.Markdown("Type the four digits and press **Enter**. Enter on an empty box accepts the suggestion "
                "(the most likely digits that add up to the known sum). Type **s** to skip, **u** to undo.")
    progress = gr.Markdown()
    image = gr.Image(label="image", interactive=False, elem_id="label-image", height=200)
    box = gr.Textbox(label="four digits", max_lines=1, autofocus=True, elem_id="label-box")
    with gr.Row():
        skip = gr.Button("Skip")
        undo = gr.Button("Undo")
    status = gr.Markdown(elem_id="label-status")
    with gr.Row():
        folder = gr.Textbox(value="labeled", label=f"export folder (a name, inside {service.exports_title})", max_lines=1)
        export = gr.Button("Export to course format")
    index_state = gr.State(-1)
    history = gr.State([])   # [index, row or None (a skip), the label it replaced]

    def view(index, message=""):
        done, total = service.label_progress()
        line = f"**{done} / {total}** labeled in {service.labels_title} ({service.label_set_title})"
        if service.label_warning:
            line += f"\n\n⚠️ {service.label_warning}"
        if index is None:
            return -1, None, gr.update(value="", placeholder="all done"), line, message or "all images are labeled"
        hint = service.suggestion(index)
        placeholder = f"suggested: {''.join(map(str, hint))} (Enter accepts)" if hint else "type four digits"
        caption = f"#{index}, known sum **{service.label_set.sums[index]}**"
        return (index, show(service.label_item(index), 4), gr.update(value="", placeholder=placeholder), line,
                f"{caption}. {message}")

    def problem(index, error):
        """A label that cannot be saved: said in the status line; the image, the typed text and
        the progress stay as they are (no error overlays on them)."""
        caption = f"#{index}, known sum **{service.label_set.sums[index]}**. " if index >= 0 else ""
        return index, gr.skip(), gr.skip(), gr.skip(), f"{caption}⚠️ {user_message(error)}"

    @ui_errors
    def on_label_open(index):
        """The queue's first image, the first time the tab opens (later openings keep the place)."""
        return view(service.next_unlabeled()) if index < 0 else (gr.skip(),) * 5

    @ui_errors
    def on_label_submit(text, index, past):
        text = (text or "").strip().lower()
        if index < 0:
            return (*view(service.next_unlabeled()), past)
        if text == "s":
            return (*view(service.next_unlabeled(index), f"skipped #{index}."), past + [[index, None]])
        if text == "u":
            return on_label_undo(index, past)
        digits = text or "".join(map(str, service.suggestion(index) or []))
        previous = service.item_label(index)   # restored by an undo
        try:
            row = service.save_item_label(index, digits)
        except DigitsumError as e:
            return (*problem(index, e), past)
        return (*view(service.next_unlabeled(index), f"saved #{index} as {digits}."), past + [[index, row, previous]])

    @ui_errors
    def on_label_skip(index, past):
        return (*view(service.next_unlabeled(index), f"skipped #{index}."), past + [[index, None]])

    @ui_errors
    def on_label_undo(index, past):
        if not past:
            return (*view(index if index >= 0 else None, "nothing to undo."), past)
        last, row, *rest = past[-1]
        if row is not None:
            service.undo_label(row, last, rest[0] if rest else None)
        return (*view(last, f"undid #{last}."), past[:-1])

    @ui_errors
    def on_export(name):
        files = service.export_labels(name)   # a plain folder name, inside service.exports_dir
        return (f"exported {service.store.count()} labels to {service.exports_title}/{files[0].parent.name}: "
                + ", ".join(f.name for f in files))

    targets = [index_state, image, box, progress, status]
    tab.select(on_label_open, index_state, targets, **PRIVATE)
    box.submit(on_label_submit, [box, index_state, history], [*targets, history], **PRIVATE)
    skip.click(on_label_skip, [index_state, history], [*targets, history], **PRIVATE)
    undo.click(on_label_undo, [index_state, history], [*targets, history], **PRIVATE)
    export.click(on_export, folder, status, **PRIVATE)
