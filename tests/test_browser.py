"""The app in a real browser (Debian Chromium driven by Playwright), as a person uses it, on a
1366x768 projector-sized window: draw digits with the mouse (the first stroke, Clear and again, a
set of all ten digits small, large and off-centre), one sum on screen and empty boxes left empty,
warnings folded on a projector, the model's input shown whole, upload a transparent PNG, open Compare
fresh and tick every checkpoint, click a disagreement tile, a slice-finder row, a digit and a sum
confusion cell, a slice and a gallery image (each result brought into view), label an image with the
keyboard; and on a second app started cold, Compare and Errors within seconds, and a pad that never
moves while the scoring line changes.
Screenshots of each tab go to a temporary folder (DIGITSUM_SCREENSHOTS sets another:
scripts/screenshots.sh refreshes docs/screenshots/, which the README shows)."""
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from appprocess import start_app
from drawings import STROKES

pytestmark = pytest.mark.slow   # a browser, and the app in its own process

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# screenshots go to a temporary folder; `bash scripts/screenshots.sh` refreshes docs/screenshots
SHOTS = Path(os.environ.get("DIGITSUM_SCREENSHOTS") or tempfile.mkdtemp(prefix="digitsum-shots-"))

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("Chromium is missing: .ci/run installs it (apt-get install -y chromium)")
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

@pytest.fixture(scope="module")
def app_url(tmp_path_factory, course_set, free_port):
    """`python app.py` on the shipped checkpoints, browsing a small course-format set."""
    tmp = tmp_path_factory.mktemp("browser")
    app = serve(tmp, course_set, free_port())
    try:
        url, _ = next(app)
        yield url, tmp / "labels.db", course_set
    finally:
        app.close()


