import numpy as np
import pytest
from PIL import Image

from digitsum.errors import DataError
from digitsum.data.course import load_dataset, save_course_dataset


def write_pair(folder, images, sums, suffix="0", digits=None):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"data{suffix}.npy", images)
    np.save(folder / f"lab{suffix}.npy", sums)
    if digits is not None:
        np.save(folder / f"digits{suffix}.npy", digits)


def test_course_folder_of_pairs_is_concatenated(tmp_path):
    write_pair(tmp_path, np.zeros((3, 40, 168), np.uint8), np.array([1, 2, 3], np.uint8), "0")
    write_pair(tmp_path, np.ones((2, 40, 168), np.uint8), np.array([4, 5], np.uint8), "1")
    data = load_dataset(tmp_path)
    assert data.images.shape == (5, 40, 168) and data.sums.tolist() == [1, 2, 3, 4, 5] and data.digits is None


def test_single_pair_with_digits_and_other_canvas(tmp_path):
    digits = np.array([[1, 2, 3, 4], [9, 9, 9, 9]], np.uint8)
    save_course_dataset(tmp_path, np.zeros((2, 48, 200), np.uint8), digits.sum(1), digits)
    data = load_dataset(tmp_path / "data0.npy", tmp_path / "lab0.npy", tmp_path / "digits0.npy")
    assert data.images.shape == (2, 48, 200) and data.digits.tolist() == digits.tolist()


@pytest.mark.parametrize("images,sums,message", [
    (np.zeros((3, 40, 168), np.uint8), np.array([1, 2], np.uint8), "2 sums for 3 images"),
    (np.zeros((2, 40, 168), np.uint8), np.array([1, 37], np.uint8), "0-36"),
    (np.zeros((2, 40, 168), np.float32), np.array([1, 2], np.uint8), "uint8"),
    (np.zeros((2, 40), np.uint8), np.array([1, 2], np.uint8), r"\(N, H, W\)"),
    (np.zeros((2, 40, 168), np.uint8), np.array([1.5, 2.0]), "integers"),
])
def test_bad_course_files_name_file_and_problem(tmp_path, images, sums, message):
    write_pair(tmp_path, images, sums)
    with pytest.raises(DataError, match=message) as err:
        load_dataset(tmp_path)
    assert "npy" in str(err.value)


def test_corrupt_and_pickled_files_are_refused(tmp_path):
    (tmp_path / "data0.npy").write_bytes(b"not numpy at all")
    np.save(tmp_path / "lab0.npy", np.array([1], np.uint8))
    with pytest.raises(DataError, match="data0.npy"):
        load_dataset(tmp_path)
    np.save(tmp_path / "data0.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="not a plain numeric"):
        load_dataset(tmp_path)


def test_digits_must_add_up_to_the_sum(tmp_path):
    write_pair(tmp_path, np.zeros((1, 40, 168), np.uint8), np.array([5], np.uint8),
               digits=np.array([[1, 1, 1, 1]], np.uint8))
    with pytest.raises(DataError, match="add up to 4, not its sum 5"):
        load_dataset(tmp_path)


def test_missing_sums_file_and_empty_folder(tmp_path):
    np.save(tmp_path / "data0.npy", np.zeros((1, 40, 168), np.uint8))
    with pytest.raises(DataError, match="lab0.npy"):
        load_dataset(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no data"):
        load_dataset(tmp_path / "empty")


def test_image_folder_with_csv(tmp_path):
    for name in ("a.png", "b.png"):
        Image.new("L", (168, 40), 255).save(tmp_path / name)   # black-on-white is fine
    (tmp_path / "labels.csv").write_text("file,sum,d1,d2,d3,d4\na.png,10,1,2,3,4\nb.png,0,0,0,0,0\n")
    data = load_dataset(tmp_path)
    assert data.images.shape == (2, 40, 168) and data.sums.tolist() == [10, 0]
    assert data.images.dtype == np.uint8 and data.images.max() == 0  # white paper became black
    assert data.digits.tolist() == [[1, 2, 3, 4], [0, 0, 0, 0]]
    (tmp_path / "labels.csv").write_text("file,sum\nmissing.png,3\n")
    with pytest.raises(DataError, match="missing.png"):
        load_dataset(tmp_path)
