"""The app in a real browser (Debian Chromium driven by Playwright), as a person uses it: draw four
digits with the mouse, open every tab, click a gallery image, label an image with the keyboard.
Screenshots of each tab go to a temporary folder (DIGITSUM_SCREENSHOTS sets another:
scripts/screenshots.sh refreshes docs/screenshots/, which the README shows)."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from drawings import STROKES

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# screenshots go to a temporary folder; `bash scripts/screenshots.sh` refreshes docs/screenshots
SHOTS = Path(os.environ.get("DIGITSUM_SCREENSHOTS") or tempfile.mkdtemp(prefix="digitsum-shots-"))

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("Chromium is missing: .ci/run installs it (apt-get install -y chromium)")
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, course_set):
    """`python app.py` on the shipped checkpoints, browsing a small course-format set."""
    tmp = tmp_path_factory.mktemp("browser")
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--checkpoints", str(ROOT / "checkpoints"),
                             "--data", str(course_set), "--labels-db", str(tmp / "labels.db"),
                             "--cache-dir", str(tmp / "cache"), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp)
    # drain the app's output in a thread: a deadline that holds even if the app prints nothing, and a
    # pipe that never fills up and blocks the app later
    output, ready = [], threading.Event()

    def pump():
        for line in proc.stdout:
            output.append(line)
            if "ready at" in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(120):
        proc.kill()
        pytest.fail("the app did not start within 120 s; its output:\n" + "".join(output[-40:]))
    yield f"http://127.0.0.1:{port}/", tmp / "labels.db"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        pg = browser.new_page(viewport={"width": 1280, "height": 1300})
        pg.goto(app_url[0], wait_until="domcontentloaded")
        pg.wait_for_selector("#sketch canvas", timeout=60000)
        yield pg
        browser.close()


def open_tab(page, name):
    page.get_by_role("tab", name=name).click()
    time.sleep(0.5)


def draw_digits(page, digits):
    page.locator("#sketch button[aria-label='Brush']").first.click()
    box = page.locator("#sketch canvas").first.bounding_box()
    width = box["width"] / 4
    for k, d in enumerate(digits):
        for stroke in STROKES[d]:
            points = [(box["x"] + (k + x) * width, box["y"] + y * box["height"]) for x, y in stroke]
            page.mouse.move(*points[0])
            page.mouse.down()
            for point in points[1:]:
                page.mouse.move(*point, steps=2)  # each pointer event costs ~0.1 s in software-rendered Chromium
            page.mouse.up()


def settled_text(locator, quiet=3.0, timeout=60.0):
    """The locator's text once it has stopped changing for `quiet` seconds: each stroke triggers a
    prediction ~1 s after mouse-up, so the first answer shown may be for a half-drawn canvas."""
    last, since, deadline = None, time.time(), time.time() + timeout
    while time.time() < deadline:
        text = locator.inner_text() if locator.count() else ""
        if text != last:
            last, since = text, time.time()
        elif text and time.time() - since >= quiet:
            return text
        time.sleep(0.25)
    return last


def test_draw_four_digits_and_see_the_predictions(page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    draw_digits(page, "7140")
    summary = page.locator(".prediction-summary").first
    summary.locator("h3").wait_for(timeout=30000)
    text = settled_text(summary)
    assert text.startswith("digits 7 1 4 0") and "sum 12" in text, text
    page.screenshot(path=str(SHOTS / "draw.png"), full_page=True)


def test_upload_tab_predicts_a_test_item(page):
    open_tab(page, "Upload")
    page.get_by_role("button", name="Predict item").click()
    page.locator(".prediction-summary h3").filter(visible=True).first.wait_for(timeout=30000)
    page.screenshot(path=str(SHOTS / "upload.png"), full_page=True)


def test_compare_tab_shows_metrics_and_disagreements(page):
    open_tab(page, "Compare")
    page.get_by_role("button", name="Run").click()
    page.get_by_text("sum accuracy").first.wait_for(timeout=60000)
    page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)


def test_errors_tab_gallery_click_opens_the_detail(page):
    open_tab(page, "Errors")
    page.get_by_text(re.compile(r"test images match")).wait_for(timeout=60000)
    # the naive-concat contrast model misreads most course-layout images, so its gallery is never empty
    page.locator("#errors-ckpt input").click()
    page.get_by_role("option", name="naive-concat").click()
    page.get_by_text(re.compile(r"\*?\*?[1-9]\d*\*?\*? of \d+ test images match")).wait_for(timeout=60000)
    thumbs = page.locator("#errors-gallery button.thumbnail-item, #errors-gallery .thumbnail-item")
    thumbs.first.wait_for(timeout=30000)
    thumbs.first.click()
    page.get_by_text(re.compile(r"true digits")).first.wait_for(timeout=30000)
    time.sleep(1.5)  # let the detail charts draw
    page.screenshot(path=str(SHOTS / "errors.png"), full_page=True)


def test_label_one_image_with_the_keyboard(page, app_url):
    import sqlite3
    open_tab(page, "Label")
    box = page.locator("#label-box textarea, #label-box input").first
    page.get_by_text(re.compile(r"#\d+, known sum")).wait_for(timeout=30000)
    box.click()
    box.press("Enter")                                        # accept the suggestion
    page.get_by_text(re.compile(r"saved #0 as \d{4}")).wait_for(timeout=30000)
    page.get_by_text(re.compile(r"1 / \d+")).first.wait_for(timeout=10000)
    page.screenshot(path=str(SHOTS / "label.png"), full_page=True)
    with sqlite3.connect(app_url[1]) as conn:
        assert conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 1
