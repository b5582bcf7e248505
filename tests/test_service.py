"""The library functions behind each tab of the app, called directly."""
import numpy as np
import pytest
from PIL import Image

from digitsum.errors import BlankImageError, DataError, DigitsumError
from digitsum.storage.labeldb import LabelStore
from digitsum.reading.predict import predict_image
from digitsum.data.course import load_dataset
from digitsum.app.service import DigitsumService
from digitsum.ui.drawpad import drawing_to_gray


def test_draw_tab_predicts_a_sketchpad_value_and_flags_empty_places(service, course_set):
    image = load_dataset(course_set).images[0]
    drawing = np.full((160, 672, 3), 255, np.uint8)            # black ink on white, four times larger
    big = np.asarray(Image.fromarray(255 - image).resize((672, 160)))
    drawing[..., :] = big[..., None]
    drawing[:, 504:] = 255                                      # wipe the fourth place
    gray = drawing_to_gray({"composite": drawing, "layers": [], "background": None})
    pred = service.predict(gray, "tiny", check_places=True)
    assert pred.digit_probs.shape == (4, 10) and pred.sum_probs.shape == (37,)
    assert np.isclose(pred.sum_probs.sum(), 1, atol=1e-4)
    alone = predict_image(service.model("tiny"), gray, check_places=True)   # the library's own path
    assert np.allclose(pred.sum_probs, alone.sum_probs, atol=1e-6) and pred.warnings == alone.warnings
    assert pred.canvas.shape == (40, 168)
    assert any("place 4 looks empty" in w for w in pred.warnings)
    data = pred.to_json("tiny")
    assert len(data["digits"]) == 4 and len(data["digit_probs"]) == 4 and len(data["sum_probs"]) == 37


def test_blank_canvas_and_guides_only_are_reported_not_predicted(service):
    with pytest.raises(BlankImageError):
        drawing_to_gray({"composite": None, "layers": [], "background": None})
    guides = np.full((160, 672, 3), 255, np.uint8)
    guides[10:12, :] = 215                                      # light guide lines are paper
    with pytest.raises(BlankImageError):
        service.predict(drawing_to_gray({"composite": guides}), "tiny")


def test_unknown_checkpoint_is_a_clear_error(service):
    with pytest.raises(DigitsumError, match="unknown checkpoint"):
        service.model("nope")
    with pytest.raises(DataError, match="no such checkpoint folder"):
        DigitsumService(["/definitely/not/here"])


def test_compare_and_errors_tabs(service, tmp_path, tiny_checkpoint):
    import shutil
    shutil.copytree(tiny_checkpoint, tiny_checkpoint.parent / "tiny_copy", dirs_exist_ok=True)
    svc = DigitsumService([str(tiny_checkpoint.parent)], data_dir=service.dataset.source,
                          labels_db=tmp_path / "l2.db", cache_dir=tmp_path / "cache")
    assert set(svc.names) >= {"tiny", "tiny_copy"}
    rows = svc.metrics_rows(["tiny", "tiny_copy"])
    assert rows[0]["sum accuracy"] == rows[1]["sum accuracy"]   # same weights, same scores
    found = svc.disagreements(["tiny", "tiny_copy"])
    assert len(found["disagree"]) == 0 and all(len(v) == 0 for v in found["only_right"].values())
    errors = svc.errors("tiny")
    wrong = svc.scored("tiny").pred_sum != svc.dataset.sums
    assert sorted(errors.tolist()) == np.nonzero(wrong)[0].tolist()
    losses = svc.scored("tiny").loss(svc.dataset.sums)[errors]
    assert np.all(np.diff(losses) <= 1e-9)                       # likely label errors first
    for s in set(svc.dataset.sums[errors].tolist()):
        assert (svc.dataset.sums[svc.errors("tiny", true_sum=s)] == s).all()
    place = svc.errors("tiny", wrong_place=2)
    assert (svc.scored("tiny").pred_digits[place, 1] != svc.dataset.digits[place, 1]).all()
    cm = svc.digit_confusion("tiny")
    assert cm.shape == (10, 10) and cm.sum() == 4 * len(svc.dataset)
    scm = svc.sum_confusion("tiny")
    t, p = int(svc.dataset.sums[0]), int(svc.scored("tiny").pred_sum[0])
    assert 0 in svc.confusion_examples("tiny", "sum", t, p) and scm[t, p] >= 1
    detail = svc.detail("tiny", 0)
    assert detail["digit_probs"].shape == (4, 10) and detail["true_digits"] == svc.dataset.digits[0].tolist()
    # scores are cached on disk: a new service reads them back without the model running again
    again = DigitsumService([str(tiny_checkpoint.parent)], data_dir=service.dataset.source,
                            labels_db=tmp_path / "l2.db", cache_dir=tmp_path / "cache")
    assert np.allclose(again.scored("tiny").sum_probs, svc.scored("tiny").sum_probs)


