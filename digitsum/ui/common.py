"""What every tab shares: error handling that says one line, pictures of model canvases (with where
the model read), upload components that pass files through untouched, tables and gallery pages."""
from __future__ import annotations

import collections
import functools
import os
import re
import sys
import threading
import traceback

import gradio as gr
import numpy as np
from gradio.data_classes import ListFiles
from gradio_client import utils as client_utils
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from digitsum.errors import DigitsumError, shorten

PRIVATE = dict(api_visibility="private")  # a UI handler: not in the API page, refused by gradio_client
ANY = "any"
PAGE = 24                                  # gallery images per page
PREDICT_CONCURRENCY = 8                    # a class drawing at once: predictions run together (and batch)
# Uploaded images (the Upload tab, .npy items, Compare) share one pool: each may be an image at the
# pixel budget (about 1 s and 70 MB, README), so at most FILE_CONCURRENCY of them run at once, and the
# Draw tab's strokes (a pool of their own) never wait behind them. /predict_json has its own pool.
FILE_CONCURRENCY = 4
FILES = dict(concurrency_limit=FILE_CONCURRENCY, concurrency_id="uploaded-images")
QUEUE_SIZE = 64                            # events waiting, app-wide; more are told the queue is full
DELETE_CACHE = (600, 3600)                 # s: every 10 min, Gradio deletes uploads and outputs over 1 h old
# where Gradio keeps uploads: <cache>/<sha256>/<the user's file name>; never shown to the user. The
# match starts only where a word starts (the look-behind), so one scan costs time linear in the text:
# a scan from every position of a long word cost its square (a 60,000-character name froze the app)
UPLOAD_DIR = re.compile(r"(?<![^\s'\"])[^\s'\"]*[/\\][0-9a-f]{32,}[/\\](?=[^/\\\s])")
MESSAGE_LIMIT = 400                        # characters of a message the user is shown
MARK = (230, 30, 30)
# wide four-digit tiles instead of Gradio's square ones (no padding around a 4:1 image)
CSS = """
.wide-gallery .thumbnail-item { aspect-ratio: 3 / 1 !important; }
.wide-gallery .grid-container { grid-template-rows: none !important; grid-auto-rows: auto !important; }
/* the scoring line above the tabs: one line of fixed height, so that its text coming, changing and
   going never moves the drawing pad under the pen */
#scoring-status { height: 24px !important; min-height: 24px !important; max-height: 24px !important;
                  overflow: hidden !important; padding: 0 !important; margin: 0 !important; }
#scoring-status * { margin: 0 !important; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
                    line-height: 24px !important; }
.prediction-summary h3 { margin: 0 !important; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
/* the warnings: one line that opens to the list (the digits and the sum stay above the fold) */
.prediction-summary details.warnings summary { white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
                                               cursor: pointer; }
.prediction-summary details.warnings ul { margin: 2px 0 0 0; }
"""


