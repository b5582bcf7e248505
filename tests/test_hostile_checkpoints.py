"""Hostile checkpoints: damaged or foreign folders are refused in one line, a save killed between
its renames is recovered, a name that is no folder never becomes a download, and loading leaves
stdout alone. Images and arrays are in test_hostile_library.py."""
import json
import os
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from digitsum.errors import CheckpointError
from digitsum.models.net import create_model
from digitsum.storage.atomic import atomic_folder
from digitsum.storage.checkpoint import load_checkpoint, save_checkpoint

SHIPPED = "checkpoints/digitsum-reader"


# ------------------------------------------------------------------ checkpoints and folders
def test_loading_a_checkpoint_leaves_stdout_alone(capsys, monkeypatch):
    # a process-wide redirect while loading swaps stdout for every thread of the app (its "ready"
    # line was lost); the model is built while loading, so see what stdout is then
    import digitsum.models.net
    seen, init = [], digitsum.models.net.DigitSumNet.__init__

    def spy(self, *args, **kwargs):
        seen.append(sys.stdout)
        init(self, *args, **kwargs)
    monkeypatch.setattr(digitsum.models.net.DigitSumNet, "__init__", spy)
    before = sys.stdout
    load_checkpoint(SHIPPED)
    assert seen and all(out is before for out in seen) and sys.stdout is before
    assert capsys.readouterr().out == ""


def _saved(tmp_path):
    model = create_model("reader")
    return save_checkpoint(model, tmp_path / "ckpt")


def _rename_tensor(folder):
    tensors = load_file(str(folder / "model.safetensors"))
    key = sorted(tensors)[0]
    tensors["renamed." + key] = tensors.pop(key)
    save_file(tensors, str(folder / "model.safetensors"))


def _drop_tensor(folder):
    tensors = load_file(str(folder / "model.safetensors"))
    tensors.pop(sorted(tensors)[-1])
    save_file(tensors, str(folder / "model.safetensors"))


def _reshape_tensor(folder):
    tensors = load_file(str(folder / "model.safetensors"))
    key = next(k for k in sorted(tensors) if tensors[k].ndim > 1)
    tensors[key] = torch.zeros(3, 3)
    save_file(tensors, str(folder / "model.safetensors"))


def _other_config(folder):
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden": 64}))


def _config(**change):
    def damage(folder):
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, **change}))
    return damage


def _weights(change):
    def damage(folder):
        tensors = load_file(str(folder / "model.safetensors"))
        save_file({k: change(v) if v.is_floating_point() else v for k, v in tensors.items()},
                  str(folder / "model.safetensors"))
    return damage


def _truncate(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])


DAMAGE = [
    ("a renamed tensor", _rename_tensor, "missing: "),
    ("a missing tensor", _drop_tensor, "missing: "),
    ("a tensor of another shape", _reshape_tensor, "other shape: "),
    ("a config for another width", _other_config, "do not fit the model in config.json"),
    ("truncated weights", _truncate, "cannot load weights"),
    ("a config with hidden = 1,000,000", _config(hidden=1_000_000), "hidden must be a whole number in 1..4096, not 1000000"),
    ("a config with hidden = 5,000", _config(hidden=5000), "hidden must be a whole number in 1..4096, not 5000"),
    ("a config with a height in words", _config(height="forty"), "height must be a whole number in 8..512, not 'forty'"),
    ("a config with dropout 1", _config(dropout=1.0), "dropout must be a number in [0, 1), not 1.0"),
    ("weights scaled by 1e30", _weights(lambda t: t * 1e30), "its outputs are NaN or infinite on a plain canvas"),
    ("fp8 weights", _weights(lambda t: t.to(torch.float8_e4m3fn)), "other dtype: "),
]


@pytest.mark.parametrize("case,damage,message", DAMAGE, ids=[c[0] for c in DAMAGE])
def test_loading_is_strict(tmp_path, case, damage, message):
    folder = _saved(tmp_path)
    damage(folder)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(folder)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_saved_folders_get_the_users_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        folder = _saved(tmp_path)
    finally:
        os.umask(old)
    assert (folder.stat().st_mode & 0o777) == 0o755
    assert all((f.stat().st_mode & 0o777) == 0o644 for f in folder.iterdir())


def test_a_save_killed_between_its_renames_is_recovered(tmp_path):
    folder = _saved(tmp_path)
    saved = load_file(str(folder / "model.safetensors"))
    # the kill: the old copy moved aside, the new one not yet in place
    os.replace(folder, folder.with_name(".ckpt.old"))
    loaded = load_checkpoint(folder).state_dict()           # the complete old copy is put back
    assert saved.keys() <= loaded.keys() and all(torch.equal(loaded[k], t) for k, t in saved.items())
    assert folder.is_dir() and not folder.with_name(".ckpt.old").exists()


def test_a_leftover_old_folder_does_not_block_later_saves(tmp_path):
    folder = _saved(tmp_path)
    folder.with_name(".ckpt.old").mkdir()
    with atomic_folder(folder) as tmp:
        (tmp / "x").write_text("new")
    assert (folder / "x").read_text() == "new" and not folder.with_name(".ckpt.old").exists()


# ------------------------------------------------------------------ checkpoint names: a path is never a download
SPECS = [
    ("a mistyped folder that looks like owner/name", "chekpoints/digitsum-reader",
     "chekpoints/digitsum-reader: no such checkpoint folder (a checkpoint on the Hugging Face Hub is written "
     "hf://chekpoints/digitsum-reader)"),
    ("an absolute path", "/nonexistent", "/nonexistent: no such checkpoint folder"),
    ("a folder under an existing one", "checkpoints/digitsum-readr", "checkpoints/digitsum-readr: no such checkpoint folder"),
    ("a Hub name that is not owner/name", "hf://owner/../x", "a Hugging Face Hub checkpoint is written hf://owner/name"),
    ("a Hub name of a megabyte", "hf://" + "a" * 2**20, "(1,048,581 characters)"),
]


@pytest.mark.parametrize("case,spec,message", SPECS, ids=[c[0] for c in SPECS])
def test_a_checkpoint_name_that_is_no_folder_is_one_line_and_no_download(monkeypatch, case, spec, message):
    import digitsum.storage.checkpoint

    def download(repo_id):
        raise AssertionError(f"{spec} was looked for on the Hub")
    monkeypatch.setattr(digitsum.storage.checkpoint, "_download", download)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(spec)
    assert message in str(e.value) and "\n" not in str(e.value) and len(str(e.value)) < 400


def test_the_app_names_a_broken_checkpoint_by_its_name_not_its_folder(tmp_path, course_set):
    """The app's messages say which checkpoint, never where the server keeps it."""
    from digitsum.app.service import DigitsumService
    folder = _saved(tmp_path)
    _config(hidden=5000)(folder)
    service = DigitsumService([str(folder)], data_dir=course_set, label_data=course_set,
                              labels_db=tmp_path / "labels.db", cache_dir=tmp_path / "cache")
    with pytest.raises(CheckpointError) as e:
        service.model("ckpt")
    assert str(e.value).startswith("ckpt/config.json: hidden must be a whole number") and str(tmp_path) not in str(e.value)
