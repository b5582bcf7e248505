"""digitsum app: draw or upload four digits, compare checkpoints, browse errors, label data.

    python app.py [--checkpoints DIR_OR_HUB_ID ...] [--data DIR] [--labels-db PATH] [--exports-dir DIR]
                  [--host H] [--port P]

All the work is done by digitsum.service.DigitsumService; this file only wires the UI. Only one
event is an API endpoint (`/predict_json`); every UI handler is private (`api_visibility="private"`).
"""
from __future__ import annotations

import time

STARTED = time.perf_counter()   # before the imports: gradio and torch take seconds to load

import argparse  # noqa: E402
import functools  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from digitsum.errors import BlankImageError, DigitsumError  # noqa: E402
from digitsum.labeldb import parse_digits  # noqa: E402
from digitsum.predict import Prediction, drawing_to_gray  # noqa: E402
from digitsum.service import DigitsumService  # noqa: E402

CANVAS_W, CANVAS_H = 672, 160   # 4x the model's 168x40 canvas: one guide box per digit
GALLERY_MAX = 60
ANY = "any"
MAX_UPLOAD = "50mb"     # larger uploads are refused by Gradio before any handler runs
PRIVATE = dict(api_visibility="private")  # a UI handler: not in the API page, refused by gradio_client
# where Gradio keeps uploads: <cache>/<sha256>/<the user's file name>; never shown to the user
UPLOAD_DIR = re.compile(r"[^\s'\"]*[/\\][0-9a-f]{32,}[/\\](?=[^/\\\s])")


def image_file(**kwargs) -> gr.Image:
    """gr.Image(type="filepath") that passes the uploaded file's path on without opening it:
    Gradio's own decoding (PIL, before the handler runs) fails on a truncated or fake image with
    its generic error; here the service reads the file and says what is wrong with it. (Set on the
    instance: a subclass of a Gradio component makes Gradio write an app.pyi stub.)"""
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    decode = image.preprocess

    def preprocess(payload):
        if payload is None or payload.path is None or (payload.url or "").startswith("data:"):
            return decode(payload)
        return str(payload.path)
    image.preprocess = preprocess
    return image


def guide_background() -> Image.Image:
    """White paper with four light boxes, one per digit (lighter than PAPER, so never read as ink)."""
    im = Image.new("RGB", (CANVAS_W, CANVAS_H), "white")
    draw = ImageDraw.Draw(im)
    box = CANVAS_W // 4
    for k in range(4):
        draw.rectangle([k * box + 6, 12, (k + 1) * box - 6, CANVAS_H - 12], outline=(215, 222, 235), width=2)
        draw.text((k * box + 12, 16), str(k + 1), fill=(200, 205, 215))
    return im


