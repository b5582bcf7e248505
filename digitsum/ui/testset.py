"""What the Compare and Errors tabs share to show the test set: galleries of its images a page at
a time, the prefix of it each page shows, and the layout slices' names as a teacher reads them."""
from __future__ import annotations

import collections
import threading

import gradio as gr

from .common import PRIVATE, clicked, ui_errors
from .pictures import show

PAGE = 24   # gallery images per page


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


def scroll_to(elem_id: str) -> str:
    """A click's `js` step that brings element `elem_id` to the top of the window (smoothly, so that
    one sees where the result went): for clicks whose result appears elsewhere on a long page."""
    return (f"() => {{ document.getElementById({elem_id!r})?.scrollIntoView("
            "{behavior: 'smooth', block: 'start'}); }")


def wide_gallery(label: str, elem_id: str) -> gr.Gallery:
    """A gallery of four-digit images, several per row, in their own 4:1 shape."""
    return gr.Gallery(label=label, columns=3, height=620, elem_id=elem_id, elem_classes="wide-gallery",
                      object_fit="contain", allow_preview=False)


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