def serve(tmp, data, port: int):
    """`python app.py` on the shipped checkpoints and `data` at `port`, its cache and labels in `tmp`:
    yields (its address, the time it said it was ready) once, then stops it."""
    proc, _ = start_app(["--checkpoints", ROOT / "checkpoints", "--data", data, "--labels-db", tmp / "labels.db",
                         "--cache-dir", tmp / "cache", "--port", port], cwd=tmp)
    try:
        yield f"http://127.0.0.1:{port}/", time.time()
    finally:   # also when a fixture built on it fails: the app never outlives the tests
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def chromium():
    """One Chromium for the module (Playwright's sync API runs one at a time)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(app_url, chromium):
    yield from browse(chromium, app_url[0])


def browse(chromium, url):
    """A 1366x768 page at `url`, once the drawing pad is there."""
    pg = chromium.new_page(viewport=PROJECTOR)
    pg.goto(url, wait_until="domcontentloaded")
    pg.wait_for_selector("#sketch canvas", timeout=60000)
    yield pg
    pg.close()


PROJECTOR = {"width": 1366, "height": 768}
DRAWN_SETS = [   # (digits, size in its box, horizontal shift in box widths): all ten digits, small, large, off-centre
    ("0123", 1.0, 0.0), ("4567", 1.0, 0.0), ("8901", 1.0, 0.0),
    ("2580", 0.6, 0.0), ("3691", 1.25, 0.0), ("7412", 0.9, 0.18), ("6039", 0.9, -0.18)]


def open_tab(page, name):
    page.get_by_role("tab", name=name).click()
    time.sleep(0.5)


def draw_digits(page, digits, size=1.0, shift=0.0, strokes=None):
    """Draw with the mouse: each digit's strokes in its box, scaled about the box centre by `size`
    and moved right by `shift` box widths (a large digit crosses its box's edges)."""
    box = page.locator("#sketch canvas").first.bounding_box()
    width = box["width"] / 4
    for k, d in enumerate(digits):
        for stroke in (strokes or STROKES[d]):
            points = [(box["x"] + (k + 0.5 + shift + (x - 0.5) * size) * width,
                       box["y"] + (0.5 + (y - 0.5) * size) * box["height"]) for x, y in stroke]
            page.mouse.move(*points[0])
            page.mouse.down()
            for point in points[1:]:
                page.mouse.move(*point, steps=3)  # each pointer event costs ~0.1 s in software-rendered Chromium
            page.mouse.up()


def summary_text(page) -> str:
    loc = page.locator(".prediction-summary").first
    return loc.inner_text() if loc.count() else ""


def settled_text(locator_text, quiet=2.0, timeout=60.0):
    """A text once it has stopped changing for `quiet` seconds (a prediction follows every stroke)."""
    last, since, deadline = None, time.time(), time.time() + timeout
    while time.time() < deadline:
        text = locator_text()
        if text != last:
            last, since = text, time.time()
        elif text and time.time() - since >= quiet:
            return text
        time.sleep(0.2)
    return last


def clear(page):
    page.locator(".drawpad-clear").click()
    page.get_by_text("Draw one digit in each box", exact=True).first.wait_for(timeout=30000)


def canvas_pixels(page):
    """The pad as the browser rendered it: (H, W) gray values 0-255."""
    import numpy as np
    data = page.evaluate("""() => { const c = document.querySelector('#sketch canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const g = new Array(c.width * c.height);
        for (let i = 0; i < g.length; i++) g[i] = Math.min(d[4 * i], d[4 * i + 1], d[4 * i + 2]);
        return [c.width, c.height, g]; }""")
    w, h, gray = data
    return np.array(gray, np.uint8).reshape(h, w)


def answered(page) -> bool:
    text = summary_text(page)   # a reading, or the boxes still empty (one stroke leaves three)
    return "Draw one digit" not in text and ("digits " in text or "empty: draw one digit" in text)


def test_the_first_stroke_predicts_within_a_second_or_so(page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert not answered(page)
    start = time.time()
    draw_digits(page, "1")                       # one stroke, the first after the page load
    drawn = time.time()
    while not answered(page) and time.time() - drawn < 30:
        time.sleep(0.05)
    latency = time.time() - drawn
    text = summary_text(page)
    print(f"first stroke: answered {latency:.2f} s after mouse-up ({drawn - start:.1f} s to draw): {text[:70]!r}")
    assert answered(page), text
    assert latency < 3.0       # 0.75 s here; generous for CI's software-rendered Chromium on 2 shared cores
    before = summary_text(page)
    draw_digits(page, "7", strokes=[[(1.3, 0.3), (1.7, 0.3)]])     # a second stroke, in box 2
    drawn = time.time()
    while summary_text(page) == before and time.time() - drawn < 30:
        time.sleep(0.05)
    print(f"next stroke: answered {time.time() - drawn:.2f} s after mouse-up")
    assert summary_text(page) != before


def test_the_pen_draws_mnist_like_strokes(page):
    """A digit drawn to fill its box has strokes ~0.1 of its height, as MNIST's digits do."""
    import numpy as np
    ink = canvas_pixels(page) < 100                # the "1" drawn above, in box 1
    rows = np.flatnonzero(ink.any(1))
    height = rows[-1] - rows[0] + 1
    middle = ink[(rows[0] + rows[-1]) // 2]
    width = np.count_nonzero(middle)
    print(f"stroke width {width} px, digit height {height} px: {width / height:.3f} of its height")
    assert 0.07 <= width / height <= 0.15


def test_clear_empties_the_pad_keeps_the_guides_and_drawing_again_reads(page):
    clear(page)
    pixels = canvas_pixels(page)
    assert not (pixels < 100).any()                          # no ink left
    assert ((pixels > 150) & (pixels < 245)).sum() > 1000    # the four light guide boxes are still there
    draw_digits(page, "7140")
    text = settled_text(lambda: summary_text(page))
    assert text.startswith("digits 7 1 4 0") and "sum 12" in text, text
    box = [page.locator(sel).first.bounding_box() for sel in ("#sketch canvas", ".digit-label", ".sum-label")]
    assert all(b["y"] + b["height"] <= PROJECTOR["height"] for b in box), box   # no scrolling on a projector
    page.screenshot(path=str(SHOTS / "draw.png"))


def card_values(page) -> list[str]:
    """The headline of each visible digit card and the sum card."""
    return [t.split("\n")[1].strip() if "\n" in t else "" for t in
            page.locator(".digit-label:visible, .sum-label:visible").all_inner_texts()]


def test_one_sum_on_screen_and_empty_boxes_stay_empty(page):
    """A drawn 5 alone: the three empty boxes are 'empty', no digits or sum are invented. Four
    digits: the line, the digit cards and the sum card show one reading and one sum."""
    clear(page)
    draw_digits(page, "5")
    text = settled_text(lambda: summary_text(page))
    assert text.startswith("Places 2, 3 and 4 are empty"), text
    assert card_values(page) == ["drawn", "empty", "empty", "empty", "—"]
    assert page.get_by_label("correct digits, to save (e.g. 3141)").input_value() == ""   # none to save either
    clear(page)
    draw_digits(page, "6969")
    text = settled_text(lambda: summary_text(page))
    digits = re.search(r"digits (\d) (\d) (\d) (\d)", text).groups()
    total = int(re.search(r"sum (\d+)", text).group(1))
    cards = card_values(page)
    print(f"6969: {text!r}, cards {cards}")
    assert cards == [*digits, str(total)] and total == sum(map(int, digits))


HASH = [[(0.4, 0.2), (0.35, 0.8)], [(0.6, 0.2), (0.55, 0.8)], [(0.25, 0.4), (0.75, 0.4)], [(0.25, 0.6), (0.75, 0.6)]]


def test_on_a_projector_warnings_fold_into_one_line_and_the_answer_stays_above_the_fold(page):
    """A '#' in each box: not four digits, uncertain digits, an uncertain sum. The warnings are one
    line that opens to their list; the pad, the line, the digits and the sum stay above the fold at
    1366x768. (Seven warnings once pushed the digits and the sum below it.)"""
    clear(page)
    for k in range(4):
        draw_digits(page, "1", strokes=[[(x + k, y) for x, y in stroke] for stroke in HASH])
    settled_text(lambda: summary_text(page))
    fold = page.locator(".prediction-summary details.warnings")
    fold.wait_for(timeout=30000)
    line = fold.locator("summary")
    count = int(re.search(r"(\d+) warnings?", line.inner_text()).group(1))
    print(f"'#' x 4: {summary_text(page)!r}")
    assert count >= 2 and line.bounding_box()["height"] < 30            # one line, however many
    assert not fold.locator("li").first.is_visible()                     # folded
    for sel in ("#sketch canvas", ".prediction-summary", ".digit-label", ".sum-label"):
        b = page.locator(sel).first.bounding_box()
        assert b["y"] + b["height"] <= PROJECTOR["height"], (sel, b)
    page.screenshot(path=str(SHOTS / "draw_warnings.png"))
    line.click()                                                         # opens to the list
    page.wait_for_function("() => document.querySelector('.prediction-summary details').open")
    assert fold.locator("li").count() == count and fold.locator("li").first.is_visible()
    line.click()


def test_a_set_of_drawn_digits_small_large_and_off_centre(page):
    """All ten digits drawn with the mouse, at three sizes and off-centre; the accuracy is printed
    (the README reports it) and must stay above a floor."""
    right = total = 0
    report = []
    for digits, size, shift in DRAWN_SETS:
        clear(page)
        draw_digits(page, digits, size, shift)
        text = settled_text(lambda: summary_text(page))
        match = re.search(r"digits (\d) (\d) (\d) (\d)", text)
        read = "".join(match.groups()) if match else "????"
        hits = sum(a == b for a, b in zip(read, digits))
        right, total = right + hits, total + 4
        report.append(f"{digits} size {size} shift {shift:+.2f}: read {read} ({hits}/4)")
    print("\n".join(report) + f"\ndrawn digits read right: {right}/{total} = {right / total:.0%}")
    (SHOTS / "drawn_digits.txt").write_text("\n".join(report) + f"\n{right}/{total}\n")
    assert right / total >= 0.75, report


# the picture in the frame `sel` as drawn (object-fit: scaled to fit, centred), and the frame's label
# and buttons that lie over it
PICTURE = """(sel) => { const root = document.querySelector(sel); const img = root.querySelector('img');
      const r = img.getBoundingClientRect(), b = root.getBoundingClientRect(), fit = getComputedStyle(img).objectFit;
      const k = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight, fit === 'scale-down' ? 1 : Infinity);
      const w = img.naturalWidth * k, h = img.naturalHeight * k;
      const pic = {left: r.left + (r.width - w) / 2, right: r.left + (r.width + w) / 2,
                   top: r.top + (r.height - h) / 2, bottom: r.top + (r.height + h) / 2};
      const over = [...root.querySelectorAll('label, button, [data-testid="block-label"]')]
        .filter(e => !e.contains(img) && e.offsetParent !== null).map(e => e.getBoundingClientRect())
        .filter(c => c.width > 0 && c.bottom > pic.top + 0.5 && c.top < pic.bottom - 0.5 && c.right > pic.left + 0.5 && c.left < pic.right - 0.5);
      return {fit, scale: k, inside: pic.left >= b.left && pic.right <= b.right && pic.top >= b.top && pic.bottom <= b.bottom,
              covered: over.length, pic, block: b.toJSON()}; }"""


def test_the_model_input_is_shown_whole_and_nothing_covers_it(page):
    """The picture of the model's input, the red ticks and their digits included, lies whole inside
    its frame, at its own size, below the frame's label and buttons (they covered its top: issue 19,
    item 8)."""
    page.locator(".model-input img").first.wait_for(timeout=30000)
    seen = page.evaluate(PICTURE, ".model-input")
    print(f"the model's input: {seen}")
    assert seen["fit"] in ("contain", "scale-down") and seen["scale"] == 1, seen
    assert seen["inside"] and seen["covered"] == 0, seen


def test_upload_a_transparent_png_reads_right(page, app_url, tmp_path):
    """Black ink on a transparent background (as many drawing apps save it) reads as drawn."""
    import numpy as np
    from PIL import Image
    from digitsum.data.course import load_dataset
    data = load_dataset(app_url[2])
    k = 0
    ink = data.images[k]
    rgba = np.zeros(ink.shape + (4,), np.uint8)
    rgba[..., 3] = ink                                   # black, opaque where the ink is
    Image.fromarray(rgba, "RGBA").resize((672, 160)).save(tmp_path / "transparent.png")
    open_tab(page, "Upload")
    page.locator("#upload-image input[type=file]").set_input_files(str(tmp_path / "transparent.png"))
    want = " ".join(map(str, data.digits[k]))
    page.wait_for_function("(w) => [...document.querySelectorAll('.prediction-summary')].some("
                           "e => e.offsetParent && e.innerText.includes(w))", arg=f"digits {want}", timeout=60000)
    page.screenshot(path=str(SHOTS / "upload.png"), full_page=True)


def test_compare_is_filled_on_first_opening(page):
    open_tab(page, "Compare")
    for element, expected in [("#compare-readings", "digitsum-reader"), ("#slice-finder", "digit height"),
                              ("#compare-count", "test images: they disagree")]:
        page.wait_for_function("([sel, text]) => document.querySelector(sel).innerText.includes(text)",
                               arg=[element, expected], timeout=90000)
    assert page.locator("#compare-inputs .thumbnail-item").count() == 2   # each checkpoint's input, marked
    page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)


def shot_with_tiles(page, gallery, name):
    """A full-page screenshot once the gallery's first tiles have drawn (they load as they come into
    view; a screenshot without them shows grey boxes). Only the picture waits: never a failure."""
    page.locator(gallery).scroll_into_view_if_needed()
    try:
        page.wait_for_function("(sel) => { const imgs = [...document.querySelectorAll(sel + ' img')].slice(0, 6);"
                               " return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }",
                               arg=gallery, timeout=15000)
    except Exception:   # noqa: BLE001 - the screenshot is taken anyway
        pass
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / name), full_page=True)


