import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from digitsum.storage.checkpoint import load_checkpoint, load_metrics, save_checkpoint
from digitsum.errors import CheckpointError
from digitsum.models.net import create_model


def test_round_trip_keeps_weights_config_and_card(tmp_path):
    torch.manual_seed(0)
    model = create_model("resnet_small_sum37").eval()
    folder = save_checkpoint(model, tmp_path / "m", {"command": "python -m train"}, {"test": {"sum_accuracy": 0.9}})
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "metrics.json", "model.safetensors"]
    assert json.loads((folder / "config.json").read_text())["head"] == "sum"
    assert "python -m train" in (folder / "README.md").read_text()
    assert load_metrics(folder)["test"]["sum_accuracy"] == 0.9
    loaded = load_checkpoint(folder)
    x = torch.rand(3, 1, 40, 168)
    assert torch.allclose(loaded(x), model(x), atol=1e-6)


def test_half_precision_export_is_smaller_and_loads_as_float(tmp_path):
    model = create_model("convnet4").eval()
    full = save_checkpoint(model, tmp_path / "full")
    half = save_checkpoint(model, tmp_path / "half", half=True)
    assert (half / "model.safetensors").stat().st_size < 0.6 * (full / "model.safetensors").stat().st_size
    assert next(load_checkpoint(half).parameters()).dtype == torch.float32


def test_overwriting_a_checkpoint_leaves_no_temporary_folders(tmp_path):
    model = create_model("convnet4")
    save_checkpoint(model, tmp_path / "m")
    save_checkpoint(model, tmp_path / "m")
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_bad_checkpoints_are_clear_errors(tmp_path, tiny_checkpoint):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a digitsum checkpoint"):
        load_checkpoint(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="a folder"):
        load_checkpoint(tiny_checkpoint / "config.json")
    # truncated weights
    import shutil
    bad = tmp_path / "truncated"
    shutil.copytree(tiny_checkpoint, bad)
    data = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot load weights"):
        load_checkpoint(bad)
    # a foreign file under the right name
    (bad / "model.safetensors").write_bytes(b"PK\x03\x04 a zip, maybe a pickle")
    with pytest.raises(CheckpointError, match="cannot load weights"):
        load_checkpoint(bad)
    # NaN weights
    nan = tmp_path / "nan"
    shutil.copytree(tiny_checkpoint, nan)
    tensors = load_file(nan / "model.safetensors")
    first = next(k for k in tensors if tensors[k].is_floating_point())
    tensors[first] = torch.full_like(tensors[first], float("nan"))
    save_file(tensors, nan / "model.safetensors")
    with pytest.raises(CheckpointError, match="NaN"):
        load_checkpoint(nan)
    # a config of something else
    other = tmp_path / "other"
    shutil.copytree(tiny_checkpoint, other)
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CheckpointError, match="not a digitsum config"):
        load_checkpoint(other)


def test_hub_repo_id_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="cannot be downloaded"):
        load_checkpoint("hf://someone/digitsum-model")
