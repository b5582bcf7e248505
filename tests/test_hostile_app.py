"""Hostile input through the running app, one table of cases: each is a file or a string a user
sends to one handler, and the one-line message the app must answer with. The app is launched once
for the module. UI handlers are driven as the web page drives them (upload, then join the queue
with the handler's index: they are private, so gradio_client refuses them); the public
`/predict_json` through gradio_client. After every case the app must still serve.

The app runs with its working directory inside this module's temporary folder, so the export
cases can check that nothing at all is written outside `./exports` (a path that escaped it on the
old code landed inside the temporary folder, never in the repository)."""
from __future__ import annotations

import io
import base64
import json
import os
import re
import sqlite3
import struct
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from appprocess import start_app
from PIL import Image

UPLOAD_DIR = "/tmp/gradio"   # Gradio's upload folder here (checked too: gradio.utils.get_upload_folder())


# ---------------------------------------------------------------- the files users send
def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def noise_png() -> bytes:
    return png_bytes(np.random.default_rng(0).integers(0, 255, (160, 672, 3), dtype=np.uint8))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny file that claims width x height pixels (gray): what a decompression bomb looks like
    before it is decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def npy_header_only(shape: tuple, descr: str = "|u1") -> bytes:
    """A .npy header that declares `shape`, and no data: what a huge set looks like to a header check."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


ITEMS = np.random.default_rng(1).integers(0, 255, (3, 40, 168), dtype=np.uint8)   # a good 3-image set


def drawing_png() -> bytes:
    """A Sketchpad composite with ink in it (black strokes on white, 672x160)."""
    im = np.full((160, 672, 3), 255, np.uint8)
    for k in range(4):
        im[40:120, k * 168 + 70:k * 168 + 90] = 0
    return png_bytes(im)


# ---------------------------------------------------------------- the cases
@dataclass
class Case:
    id: str
    handler: str                 # the app's function name (UI handlers) or "predict_json"
    inputs: list                 # FILE is replaced by the uploaded file, WRONG_SUM by a label that does not fit
    message: str                 # expected in the one-line message
    file: tuple[str, bytes] | None = None
    shown_in: int | None = None  # None: raised as gr.Error; k: returned in output k (a status line)
    writes_nothing: bool = False


FILE, WRONG_SUM = "<file>", "<wrong sum>"
T = "tiny"
CASES = [
    # Upload tab: an image file
    Case("truncated-png", "on_upload", [FILE, T], "half.png: not a readable image", ("half.png", noise_png()[:6000])),
    Case("text-as-png", "on_upload", [FILE, T], "notes.png: not a readable image", ("notes.png", b"my notes\n" * 50)),
    Case("oversized-png", "on_upload", [FILE, T], "huge.png: image of 8000x8000 px is too large",
         ("huge.png", png_header_only(8000, 8000))),
    Case("bomb-png", "on_upload", [FILE, T], "bomb.png: ", ("bomb.png", png_header_only(30000, 30000))),
    # Upload tab: an item of a .npy set
    Case("npy-objects", "on_item", [FILE, 0, T], "objects.npy: holds Python objects",
         ("objects.npy", npy_bytes(np.array([{"a": 1}, None], dtype=object), allow_pickle=True))),
    Case("npy-truncated", "on_item", [FILE, 0, T], "cut.npy: a damaged or truncated .npy",
         ("cut.npy", npy_bytes(ITEMS)[:5000])),
    Case("npy-text", "on_item", [FILE, 0, T], "text.npy: not a NumPy .npy file", ("text.npy", b"1,2,3\n4,5,6\n")),
    Case("npy-1d", "on_item", [FILE, 0, T], "flat.npy: expected a (N, H, W) course-format .npy of images, "
         "found shape (10,)", ("flat.npy", npy_bytes(np.arange(10, dtype=np.uint8)))),
    Case("npy-4d", "on_item", [FILE, 0, T], "four.npy: expected a (N, H, W) course-format .npy of images, "
         "found shape (3, 40, 168, 1)", ("four.npy", npy_bytes(ITEMS[..., None]))),
    Case("npy-strings", "on_item", [FILE, 0, T], "letters.npy: expected numbers",
         ("letters.npy", npy_bytes(np.full((2, 40, 168), "a")))),
    Case("npy-index-past-end", "on_item", [FILE, 3, T], "items.npy: index 3 is outside the file (0-2)",
         ("items.npy", npy_bytes(ITEMS))),
    Case("npy-index-negative", "on_item", [FILE, -1, T], "items.npy: index -1 is outside the file (0-2)",
         ("items.npy", npy_bytes(ITEMS))),
    Case("npy-index-huge", "on_item", [FILE, 10**18, T], f"items.npy: index {10**18} is outside the file (0-2)",
         ("items.npy", npy_bytes(ITEMS))),
    # the public API
    Case("api-text-as-png", "predict_json", [FILE, T], "notes.png: not a readable image",
         ("notes.png", b"my notes\n" * 50)),
    Case("api-truncated-png", "predict_json", [FILE, T], "half.png: not a readable image",
         ("half.png", noise_png()[:6000])),
    # one pixel budget for every image, checked from the header before decoding
    Case("pixels-upload-over-budget", "on_upload", [FILE, T], "big.png: image of 3000x3000 px is too large (max",
         ("big.png", png_header_only(3000, 3000))),
    Case("pixels-upload-13000000x3", "on_upload", [FILE, T], "strip.png: image of 13000000x3 px is too large",
         ("strip.png", png_header_only(13_000_000, 3))),
    Case("pixels-upload-long-strip", "on_upload", [FILE, T], "strip.png: image of 2600000x3 px is too elongated",
         ("strip.png", png_header_only(2_600_000, 3))),
    Case("pixels-upload-tall-strip", "on_upload", [FILE, T], "tall.png: image of 3x2000000 px is too elongated",
         ("tall.png", png_header_only(3, 2_000_000))),
    Case("pixels-api-over-budget", "predict_json", [FILE, T], "big.png: image of 3000x3000 px is too large (max",
         ("big.png", png_header_only(3000, 3000))),
    Case("pixels-compare-over-budget", "on_compare", [[T], FILE, 0], "big.png: image of 3000x3000 px is too large",
         ("big.png", png_header_only(3000, 3000))),
    Case("pixels-draw-over-budget", "on_draw", [data_url(png_header_only(13000, 13000)), T],
         "the drawing: image of 13000x13000 px is too large (max"),
    Case("pixels-draw-long-strip", "on_draw", [data_url(png_header_only(1_000_000, 4)), T],
         "the drawing: image of 1000000x4 px is too elongated"),
    Case("pixels-npy-over-budget", "on_item", [FILE, 0, T], "big.npy: each image: image of 3000x3000 px is too large",
         ("big.npy", npy_header_only((2, 3000, 3000)))),
    Case("pixels-npy-long-strip", "on_item", [FILE, 0, T], "strip.npy: each image: image of 400000x4 px is too elongated",
         ("strip.npy", npy_header_only((1, 4, 400_000)))),
    # Draw tab: the pad's value is not a PNG data URL
    Case("draw-not-png", "on_draw", ["data:image/png;base64,bm90IGEgcG5n", T], "the drawing could not be decoded"),
    Case("draw-not-data-url", "on_draw", ["/etc/passwd", T], "the drawing is not a PNG data URL"),
    # Label tab: the four digits typed for a test image (said in the status line, output 4)
    *[Case(f"label-{key}", "on_label_submit", [text, None, None], msg, shown_in=4, writes_nothing=True)
      for key, text, msg in [
          ("letters", "abcd", "type exactly four digits 0-9 (got 'abcd')"),
          ("three-digits", "123", "type exactly four digits 0-9 (got '123')"),
          ("five-digits", "12345", "type exactly four digits 0-9 (got '12345')"),
          ("superscripts", "²²²²", "type exactly four digits 0-9 (got '²²²²')"),
          ("arabic-indic", "١٢٣٤", "type exactly four digits 0-9 (got '١٢٣٤')"),
          ("wrong-sum", WRONG_SUM, "but this image's sum is")]],
    # Draw tab: "Save to labels" (said in the status line, output 0)
    *[Case(f"draw-save-{key}", "on_draw_save", [FILE, text, T], msg, ("drawing.png", drawing_png()),
           shown_in=0, writes_nothing=True)
      for key, text, msg in [
          ("letters", "abcd", "type exactly four digits 0-9 (got 'abcd')"),
          ("three-digits", "123", "type exactly four digits 0-9 (got '123')"),
          ("superscripts", "²²²²", "type exactly four digits 0-9 (got '²²²²')"),
          ("arabic-indic", "١٢٣٤", "type exactly four digits 0-9 (got '١٢٣٤')")]],
    # Label tab: the export folder's name
    *[Case(f"export-{key}", "on_export", [name], msg, writes_nothing=True) for key, name, msg in [
        ("parent-parent", "../../x", "'../../x' is not a plain folder name"),
        ("absolute", "/etc/x", "'/etc/x' is not a plain folder name"),
        ("subfolder", "a/b", "'a/b' is not a plain folder name"),
        ("backslash", "a\\b", "'a\\\\b' is not a plain folder name"),
        ("dot-dot", "..", "'..' is not a plain folder name"),
        ("empty", "", "type a name for the export folder"),
        ("existing", "taken", "taken already exists in"),
    ]],
]


# ---------------------------------------------------------------- the app, launched once
class Browser:
    """Calls a handler as the app's web page does: files through /upload, then /queue/join with
    the handler's fn_index and a session, then the session's event stream."""

    def __init__(self, url: str, timeout: float = 60):
        import httpx
        self.http = httpx.Client(base_url=url, timeout=timeout)
        deps = self.http.get("config").json()["dependencies"]
        self.fn_index = {}
        for d in deps:
            self.fn_index.setdefault(d["api_name"], d["id"])
        self.new_session()

    def new_session(self):
        self.session = uuid.uuid4().hex

    def upload(self, path: Path) -> dict:
        r = self.http.post("gradio_api/upload", files=[("files", (path.name, path.read_bytes()))])
        r.raise_for_status()
        return {"path": r.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}

    def call(self, handler: str, *data, event_data=None) -> tuple[bool, dict]:
        """-> (success, output): output["data"] on success, output["error"] (the message the page
        shows; None is Gradio's generic "Error") on failure."""
        body = {"data": list(data), "fn_index": self.fn_index[handler], "session_hash": self.session,
                "event_data": event_data, "trigger_id": None}
        r = self.http.post("gradio_api/queue/join", json=body)
        r.raise_for_status()
        event_id = r.json()["event_id"]
        with self.http.stream("GET", "gradio_api/queue/data", params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed" and msg.get("event_id") == event_id:
                    return msg["success"], msg["output"]
        raise AssertionError(f"{handler}: the event stream ended without a result")


@pytest.fixture(scope="module")
def app_run(tmp_path_factory, course_set, tiny_checkpoint, free_port):
    import app
    from gradio_client import Client
    from digitsum.app.service import DigitsumService
    from digitsum.ui import build
    root = tmp_path_factory.mktemp("hostile")
    work = root / "a" / "b" / "work"            # the app's working directory; ../../x is still in root
    (work / "exports" / "taken").mkdir(parents=True)
    (work / "exports" / "taken" / "keep.txt").write_text("earlier work")
    before = os.getcwd()
    os.chdir(work)
    try:
        service = DigitsumService([str(tiny_checkpoint)], data_dir=course_set, labels_db=root / "labels.db",
                                  cache_dir=root / "cache")   # exports: the default, ./exports
        service.save_drawing(np.full((40, 168), 0.5, np.float32), "1234")   # something to export
        demo = build(service)
        port = free_port()
        app.launch(demo, "127.0.0.1", port)       # as main() does: with the upload size limit
        url = f"http://127.0.0.1:{port}/"
        yield dict(url=url, service=service, root=root, work=work, browser=Browser(url),
                   client=Client(url, verbose=False), demo=demo)
        demo.close()
    finally:
        os.chdir(before)


def tree(root: Path) -> set[str]:
    """Every path under root, except the labels database (SQLite touches its own files)."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.name.startswith("labels.db")
            and "cache" not in p.relative_to(root).parts}


def still_serving(run, tmp_path):
    from gradio_client import handle_file
    good = tmp_path / "good.png"
    good.write_bytes(drawing_png())
    assert len(run["client"].predict(handle_file(str(good)), T, api_name="/predict_json")["digits"]) == 4


# ---------------------------------------------------------------- the tests
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_gets_a_one_line_message_naming_the_users_file(app_run, tmp_path, case):
    from gradio_client import handle_file
    browser, service = app_run["browser"], app_run["service"]
    browser.new_session()
    path = None
    if case.file:
        path = tmp_path / case.file[0]
        path.write_bytes(case.file[1])
    labels_before, files_before = service.store.count(), tree(app_run["root"])

    if case.handler == "predict_json":            # the public API, as a program calls it
        with pytest.raises(Exception) as raised:
            app_run["client"].predict(handle_file(str(path)), *case.inputs[1:], api_name="/predict_json")
        success, message = False, str(raised.value)
    else:
        inputs = list(case.inputs)
        if case.handler == "on_label_submit":    # the page loads the queue first: the session's image
            ok, out = browser.call("on_label_open", -1)
            assert ok, out
            index = int(re.match(r"#(\d+),", out["data"][4]).group(1))   # "#0, known sum **7**."
            if inputs[0] == WRONG_SUM:
                inputs[0] = "0000" if service.label_set.sums[index] else "0001"
        if FILE in inputs:
            uploaded = browser.upload(path)
            if case.handler == "on_draw_save":   # the drawing pad sends its PNG as a data URL
                uploaded = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
            inputs[inputs.index(FILE)] = uploaded
        success, output = browser.call(case.handler, *inputs)
        if case.shown_in is None:
            assert not success, f"expected a message, got {output}"
            message = output.get("error")
        else:
            assert success, f"the status line should say it, not an error overlay: {output}"
            message = output["data"][case.shown_in]
    assert message, "Gradio's generic error (no message) reached the user"
    if case.handler == "predict_json":
        message = message.split("raised an exception: ", 1)[-1]  # gradio_client's own words around it
    assert case.message in message
    from gradio.utils import get_upload_folder
    assert "\n" not in message.strip() and "Traceback" not in message
    assert UPLOAD_DIR not in message and get_upload_folder() not in message
    assert str(app_run["root"]) not in message          # no server folder: the app's, its database's
    if case.handler == "on_label_submit":         # the image stays; nothing is put over it
        image = output["data"][1]
        assert isinstance(image, dict) and image.get("__type__") == "update" and "value" not in image
    if case.writes_nothing:
        assert service.store.count() == labels_before
        assert tree(app_run["root"]) == files_before
        assert not Path("/etc/x").exists()
        assert (app_run["work"] / "exports" / "taken" / "keep.txt").read_text() == "earlier work"
    still_serving(app_run, tmp_path)


def test_export_goes_into_the_exports_folder_only(app_run):
    from digitsum.data.course import load_dataset
    browser, work = app_run["browser"], app_run["work"]
    outside = tree(app_run["root"]) - tree(work / "exports")
    ok, out = browser.call("on_export", "labeled-1")
    assert ok, out
    assert "exported" in out["data"][0] and "labeled-1" in out["data"][0]
    assert len(load_dataset(work / "exports" / "labeled-1")) == app_run["service"].store.count()
    assert outside <= tree(app_run["root"])
    new = tree(app_run["root"]) - outside
    assert all(p.startswith(str(Path("a", "b", "work", "exports"))) for p in new)
    ok, out = browser.call("on_export", "labeled-1")         # the same name again: refused, kept
    assert not ok and "labeled-1 already exists" in out["error"] and "labeled-2" in out["error"]


def test_only_predict_json_is_an_api_endpoint(app_run, tmp_path):
    from gradio_client import handle_file
    client, browser = app_run["client"], app_run["browser"]
    api = client.view_api(return_format="dict", print_info=False)
    assert list(api["named_endpoints"]) == ["/predict_json"] and not api["unnamed_endpoints"]
    for name, index in browser.fn_index.items():
        if name == "predict_json":
            continue
        with pytest.raises(ValueError, match="Cannot find a function"):
            client.submit("probe", api_name=f"/{name}")
        with pytest.raises(ValueError, match="Invalid function index"):
            client.submit("probe", fn_index=index)
    assert not (app_run["work"] / "probe").exists()
    good = tmp_path / "good.png"
    good.write_bytes(drawing_png())
    result = client.predict(handle_file(str(good)), T, api_name="/predict_json")
    assert len(result["digits"]) == 4 and len(result["sum_probs"]) == 37


def test_an_unexpected_failure_is_a_short_message_and_a_traceback_in_the_console(app_run, tmp_path, capsys,
                                                                                 monkeypatch):
    """A failure the handler does not expect (a bug: an IndexError inside the service, on a gallery
    click) fails inside the handler: the page gets one line, the console the traceback."""
    browser = Browser(app_run["url"])
    config = browser.http.get("config").json()
    components = {c["id"]: c for c in config["components"]}
    tab = next(c["id"] for c in config["components"] if c["type"] == "tabitem" and c["props"].get("label") == "Errors")
    fire(browser, config["dependencies"], components, tab, "select")
    monkeypatch.setattr(app_run["service"], "detail", lambda *args: [][1])
    ok, out = browser.call("on_error_select", *[None if components[i]["type"] == "state" else T for i in next(
        d for d in config["dependencies"] if d["api_name"] == "on_error_select")["inputs"]],
        event_data={"index": 0, "value": None})
    assert not ok and out.get("error"), "Gradio's generic error (no message) reached the user"
    assert out["error"].startswith("something went wrong (IndexError)") and "\n" not in out["error"]
    assert "Traceback" in capsys.readouterr().err
    still_serving(app_run, tmp_path)


def test_an_upload_over_the_size_limit_is_refused_before_any_handler(app_run, tmp_path):
    import app
    from gradio.utils import _parse_file_size
    big = tmp_path / "big.png"
    big.write_bytes(png_header_only(100, 100) + bytes(_parse_file_size(app.MAX_UPLOAD) + 1))
    r = app_run["browser"].http.post("gradio_api/upload", files=[("files", (big.name, big.read_bytes()))])
    assert r.status_code == 413 and "maximum allowed size" in r.text
    still_serving(app_run, tmp_path)


@pytest.mark.parametrize("handler,kind", [("on_digit_cell", "digit"), ("on_sum_cell", "sum")])
def test_clicking_a_confusion_cell_opens_its_images(app_run, handler, kind):
    """The page sends the clicked cell as event data; the handler must receive it (a
    functools.partial once hid the gr.SelectData parameter, so clicks did nothing)."""
    service = app_run["service"]
    matrix = service.digit_confusion(T) if kind == "digit" else service.sum_confusion(T)
    off = np.argwhere(matrix * (1 - np.eye(*matrix.shape, dtype=matrix.dtype)) > 0)
    true, pred = (int(v) for v in (off[0] if len(off) else np.argwhere(matrix > 0)[0]))
    ok, out = app_run["browser"].call(handler, T, event_data={"index": [true, pred + 1], "value": int(matrix[true, pred])})
    assert ok, out
    gallery, _, _, _, count = out["data"]     # (the middle outputs are server-side state)
    assert len(gallery) == min(int(matrix[true, pred]), len(gallery)) and len(gallery) > 0
    assert f"**{int(matrix[true, pred])}** images with true {kind} {true} predicted as {pred}" in count


# ---------------------------------------------------------------- 1 MB of text to every entry that takes text
BIG = "a/" * 2**19        # 1 MB, one word: what a quadratic scan of a word takes longest on
QUICK_ANSWER = 2.0        # s: the most any of them may take
MESSAGE_LIMIT = 500       # characters a message may have, whatever was sent


def drawing_url() -> str:
    return "data:image/png;base64," + base64.b64encode(drawing_png()).decode()


# handler, inputs (FILE: a good drawing uploaded; BIG: 1 MB), shown_in (None: a gr.Error), words in the answer
LONG_TEXT = [
    ("api-checkpoint-name", "predict_json", [FILE, BIG], None, "unknown checkpoint"),
    ("compare-checkpoint-names", "on_compare", [[BIG], None, 0], None, "not in the list of choices"),
    ("compare-which", "on_compare_gallery", [[T], BIG], None, "not in the list of choices"),
    ("label-text", "on_label_submit", [BIG, None, None], 4, "type exactly four digits 0-9"),
    ("export-name", "on_export", [BIG], None, "is not a plain folder name"),
    ("draw-digits-box", "on_draw_save", ["<drawing>", BIG, T], 0, "type exactly four digits 0-9"),
    ("draw-pad-value", "on_draw", [BIG, T], None, "the drawing is not a PNG data URL"),
    ("draw-pad-bad-base64", "on_draw", ["data:image/png;base64," + BIG[:900_000], T], None,
     "the drawing could not be decoded"),
    ("draw-checkpoint", "on_draw", ["<drawing>", BIG], None, "not in the list of choices"),
    ("upload-checkpoint", "on_upload", [FILE, BIG], None, "not in the list of choices"),
    ("item-checkpoint", "on_item", [None, 0, BIG], None, "not in the list of choices"),
    ("errors-true-sum", "on_errors", [T, BIG, "any", "any", 0, 1, "loss"], None, "not in the list of choices"),
]


@pytest.fixture(scope="module")
def app_process(tmp_path_factory, course_set, tiny_checkpoint, make_course_set, free_port):
    """`python app.py` in its own process: a request that holds the interpreter (a regex holds the
    GIL) must freeze only that process, so that the test can time it and fail rather than hang."""
    tmp = tmp_path_factory.mktemp("hostile-process")
    port = free_port()
    proc, output = start_app(["--checkpoints", tiny_checkpoint, "--data", course_set,
                              "--label-data", make_course_set(8, seed=9), "--labels-db", tmp / "labels.db",
                              "--cache-dir", tmp / "cache", "--port", port], cwd=tmp, env={"HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}/"
    yield dict(url=url, browser=Browser(url, timeout=20), output=output, tmp=tmp)
    proc.kill()
    proc.wait(10)


@pytest.mark.slow   # the app in its own process
@pytest.mark.parametrize("case", LONG_TEXT, ids=[c[0] for c in LONG_TEXT])
def test_a_megabyte_of_text_gets_a_quick_short_answer(app_process, tmp_path, case):
    """Each entry that takes text, sent 1 MB of it: a one-line answer of at most MESSAGE_LIMIT
    characters within QUICK_ANSWER s, and the app keeps answering page loads and predictions."""
    import httpx
    _, handler, inputs, shown_in, words = case
    browser = app_process["browser"]
    browser.new_session()
    inputs = list(inputs)
    if handler == "on_label_submit":
        ok, out = browser.call("on_label_open", -1)
        assert ok, out
    if FILE in inputs:
        drawing = tmp_path / "drawing.png"
        drawing.write_bytes(drawing_png())
        inputs[inputs.index(FILE)] = browser.upload(drawing)
    if "<drawing>" in inputs:
        inputs[inputs.index("<drawing>")] = drawing_url()
    start = time.perf_counter()
    try:
        success, output = browser.call(handler, *inputs)
    except httpx.TimeoutException:
        pytest.fail(f"{handler}: no answer within {browser.http.timeout.read} s (the app is frozen)")
    took = time.perf_counter() - start
    if shown_in is None:
        assert not success, output
        message = output.get("error")
    else:
        assert success, output
        message = output["data"][shown_in]
    assert message and words in message, message[:300] if message else message
    assert "\n" not in message.strip() and len(message) <= MESSAGE_LIMIT, (len(message), message[:300])
    assert took < QUICK_ANSWER, f"{handler} took {took:.1f} s"
    start = time.perf_counter()
    assert browser.http.get("").status_code == 200          # the page still loads, at once
    good = tmp_path / "good.png"
    good.write_bytes(drawing_png())
    ok, out = browser.call("predict_json", browser.upload(good), T)
    assert ok and len(out["data"][0]["digits"]) == 4, out
    assert time.perf_counter() - start < QUICK_ANSWER


# ---------------------------------------------------------------- bounded work, memory and disk per request
def test_compare_takes_each_checkpoint_once(app_run):
    """A checkpoint named 100 times in one request is one prediction (it was 100: 14 s for 2 kB)."""
    browser = app_run["browser"]
    ok, out = browser.call("on_compare", [T] * 100, None, 0)
    assert ok, out
    _, readings, _ = out["data"]
    assert [row[0] for row in readings["data"]] == [T]
    ok, out = browser.call("on_scope", [T] * 100, "they disagree")
    assert ok, out
    ok, out = browser.call("on_metrics", [T] * 100)
    assert ok, out
    metrics = out["data"][0]
    assert [row[0] for row in metrics["data"]] == [T]


def test_every_event_has_a_concurrency_limit_and_the_queue_a_size(app_run):
    from digitsum.ui.common import DELETE_CACHE, QUEUE_SIZE
    demo = app_run["demo"]
    queue = demo._queue
    assert queue.max_size == QUEUE_SIZE and QUEUE_SIZE <= 64
    limits = {}
    for fn in demo.fns.values():
        limit = queue.default_concurrency_limit if fn.concurrency_limit == "default" else fn.concurrency_limit
        assert isinstance(limit, int) and 1 <= limit <= 8, (fn.name, limit)
        limits.setdefault(fn.concurrency_id, set()).add(limit)
    # at most: every event's limit once, image events counted by their pools (each image ~70 MB, README)
    assert sum(max(v) for v in limits.values()) <= 8 + 8 + 4 + len(demo.fns)
    assert demo.delete_cache == DELETE_CACHE


def test_no_event_pays_for_work_the_app_does_not_use(app_run, tmp_path, monkeypatch):
    """Gradio's queue rebuilt a pandas summary of its last 10,000 events after every event (2 ms of
    CPU per event after a few hundred, 8 ms after 10,000) for a /monitoring page, and sent each
    waiting event its queue position whenever another started (N waiting: N messages per event).
    Now: no summary and no /monitoring page; queue positions once a second."""
    from gradio.queueing import Queue
    from gradio_client import handle_file
    from digitsum.ui import STATUS_UPDATE_S
    built = []
    real = Queue._get_df
    monkeypatch.setattr(Queue, "_get_df", staticmethod(lambda records: built.append(len(records)) or real(records)))
    good = tmp_path / "good.png"
    good.write_bytes(drawing_png())
    for _ in range(3):
        assert len(app_run["client"].predict(handle_file(str(good)), T, api_name="/predict_json")["digits"]) == 4
    assert built == []
    queue = app_run["demo"]._queue
    assert not queue.live_updates and queue.update_intervals == STATUS_UPDATE_S
    http = app_run["browser"].http
    assert http.get("monitoring/summary").status_code == 403 and http.get("monitoring").status_code == 403


def test_a_request_body_over_the_limit_is_refused(app_run):
    from digitsum.ui.common import MAX_BODY
    http, browser = app_run["browser"].http, app_run["browser"]
    body = json.dumps({"data": ["x" * MAX_BODY, T], "fn_index": browser.fn_index["predict_json"],
                       "session_hash": "big"}).encode()
    r = http.post("gradio_api/queue/join", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "over 5,000,000 bytes" in r.text
    r = http.post("gradio_api/queue/join", content=iter([body[:1000], body[1000:]]),    # chunked: no length
                  headers={"content-type": "application/json"})
    assert r.status_code == 411
    assert http.get("").status_code == 200


def empty_files_in(folder: str) -> set[str]:
    return {e.path for e in os.scandir(folder) if e.is_file() and e.stat().st_size == 0}


def test_calls_leave_no_empty_temporary_files(app_run, tmp_path):
    """gr.File(type="filepath") made an empty file in Gradio's cache on every call (600 after a soak)."""
    from gradio.utils import get_upload_folder
    from gradio_client import handle_file
    browser, client = app_run["browser"], app_run["client"]
    good, items = tmp_path / "good.png", tmp_path / "items.npy"
    good.write_bytes(drawing_png())
    items.write_bytes(npy_bytes(ITEMS))
    before = empty_files_in(get_upload_folder())
    for _ in range(3):
        assert len(client.predict(handle_file(str(good)), T, api_name="/predict_json")["digits"]) == 4
        ok, out = browser.call("on_item", browser.upload(items), 1, T)
        assert ok, out
    assert empty_files_in(get_upload_folder()) == before


def test_uploads_are_deleted_on_gradios_schedule(app_run, tmp_path, free_port):
    """One anonymous request stored 135 MB for ever: now every upload is deleted once old enough
    (delete_cache; the app's own is every 10 min, older than 1 h; here every 1 s, older than 1 s)."""
    import app
    from digitsum.ui import build
    demo = build(app_run["service"], delete_cache=(1, 1))
    port = free_port()
    app.launch(demo, "127.0.0.1", port)
    try:
        stray = tmp_path / "stray.bin"
        stray.write_bytes(uuid.uuid4().bytes * 1000)          # bytes no other test uploads
        stored = Path(Browser(f"http://127.0.0.1:{port}/").upload(stray)["path"])
        assert stored.is_file()
        deadline = time.monotonic() + 10
        while stored.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not stored.exists()
    finally:
        demo.close()


# ---------------------------------------------------------------- two annotators, one labels database
def digits_for(total: int) -> str:
    """Four digits 0-9 that add up to `total`."""
    digits = []
    for _ in range(4):
        digits.append(min(9, total))
        total -= digits[-1]
    return "".join(map(str, digits))


def shown(output) -> int | None:
    """The queue item a Label-tab answer shows ("#12, known sum **7**. ..."), None when none."""
    found = re.search(r"#(\d+), known sum", output["data"][4])
    return int(found.group(1)) if found else None


def annotator(url):
    """A second page: a session of its own (its own queue place, claims and undo history)."""
    browser = Browser(url)
    ok, out = browser.call("on_label_open", -1)
    assert ok, out
    return browser, out


def label_shown(browser, service, index):
    ok, out = browser.call("on_label_submit", digits_for(int(service.label_set.sums[index])), None, None)
    assert ok, out
    return out


def test_two_annotators_are_never_given_the_same_item(app_run):
    """Each page is shown an item no other page is shown (16 of 50 saves relabelled the other's item)."""
    service = app_run["service"]
    (a, out_a), (b, out_b) = annotator(app_run["url"]), annotator(app_run["url"])
    now = {"a": shown(out_a), "b": shown(out_b)}
    saved = []
    for turn in range(12):
        who, browser = ("a", a) if turn % 2 == 0 else ("b", b)
        other = now["b" if who == "a" else "a"]
        assert now[who] is not None and now[who] != other, now
        out = label_shown(browser, service, now[who])
        assert f"saved #{now[who]} as" in out["data"][4], out["data"][4]
        saved.append(now[who])
        now[who] = shown(out)
    assert len(set(saved)) == len(saved)                   # nobody relabelled an item the other had labelled
    labeled = service.store.labeled_items(service.label_source)
    assert all(i in labeled for i in saved)


def test_a_save_for_an_item_another_annotator_holds_is_refused(app_run, monkeypatch):
    """A's hold on an item ran out and B was given it: A's save is refused in one line and A moves
    on; B's label is the one that counts."""
    import digitsum.storage.labeldb
    service = app_run["service"]
    monkeypatch.setattr(digitsum.storage.labeldb, "CLAIM_SECONDS", 0.5, raising=False)
    a, out_a = annotator(app_run["url"])
    item = shown(out_a)
    time.sleep(1.0)                                        # A's hold runs out
    b, out_b = annotator(app_run["url"])
    assert shown(out_b) == item                            # given to B, who holds it now
    before = service.item_label(item)
    out = label_shown(a, service, item)
    assert f"⚠️ #{item} is being labelled by another annotator now: not saved" in out["data"][4], out["data"][4]
    assert shown(out) not in (None, item)                  # A was moved on
    assert service.item_label(item) == before              # nothing written for it
    out = label_shown(b, service, item)
    assert f"saved #{item} as" in out["data"][4]


def test_undo_withdraws_only_ones_own_label(app_run):
    """A saves an item, another annotator labels it again (their own hold, or another app on the
    same database): A's undo says it undid nothing and their label stands (A's undo said "undid"
    and changed nothing, and the other's undo then brought back the label A withdrew)."""
    service = app_run["service"]
    a, out_a = annotator(app_run["url"])
    item = shown(out_a)
    out = label_shown(a, service, item)
    mine = service.item_label(item)
    assert f"saved #{item} as {mine}." in out["data"][4]
    theirs = mine[1:] + mine[0]                            # the same sum, another label
    if theirs == mine:                                     # 0000 or 9999: the sum has one label only
        pytest.skip("this item's sum has one label only")
    service.store.save(service.label_item(item), theirs, source=service.label_source, item=item)   # the other's
    ok, out = a.call("on_label_undo", None, None)
    assert ok, out
    assert f"⚠️ #{item}: that label was changed since by another annotator (or deleted): nothing undone" \
        in out["data"][4], out["data"][4]
    assert service.item_label(item) == theirs              # theirs stands
    ok, out = a.call("on_label_undo", None, None)          # the undo was used up: nothing more to undo
    assert ok and "nothing to undo" in out["data"][4] and service.item_label(item) == theirs


def test_undo_of_ones_own_label_still_works(app_run):
    service = app_run["service"]
    a, out_a = annotator(app_run["url"])
    item = shown(out_a)
    label_shown(a, service, item)
    assert service.item_label(item) is not None
    ok, out = a.call("on_label_undo", None, None)
    assert ok and f"undid #{item}." in out["data"][4] and shown(out) == item
    assert service.item_label(item) is None


# ---------------------------------------------------------------- a full disk under the labels database
class FullDisk(sqlite3.Connection):
    """What SQLite says when the disk is full: every write fails (reads still work)."""

    def execute(self, sql, *args):
        if sql.split()[0].upper() in ("INSERT", "DELETE", "UPDATE", "COMMIT"):
            raise sqlite3.OperationalError("database or disk is full")
        return super().execute(sql, *args)


def full_disk_for(store, monkeypatch):
    monkeypatch.setattr(store, "_connect", lambda: sqlite3.connect(store.path, timeout=10, factory=FullDisk))


def test_a_label_save_on_a_full_disk_says_so(app_run, monkeypatch, tmp_path):
    """Not "something went wrong": the status line says the disk is full and nothing was saved."""
    service = app_run["service"]
    a, out_a = annotator(app_run["url"])
    item = shown(out_a)
    before = service.store.count()
    full_disk_for(service.store, monkeypatch)
    out = label_shown(a, service, item)
    assert "⚠️ the disk holding the labels database labels.db is full: the label was not saved; free some space, " \
           "then try again" in out["data"][4], out["data"][4]
    assert shown(out) == item                              # still on the same image, to save again
    ok, out = a.call("on_draw_save", drawing_url(), "1234", T)
    assert ok and "the disk holding the labels database labels.db is full: the label was not saved" in out["data"][0], out
    monkeypatch.undo()
    assert service.store.count() == before
    out = label_shown(a, service, item)                    # space again: the same image saves
    assert f"saved #{item} as" in out["data"][4]


def kinds(service) -> tuple[int, int, int]:
    """(labels from the label queue, drawings, others) in the labels database, counted here."""
    sources = [source for _, source, _, _, _ in service.store.rows()]
    queue, drawings = sources.count(service.label_source), sources.count("drawing")
    return queue, drawings, len(sources) - queue - drawings


def what_it_holds(queue, drawings, other) -> str:
    total = queue + drawings + other
    return (f"{total} label{'s' * (total != 1)}: {queue} from the label queue, {drawings} "
            f"drawing{'s' * (drawings != 1)} from the Draw tab" + (f", {other} from other sets" if other else ""))


def test_an_export_that_filled_the_disk_is_reported_as_done(app_run, monkeypatch):
    """The export's files are written, then the disk is full: the export stands and is said so
    (it was "something went wrong": the message read the database again); only the download is missing."""
    import errno
    import zipfile
    import digitsum.storage.labeldb
    from digitsum.data.course import load_dataset
    service, work = app_run["service"], app_run["work"]
    write = digitsum.storage.labeldb.save_course_dataset

    def write_then_full(*args, **kwargs):
        written = write(*args, **kwargs)

        def no_space(*a, **k):     # the database's own files (-wal, -shm) cannot be made again
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def no_room():
            raise sqlite3.OperationalError("database or disk is full")
        monkeypatch.setattr(service.store, "_connect", no_room)
        monkeypatch.setattr(zipfile.ZipFile, "write", no_space)
        return written
    expected = kinds(service)
    monkeypatch.setattr(digitsum.storage.labeldb, "save_course_dataset", write_then_full)
    ok, out = app_run["browser"].call("on_export", "nearly-full")
    monkeypatch.undo()
    assert ok, out
    status, download = out["data"]
    assert status.startswith(f"exported {what_it_holds(*expected)} to exports/nearly-full: data0.npy"), status
    assert "No download: No space left on device" in status
    assert not download or not download.get("value")
    assert len(load_dataset(work / "exports" / "nearly-full")) == sum(expected)


# ---------------------------------------------------------------- Label tab: counts that say what they count, a download
def test_the_export_says_what_it_holds_and_can_be_downloaded(app_run, tmp_path):
    """An export counts the Draw tab's drawings too: the status line says how many of each, and
    the page offers the export as a zip of its files."""
    import zipfile
    service, browser = app_run["service"], app_run["browser"]
    ok, out = browser.call("on_draw_save", drawing_url(), "1234", T)      # a drawing, from the Draw tab
    assert ok and "saved as label" in out["data"][0], out
    queue, drawings, other = kinds(service)
    assert out["data"][0].endswith(f"; labels.db holds {what_it_holds(queue, drawings, other)}"), out["data"][0]
    assert drawings >= 1
    ok, out = browser.call("on_export", "with-drawings")
    assert ok, out
    status, download = out["data"]
    assert status.startswith(f"exported {what_it_holds(queue, drawings, other)} to exports/with-drawings"), status
    assert "Download it below" in status
    url = download["value"]["url"]
    r = browser.http.get(url)
    assert r.status_code == 200
    (tmp_path / "export.zip").write_bytes(r.content)
    with zipfile.ZipFile(tmp_path / "export.zip") as z:
        names = sorted(z.namelist())
        assert names == sorted(f"with-drawings/{f.name}" for f in (app_run["work"] / "exports" / "with-drawings").iterdir())
        assert z.read("with-drawings/data0.npy") == (app_run["work"] / "exports" / "with-drawings" / "data0.npy").read_bytes()
    ok, out = browser.call("on_label_open", -1)
    progress = out["data"][3]
    assert "images of the label queue labeled" in progress and what_it_holds(*kinds(service)) in progress


# ---------------------------------------------------------------- private handlers hold the page's rules
def curl(url: str, handler: str, data: list, session: str | None = None) -> tuple[bool, object]:
    """A handler called by name as plain curl does (POST /gradio_api/call/<name>, then its event
    stream): -> (success, the handler's outputs or the error message)."""
    import httpx
    with httpx.Client(base_url=url, timeout=60) as http:
        body = {"data": data, **({"session_hash": session} if session else {})}
        r = http.post(f"gradio_api/call/{handler}", json=body)
        r.raise_for_status()
        event, payload = None, None
        with http.stream("GET", f"gradio_api/call/{handler}/{r.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    payload = json.loads(line[5:]) if line[5:].strip() not in ("", "null") else None
                    return event == "complete", payload
    raise AssertionError(f"{handler}: no result")


def drawing_of(width: int, height: int) -> str:
    """A data URL of a drawing with ink in each quarter, `width` x `height` px."""
    im = np.full((height, width, 3), 255, np.uint8)
    for k in range(4):
        im[height // 4:3 * height // 4, k * width // 4 + width // 10:k * width // 4 + width // 7] = 0
    return data_url(png_bytes(im))


@pytest.mark.parametrize("width,height", [(100, 100), (1344, 320), (672, 161), (160, 672)])
def test_a_label_save_by_curl_holds_the_pads_rules(app_run, width, height):
    """/gradio_api/call/on_draw_save by name, as curl sends it, with a drawing the pad cannot make
    (the pad's is always 672x160): refused in one line, no label row (one was added that way)."""
    service = app_run["service"]
    before = service.store.count()
    ok, out = curl(app_run["url"], "on_draw_save", [drawing_of(width, height), "1234", T])
    assert ok, out
    assert out[0] == f"⚠️ a drawing to save is the pad's, 672x160 px (this one is {width}x{height})", out
    assert service.store.count() == before
    ok, out = curl(app_run["url"], "on_draw_save", [drawing_of(672, 160), "1234", T])   # the pad's own: saved
    assert ok and out[0].startswith("saved as label #"), out
    assert service.store.count() == before + 1


def clicker(browser, tab_label: str, element: str):
    """As the page does: open the tab `tab_label`, then -> send(index), a select event (a tile's or a
    table cell's click) on the component whose elem_id is `element`, with event data `index`."""
    config = browser.http.get("config").json()
    deps = config["dependencies"]
    components = {c["id"]: c for c in config["components"]}
    ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
    tab = next(c["id"] for c in config["components"] if c["type"] == "tabitem" and c["props"].get("label") == tab_label)
    fire(browser, deps, components, tab, "select")
    click = next(d for d in deps if [ids[element], "select"] in [list(t) for t in d["targets"]])

    def send(index):
        return browser.call(click["api_name"], *[None if components[i]["type"] == "state"
                                                 else components[i]["props"].get("value") for i in click["inputs"]],
                            event_data={"index": index, "value": None})
    return send


def fire(browser, deps, components, target: int, event: str) -> None:
    """What the page does on `event` of component `target`: each handler it triggers, then the
    ones chained after them (.then), with each input's value as the page starts (states are the
    session's own, server-side)."""
    def value(i):
        c = components[i]
        return None if c["type"] == "state" else c.get("props", {}).get("value")
    todo = [d for d in deps if [target, event] in [list(t) for t in d.get("targets", [])]]
    while todo:
        d = todo.pop(0)
        ok, out = browser.call(d["api_name"], *[value(i) for i in d["inputs"]])
        assert ok, (d["api_name"], out)
        todo += [n for n in deps if n.get("trigger_after") == d["id"]]


# what a click can send that the page never does: past the end, negative, not a number, the wrong shape
BAD_TILES = [10**6, -1, "0", True, 1.5, [0, 0], None]
BAD_CELLS = [[10**6, 1], [-1, 1], ["0", 1], [True, 1], [0, -1], [0], [0, 1, 2], 5, None]


@pytest.mark.parametrize("element,shape,what", [
    ("errors-gallery", None, "this page of the gallery"),
    ("digit-confusion", (10, 11), "the digit confusion matrix"),
    ("sum-confusion", (37, 38), "the sum confusion matrix"),
    ("slices-table", None, "the slice table"),
])
def test_a_click_the_page_cannot_send_gets_one_line(app_run, element, shape, what):
    """A click's event data (a tile, a table cell) is checked against what the page shows: a
    position it does not show is one line, never an IndexError ("something went wrong") or, for
    -1, another tile or row than the ones on the page."""
    send = clicker(Browser(app_run["url"]), "Errors", element)
    good = 0 if element == "errors-gallery" else [0, 1]
    ok, out = send(good)                                         # the first tile or row, as the page sends it
    assert ok, out
    bad = BAD_TILES if element == "errors-gallery" else BAD_CELLS + ([] if shape is None else [[shape[0], 1], [0, shape[1]]])
    for index in bad:
        ok, out = send(index)
        assert not ok, (index, out)
        message = out.get("error") or ""
        assert message.startswith(f"that click is not on {what} (it sent "), (index, message)
        assert "\n" not in message
    still_serving(app_run, Path(app_run["root"]))


@pytest.fixture(scope="module")
def two_checkpoint_app(tmp_path_factory, course_set, tiny_checkpoint, free_port):
    """The app with two checkpoints (copies of the tiny one), so that Compare's slice finder has rows."""
    import shutil
    import app
    from digitsum.app.service import DigitsumService
    from digitsum.ui import build
    root = tmp_path_factory.mktemp("two")
    for name in ("tiny-a", "tiny-b"):
        shutil.copytree(tiny_checkpoint, root / "ckpts" / name)
    service = DigitsumService([str(root / "ckpts")], data_dir=course_set, labels_db=root / "labels.db",
                              cache_dir=root / "cache", exports_dir=root / "exports")
    demo = build(service)
    port = free_port()
    app.launch(demo, "127.0.0.1", port)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_a_slice_finder_click_the_page_cannot_send_gets_one_line(two_checkpoint_app):
    send = clicker(Browser(two_checkpoint_app), "Compare", "slice-finder")
    ok, out = send([0, 0])
    assert ok and "where the checkpoints disagree" in out["data"][-1], out
    for index in BAD_CELLS:
        ok, out = send(index)
        assert not ok, (index, out)
        assert (out.get("error") or "").startswith("that click is not on the slice finder (it sent "), (index, out)