CODE_NAMES = ("smallest_gap", "left_margin", "digit_height", "blobs", "true_sum")


def test_compare_shows_every_ticked_checkpoint_everywhere_and_a_tile_opens_its_reading(page):
    """Tick every checkpoint: each is in the reading, the inputs, the metrics, the per-sum plot and
    its legend, the slice finder, the gallery's choices and captions; slices have human names; a
    disagreement tile opens each checkpoint's reading of its image, in view."""
    open_tab(page, "Compare")
    names = [n.strip() for n in page.locator("#compare-chosen label").all_inner_texts()]
    assert len(names) >= 3, names
    for name in names:
        page.get_by_role("checkbox", name=name, exact=True).check()
    last = names[-1]
    for element in ("#compare-readings", "#compare-metrics", "#slice-finder", "#compare-per-sum-legend",
                    "#compare-count"):
        page.wait_for_function("([sel, text]) => document.querySelector(sel).innerText.includes(text)",
                               arg=[element, last], timeout=90000)
    time.sleep(1.5)   # the plot draws
    for element in ("#compare-readings", "#compare-metrics", "#slice-finder", "#compare-per-sum-legend",
                    "#compare-count"):
        text = page.locator(element).inner_text()
        assert all(n in text for n in names), (element, names, text[:300])
    assert page.locator("#compare-inputs .thumbnail-item").count() == len(names)
    drawn = page.evaluate("""() => [...document.querySelectorAll('#compare-per-sum path')]
        .filter(p => (p.getAttribute('aria-roledescription') || '').includes('line')
                     && (p.getAttribute('d') || '').length > 40).length""")
    assert drawn >= len(names), f"{drawn} lines drawn for {len(names)} checkpoints"
    radios = page.evaluate("() => [...document.querySelectorAll('input[type=radio]')].map(e => e.value)")
    assert all(f"only {n} is right" in radios for n in names)
    tables = page.locator("#slice-finder").inner_text() + page.locator("#compare-count").inner_text()
    assert not any(code in tables for code in CODE_NAMES), tables[:400]
    shot_with_tiles(page, "#compare-gallery", "compare_all.png")
    tile = page.locator("#compare-gallery .thumbnail-item").nth(1)
    tile.scroll_into_view_if_needed()
    tile.click()
    page.wait_for_function("() => /test image #\\d+/.test(document.querySelector('#compare-input-line').innerText)"
                           " && !document.querySelector('#compare-input-line').innerText.includes('#0:')",
                           timeout=30000)
    assert_in_view(page, "#compare-input-line", "#compare-readings")
    shown = int(re.search(r"#(\d+)", page.locator("#compare-input-line").inner_text()).group(1))
    assert all(n in page.locator("#compare-readings").inner_text() for n in names)
    assert shown == int(page.locator("#compare-index input").input_value())


