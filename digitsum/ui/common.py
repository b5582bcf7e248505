"""What every tab shares: the event settings (private handlers, concurrency pools, the queue), the
page's style, request limits, and error handling that says one line."""
from __future__ import annotations

import functools
import os
import re
import sys
import traceback

import gradio as gr

from digitsum.errors import DigitsumError, shorten

PRIVATE = dict(api_visibility="private")  # a UI handler: not in the API page, refused by gradio_client
ANY = "any"
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
/* the model's input (Draw and Upload, and Errors' detail): the picture below its label and buttons,
   not under them (they hid its top) */
.model-input .image-container, #errors-detail .image-container { padding-top: 30px !important;
                                                                 box-sizing: border-box !important; }
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
