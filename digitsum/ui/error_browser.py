"""Errors tab: the scored test set's misreads, filtered, paged and opened one by one; confusion
heatmaps and accuracy by layout slice, whose cells and rows open their images."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd

from digitsum.app.service import DigitsumService
from .common import ANY, PRIVATE, clicked, ui_errors
from .pictures import heatmap, show, sum_frame
from .testset import PagedGallery, Scopes, feature_name, scroll_to, slice_label, slice_name

SLICE_COLUMNS = ["feature", "slice", "n", "sum accuracy", "digit accuracy"]


def choice(value):
    return None if value in (None, ANY) else int(value)


def short_caption(service: DigitsumService, name: str, index: int) -> str:
    s = service.scores_of(name, index)
    return f"#{index}  true {service.dataset.sums[index]}  read {s.pred_sum[index]} ({s.confidence[index]:.0%})"


def caption(service: DigitsumService, name: str, index: int) -> str:
    """The detail's headline: '#12: true 17, predicted 15 (64%) | 3581 read as 3381'."""
    s = service.scores_of(name, index)
    text = f"#{index}: true {service.dataset.sums[index]}, predicted {s.pred_sum[index]} ({s.confidence[index]:.0%})"
    if service.dataset.digits is not None and s.pred_digits is not None:
        text += f" | {''.join(map(str, service.dataset.digits[index]))} read as {''.join(map(str, s.pred_digits[index]))}"
    return text


def slice_table(rows: list[dict]):
    """Accuracy by slice with in-cell bars (a Styler keeps the row clicks)."""
    frame = pd.DataFrame([{"feature": feature_name(r["feature"]), "slice": slice_label(r["feature"], r["slice"]),
                           "n": r["n"],
                           "sum accuracy": round(r["sum_accuracy"], 3),
                           "digit accuracy": None if r["digit_accuracy"] is None else round(r["digit_accuracy"], 3)}
                          for r in rows], columns=SLICE_COLUMNS)
    if frame.empty:
        return frame
    # bars from a little below the worst slice, so that differences of a point or two show
    low = max(0.0, np.floor(frame["sum accuracy"].min() * 20) / 20 - 0.05)
    return frame.style.bar(subset=["sum accuracy"], vmin=low, vmax=1, color="#9ecae1").format(
        {"sum accuracy": "{:.3f}", "digit accuracy": "{:.3f}"}, na_rep="")