def test_a_slice_finder_row_opens_its_images_in_view(page):
    """A slice-finder row opens that slice's images the checkpoints disagree on, and brings them into
    view: the gallery sits below the finder (a click's result elsewhere, issue 19 item 5)."""
    open_tab(page, "Compare")
    row = page.locator('#slice-finder [data-testid="cell-0-1"]')
    row.wait_for(timeout=90000)
    page.evaluate("window.scrollTo(0, 0)")
    row.click()
    page.locator("#compare-count").get_by_text("images in the slice").wait_for(timeout=30000)
    slice_line = page.locator("#compare-count").inner_text()
    assert not any(code in slice_line for code in CODE_NAMES), slice_line
    assert_in_view(page, "#compare-count", "#compare-gallery")


def choose_errors_checkpoint(page, name):
    open_tab(page, "Errors")
    page.locator("#errors-count").get_by_text(re.compile(r"test images")).wait_for(timeout=90000)
    page.locator("#errors-ckpt input").click()
    page.get_by_role("option", name=name).click()
    # the naive-concat contrast model misreads most course-layout images, so its gallery is never empty
    page.locator("#errors-count").get_by_text(re.compile(r"[1-9]\d* of \d+ test images")).wait_for(timeout=90000)


def test_errors_tab_gallery_click_opens_the_detail(page):
    choose_errors_checkpoint(page, "naive-concat")
    thumbs = page.locator("#errors-gallery .thumbnail-item")
    thumbs.first.wait_for(timeout=30000)
    thumbs.first.click()
    page.get_by_text(re.compile(r"true digits")).locator("visible=true").first.wait_for(timeout=30000)
    time.sleep(1.5)  # let the detail charts draw
    seen = page.evaluate(PICTURE, "#errors-detail")   # the detail's picture: whole, its label not over it
    assert seen["inside"] and seen["covered"] == 0, seen
    page.screenshot(path=str(SHOTS / "errors.png"), full_page=True)