def show(canvas: np.ndarray, scale: int = 3, x_centres=None) -> Image.Image:
    """A model canvas (float or uint8) as a picture big enough to see; with `x_centres`, a red tick
    above each place where the model read a digit."""
    arr = canvas if canvas.dtype == np.uint8 else (np.clip(canvas, 0, 1) * 255).astype(np.uint8)
    im = Image.fromarray(arr, "L")
    im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    if not x_centres:
        return im
    im = im.convert("RGB")
    pen = ImageDraw.Draw(im)
    for x in x_centres:
        cx = round((x + 0.5) * scale)
        pen.line([(cx, 0), (cx, 2 * scale)], fill=(255, 40, 40), width=max(1, scale // 2 + 1))
    return im


def digit_labels(pred: Prediction) -> list[dict]:
    if pred.digit_probs is None:
        return [{} for _ in range(4)]
    return [{str(d): float(p[d]) for d in range(10)} for p in pred.digit_probs]


def sum_frame(sum_probs: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"sum": np.arange(37), "probability": np.asarray(sum_probs, float)})


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


def heatmap(frame: pd.DataFrame):
    """A confusion matrix coloured by count (the 'true' column stays plain); a Styler keeps the
    Dataframe's cell clicks."""
    if frame.empty:
        return frame
    counts = [c for c in frame.columns if c != "true"]
    return frame.style.background_gradient(cmap="Blues", subset=counts, axis=None)


def user_message(error: BaseException) -> str:
    """One line, without the server's temporary upload folders (a file is called by its own name)."""
    return UPLOAD_DIR.sub("", " ".join(str(error).split())) or type(error).__name__


def ui_errors(fn):
    """Turn a user's mistake into a one-line message in the UI, and any other failure into a short
    one (its traceback goes to the console); never Gradio's generic error. The app keeps serving."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DigitsumError as e:
            raise gr.Error(user_message(e), print_exception=False) from None
        except gr.Error as e:
            raise gr.Error(user_message(e.message), print_exception=False) from None
        except Exception as e:
            print(f"digitsum app: {fn.__name__} failed:", file=sys.stderr)
            traceback.print_exc()
            raise gr.Error(f"something went wrong ({type(e).__name__}) and was logged on the server; "
                           "please try again or try another input", print_exception=False) from None
    return wrapper


def build(service: DigitsumService) -> gr.Blocks:
    names = service.names
    default = names[0]

    def prediction_outputs(pred: Prediction):
        return (*digit_labels(pred), {str(s): float(p) for s, p in enumerate(pred.sum_probs)},
                sum_frame(pred.sum_probs), show(pred.canvas, x_centres=pred.x_centres), summary(pred),
                "".join(map(str, pred.digits)) if pred.digits else "")

    def empty_outputs(message: str):
        return (*[{} for _ in range(4)], {}, sum_frame(np.zeros(37)), None, message, "")

    with gr.Blocks(title="digitsum") as demo:
        gr.Markdown("# digitsum\nFour handwritten digits, each digit and their sum (0-36). "
                    f"Test set: {service.dataset_name}, {len(service.dataset):,} images.")
        with gr.Tab("Draw", id="draw"):
            with gr.Row():
                draw_ckpt = gr.Dropdown(names, value=default, label="checkpoint", scale=1)
                clear_btn = gr.Button("Clear", scale=0)
            sketch = gr.Sketchpad(value={"background": guide_background(), "layers": [], "composite": None},
                                  canvas_size=(CANVAS_W, CANVAS_H), type="numpy", image_mode="RGB",
                                  # default_size is a radius: 12 px strokes, ~0.1 of a digit drawn in
                                  # its box, as thick as MNIST's strokes relative to their digits
                                  brush=gr.Brush(default_size=6, colors=["#000000"], color_mode="fixed"),
                                  eraser=gr.Eraser(default_size=24), label="draw one digit in each box",
                                  elem_id="sketch", layers=False, fixed_canvas=True, transforms=())
            draw_outputs = prediction_panel()
            with gr.Row():
                draw_digits = gr.Textbox(label="correct digits (four, e.g. 3141)", max_lines=1, scale=2)
                draw_save = gr.Button("Save to labels", scale=0)
            draw_status = gr.Markdown()

        with gr.Tab("Upload", id="upload"):
            with gr.Row():
                up_ckpt = gr.Dropdown(names, value=default, label="checkpoint")
                up_image = image_file(label="image of four digits (any size, mode, polarity)",
                                      sources=["upload", "clipboard"], elem_id="upload-image")
            with gr.Row():
                up_npy = gr.File(label="or a course-format .npy set", file_types=[".npy"], type="filepath")
                up_index = gr.Number(label="item index (in the .npy, or the test set when none)", value=0,
                                     precision=0)  # the service checks it, naming the file
                up_item_btn = gr.Button("Predict item")
            up_outputs = prediction_panel()

        with gr.Tab("Compare", id="compare"):
            cmp_names = gr.CheckboxGroup(names, value=names[:2], label="checkpoints")
            with gr.Row():
                cmp_image = image_file(label="an image through each checkpoint", sources=["upload", "clipboard"])
                cmp_index = gr.Number(label="or a test-set index", value=0, precision=0)
                cmp_run = gr.Button("Run")
            cmp_preds = gr.Dataframe(label="predictions side by side", interactive=False)
            cmp_metrics = gr.Dataframe(label=f"test-set metrics ({service.dataset_name})", interactive=False)
            cmp_per_sum = gr.LinePlot(x="sum", y="accuracy", color="checkpoint", label="accuracy per true sum")
            cmp_which = gr.Radio(["they disagree"] + [f"only {n} is right" for n in names],
                                 value="they disagree", label="test images where")
            cmp_gallery = gr.Gallery(label="test images", columns=3, height=420, elem_id="compare-gallery",
                                     object_fit="contain")  # wide 4-digit images, never cropped

        with gr.Tab("Errors", id="errors"):
            with gr.Row():
                err_ckpt = gr.Dropdown(names, value=default, label="checkpoint", elem_id="errors-ckpt")
                err_true = gr.Dropdown([ANY] + [str(s) for s in range(37)], value=ANY, label="true sum")
                err_pred = gr.Dropdown([ANY] + [str(s) for s in range(37)], value=ANY, label="predicted sum")
                err_place = gr.Dropdown([ANY, "1", "2", "3", "4"], value=ANY, label="wrong digit at place")
            with gr.Row():
                err_min = gr.Slider(0, 1, value=0, step=0.05, label="confidence at least")
                err_max = gr.Slider(0, 1, value=1, step=0.05, label="confidence at most")
                err_sort = gr.Radio(["loss", "confidence", "index"], value="loss",
                                    label="sort by (loss: likely label errors first)")
            err_count = gr.Markdown()
            err_gallery = gr.Gallery(label="misclassified test images", columns=3, height=420, elem_id="errors-gallery",
                                     object_fit="contain",
                                     allow_preview=False)
            with gr.Row():
                err_detail_img = gr.Image(label="detail", interactive=False)
                err_detail_md = gr.Markdown()
            with gr.Row():
                err_detail_digits = [gr.Label(num_top_classes=3, label=f"digit {k}") for k in range(1, 5)]
            err_detail_sum = gr.BarPlot(x="sum", y="probability", label="sum distribution", height=200)
            gr.Markdown("Confusion matrices (rows: true, columns: predicted). Click a cell to see its images.")
            with gr.Row():
                err_digit_cm = gr.Dataframe(label="digits (all four places)", interactive=False)
                err_sum_cm = gr.Dataframe(label="sums", interactive=False, max_height=400)
            err_indices = gr.State([])

        with gr.Tab("Label", id="label"):
            gr.Markdown("Type the four digits and press **Enter**. Enter on an empty box accepts the suggestion "
                        "(the most likely digits that add up to the known sum). Type **s** to skip, **u** to undo.")
            lab_progress = gr.Markdown()
            lab_image = gr.Image(label="image", interactive=False, elem_id="label-image")
            lab_box = gr.Textbox(label="four digits", max_lines=1, autofocus=True, elem_id="label-box")
            with gr.Row():
                lab_skip = gr.Button("Skip")
                lab_undo = gr.Button("Undo")
            lab_status = gr.Markdown(elem_id="label-status")
            with gr.Row():
                lab_folder = gr.Textbox(value="labeled", label=f"export folder (a name, inside {service.exports_dir})",
                                        max_lines=1)
                lab_export = gr.Button("Export to course format")
            lab_index = gr.State(-1)
            lab_history = gr.State([])

        # hidden: the JSON API
        api_file = gr.File(visible=False, type="filepath")
        api_ckpt = gr.Textbox(visible=False)
        api_out = gr.JSON(visible=False)

        # ---------------------------------------------------------------- Draw
        @ui_errors
        def on_draw(value, name):
            try:
                gray = drawing_to_gray(value)
                pred = service.predict(gray, name, check_places=True)
            except BlankImageError as e:
                return empty_outputs(f"*{e}*")
            return prediction_outputs(pred)

        draw_targets = [*draw_outputs, draw_digits]
        sketch.change(on_draw, [sketch, draw_ckpt], draw_targets, show_progress="hidden", **PRIVATE)
        draw_ckpt.change(on_draw, [sketch, draw_ckpt], draw_targets, show_progress="hidden", **PRIVATE)
        clear_btn.click(lambda: {"background": guide_background(), "layers": [], "composite": None}, None, sketch,
                        **PRIVATE)

        @ui_errors
        def on_draw_save(value, text, name):
            try:
                digits = parse_digits(text)   # first: a typo is said before anything else
                canvas = service.predict(drawing_to_gray(value), name).canvas
                row = service.save_drawing(canvas, digits)
            except DigitsumError as e:
                return f"⚠️ {user_message(e)}"      # the status line says it; nothing else changes
            return f"saved as label #{row} ({service.store.count()} labels in {service.store.path})"

        draw_save.click(on_draw_save, [sketch, draw_digits, draw_ckpt], draw_status, **PRIVATE)

        # ---------------------------------------------------------------- Upload
        def upload_panel(image, name):
            """The Upload tab's outputs for one image (the prediction panel, without Draw's digits box)."""
            try:
                pred = service.predict(image, name)
            except BlankImageError as e:
                return empty_outputs(f"*{e}*")[:-1]
            return prediction_outputs(pred)[:-1]

        @ui_errors
        def on_upload(path, name):
            if not path:
                return empty_outputs("")[:-1]
            return upload_panel(service.load_image(path), name)

        @ui_errors
        def on_item(npy, index, name):
            index = 0 if index is None else index
            return upload_panel(service.load_npy_item(npy, index) if npy else service.item(index), name)

        up_image.change(on_upload, [up_image, up_ckpt], list(up_outputs), **PRIVATE)
        up_ckpt.change(on_upload, [up_image, up_ckpt], list(up_outputs), **PRIVATE)
        up_item_btn.click(on_item, [up_npy, up_index, up_ckpt], list(up_outputs), **PRIVATE)

        # ---------------------------------------------------------------- Compare
        @ui_errors
        def on_compare(chosen, path, index):
            if not chosen:
                raise DigitsumError("choose at least one checkpoint")
            image = service.load_image(path) if path else service.item(0 if index is None else index)
            rows = []
            for name, pred in service.compare(image, chosen):
                rows.append({"checkpoint": name, "digits": " ".join(map(str, pred.digits)) if pred.digits else "-",
                             "sum": pred.total, "confidence": round(float(pred.sum_probs.max()), 3),
                             "warnings": "; ".join(pred.warnings), "ms": round(pred.milliseconds, 1)})
            per_sum = service.per_sum_accuracy(chosen)
            curve = pd.DataFrame([{"checkpoint": n, "sum": s, "accuracy": a} for n, d in per_sum.items()
                                  for s, a in d.items()])
            return pd.DataFrame(rows), pd.DataFrame(service.metrics_rows(chosen)), curve

        @ui_errors
        def on_compare_gallery(chosen, which):
            if len(chosen) < 2:
                return []            # one output: the gallery (two values here once showed an error badge)
            found = service.disagreements(chosen)
            if which == "they disagree":
                idx = found["disagree"]
            else:
                name = which.removeprefix("only ").removesuffix(" is right")
                idx = found["only_right"].get(name, np.zeros(0, int)) if name in chosen else np.zeros(0, int)
            idx = idx[:GALLERY_MAX]
            return [(show(service.item(int(i)), 2), " | ".join(
                f"{n}: {service.scored(n).pred_sum[i]}" for n in chosen) + f" (true {service.dataset.sums[i]}, #{i})")
                for i in idx]

        cmp_run.click(on_compare, [cmp_names, cmp_image, cmp_index], [cmp_preds, cmp_metrics, cmp_per_sum], **PRIVATE)
        for trigger in (cmp_run.click, cmp_names.change, cmp_which.change):
            trigger(on_compare_gallery, [cmp_names, cmp_which], cmp_gallery, **PRIVATE)
        # filled on first opening: test item 0 through the first two checkpoints, their metrics and
        # where they disagree
        demo.load(on_compare, [cmp_names, cmp_image, cmp_index], [cmp_preds, cmp_metrics, cmp_per_sum], **PRIVATE)
        demo.load(on_compare_gallery, [cmp_names, cmp_which], cmp_gallery, **PRIVATE)

        # ---------------------------------------------------------------- Errors
        def choice(value):
            return None if value in (None, ANY) else int(value)

        def gallery_of(name, idx):
            idx = [int(i) for i in idx[:GALLERY_MAX]]
            return [(show(service.item(i), 2), service.caption(name, i)) for i in idx], idx

        @ui_errors
        def on_errors(name, true_sum, pred_sum, place, lo, hi, sort_by):
            idx = service.errors(name, choice(true_sum), choice(pred_sum), choice(place), lo, hi, sort_by)
            items, shown = gallery_of(name, idx)
            cm = service.digit_confusion(name)
            digit_cm = pd.DataFrame(cm, index=range(10), columns=[str(c) for c in range(10)]).reset_index(
                names="true") if cm is not None else pd.DataFrame()
            scm = service.sum_confusion(name)
            sum_cm = pd.DataFrame(scm, columns=[str(c) for c in range(37)]).reset_index(names="true")
            count = f"**{len(idx)}** of {len(service.dataset):,} test images match; showing {len(shown)}"
            return items, shown, count, heatmap(digit_cm), heatmap(sum_cm)

        err_inputs = [err_ckpt, err_true, err_pred, err_place, err_min, err_max, err_sort]
        err_targets = [err_gallery, err_indices, err_count, err_digit_cm, err_sum_cm]
        for component in err_inputs:
            component.change(on_errors, err_inputs, err_targets, **PRIVATE)
        demo.load(on_errors, err_inputs, err_targets, **PRIVATE)

        @ui_errors
        def on_error_select(name, shown, evt: gr.SelectData):
            index = shown[evt.index]
            d = service.detail(name, index)
            labels = [{str(k): float(p[k]) for k in range(10)} for p in d["digit_probs"]] \
                if d["digit_probs"] is not None else [{} for _ in range(4)]
            md = f"**{d['caption']}**\n\ntrue digits: {d['true_digits']}"
            return (show(d["image"], 4), md, *labels, sum_frame(d["sum_probs"]))

        err_gallery.select(on_error_select, [err_ckpt, err_indices],
                           [err_detail_img, err_detail_md, *err_detail_digits, err_detail_sum], **PRIVATE)

        @ui_errors
        def on_cell(name, kind, evt: gr.SelectData):
            row, col = evt.index
            if col == 0:  # the 'true' column
                return gr.skip(), gr.skip(), gr.skip()
            idx = service.confusion_examples(name, kind, int(row), int(col) - 1)
            items, shown = gallery_of(name, idx)
            what = "digit" if kind == "digit" else "sum"
            return items, shown, f"**{len(idx)}** images with true {what} {row} predicted as {col - 1}; showing {len(shown)}"

        # Gradio passes the click only to a parameter annotated gr.SelectData in the function it is
        # given: functools.partial hides that annotation, so each matrix gets a function of its own
        def on_digit_cell(name, evt: gr.SelectData):
            return on_cell(name, "digit", evt)

        def on_sum_cell(name, evt: gr.SelectData):
            return on_cell(name, "sum", evt)

        err_digit_cm.select(on_digit_cell, [err_ckpt], [err_gallery, err_indices, err_count], **PRIVATE)
        err_sum_cm.select(on_sum_cell, [err_ckpt], [err_gallery, err_indices, err_count], **PRIVATE)

        # ---------------------------------------------------------------- Label
        def label_view(index, message=""):
            done, total = service.label_progress()
            progress = f"**{done} / {total}** labeled in {service.store.path} ({service.label_source})"
            if service.label_warning:
                progress += f"\n\n⚠️ {service.label_warning}"
            if index is None:
                return -1, None, gr.update(value="", placeholder="all done"), progress, message or "all images are labeled"
            hint = service.suggestion(index)
            placeholder = (f"suggested: {''.join(map(str, hint))} (Enter accepts)" if hint
                           else "type four digits")
            caption = f"#{index}, known sum **{service.label_set.sums[index]}**"
            return (index, show(service.label_item(index), 4), gr.update(value="", placeholder=placeholder), progress,
                    f"{caption}. {message}")

        def label_problem(index, error):
            """A label that cannot be saved: said in the status line; the image, the typed text and
            the progress stay as they are (no error overlays on them)."""
            caption = f"#{index}, known sum **{service.label_set.sums[index]}**. " if index >= 0 else ""
            return index, gr.skip(), gr.skip(), gr.skip(), f"{caption}⚠️ {user_message(error)}"

        @ui_errors
        def on_label_load():
            return label_view(service.next_unlabeled())

        @ui_errors
        def on_label_submit(text, index, history):
            text = (text or "").strip().lower()
            if index < 0:
                return (*label_view(service.next_unlabeled()), history)
            if text == "s":
                return (*label_view(service.next_unlabeled(index), f"skipped #{index}."), history + [[index, None]])
            if text == "u":
                return on_label_undo(index, history)
            digits = text or "".join(map(str, service.suggestion(index) or []))
            previous = service.item_label(index)   # restored by an undo
            try:
                row = service.save_item_label(index, digits)
            except DigitsumError as e:
                return (*label_problem(index, e), history)
            return (*label_view(service.next_unlabeled(index), f"saved #{index} as {digits}."),
                    history + [[index, row, previous]])

        @ui_errors
        def on_label_skip(index, history):
            return (*label_view(service.next_unlabeled(index), f"skipped #{index}."), history + [[index, None]])

        @ui_errors
        def on_label_undo(index, history):
            if not history:
                return (*label_view(index if index >= 0 else None, "nothing to undo."), history)
            last, row, *rest = history[-1]
            if row is not None:
                service.undo_label(row, last, rest[0] if rest else None)
            return (*label_view(last, f"undid #{last}."), history[:-1])

        @ui_errors
        def on_export(name):
            files = service.export_labels(name)   # a plain folder name, inside service.exports_dir
            return (f"exported {service.store.count()} labels to {files[0].parent}: "
                    + ", ".join(f.name for f in files))

        lab_targets = [lab_index, lab_image, lab_box, lab_progress, lab_status]
        demo.load(on_label_load, None, lab_targets, **PRIVATE)
        lab_box.submit(on_label_submit, [lab_box, lab_index, lab_history], [*lab_targets, lab_history], **PRIVATE)
        lab_skip.click(on_label_skip, [lab_index, lab_history], [*lab_targets, lab_history], **PRIVATE)
        lab_undo.click(on_label_undo, [lab_index, lab_history], [*lab_targets, lab_history], **PRIVATE)
        lab_export.click(on_export, lab_folder, lab_status, **PRIVATE)

        # ---------------------------------------------------------------- API
        @ui_errors
        def predict_json(file, checkpoint):
            if not file:
                raise DigitsumError("send an image file")
            name = checkpoint or default
            image = service.load_image(file)
            return service.predict(image, name).to_json(name)

        # the one public endpoint
        api_ckpt.submit(predict_json, [api_file, api_ckpt], api_out, api_name="predict_json", api_visibility="public")
    return demo


def prediction_panel():
    """The outputs shared by Draw and Upload: four digit charts, the sum, its distribution, the
    model's input and a summary with warnings."""
    with gr.Row():
        digits = [gr.Label(num_top_classes=3, label=f"digit {k}", elem_classes="digit-label") for k in range(1, 5)]
        total = gr.Label(num_top_classes=3, label="sum", elem_classes="sum-label")
    with gr.Row():
        chart = gr.BarPlot(x="sum", y="probability", label="sum distribution", height=220, x_lim=None)
        seen = gr.Image(label="the model's input", interactive=False, height=140)
    text = gr.Markdown(elem_classes="prediction-summary")
    return (*digits, total, chart, seen, text)


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860):
    """Start serving without blocking; uploads over MAX_UPLOAD are refused by Gradio itself."""
    demo.queue().launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True,
                        max_file_size=MAX_UPLOAD)
    return demo


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="digitsum app")
    p.add_argument("--checkpoints", nargs="+", default=["checkpoints"],
                   help="checkpoint folders, folders of them, or Hub repo ids")
    p.add_argument("--data", type=Path, help="a course-format set to browse and label (default: MNIST-test course set)")
    p.add_argument("--labels-db", type=Path, default=Path("labels.db"))
    p.add_argument("--cache-dir", type=Path, default=Path(".cache/digitsum"))
    p.add_argument("--label-data", type=Path,
                   help="a course-format set for the Label tab's queue (default: its own pool of MNIST-train "
                        "course images, apart from every test set)")
    p.add_argument("--exports-dir", type=Path, default=Path("exports"),
                   help="the Label tab exports only into folders directly inside this one (default: ./exports)")
    # a Hugging Face Space sets GRADIO_SERVER_NAME=0.0.0.0 and the port; elsewhere the app stays local
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        service = DigitsumService(args.checkpoints, args.data, args.labels_db, args.cache_dir, args.exports_dir,
                                  args.label_data)
        demo = build(service)
    except DigitsumError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    service.warm_up()
    launch(demo, args.host, args.port)
    print(f"digitsum app ready at http://{args.host}:{args.port} in {time.perf_counter() - STARTED:.1f} s "
          "since the process started", flush=True)
    demo.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