def labels_for(total: int) -> tuple[str, str]:
    """Two different four-digit labels that add up to `total` (1-35): greedy from the left, and its
    reverse or a shifted version."""
    digits = []
    for _ in range(4):
        digits.append(min(9, total - sum(digits)))
    first = "".join(map(str, digits))
    other = first[::-1] if first[::-1] != first else first[1:] + first[0]
    return first, other


def test_label_queue_is_its_own_pool_not_the_test_set(service, tmp_path, course_set, tiny_checkpoint):
    # labels fed back into training must not be test images
    assert service.label_source != service.dataset_name and not service.label_warning
    assert service.label_set.digits is None                     # sums only: the labeler adds the digits
    test_images = {im.tobytes() for im in service.dataset.images}
    assert not any(im.tobytes() in test_images for im in service.label_set.images[:200])
    same = DigitsumService([str(tiny_checkpoint.parent)], data_dir=course_set, labels_db=tmp_path / "l2.db",
                           cache_dir=tmp_path / "cache", label_data=course_set)
    assert "must not be used for training" in same.label_warning


def test_label_queue_save_skip_undo_export(service, tmp_path):
    first = service.next_unlabeled()
    assert first == 0
    hint = service.suggestion(first)
    assert sum(hint) == service.label_set.sums[first]
    row = service.save_item_label(first, "".join(map(str, hint)))
    assert service.label_progress() == (1, len(service.label_set)) and service.next_unlabeled() == 1
    with pytest.raises(DigitsumError, match="adds up to"):
        service.save_item_label(1, "0000" if service.label_set.sums[1] else "0001")
    with pytest.raises(DigitsumError, match="four digits"):
        service.save_item_label(1, "12a4")
    assert service.label_progress()[0] == 1                     # bad input lost nothing
    service.undo_label(row)
    assert service.label_progress()[0] == 0
    service.save_item_label(0, labels_for(int(service.label_set.sums[0]))[0])
    service.save_drawing(np.zeros((40, 168), np.float32) + 0.5, "1 2 3 4")
    files = service.export_labels("export")                   # a name: the folder is in exports_dir
    exported = load_dataset(tmp_path / "exports" / "export")
    assert len(files) == 3 and len(exported) == 2 and exported.digits[1].tolist() == [1, 2, 3, 4]
    assert all(f.parent == tmp_path / "exports" / "export" for f in files)