def misread_cell(page, matrix: str, n: int):
    """The first off-diagonal cell with a count in confusion matrix `#matrix` (n classes; its
    column 0 is the row's true class): [row, column, count], or None. Waits for it to render."""
    return page.wait_for_function("""([matrix, n]) => { for (let r = 0; r < n; r++) for (let c = 1; c <= n; c++) {
          const el = document.querySelector(`#${matrix} [data-testid="cell-${r}-${c}"]`);
          const v = el ? parseFloat(el.innerText) : 0;
          if (c - 1 !== r && v > 0) return [r, c, v]; } return null; }""", arg=[matrix, n], timeout=30000).json_value()


def test_clicking_a_confusion_cell_and_a_slice_opens_their_images(page):
    choose_errors_checkpoint(page, "naive-concat")
    # an off-diagonal cell with images in it: rows are true digits, column 0 is "true"
    # (the matrices follow the gallery: wait for naive-concat's)
    cell = misread_cell(page, "digit-confusion", 10)
    assert cell, "naive-concat should misread some digit"
    row, col, count = cell
    page.locator(f'#digit-confusion [data-testid="cell-{row}-{col}"]').click()
    page.locator("#errors-count").get_by_text(f"images with true digit {row} predicted as {col - 1}").wait_for(
        timeout=30000)
    # a cell counts misread digits; the gallery shows the images holding them (one may hold two)
    images = int(re.search(r"(\d+)", page.locator("#errors-count").inner_text()).group(1))
    assert 0 < images <= count
    assert page.locator("#errors-gallery .thumbnail-item").count() == min(images, 24)
    assert_in_view(page, "#errors-count", "#errors-gallery")    # the gallery the click changed, in view
    page.locator('#slices-table [data-testid="cell-0-1"]').scroll_into_view_if_needed()
    assert page.evaluate("document.querySelector('#errors-gallery').getBoundingClientRect().bottom") < 0
    slices = page.locator("#slices-table").inner_text()
    assert "digits touching" in slices and not any(code in slices for code in CODE_NAMES), slices[:300]
    page.locator('#slices-table [data-testid="cell-0-1"]').click()   # the first slice's row, far below
    page.locator("#errors-count").get_by_text("images in the slice").wait_for(timeout=30000)
    assert page.locator("#errors-gallery .thumbnail-item").count() > 0
    assert_in_view(page, "#errors-count", "#errors-gallery")
    page.locator("#errors-gallery .thumbnail-item").first.click()    # a tile: its detail, below, in view
    page.get_by_text(re.compile(r"true digits")).locator("visible=true").first.wait_for(timeout=30000)
    assert_in_view(page, "#errors-detail")