MAX_BODY = 5_000_000   # bytes of a request body other than an upload: a drawing's data URL is at most 4 MB


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is refused (413) before it is read, and one
    of unknown length (chunked) too (411); uploads (Gradio's own `max_file_size` bounds them) pass."""

    def __init__(self, app, limit: int = MAX_BODY):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH") \
                and not scope["path"].rstrip("/").endswith("/upload"):
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            refused = None
            if length is None:
                refused = (411, "send the request with a Content-Length") if b"transfer-encoding" in headers else None
            elif not length.isdigit() or int(length) > self.limit:
                refused = (413, f"the request body is over {self.limit:,} bytes")
            if refused:
                body = refused[1].encode()
                await send({"type": "http.response.start", "status": refused[0],
                            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def user_message(error: BaseException | str) -> str:
    """One line of at most MESSAGE_LIMIT characters, without the server's temporary upload folders
    (a file is called by its own name) or its working and home folders. Bounded before any scan:
    whatever a request put in the error, this costs the same."""
    text = error if isinstance(error, str) else str(error)
    cut = len(text) > 4 * MESSAGE_LIMIT
    text = UPLOAD_DIR.sub("", " ".join(text[:4 * MESSAGE_LIMIT].split()))
    # the server's own folders: paths under the working directory relative to it, the home folder as ~
    for folder, shown in ((os.getcwd(), ""), (os.path.expanduser("~"), "~/")):
        if len(folder) > 1:
            text = text.replace(folder.rstrip(os.sep) + os.sep, shown)
    if cut or len(text) > MESSAGE_LIMIT:
        text = text[:MESSAGE_LIMIT].rstrip() + " …"
    return text or type(error).__name__


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
            trace = traceback.format_exc()
            if len(trace) > 20 * MESSAGE_LIMIT:   # an exception may carry what a request sent: bounded
                trace = f"{trace[:10 * MESSAGE_LIMIT]}\n[... {len(trace):,} characters ...]\n{trace[-10 * MESSAGE_LIMIT:]}"
            print(f"digitsum app: {fn.__name__} failed:\n{trace}", file=sys.stderr, end="")
            raise gr.Error(f"something went wrong ({type(e).__name__}) and was logged on the server; "
                           "please try again or try another input", print_exception=False) from None
    return wrapper


def bound_messages(demo: gr.Blocks) -> None:
    """Gradio's own checks of a request (a choice that is not in a Dropdown's list, say) repeat
    what was sent, in full, to the page: each component's message is bounded as the handlers' are."""
    for block in demo.blocks.values():
        if callable(getattr(block, "preprocess", None)):
            block.preprocess = _bounded(block, block.preprocess)


def _bounded(block, preprocess):
    @functools.wraps(preprocess)
    def checked(payload):
        try:
            return preprocess(payload)
        except gr.Error as e:
            message = str(e.message)
            choices = [value for _, value in getattr(block, "choices", None) or []]
            if choices and "not in the list of choices" in message:
                sent = payload if isinstance(payload, list) else [payload]
                wrong = next((v for v in sent if v not in choices), payload)
                message = (f"{shorten(wrong, quote=True)} is not in the list of choices for "
                           f"{getattr(block, 'label', None) or 'this input'}: {', '.join(map(str, choices))}")
            raise gr.Error(user_message(message), print_exception=False) from None
    return checked


def clicked(index, sizes: tuple, what: str) -> tuple[int, ...]:
    """Where a click landed, as its event data says (`evt.index`: a tile's position, or a table
    cell's [row, column]), checked against what the page shows: one whole number per entry of
    `sizes`, each in 0..size-1 (None: any number from 0). The page sends nothing else; a request
    that does (by curl, say) gets one line, never an IndexError or, for -1, another tile than the
    ones shown."""
    values = list(index) if isinstance(index, (list, tuple)) else [index]
    fits = len(values) == len(sizes) and all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v and (n is None or v < n)
        for v, n in zip(values, sizes))
    if not fits:
        shape = " x ".join("any" if n is None else str(n) for n in sizes)
        shape += " tiles" if len(sizes) == 1 else " cells (rows x columns)"
        raise DigitsumError(f"that click is not on {what} (it sent {shorten(index, 40, quote=True)}; "
                            f"the page shows {shape})")
    return tuple(values)


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


def page_of(indices, page: int) -> tuple[list[int], int]:
    """The indices on page `page` (clamped), and that page."""
    indices = list(indices)
    pages = max(1, -(-len(indices) // PAGE))
    page = min(max(0, int(page or 0)), pages - 1)
    return indices[page * PAGE:(page + 1) * PAGE], page


def page_line(total: int, page: int, what: str) -> str:
    if not total:
        return f"**0** {what}"
    first, last = page * PAGE + 1, min(total, (page + 1) * PAGE)
    pages = -(-total // PAGE)
    more = " (use ◀ ▶ for the others)" if pages > 1 else ""
    return f"**{total}** {what}; showing {first}-{last}, page {page + 1} of {pages}{more}"


class PagedGallery:
    """A gallery of test images shown a page at a time: its count line, ◀ ▶, and the indices it
    pages through (kept server-side). `caption(key, index)` is drawn into each tile (Gradio's own
    captions cover a wide tile's lower half); `key` is the component whose value it needs (the
    checkpoint, or the chosen checkpoints)."""

    def __init__(self, service, label: str, elem_id: str, count_id: str, key: gr.components.Component, caption):
        self.service, self.caption = service, caption
        with gr.Row():
            self.count = gr.Markdown(elem_id=count_id)
            previous_button = gr.Button("◀", size="sm", scale=0, min_width=50)
            next_button = gr.Button("▶", size="sm", scale=0, min_width=50)
        self.gallery = wide_gallery(label, elem_id)
        self.indices, self.page, self.what = gr.State([]), gr.State(0), gr.State("")

        @ui_errors
        def on_previous(key_value, indices, page, what):
            return self.page_items(key_value, indices, page - 1, what)

        @ui_errors
        def on_next(key_value, indices, page, what):
            return self.page_items(key_value, indices, page + 1, what)

        paging = [key, self.indices, self.page, self.what]
        previous_button.click(on_previous, paging, [self.gallery, self.page, self.count], **PRIVATE)
        next_button.click(on_next, paging, [self.gallery, self.page, self.count], **PRIVATE)

    @property
    def outputs(self) -> list:
        """What `opened` fills, in its order."""
        return [self.gallery, self.indices, self.page, self.what, self.count]

    def page_items(self, key_value, indices, page: int, what: str):
        """-> (gallery items, page, count line) for page `page` (clamped) of `indices`."""
        shown, page = page_of(indices, page)
        items = [(show(self.service.item(i), 3, caption=self.caption(key_value, i)), None) for i in shown]
        return items, page, page_line(len(indices), page, what)

    def opened(self, key_value, indices, what: str) -> tuple:
        """The first page of new `indices` ("**N** {what}; showing ..."), as values for `outputs`."""
        indices = [int(i) for i in indices]
        items, page, line = self.page_items(key_value, indices, 0, what)
        return items, indices, page, what, line

    def index_at(self, indices, page: int, position) -> int:
        """The test-set index of the tile clicked at `position` on page `page` (a tile the page
        shows: anything else is a one-line message, see `clicked`)."""
        shown = page_of(indices, page)[0]
        return shown[clicked(position, (len(shown),), "this page of the gallery")[0]]


# the layout slices (digitsum.evaluation.slices) as a teacher reads them; the service keeps the code names
FEATURE_NAMES = {
    "smallest_gap": "gap between digits (px)",
    "left_margin": "left margin (px)",
    "digit_height": "digit height (px)",
    "ink": "ink strength",
    "blobs": "separate ink marks (4: one per digit)",
    "true_sum": "true sum",
    "place": "place",
}
SLICE_LABELS = {("smallest_gap", "<=0 (touching)"): "digits touching", ("blobs", "1"): "1: digits touching",
                ("blobs", "5+"): "5+: a digit in pieces, or specks"}


def feature_name(feature: str) -> str:
    return FEATURE_NAMES.get(feature, feature.replace("_", " "))


def slice_label(feature: str, label: str) -> str:
    return SLICE_LABELS.get((feature, label), label)


def slice_name(feature: str, label: str) -> str:
    """A slice in words, for a line: 'gap between digits (px): digits touching'."""
    return f"{feature_name(feature)}: {slice_label(feature, label)}"


class Scopes:
    """The prefix of the test set that a page's tab shows (service.view), per page (Gradio's session)
    and checkpoints: every view and click of the tab uses the same images until the tab is opened
    again or ↻, whatever the background scoring has done meanwhile. Kept here, not in a gr.State, so
    that the handlers take the inputs they always took; at most `limit` pages are remembered."""

    def __init__(self, service, limit: int = 2000):
        self.service, self.limit = service, limit
        self._scopes: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()

    def _key(self, request, names) -> tuple:
        return getattr(request, "session_hash", None), tuple(self.service.chosen(names))

    def open(self, request, names) -> int:
        """The prefix every one of `names` has scored now (seconds at most), kept for this page."""
        n = self.service.view(names)
        with self._lock:
            self._scopes[self._key(request, names)] = n
            while len(self._scopes) > self.limit:
                self._scopes.popitem(last=False)
        return n

    def get(self, request, names) -> int:
        """The prefix this page's tab shows for `names` (what `open` kept, else what is scored now)."""
        with self._lock:
            n = self._scopes.get(self._key(request, names))
        return n if n is not None else self.service.view(names)


def scroll_to(elem_id: str) -> str:
    """A click's `js` step that brings element `elem_id` to the top of the window (smoothly, so that
    one sees where the result went): for clicks whose result appears elsewhere on a long page."""
    return (f"() => {{ document.getElementById({elem_id!r})?.scrollIntoView("
            "{behavior: 'smooth', block: 'start'}); }")


def wide_gallery(label: str, elem_id: str) -> gr.Gallery:
    """A gallery of four-digit images, several per row, in their own 4:1 shape."""
    return gr.Gallery(label=label, columns=3, height=620, elem_id=elem_id, elem_classes="wide-gallery",
                      object_fit="contain", allow_preview=False)
