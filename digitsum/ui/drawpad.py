"""The Draw tab's pad: a plain HTML canvas with four guide boxes, drawn with a round 12 px pen, and
the decoding of what it sends (a PNG data URL) into the gray image the library reads.

Why not gr.Sketchpad: in Gradio 6 its first stroke after a load sends no change (or a stale, empty
value), and setting its value from the server (a Clear button) leaves it stuck "processing" with
later strokes lost. This pad sends its PNG (a data URL) after every stroke, the first included;
Clear and Undo work in the page and send the new state at once. The pen is 12 px on a 672x160
canvas: a digit drawn to fill its box (~130 px) then has strokes ~0.1 of its height, as MNIST's.
"""
from __future__ import annotations

import base64
import binascii
import functools
import io

import gradio as gr
import numpy as np
from PIL import Image, UnidentifiedImageError

from digitsum.errors import BlankImageError, DataError
from digitsum.reading.preprocess import open_within_budget, reduce_to_work_size, to_gray

WIDTH, HEIGHT = 672, 160   # 4x the model's 168x40 canvas: one guide box per digit
PEN = 12                   # px on the canvas

HTML = f"""
<div class="drawpad">
  <canvas width="{WIDTH}" height="{HEIGHT}" aria-label="drawing pad: one digit in each box"></canvas>
  <div class="drawpad-buttons">
    <button type="button" class="drawpad-undo lg secondary">Undo stroke</button>
    <button type="button" class="drawpad-clear lg secondary">Clear</button>
  </div>
</div>
"""

CSS = """
.drawpad canvas { width: 100%; aspect-ratio: 672 / 160; touch-action: none; cursor: crosshair;
                  border: 1px solid var(--border-color-primary); border-radius: 6px; background: white; }
.drawpad-buttons { display: flex; gap: 8px; margin-top: 4px; }
.drawpad-buttons button { padding: 4px 14px; border-radius: 6px; border: 1px solid var(--border-color-primary);
                          background: var(--button-secondary-background-fill); cursor: pointer; }
"""

# strokes are kept as point lists, so Undo can redraw the rest; every change is sent as a PNG
JS = f"""
const canvas = element.querySelector('canvas');
const ctx = canvas.getContext('2d');
let strokes = [], current = null;
function guides() {{
  ctx.fillStyle = 'white'; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = 'rgb(215,222,235)'; ctx.lineWidth = 2;
  ctx.fillStyle = 'rgb(200,205,215)'; ctx.font = '12px sans-serif';
  const box = canvas.width / 4;
  for (let k = 0; k < 4; k++) {{
    ctx.strokeRect(k * box + 6, 12, box - 12, canvas.height - 24);
    ctx.fillText(String(k + 1), k * box + 12, 28);
  }}
}}
function paint(points) {{
  ctx.strokeStyle = 'black'; ctx.fillStyle = 'black'; ctx.lineWidth = {PEN};
  ctx.lineCap = 'round'; ctx.lineJoin = 'round';
  if (points.length === 1) {{
    ctx.beginPath(); ctx.arc(points[0][0], points[0][1], {PEN} / 2, 0, 2 * Math.PI); ctx.fill(); return;
  }}
  ctx.beginPath(); ctx.moveTo(points[0][0], points[0][1]);
  for (const p of points.slice(1)) ctx.lineTo(p[0], p[1]);
  ctx.stroke();
}}
function redraw() {{ guides(); for (const s of strokes) paint(s); }}
function send() {{ props.value = strokes.length ? canvas.toDataURL('image/png') : ''; trigger('input'); }}
function at(e) {{
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
}}
canvas.addEventListener('pointerdown', e => {{
  current = [at(e)]; canvas.setPointerCapture(e.pointerId); paint(current);
}});
canvas.addEventListener('pointermove', e => {{
  if (!current) return;
  current.push(at(e)); paint(current.slice(-2));
}});
function finish() {{
  if (!current) return;
  strokes.push(current); current = null; send();
}}
canvas.addEventListener('pointerup', finish);
canvas.addEventListener('pointercancel', finish);
element.querySelector('.drawpad-undo').addEventListener('click', () => {{ strokes.pop(); redraw(); send(); }});
element.querySelector('.drawpad-clear').addEventListener('click', () => {{ strokes = []; redraw(); send(); }});
redraw();
"""


def draw_pad(elem_id: str = "sketch") -> gr.HTML:
    """The pad; its value is '' or 'data:image/png;base64,...', sent by its `input` event."""
    return gr.HTML(value="", html_template=HTML, css_template=CSS, js_on_load=JS, elem_id=elem_id,
                   apply_default_css=False)


PAPER = 0.75  # in a drawing, anything lighter than this is paper: the guide lines vanish
DATA_URL = "data:image/png;base64,"
MAX_DRAWING_BYTES = 4_000_000   # a 672x160 PNG is ~20 kB; anything far larger is not a drawing


def drawing_to_gray(value) -> np.ndarray:
    """A drawing: a PNG data URL (the pad's value), a Gradio Sketchpad value (a dict with
    'composite': black ink on opaque white, or None parts) or a plain image -> (H, W) float32
    gray, 1 = paper, with the light guide lines removed."""
    if isinstance(value, str):   # the pad: a PNG data URL ("" once cleared)
        value = decode_data_url(value) if value else None
    if isinstance(value, dict):
        image = value.get("composite")
        if image is None:
            layers = [l for l in (value.get("layers") or []) if l is not None]
            image = layers[0] if layers else value.get("background")
    else:
        image = value
    if image is None:
        raise BlankImageError("the canvas is blank: draw four digits, one in each box")
    if _opaque_rgba(image):   # the pad's own drawings: the same values, a quarter of the time
        return _paper_levels()[image[..., 0].astype(np.uint16) + image[..., 1] + image[..., 2]]
    gray = to_gray(image)
    return np.where(gray > PAPER, 1.0, gray).astype(np.float32)


def _opaque_rgba(image) -> bool:
    return (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
            and image.shape[2] == 4 and bool((image[..., 3] == 255).all()))


@functools.lru_cache(maxsize=1)
def _paper_levels() -> np.ndarray:
    """What drawing_to_gray gives an opaque 8-bit pixel, by its R + G + B (0-765): to_gray's gray
    level (the mean of the three over 255), with paper at 1. Made by to_gray itself, once, so the
    table cannot drift from it; a drawing is then one lookup per pixel instead of to_gray's ten
    passes over float copies (3.7 ms -> 1 ms a stroke for the 672x160 pad)."""
    sums = np.arange(766)
    pixels = np.stack([np.minimum(sums, 255), np.clip(sums - 255, 0, 255), np.clip(sums - 510, 0, 255),
                       np.full_like(sums, 255)], axis=1).astype(np.uint8)[None]
    gray = to_gray(pixels)[0]
    return np.where(gray > PAPER, 1.0, gray).astype(np.float32)


def decode_data_url(url: str) -> np.ndarray:
    """'data:image/png;base64,...' -> (H, W, C) uint8; anything else is a one-line DataError."""
    if not url.startswith(DATA_URL) or len(url) > MAX_DRAWING_BYTES:
        raise DataError("the drawing is not a PNG data URL of a sensible size")
    try:
        with Image.open(io.BytesIO(base64.b64decode(url[len(DATA_URL):], validate=True))) as im:
            # its size is checked from the header, before decoding (a 59 kB URL can hold 13000x13000 px)
            return np.asarray(reduce_to_work_size(open_within_budget(im, "the drawing")).convert("RGBA"))
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        raise DataError("the drawing could not be decoded as a PNG") from None