def test_a_sum_confusion_cell_opens_its_images_in_view(page):
    """The sum matrix's cells open their images too, brought into view like the digit matrix's."""
    open_tab(page, "Errors")
    if page.locator("#errors-ckpt input").input_value() != "naive-concat":   # as the test before left it
        choose_errors_checkpoint(page, "naive-concat")
    cell = misread_cell(page, "sum-confusion", 37)
    assert cell, "naive-concat should misread some sum"
    row, col, count = cell
    page.locator(f'#sum-confusion [data-testid="cell-{row}-{col}"]').click()
    page.locator("#errors-count").get_by_text(f"images with true sum {row} predicted as {col - 1}").wait_for(
        timeout=30000)
    assert int(re.search(r"(\d+)", page.locator("#errors-count").inner_text()).group(1)) == count
    assert_in_view(page, "#errors-count", "#errors-gallery")


def assert_in_view(page, *selectors, timeout=10.0):
    """Each element's top within the 1366x768 window once a click's scrolling has settled."""
    script = """(sels) => sels.every(s => { const r = document.querySelector(s).getBoundingClientRect();
                                             return r.top >= -1 && r.top < window.innerHeight - 100; })"""
    try:
        page.wait_for_function(script, arg=list(selectors), timeout=timeout * 1000)
    except Exception:
        tops = page.evaluate("(sels) => sels.map(s => document.querySelector(s).getBoundingClientRect().top)",
                             list(selectors))
        raise AssertionError(f"not in view after a click: {dict(zip(selectors, tops))}") from None


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