def test_labels_survive_a_crash_and_reject_bad_digits(tmp_path):
    store = LabelStore(tmp_path / "l.db")
    store.save(np.zeros((40, 168), np.uint8), [1, 2, 3, 4])
    with pytest.raises(DataError):
        store.save(np.zeros((40, 168), np.uint8), [1, 2, 3])
    reopened = LabelStore(tmp_path / "l.db")                    # a new process sees the committed row
    assert reopened.count() == 1 and reopened.rows()[0][3] == "1234"
    (tmp_path / "bad.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataError, match="not a usable labels database"):
        LabelStore(tmp_path / "bad.db")


def test_a_prediction_never_waits_behind_scoring(service, course_set, monkeypatch):
    # the app scores every checkpoint's test set in the background at start; a prediction made
    # meanwhile must answer at once (it once waited 153 s behind one lock)
    import threading
    import time
    from digitsum.evaluation import analysis
    started, release = threading.Event(), threading.Event()
    real = analysis.score_dataset

    def slow_scoring(*args, **kwargs):
        started.set()
        release.wait(30)
        return real(*args, **kwargs)
    monkeypatch.setattr(analysis, "score_dataset", slow_scoring)
    thread = service.warm_up()
    assert started.wait(30)
    image = load_dataset(course_set).images[0]
    t = time.perf_counter()
    service.predict(image, "tiny")
    waited = time.perf_counter() - t
    release.set()
    thread.join(60)
    assert waited < 5, f"the prediction waited {waited:.1f} s behind scoring"


def test_undo_after_relabeling_restores_the_previous_label(service):
    index = next(i for i, t in enumerate(service.label_set.sums) if 0 < t < 36)
    first, other = labels_for(int(service.label_set.sums[index]))
    service.save_item_label(index, first)
    previous = service.item_label(index)
    row = service.save_item_label(index, other)
    assert service.item_label(index) == other
    service.undo_label(row, index, previous)
    assert service.item_label(index) == first                   # restored, not deleted
    nxt = index + 1
    row = service.save_item_label(nxt, labels_for(int(service.label_set.sums[nxt]))[0] if 0 < service.label_set.sums[nxt] < 36
                                  else ("0000" if service.label_set.sums[nxt] == 0 else "9999"))
    service.undo_label(row, nxt, None)                          # it had no label: now it has none
    assert service.item_label(nxt) is None


def test_the_drawing_pads_png_data_url_reads_like_the_image(service, course_set):
    import base64
    import io
    image = load_dataset(course_set).images[0]
    buffer = io.BytesIO()
    Image.fromarray(255 - image).resize((672, 160)).convert("RGBA").save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    from_url = service.predict(drawing_to_gray(url), "tiny")
    from_array = service.predict(drawing_to_gray(np.asarray(Image.open(buffer))), "tiny")
    assert np.allclose(from_url.sum_probs, from_array.sum_probs, atol=1e-6)
    with pytest.raises(BlankImageError):
        drawing_to_gray("")                                    # the pad once cleared
    for bad in ["data:image/png;base64,!!!", "data:image/png;base64," + base64.b64encode(b"text").decode(),
                "file:///etc/passwd"]:
        with pytest.raises(DataError):
            drawing_to_gray(bad)


def test_a_pad_drawing_reads_as_to_gray_reads_it(rng):
    """The pad's drawings (opaque RGBA) go through a table of to_gray's values: the same float32
    levels for every R + G + B (each split of it too) and for noise, paper at 1; a drawing with
    transparency goes through to_gray itself."""
    from digitsum.reading.preprocess import to_gray
    from digitsum.ui.drawpad import PAPER

    def reference(image):
        gray = to_gray(image)
        return np.where(gray > PAPER, 1.0, gray).astype(np.float32)
    levels = np.arange(256, dtype=np.uint8)
    r, g = np.meshgrid(levels, levels)
    for b in (0, 1, 127, 128, 200, 254, 255):   # every sum 0-765, most of them several ways
        image = np.stack([r, g, np.full_like(r, b), np.full_like(r, 255)], axis=-1)
        assert np.array_equal(drawing_to_gray(image), reference(image)), b
    noise = rng.integers(0, 256, (160, 672, 4), dtype=np.uint8)
    noise[..., 3] = 255
    got = drawing_to_gray(noise)
    assert got.dtype == np.float32 and np.array_equal(got, reference(noise))
    noise[0, 0, 3] = 128                        # not opaque: to_gray composites it over white
    assert np.array_equal(drawing_to_gray(noise), reference(noise))


def test_the_warm_up_reads_a_drawing_too(service, monkeypatch):
    """The warm-up reads a course image and one as the pad sends it (4x, dark ink on white) through
    each checkpoint: the drawings' preprocessing costs ~300 ms the first time, which the first
    stroke or API call paid; and the events' matplotlib set-up (~350 ms) is done before any event."""
    import sys
    from digitsum.app.scoring import drawing_like
    from digitsum.ui import warm_up_events
    read = []
    real = service.checkpoints.predict
    monkeypatch.setattr(service.checkpoints, "predict", lambda image, name, *a, **k: read.append(
        (np.asarray(image).shape, int(np.asarray(image)[0, 0]))) or real(image, name, *a, **k))
    service.warm_up().join(60)
    course = service.item(0)
    assert read[:2] == [((40, 168), int(course[0, 0])), ((160, 672), 255 - int(course[0, 0]))]
    assert np.array_equal(drawing_like(course)[::4, ::4], 255 - course)
    events = warm_up_events()
    events.join(60)
    assert not events.is_alive() and "matplotlib" in sys.modules


def test_slices_of_the_test_set_and_where_checkpoints_differ(tmp_path, course_set, tiny_checkpoint):
    import shutil
    other = tmp_path / "ckpts" / "other"
    shutil.copytree(tiny_checkpoint, tmp_path / "ckpts" / "tiny")
    from digitsum.storage.checkpoint import save_checkpoint
    from digitsum.models.net import create_model
    import torch
    torch.manual_seed(1)
    save_checkpoint(create_model("convnet4").eval(), other, {"command": "test"}, {})
    svc = DigitsumService([str(tmp_path / "ckpts")], data_dir=course_set, labels_db=tmp_path / "labels.db",
                          cache_dir=tmp_path / "cache")
    data = load_dataset(course_set)
    rows = svc.slice_rows("tiny")
    by_feature = {}
    for r in rows:
        by_feature.setdefault(r["feature"], 0)
        by_feature[r["feature"]] += r["n"]
    assert by_feature["smallest_gap"] == len(data) and by_feature["true_sum"] == len(data)
    gap0 = next(r for r in rows if r["feature"] == "smallest_gap")
    members = svc.slice_images("tiny", "smallest_gap", gap0["slice"])
    assert len(members) == gap0["n"] and len(set(members.tolist())) == len(members)
    wrong = svc.scored("tiny").pred_sum[members] != data.sums[members]
    assert not (np.diff(wrong.astype(int)) > 0).any()         # misread images first
    with pytest.raises(DigitsumError, match="no slice"):
        svc.slice_images("tiny", "smallest_gap", "nonsense")
    differ = svc.slice_differences(["tiny", "other"], min_n=1)
    assert differ == sorted(differ, key=lambda r: -r["gap"])
    top = differ[0]
    assert top["gap"] == pytest.approx(abs(top["tiny"] - top["other"]))
    disagree = svc.slice_disagreements(["tiny", "other"], top["feature"], top["slice"])
    a, b = svc.scored("tiny").pred_sum, svc.scored("other").pred_sum
    assert (a[disagree] != b[disagree]).all()
    with pytest.raises(DigitsumError):
        svc.slice_differences(["tiny"])


def _annotate(path, start, count, source):
    """One annotator: its own process and its own store on the shared database."""
    store = LabelStore(path)
    for item in range(start, start + count):
        store.save(np.full((40, 168), item % 255, np.uint8), f"{item % 10}{(item // 10) % 10}00", source, item)


def test_two_annotators_on_one_database_lose_nothing(tmp_path):
    import multiprocessing
    path = tmp_path / "labels.db"
    LabelStore(path)
    ctx = multiprocessing.get_context("fork")
    annotators = [ctx.Process(target=_annotate, args=(path, start, 60, "pool")) for start in (0, 60)]
    for p in annotators:
        p.start()
    for p in annotators:
        p.join(60)
        assert p.exitcode == 0
    labeled = LabelStore(path).labeled_items("pool")
    assert sorted(labeled) == list(range(120))                   # every label of both annotators
    assert all(labeled[i] == f"{i % 10}{(i // 10) % 10}00" for i in range(120))


def test_scoring_reports_its_progress_while_it_runs(service, capsys, monkeypatch):
    """The UI's status line (scoring_status) follows each batch; the console says start and end."""
    from digitsum.evaluation import analysis
    real, seen = analysis.score_dataset, []

    def watched(model, data, ckpt, cache, on_batch):
        def each_batch(done, total):
            on_batch(done, total)
            seen.append(service.scoring_status())
        return real(model, data, ckpt, cache, each_batch)

    assert service.scoring_status() == "" and service.scoring_done()
    monkeypatch.setattr(analysis, "score_dataset", watched)
    service.scored("tiny")
    assert seen and all(line.startswith("scoring the test set: tiny ") for line in seen)
    assert seen[-1].endswith("100%")
    assert service.scoring_status() == "" and service.scoring_done()
    out = capsys.readouterr().out
    assert "scoring tiny on" in out and "scored tiny in" in out


def test_views_show_a_first_slice_until_the_whole_set_is_scored(service, monkeypatch):
    """A fresh start scores a first slice of the test set with each checkpoint (seconds), then the
    rest; the views take the largest prefix scored and say which it is."""
    monkeypatch.setattr(service.scoring, "first_slice", 16)
    assert service.available("tiny") == 0
    n = service.view(["tiny"])                          # scores the first slice now
    assert n == 16 and service.available("tiny") == 16
    assert "first 16 of 64" in service.coverage(["tiny"], n)
    assert service.errors("tiny").max(initial=-1) < 16  # what is scored so far, and nothing else
    assert service.digit_confusion("tiny").sum() == 4 * 16
    assert service.metrics_rows(["tiny"])[0]["images"] == 16
    assert all(i < 16 for i in service.slice_images("tiny", "blobs", "4"))
    service.scored("tiny")                              # the background's next step
    assert service.view(["tiny"]) == 64 and service.coverage(["tiny"], 64).startswith("On all **64**")
    assert service.errors("tiny", n=16).max(initial=-1) < 16   # a tab keeps its prefix until ↻
    assert np.allclose(service.scores("tiny", 16).sum_probs, service.scores("tiny").sum_probs[:16], atol=1e-5)
