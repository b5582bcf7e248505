"""Pictures and tables of readings: a model canvas big enough to see (with where the model read),
a sum distribution as a table, a confusion matrix as a heatmap."""
from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

MARK = (230, 30, 30)   # where the model read, in red


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:   # Pillow without scalable default font
        return ImageFont.load_default()


def show(canvas: np.ndarray, scale: int = 3, x_centres=None, digits=None, caption: str | None = None) -> Image.Image:
    """A model canvas (float or uint8, white on black) as a picture big enough to see. With
    `x_centres`, a red tick below each place where the model read a digit, labelled with the digit
    it read there (`digits`): a misread shows where and why. With `caption`, a line of text below."""
    arr = canvas if canvas.dtype == np.uint8 else (np.clip(canvas, 0, 1) * 255).astype(np.uint8)
    im = Image.fromarray(arr, "L").convert("RGB")
    im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    marks = 8 * scale if x_centres else 0
    text = 7 * scale if caption else 0
    if not (marks or text):
        return im
    out = Image.new("RGB", (im.width, im.height + marks + text), "white")
    out.paste(im, (0, 0))
    pen = ImageDraw.Draw(out)
    font = _font(5 * scale)
    for k, x in enumerate(x_centres or []):
        cx = round((x + 0.5) * scale)
        pen.line([(cx, im.height - 2 * scale), (cx, im.height + 2 * scale)], fill=MARK, width=max(1, scale // 2 + 1))
        if digits is not None and k < len(digits):
            pen.text((cx - 1.5 * scale, im.height + 2 * scale), str(digits[k]), fill=MARK, font=font)
    if caption:
        pen.text((scale, im.height + marks + scale // 2), caption, fill=(20, 20, 20), font=_font(5 * scale))
    return out


def sum_frame(sum_probs: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"sum": np.arange(37), "probability": np.asarray(sum_probs, float)})


def heatmap(frame: pd.DataFrame, hide_diagonal: bool = False, by_rate: bool = False):
    """A confusion matrix coloured by count, or by rate within its row (the 'true' column stays
    plain); the diagonal can be blanked so the errors carry the colour scale. A Styler keeps the
    Dataframe's cell clicks."""
    if frame.empty:
        return frame
    counts = [c for c in frame.columns if c != "true"]
    values = np.array(frame[counts], dtype=float)   # a writable copy
    if hide_diagonal:
        n = min(values.shape)
        values[np.arange(n), np.arange(n)] = np.nan
    if by_rate:
        values = values / np.maximum(np.nansum(frame[counts].to_numpy(float), 1, keepdims=True), 1)
        values = np.round(values, 3)
    shown = frame.copy()
    shown[counts] = values
    return shown.style.background_gradient(cmap="Blues", subset=counts, axis=None).highlight_null(
        color="#f3f3f3").format(precision=3 if by_rate else 0, na_rep="")
