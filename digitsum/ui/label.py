"""Label tab: type the four digits of an image whose sum is known; the labels go to the SQLite
labels database and can be exported in the course format, and downloaded from the page.

Several annotators can label at once: each is shown an item no other annotator is shown (a claim in
the labels database, see labeldb.CLAIM_SECONDS), a save is refused for an item another annotator
holds, and an undo withdraws only one's own last label, never one saved by someone else since."""
from __future__ import annotations

import os
import tempfile
import uuid

import gradio as gr
from gradio.utils import get_upload_folder

from digitsum.errors import DigitsumError
from digitsum.storage.labeldb import ClaimError
from digitsum.app.service import DigitsumService
from .common import PRIVATE, ui_errors, user_message
from .pictures import show

# `s` and `u` in the digits box skip and undo at once, without Enter (a label is digits only, so
# neither letter is ever part of one). Installed once per page, whatever re-renders the component.
KEYS_JS = """
if (!window.digitsumLabelKeys) {
  window.digitsumLabelKeys = true;
  document.addEventListener('keydown', e => {
    const box = document.querySelector('#label-box textarea, #label-box input');
    if (!box || e.target !== box || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const key = e.key.toLowerCase();
    if (key !== 's' && key !== 'u') return;
    e.preventDefault();
    document.querySelector(key === 's' ? '#label-skip' : '#label-undo').click();
  }, true);
}
"""


def describe_counts(kinds: dict[str, int]) -> str:
    """'15 labels: 12 from the label queue, 3 drawings from the Draw tab' (what the labels database
    or an export holds, by kind: see DigitsumService.label_counts)."""
    total = sum(kinds.values())
    parts = [f"{kinds['queue']} from the label queue", f"{kinds['drawings']} drawing{'s' * (kinds['drawings'] != 1)} "
             "from the Draw tab"]
    if kinds["other"]:
        parts.append(f"{kinds['other']} from other sets")
    return f"{total} label{'s' * (total != 1)}: " + ", ".join(parts)


def annotator(request: gr.Request | None) -> str:
    """Who is labelling: the page's session (each browser tab is an annotator of its own)."""
    session = getattr(request, "session_hash", None) if request is not None else None
    return str(session) if session else uuid.uuid4().hex


def download_folder() -> str:
    """A new folder in Gradio's cache: a file there is served as it is (not copied again), and
    deleted with the uploads (the app's delete_cache)."""
    cache = get_upload_folder()
    os.makedirs(cache, exist_ok=True)
    return tempfile.mkdtemp(prefix="export-", dir=cache)


def build_label_tab(service: DigitsumService, tab: gr.Tab) -> None:
    gr.Markdown("Type the four digits and press **Enter**. Enter on an empty box accepts the suggestion "
                "(the most likely digits that add up to the known sum). Press **s** to skip, **u** to undo "
                "your last label (no Enter needed).")
    gr.HTML(value="", html_template="<span></span>", js_on_load=KEYS_JS, elem_id="label-keys",
            apply_default_css=False)
    progress = gr.Markdown(elem_id="label-progress")
    image = gr.Image(label="image", interactive=False, elem_id="label-image", height=200)
    box = gr.Textbox(label="four digits", max_lines=1, autofocus=True, elem_id="label-box")
    with gr.Row():
        skip = gr.Button("Skip (s)", elem_id="label-skip")
        undo = gr.Button("Undo (u)", elem_id="label-undo")
    status = gr.Markdown(elem_id="label-status")
    with gr.Row():
        folder = gr.Textbox(value="labeled", label=f"export folder (a name, inside {service.exports_title})", max_lines=1)
        export = gr.Button("Export to course format")
    download = gr.File(label="download the export (a .zip of its .npy files)", interactive=False, visible=False,
                       elem_id="label-download")
    index_state = gr.State(-1)
    history = gr.State([])   # this annotator's saves and skips: [index, row or None (a skip), the label it replaced]

    def progress_line() -> str:
        done, total = service.label_progress()
        kinds = service.label_counts()
        line = (f"**{done} / {total}** images of the label queue labeled ({service.label_set_title}); "
                f"{service.labels_title} holds {describe_counts(kinds)}")
        if service.label_warning:
            line += f"\n\n⚠️ {service.label_warning}"
        return line

    def view(index, message=""):
        line = progress_line()
        if index is None:
            return -1, None, gr.update(value="", placeholder="all done"), line, \
                message or "all images are labeled (or shown to other annotators now)"
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
    def on_label_open(index, request: gr.Request = None):
        """The queue's first free image, the first time the tab opens (later openings keep the place)."""
        return view(service.next_unlabeled(owner=annotator(request))) if index < 0 else (gr.skip(),) * 5

    @ui_errors
    def on_label_submit(text, index, past, request: gr.Request = None):
        me = annotator(request)
        text = (text or "").strip().lower()
        if index < 0:
            return (*view(service.next_unlabeled(owner=me)), past)
        if text == "s":
            return on_label_skip(index, past, request)
        if text == "u":
            return on_label_undo(index, past, request)
        digits = text or "".join(map(str, service.suggestion(index) or []))
        previous = service.item_label(index)   # restored by an undo
        try:
            row = service.save_item_label(index, digits, owner=me)
        except ClaimError as e:   # another annotator holds it now (this one's hold had expired): move on
            return (*view(service.next_unlabeled(index, owner=me), f"⚠️ {user_message(e)}"), past)
        except DigitsumError as e:
            return (*problem(index, e), past)
        return (*view(service.next_unlabeled(index, owner=me), f"saved #{index} as {digits}."),
                past + [[index, row, previous]])

    @ui_errors
    def on_label_skip(index, past, request: gr.Request = None):
        if index < 0:
            return (*view(service.next_unlabeled(owner=annotator(request))), past)
        return (*view(service.next_unlabeled(index, owner=annotator(request)), f"skipped #{index}."),
                past + [[index, None]])

    @ui_errors
    def on_label_undo(index, past, request: gr.Request = None):
        """This annotator's last save (or skip) undone; a label someone else saved since stands."""
        me = annotator(request)
        if not past:
            return (*view(index if index >= 0 else None, "nothing to undo."), past)
        last, row, *rest = past[-1]
        try:
            if row is not None:
                service.undo_label(row, last, rest[0] if rest else None)
            service.show_item(last, me)
        except DigitsumError as e:
            message = f"⚠️ #{last}: {user_message(e)}"
            return (*(view(index, message) if index >= 0 else view(None, message)), past[:-1])
        return (*view(last, f"undid #{last}."), past[:-1])

    @ui_errors
    def on_export(name):
        files, kinds = service.export_labels_counted(name)   # a plain folder name, inside service.exports_dir
        line = (f"exported {describe_counts(kinds)} to {service.exports_title}/{files[0].parent.name}: "
                + ", ".join(f.name for f in files))
        try:   # the export stands even when its download cannot be made (a disk the export filled)
            archive = service.export_archive(files, download_folder())
        except OSError as e:
            return f"{line}. (No download: {user_message(e.strerror or e)}.)", gr.update(value=None, visible=False)
        return f"{line}. Download it below.", gr.update(value=str(archive), visible=True)

    targets = [index_state, image, box, progress, status]
    tab.select(on_label_open, index_state, targets, **PRIVATE)
    box.submit(on_label_submit, [box, index_state, history], [*targets, history], **PRIVATE)
    skip.click(on_label_skip, [index_state, history], [*targets, history], **PRIVATE)
    undo.click(on_label_undo, [index_state, history], [*targets, history], **PRIVATE)
    export.click(on_export, folder, [status, download], **PRIVATE)
