"""Compare tab: checkpoints side by side on one input (each one's reading, digit probabilities and
where it read), on the whole test set (metrics, accuracy per sum), and where they differ most (a
slice finder whose rows open the images they disagree on)."""
from __future__ import annotations

import html

import gradio as gr
import numpy as np
import pandas as pd

from digitsum.errors import DigitsumError
from digitsum.reading.predict import Prediction
from digitsum.app.service import DigitsumService
from .common import FILES, PRIVATE, clicked, ui_errors
from .files import image_file
from .pictures import show
from .testset import PagedGallery, Scopes, feature_name, scroll_to, slice_label, slice_name

# one colour per checkpoint, the same in every view (matplotlib's tab10)
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]


def top_two(probs: np.ndarray) -> str:
    first, second = np.argsort(-probs)[:2]
    return f"{first} {probs[first]:.0%} · {second} {probs[second]:.0%}"


def reading_row(name: str, pred: Prediction) -> dict:
    row = {"checkpoint": name, "digits": " ".join(map(str, pred.digits)) if pred.digits else "-",
           "sum": sum(pred.digits) if pred.digits else pred.total,
           "sum confidence": f"{pred.sum_probs.max():.0%}"}
    for k in range(4):
        row[f"digit {k + 1}"] = top_two(pred.digit_probs[k]) if pred.digit_probs is not None else "-"
    row["four digits?"] = {True: "yes", False: "no", None: "-"}[pred.looks_like_four_digits]
    row["ms"] = round(pred.milliseconds, 1)
    return row


def finder_table(rows: list[dict], names: list[str]):
    frame = pd.DataFrame([{"feature": feature_name(r["feature"]), "slice": slice_label(r["feature"], r["slice"]),
                           "n": r["n"],
                           **{n: round(r[n], 3) for n in names}, "gap": round(r["gap"], 3)} for r in rows],
                         columns=["feature", "slice", "n", *names, "gap"])
    if frame.empty:
        return frame
    return frame.style.bar(subset=["gap"], vmin=0, color="#fdae6b").format(
        {**{n: "{:.3f}" for n in names}, "gap": "{:.3f}"})