def test_label_skip_and_undo_are_single_keys_and_an_export_downloads(page, app_url, tmp_path):
    """`s` skips and `u` undoes at once, without Enter, and neither letter lands in the box; the
    export says what it holds (the Draw tab's drawings included) and downloads as a zip."""
    import zipfile
    open_tab(page, "Label")
    status = page.locator("#label-status")
    page.get_by_text(re.compile(r"#\d+, known sum")).first.wait_for(timeout=30000)
    index = int(re.search(r"#(\d+), known sum", status.inner_text()).group(1))
    box = page.locator("#label-box textarea, #label-box input").first
    box.click()
    page.keyboard.press("s")
    page.get_by_text(f"skipped #{index}.").wait_for(timeout=30000)
    assert box.input_value() == ""
    page.keyboard.press("u")
    page.get_by_text(f"undid #{index}.").wait_for(timeout=30000)
    assert box.input_value() == ""
    assert re.search(rf"#{index}, known sum", status.inner_text())       # back on the skipped image
    page.locator("#label-progress").get_by_text("images of the label queue labeled").wait_for(timeout=10000)
    page.get_by_role("button", name="Export to course format").click()
    page.get_by_text(re.compile(r"exported \d+ labels?: \d+ from the label queue, \d+ drawings? from the Draw tab"))\
        .first.wait_for(timeout=30000)
    link = page.locator("#label-download a").first
    link.wait_for(timeout=30000)
    with page.expect_download(timeout=30000) as download:
        link.click()
    saved = tmp_path / "export.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as z:
        assert {Path(n).name for n in z.namelist()} == {"data0.npy", "lab0.npy", "digits0.npy"}


# ------------------------------------------------------------------ a fresh start
# A second app, started cold (no scores cached) on a 1,500-image set, so that its test-set scoring
# runs (and its status line changes) for a minute or so while the page is used.
FRESH_IMAGES = 1500


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, make_course_set, chromium, free_port):
    data = make_course_set(FRESH_IMAGES, seed=11)
    app = serve(tmp_path_factory.mktemp("fresh"), data, free_port())
    try:
        url, ready_at = next(app)
        for pg in browse(chromium, url):
            yield pg, ready_at
    finally:
        app.close()