def build_errors_tab(service: DigitsumService, names: list[str], tab: gr.Tab) -> None:
    with gr.Row(equal_height=True):
        coverage = gr.Markdown(elem_id="errors-coverage")
        update = gr.Button("↻ Update", size="sm", scale=0, min_width=110)
    scopes = Scopes(service)   # the prefix of the test set this tab shows, per page
    with gr.Row():
        ckpt = gr.Dropdown(names, value=names[0], label="checkpoint", elem_id="errors-ckpt")
        true_sum = gr.Dropdown([ANY] + [str(s) for s in range(37)], value=ANY, label="true sum")
        pred_sum = gr.Dropdown([ANY] + [str(s) for s in range(37)], value=ANY, label="predicted sum")
        place = gr.Dropdown([ANY, "1", "2", "3", "4"], value=ANY, label="wrong digit at place")
    with gr.Row():
        lo = gr.Slider(0, 1, value=0, step=0.05, label="confidence at least")
        hi = gr.Slider(0, 1, value=1, step=0.05, label="confidence at most")
        sort_by = gr.Radio(["loss", "confidence", "index"], value="loss", label="sort by (loss: likely label errors first)")
    pages = PagedGallery(service, "test images (click one for its detail)", "errors-gallery", "errors-count", ckpt,
                         lambda name, i: short_caption(service, name, i))
    with gr.Row():
        detail_img = gr.Image(label="detail: the model's input, and where it read each digit", interactive=False,
                              elem_id="errors-detail")
        detail_md = gr.Markdown()
    with gr.Row():
        detail_digits = [gr.Label(num_top_classes=3, label=f"digit {k}") for k in range(1, 5)]
    detail_sum = gr.BarPlot(x="sum", y="probability", label="sum distribution", height=200)
    gr.Markdown("### Confusion matrices\nRows: true, columns: predicted. Click a cell to see its images.")
    with gr.Row():
        by_rate = gr.Checkbox(label="colour by rate within the row (not count)", value=False)
        hide_diag = gr.Checkbox(label="hide the diagonal (the correct reads)", value=True)
    with gr.Row():
        digit_cm = gr.Dataframe(label="digits (all four places)", interactive=False, elem_id="digit-confusion")
        sum_cm = gr.Dataframe(label="sums", interactive=False, max_height=400, elem_id="sum-confusion")
    gr.Markdown("### Accuracy by layout slice\nMeasured from each image itself (gaps and margins in px of the "
                "course canvas). Click a row to see that slice's images, misread ones first.")
    slices = gr.Dataframe(label="slices", interactive=False, max_height=420, elem_id="slices-table")
    slice_keys = gr.State([])

    def matrices(name, rate, hide, n):
        cm = service.digit_confusion(name, n)
        digit_frame = pd.DataFrame(cm, index=range(10), columns=[str(c) for c in range(10)]).reset_index(
            names="true") if cm is not None else pd.DataFrame()
        scm = service.sum_confusion(name, n)
        sum_frame_ = pd.DataFrame(scm, columns=[str(c) for c in range(37)]).reset_index(names="true")
        return heatmap(digit_frame, hide, rate), heatmap(sum_frame_, hide, rate)

    @ui_errors
    def on_scope(name, request: gr.Request):
        return service.coverage([name], scopes.open(request, [name]))

    @ui_errors
    def on_errors(name, t, p, pl, low, high, sort, request: gr.Request):
        n = scopes.get(request, [name])
        idx = [int(i) for i in service.errors(name, choice(t), choice(p), choice(pl), low, high, sort, n=n)]
        scored = "" if n >= len(service.dataset) else f" (the first {n:,} of {len(service.dataset):,}, scored so far)"
        return pages.opened(name, idx, f"of {n:,} test images{scored} are misread and match")

    @ui_errors
    def on_matrices(name, rate, hide, request: gr.Request):
        return matrices(name, rate, hide, scopes.get(request, [name]))

    @ui_errors
    def on_slices(name, request: gr.Request):
        rows = service.slice_rows(name, scopes.get(request, [name]))
        return slice_table(rows), [[r["feature"], r["slice"]] for r in rows]

    @ui_errors
    def on_error_select(name, idx, pg, evt: gr.SelectData):
        index = pages.index_at(idx, pg, evt.index)
        d = service.detail(name, index)
        pred = d["prediction"]
        labels = [{str(k): float(p[k]) for k in range(10)} for p in d["digit_probs"]] \
            if d["digit_probs"] is not None else [{} for _ in range(4)]
        md = f"**{caption(service, name, index)}**\n\ntrue digits: {d['true_digits']}"
        picture = show(pred.canvas, 4, x_centres=pred.x_centres, digits=pred.digits)
        return (picture, md, *labels, sum_frame(d["sum_probs"]))

    @ui_errors
    def on_cell(name, kind, request, evt: gr.SelectData):
        row, col = clicked(evt.index, (10 if kind == "digit" else 37, 11 if kind == "digit" else 38),
                           f"the {kind} confusion matrix")
        if col == 0:  # the 'true' column
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        idx = service.confusion_examples(name, kind, int(row), int(col) - 1, scopes.get(request, [name]))
        return pages.opened(name, idx, f"images with true {kind} {row} predicted as {col - 1}")

    # Gradio passes the click only to a parameter annotated gr.SelectData in the function it is
    # given: functools.partial hides that annotation, so each matrix gets a function of its own
    def on_digit_cell(name, request: gr.Request, evt: gr.SelectData):
        return on_cell(name, "digit", request, evt)

    def on_sum_cell(name, request: gr.Request, evt: gr.SelectData):
        return on_cell(name, "sum", request, evt)

    @ui_errors
    def on_slice(name, keys, request: gr.Request, evt: gr.SelectData):
        feature, label = keys[clicked(evt.index, (len(keys), len(SLICE_COLUMNS)), "the slice table")[0]]
        idx = service.slice_images(name, feature, label, scopes.get(request, [name]))
        return pages.opened(name, idx, f"images in the slice {slice_name(feature, label)}")

    filters = [ckpt, true_sum, pred_sum, place, lo, hi, sort_by]
    shown = pages.outputs
    # opening the tab, another checkpoint or ↻: the prefix of the test set it has scored (a first
    # slice within seconds of a fresh start), then the views on it
    for trigger in (tab.select, ckpt.change, update.click):
        trigger(on_scope, ckpt, coverage, **PRIVATE).then(
            on_errors, filters, shown, **PRIVATE).then(
            on_matrices, [ckpt, by_rate, hide_diag], [digit_cm, sum_cm], **PRIVATE).then(
            on_slices, ckpt, [slices, slice_keys], **PRIVATE)
    for component in (true_sum, pred_sum, place, lo, hi, sort_by):
        component.change(on_errors, filters, shown, **PRIVATE)
    for trigger in (by_rate.change, hide_diag.change):
        trigger(on_matrices, [ckpt, by_rate, hide_diag], [digit_cm, sum_cm], **PRIVATE)
    # a click whose result appears elsewhere on the page brings it into view (a cell's or a slice's
    # images sat ~1,400 px above the window: nothing seemed to happen)
    pages.gallery.select(on_error_select, [ckpt, pages.indices, pages.page],
                         [detail_img, detail_md, *detail_digits, detail_sum], **PRIVATE).success(
        None, js=scroll_to("errors-detail"))
    digit_cm.select(on_digit_cell, ckpt, shown, **PRIVATE).success(None, js=scroll_to("errors-count"))
    sum_cm.select(on_sum_cell, ckpt, shown, **PRIVATE).success(None, js=scroll_to("errors-count"))
    slices.select(on_slice, [ckpt, slice_keys], shown, **PRIVATE).success(None, js=scroll_to("errors-count"))