def input_pictures(pictures: list) -> gr.Gallery:
    """Each chosen checkpoint's input in one gallery, every one in view: up to four in a row (three
    for three), as many rows as it takes, the gallery as tall as they are (tiles are 3:1)."""
    columns = max(1, min(4, len(pictures)))
    rows = -(-len(pictures) // columns)
    tile = 1240 / columns / 3 + 12
    return gr.Gallery(value=pictures, columns=columns, height=round(rows * tile + 36))


def build_compare_tab(service: DigitsumService, names: list[str], tab: gr.Tab) -> None:
    chosen = gr.CheckboxGroup(names, value=names[:2], label="checkpoints", elem_id="compare-chosen")
    with gr.Row():
        image = image_file(label="an image through each checkpoint", sources=["upload", "clipboard"], height=160)
        with gr.Column(scale=0, min_width=200):
            index = gr.Number(label="or a test-set index", value=0, precision=0, elem_id="compare-index")
            run = gr.Button("Run", size="sm")
    input_line = gr.Markdown(elem_id="compare-input-line")
    readings = gr.Dataframe(label="the same input through each checkpoint: digits, each digit's two likeliest "
                                  "values, the sum", interactive=False, elem_id="compare-readings")
    # every chosen checkpoint's input, however many (see input_pictures)
    inputs_gallery = gr.Gallery(label="each checkpoint's input, and where it read each digit", columns=2,
                                height=250, elem_classes="wide-gallery", allow_preview=False,
                                object_fit="contain", elem_id="compare-inputs")
    with gr.Row(equal_height=True):
        coverage = gr.Markdown(elem_id="compare-coverage")
        update = gr.Button("↻ Update", size="sm", scale=0, min_width=110)
    scopes = Scopes(service)   # the prefix of the test set the views below show, per page
    metrics = gr.Dataframe(label=f"test-set metrics ({service.dataset_title})", interactive=False,
                           elem_id="compare-metrics")
    # its legend is a line of its own above it: Vega's, at the bottom, was cut off whatever the height
    per_sum_legend = gr.HTML(elem_id="compare-per-sum-legend")
    COLOURS = {c: PALETTE[k % len(PALETTE)] for k, c in enumerate(names)}   # noqa: N806
    per_sum = gr.LinePlot(x="sum", y="accuracy", color="checkpoint", label="accuracy per true sum", height=260,
                          x_lim=[0, 36], colors_in_legend=[], color_map=COLOURS, elem_id="compare-per-sum")
    gr.Markdown("### Where they differ most\nSum accuracy per layout slice (10 images or more), the largest "
                "gap first. Click a row to see the images of that slice on which the checkpoints disagree.")
    finder = gr.Dataframe(label="slice finder", interactive=False, max_height=360, elem_id="slice-finder")
    which = gr.Radio(["they disagree"] + [f"only {n} is right" for n in names], value="they disagree",
                     label="test images where (click one to see each checkpoint's reading of it, at the top)")

    def disagreement_caption(names_, i):
        # every chosen checkpoint's sum, in the order the count line names them (names do not fit)
        reads = " · ".join(str(service.scores(n).pred_sum[i]) for n in service.chosen(names_))
        return f"#{i} true {service.dataset.sums[i]}, read {reads}"

    pages = PagedGallery(service, "test images", "compare-gallery", "compare-count", chosen, disagreement_caption)
    finder_keys = gr.State([])

    @ui_errors
    def on_compare(names_, path, number):
        """The same input through each checkpoint: no test-set scoring needed, so it shows at once."""
        names_ = service.chosen(names_)   # each checkpoint once, however often a request names it
        if not names_:
            raise DigitsumError("choose at least one checkpoint")
        if path:
            gray, line = service.load_image(path), "your image"
        else:
            number = 0 if number is None else number
            gray = service.item(number)
            truth = service.dataset.digits[int(number)] if service.dataset.digits is not None else None
            line = (f"test image **#{int(number)}**: true "
                    + (f"digits {' '.join(map(str, truth))}, " if truth is not None else "")
                    + f"sum **{service.dataset.sums[int(number)]}**")
        results = service.compare(gray, names_)
        rows = pd.DataFrame([reading_row(n, p) for n, p in results])
        pictures = [(show(p.canvas, 3, x_centres=p.x_centres, digits=p.digits, caption=n), None) for n, p in results]
        return f"{line}, through each checkpoint:", rows, input_pictures(pictures)

    @ui_errors
    def on_scope(names_, which_, request: gr.Request):
        """The prefix of the test set every chosen checkpoint has scored (seconds at most), a line
        that says which it is, and the gallery's choices for the chosen checkpoints."""
        names_ = service.chosen(names_)
        n = scopes.open(request, names_)
        choices = ["they disagree"] + [f"only {c} is right" for c in names_]
        return service.coverage(names_, n), gr.Radio(choices=choices,
                                                        value=which_ if which_ in choices else choices[0])

    @ui_errors
    def on_metrics(names_, request: gr.Request):
        names_ = service.chosen(names_)
        if not names_:
            return pd.DataFrame(), pd.DataFrame(), ""
        n = scopes.get(request, names_)
        # every checkpoint has rows, an unchosen one a single empty point: Gradio's plot keeps the
        # colour domain of the series it first drew (it drew only the first two checkpoints when
        # more were ticked), so the series are always all of them, each in its own colour
        curve = pd.DataFrame([{"checkpoint": c, "sum": s, "accuracy": a}
                              for c, d in service.per_sum_accuracy(names_, n).items() for s, a in d.items()]
                             + [{"checkpoint": c, "sum": 0, "accuracy": None} for c in names if c not in names_])
        legend = "accuracy per true sum: " + " &nbsp; ".join(
            f'<span style="color:{COLOURS[c]}; font-weight:bold">━━</span> {html.escape(c)}' for c in names_)
        return pd.DataFrame(service.metrics_rows(names_, n)), curve, legend

    @ui_errors
    def on_compare_gallery(names_, which_, request: gr.Request):
        names_ = service.chosen(names_)
        if len(names_) < 2:
            return [], [], 0, "", "choose two or more checkpoints to see where they disagree"
        found = service.disagreements(names_, scopes.get(request, names_))
        if which_ == "they disagree":
            idx = found["disagree"]
        else:
            name = which_.removeprefix("only ").removesuffix(" is right")
            idx = found["only_right"].get(name, np.zeros(0, int)) if name in names_ else np.zeros(0, int)
        return pages.opened(names_, idx, f"test images: {which_} (read: the sums of {', '.join(names_)}, "
                                         "in that order)")

    @ui_errors
    def on_finder(names_, request: gr.Request):
        names_ = service.chosen(names_)
        if len(names_) < 2:
            return pd.DataFrame(), []
        rows = service.slice_differences(names_, n=scopes.get(request, names_))[:20]
        return finder_table(rows, names_), [[r["feature"], r["slice"]] for r in rows]

    @ui_errors
    def on_finder_row(names_, keys, request: gr.Request, evt: gr.SelectData):
        names_ = service.chosen(names_)
        if len(names_) < 2 or not keys:
            return (gr.skip(),) * len(pages.outputs)
        feature, label = keys[clicked(evt.index, (len(keys), None), "the slice finder")[0]]
        idx = service.slice_disagreements(names_, feature, label, scopes.get(request, names_))
        return pages.opened(names_, idx, f"images in the slice {slice_name(feature, label)} where the "
                                         f"checkpoints disagree (read: the sums of {', '.join(names_)})")

    @ui_errors
    def on_tile(names_, indices, page, evt: gr.SelectData):
        """A tile opens the side-by-side reading of its image (at the top of the tab)."""
        i = pages.index_at(indices, page, evt.index)
        return (None, i, *on_compare(names_, None, i))

    compare_outputs = [input_line, readings, inputs_gallery]
    run.click(on_compare, [chosen, image, index], compare_outputs, **FILES, **PRIVATE)
    # filled on first opening: test item 0 through the first two checkpoints at once; then, on what
    # of the test set they have scored (a first slice within seconds of a fresh start), their
    # metrics, where they differ most and the images they disagree on. ↻ takes what is scored now.
    for trigger in (tab.select, chosen.change):
        trigger(on_compare, [chosen, image, index], compare_outputs, **FILES, **PRIVATE)
    for trigger in (tab.select, chosen.change, update.click):
        trigger(on_scope, [chosen, which], [coverage, which], **PRIVATE).then(
            on_metrics, chosen, [metrics, per_sum, per_sum_legend], **PRIVATE).then(
            on_finder, chosen, [finder, finder_keys], **PRIVATE).then(
            on_compare_gallery, [chosen, which], pages.outputs, **PRIVATE)
    which.change(on_compare_gallery, [chosen, which], pages.outputs, **PRIVATE)
    finder.select(on_finder_row, [chosen, finder_keys], pages.outputs, **PRIVATE).success(
        None, js=scroll_to("compare-count"))
    pages.gallery.select(on_tile, [chosen, pages.indices, pages.page], [image, index, *compare_outputs],
                         **FILES, **PRIVATE).success(None, js=scroll_to("compare-input-line"))