def test_a_fresh_start_shows_compare_and_errors_within_seconds_and_says_how_far_scoring_is(fresh):
    """Cold: Compare shows its side-by-side reading at once, and its metrics on the first slice of
    the test set within seconds, saying which slice; so does Errors."""
    page, ready_at = fresh
    open_tab(page, "Compare")
    start = time.time()
    page.wait_for_function("() => document.querySelector('#compare-readings').innerText.includes('digitsum-reader')",
                           timeout=30000)
    reading = time.time() - start
    page.wait_for_function("() => document.querySelector('#compare-metrics').innerText.includes('digitsum-small')",
                           timeout=60000)
    metrics = time.time() - start
    coverage = page.locator("#compare-coverage").inner_text()
    print(f"Compare, cold, opened {start - ready_at:.1f} s after the app was ready: the reading in {reading:.1f} s, "
          f"the metrics in {metrics:.1f} s: {coverage!r}")
    # the goal is 10 s; measured 0.1-8 s (reading) and 0.9-15 s (metrics) on 2 cores shared with a
    # training run and other tests: the bounds leave room for that
    assert reading < 15 and metrics < 30
    assert re.search(rf"(first 300 of {FRESH_IMAGES:,}|all {FRESH_IMAGES:,}) test images", coverage), coverage
    assert "scoring the test set" in page.locator("#scoring-status").inner_text() or "all" in coverage
    open_tab(page, "Errors")
    start = time.time()
    page.locator("#errors-count").get_by_text(re.compile(r"test images")).wait_for(timeout=30000)
    print(f"Errors: {time.time() - start:.1f} s: {page.locator('#errors-count').inner_text()!r}")
    assert time.time() - start < 10
    assert re.search(rf"(first 300 of {FRESH_IMAGES:,}|all {FRESH_IMAGES:,}) test images",
                     page.locator("#errors-coverage").inner_text())


def test_a_fresh_start_draws_without_the_pad_moving_as_the_status_line_changes(fresh):
    """The scoring line above the tabs comes ~1 s after the page loads, changes every second and
    goes when scoring ends: none of it may move the pad (it moved 22.7 px, and strokes drawn across
    it landed 16 px off). The strokes drawn across its changes land where the mouse went."""
    page, _ = fresh
    page.reload(wait_until="domcontentloaded")    # the line starts empty, and comes with the first tick
    page.wait_for_selector("#sketch canvas", timeout=60000)
    page.evaluate("""() => { window.__status = []; const pad = document.querySelector('#sketch canvas');
        new MutationObserver(() => window.__status.push(pad.getBoundingClientRect().top)).observe(
            document.querySelector('#scoring-status'), {subtree: true, childList: true, characterData: true}); }""")
    box = page.locator("#sketch canvas").first.bounding_box()
    mouse = []
    for k, d in enumerate("4781"):   # ~10 s of strokes under a line that changes each second
        for stroke in STROKES[d]:
            points = [(box["x"] + (k + x) * box["width"] / 4, box["y"] + y * box["height"]) for x, y in stroke]
            page.mouse.move(*points[0])
            page.mouse.down()
            for point in points[1:]:
                page.mouse.move(*point, steps=3)
            page.mouse.up()
            mouse += points
    tops = page.evaluate("window.__status")
    print(f"the status line changed {len(tops)} times while drawing; the pad's top: {sorted(set(tops))}")
    assert tops, "the status line never changed while drawing: nothing was tested"
    assert all(abs(t - box["y"]) < 0.5 for t in tops), (box["y"], tops)
    assert abs(page.locator("#sketch canvas").first.bounding_box()["y"] - box["y"]) < 0.5
    ink = canvas_pixels(page) < 100
    h, w = ink.shape
    missed = [(x, y) for x, y in mouse
              if not ink[max(0, round((y - box["y"]) * h / box["height"]) - 2):round((y - box["y"]) * h / box["height"]) + 3,
                         max(0, round((x - box["x"]) * w / box["width"]) - 2):round((x - box["x"]) * w / box["width"]) + 3].any()]
    assert not missed, f"{len(missed)} of {len(mouse)} mouse points have no ink under them: {missed[:5]}"
    text = settled_text(lambda: summary_text(page))
    assert text.startswith("digits 4 7 8 1"), text
