"""Compare tab: checkpoints side by side on one input (each one's reading, digit probabilities and
where it read), on the whole test set (metrics, accuracy per sum), and where they differ most (a
slice finder whose rows open the images they disagree on)."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd

from ..errors import DigitsumError
from ..predict import Prediction
from ..service import DigitsumService
from .common import FILES, PRIVATE, PagedGallery, scroll_to, clicked, image_file, show, ui_errors


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
    frame = pd.DataFrame([{"feature": r["feature"], "slice": r["slice"], "n": r["n"],
                           **{n: round(r[n], 3) for n in names}, "gap": round(r["gap"], 3)} for r in rows],
                         columns=["feature", "slice", "n", *names, "gap"])
    if frame.empty:
        return frame
    return frame.style.bar(subset=["gap"], vmin=0, color="#fdae6b").format(
        {**{n: "{:.3f}" for n in names}, "gap": "{:.3f}"})


def build_compare_tab(service: DigitsumService, names: list[str], tab: gr.Tab) -> None:
    chosen = gr.CheckboxGroup(names, value=names[:2], label="checkpoints")
    with gr.Row():
        image = image_file(label="an image through each checkpoint", sources=["upload", "clipboard"], height=160)
        with gr.Column(scale=0, min_width=200):
            index = gr.Number(label="or a test-set index", value=0, precision=0)
            run = gr.Button("Run", size="sm")
    readings = gr.Dataframe(label="the same input through each checkpoint: digits, each digit's two likeliest "
                                  "values, the sum", interactive=False, elem_id="compare-readings")
    inputs_gallery = gr.Gallery(label="each checkpoint's input, and where it read each digit", columns=2,
                                height=230, elem_classes="wide-gallery", allow_preview=False,
                                elem_id="compare-inputs")
    with gr.Row(equal_height=True):
        coverage = gr.Markdown(elem_id="compare-coverage")
        update = gr.Button("↻ Update", size="sm", scale=0, min_width=110)
    scope = gr.State(0)   # the prefix of the test set the views below show (service.view)
    metrics = gr.Dataframe(label=f"test-set metrics ({service.dataset_title})", interactive=False,
                           elem_id="compare-metrics")
    per_sum = gr.LinePlot(x="sum", y="accuracy", color="checkpoint", label="accuracy per true sum", height=240)
    gr.Markdown("### Where they differ most\nSum accuracy per layout slice (10 images or more), the largest "
                "gap first. Click a row to see the images of that slice on which the checkpoints disagree.")
    finder = gr.Dataframe(label="slice finder", interactive=False, max_height=360, elem_id="slice-finder")
    which = gr.Radio(["they disagree"] + [f"only {n} is right" for n in names], value="they disagree",
                     label="test images where")
    def disagreement_caption(names_, i):
        reads = " | ".join(f"{n}: {service.scores(n).pred_sum[i]}" for n in service.chosen(names_))
        return f"#{i} true {service.dataset.sums[i]}  {reads}"

    pages = PagedGallery(service, "test images", "compare-gallery", "compare-count", chosen, disagreement_caption)
    finder_keys = gr.State([])

    @ui_errors
    def on_compare(names_, path, number):
        """The same input through each checkpoint: no test-set scoring needed, so it shows at once."""
        names_ = service.chosen(names_)   # each checkpoint once, however often a request names it
        if not names_:
            raise DigitsumError("choose at least one checkpoint")
        gray = service.load_image(path) if path else service.item(0 if number is None else number)
        results = service.compare(gray, names_)
        rows = pd.DataFrame([reading_row(n, p) for n, p in results])
        pictures = [(show(p.canvas, 3, x_centres=p.x_centres, digits=p.digits, caption=n), None) for n, p in results]
        return rows, pictures

    @ui_errors
    def on_scope(names_):
        """The prefix of the test set every chosen checkpoint has scored (seconds at most), and a line
        that says which it is."""
        names_ = service.chosen(names_)
        n = service.view(names_)
        return n, service.coverage(names_, n)

    @ui_errors
    def on_metrics(names_, n):
        names_ = service.chosen(names_)
        if not names_ or not n:
            return pd.DataFrame(), pd.DataFrame()
        curve = pd.DataFrame([{"checkpoint": c, "sum": s, "accuracy": a}
                              for c, d in service.per_sum_accuracy(names_, n).items() for s, a in d.items()])
        return pd.DataFrame(service.metrics_rows(names_, n)), curve

    @ui_errors
    def on_compare_gallery(names_, which_, n):
        names_ = service.chosen(names_)
        if len(names_) < 2 or not n:
            return [], [], 0, "", "choose two or more checkpoints to see where they disagree"
        found = service.disagreements(names_, n)
        if which_ == "they disagree":
            idx = found["disagree"]
        else:
            name = which_.removeprefix("only ").removesuffix(" is right")
            idx = found["only_right"].get(name, np.zeros(0, int)) if name in names_ else np.zeros(0, int)
        return pages.opened(names_, idx, f"test images: {which_}")

    @ui_errors
    def on_finder(names_, n):
        names_ = service.chosen(names_)
        if len(names_) < 2 or not n:
            return pd.DataFrame(), []
        rows = service.slice_differences(names_, n=n)[:20]
        return finder_table(rows, names_), [[r["feature"], r["slice"]] for r in rows]

    @ui_errors
    def on_finder_row(names_, keys, n, evt: gr.SelectData):
        names_ = service.chosen(names_)
        if len(names_) < 2 or not keys or not n:
            return (gr.skip(),) * len(pages.outputs)
        feature, label = keys[clicked(evt.index, (len(keys), None), "the slice finder")[0]]
        idx = service.slice_disagreements(names_, feature, label, n)
        return pages.opened(names_, idx, f"images in {feature} = {label} where the checkpoints disagree")

    compare_outputs = [readings, inputs_gallery]
    run.click(on_compare, [chosen, image, index], compare_outputs, **FILES, **PRIVATE)
    # filled on first opening: test item 0 through the first two checkpoints at once; then, on what
    # of the test set they have scored (a first slice within seconds of a fresh start), their
    # metrics, where they differ most and the images they disagree on. ↻ takes what is scored now.
    for trigger in (tab.select, chosen.change):
        trigger(on_compare, [chosen, image, index], compare_outputs, **FILES, **PRIVATE)
    for trigger in (tab.select, chosen.change, update.click):
        trigger(on_scope, chosen, [scope, coverage], **PRIVATE).then(
            on_metrics, [chosen, scope], [metrics, per_sum], **PRIVATE).then(
            on_finder, [chosen, scope], [finder, finder_keys], **PRIVATE).then(
            on_compare_gallery, [chosen, which, scope], pages.outputs, **PRIVATE)
    which.change(on_compare_gallery, [chosen, which, scope], pages.outputs, **PRIVATE)
    finder.select(on_finder_row, [chosen, finder_keys, scope], pages.outputs, **PRIVATE).success(
        None, js=scroll_to("compare-count"))
