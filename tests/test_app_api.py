"""The app's endpoints through gradio_client, as a program would call them."""
import time

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def running_app(tmp_path_factory, course_set, tiny_checkpoint, free_port):
    from digitsum.app.service import DigitsumService
    from digitsum.ui import build
    tmp = tmp_path_factory.mktemp("app")
    service = DigitsumService([str(tiny_checkpoint)], data_dir=course_set, labels_db=tmp / "labels.db",
                              cache_dir=tmp / "cache")
    demo = build(service)
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", service
    demo.close()


def test_predict_json_returns_digits_and_distributions(running_app, tmp_path, course_set):
    from gradio_client import Client, handle_file
    from digitsum.data.course import load_dataset
    url, service = running_app
    image = load_dataset(course_set).images[3]
    Image.fromarray(255 - image).resize((672, 160)).save(tmp_path / "four.png")  # black on white, 4x
    client = Client(url, verbose=False)
    start = time.perf_counter()
    result = client.predict(handle_file(str(tmp_path / "four.png")), "tiny", api_name="/predict_json")
    latency = time.perf_counter() - start
    assert len(result["digits"]) == 4 and all(0 <= d <= 9 for d in result["digits"])
    assert np.array(result["digit_probs"]).shape == (4, 10)
    assert len(result["sum_probs"]) == 37 and abs(sum(result["sum_probs"]) - 1) < 1e-3
    assert result["sum"] == int(np.argmax(result["sum_probs"]))
    direct = service.predict(Image.open(tmp_path / "four.png"), "tiny").to_json("tiny")
    assert result["digits"] == direct["digits"] and result["sum"] == direct["sum"]
    assert latency < 10


@pytest.mark.parametrize("content,checkpoint,message", [
    (b"not an image", "tiny", "not a readable image"),
    (None, "nope", "unknown checkpoint"),
    (None, "tiny", "blank"),
])
def test_predict_json_bad_input_gives_a_message_and_the_app_keeps_serving(running_app, tmp_path, content,
                                                                         checkpoint, message):
    from gradio_client import Client, handle_file
    url, _ = running_app
    path = tmp_path / "input.png"
    if content is None:
        Image.new("L", (300, 80), 255).save(path) if message == "blank" else Image.fromarray(
            np.random.default_rng(0).integers(0, 255, (40, 168), dtype=np.uint8)).save(path)
    else:
        path.write_bytes(content)
    client = Client(url, verbose=False)
    with pytest.raises(Exception, match=message):
        client.predict(handle_file(str(path)), checkpoint, api_name="/predict_json")
    # still serving
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 168), dtype=np.uint8)).save(tmp_path / "ok.png")
    assert len(client.predict(handle_file(str(tmp_path / "ok.png")), "tiny", api_name="/predict_json")["digits"]) == 4
