"""Resumable run state without pickle: tensors in safetensors, everything else in JSON, written to
a temporary folder and renamed into place, so a kill never leaves a half-written state."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from digitsum.atomic import atomic_folder


def _flatten_optimizer(opt_state: dict) -> tuple[dict, dict]:
    tensors, meta = {}, {"param_groups": opt_state["param_groups"], "state": {}}
    for idx, entry in opt_state["state"].items():
        meta["state"][str(idx)] = {}
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                meta["state"][str(idx)][key] = value
    return tensors, meta


def _unflatten_optimizer(tensors: dict, meta: dict) -> dict:
    state = {int(idx): dict(extra) for idx, extra in meta["state"].items()}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_state(folder: Path, *, model, ema, optimizer, info: dict) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if ema is not None:
        tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.state_dict().items()})
    opt_tensors, opt_meta = _flatten_optimizer(optimizer.state_dict())
    tensors.update(opt_tensors)
    with atomic_folder(folder) as tmp:
        save_file(tensors, str(tmp / "state.safetensors"))
        (tmp / "state.json").write_text(json.dumps({**info, "optimizer": opt_meta}, indent=1))


def load_state(folder: Path) -> tuple[dict, dict]:
    """-> (tensors by group: model, ema; info incl. 'optimizer_state')."""
    info = json.loads((folder / "state.json").read_text())
    flat = load_file(str(folder / "state.safetensors"))
    groups = {"model": {}, "ema": {}}
    for name, value in flat.items():
        head, rest = name.split(".", 1)
        if head in groups:
            groups[head][rest] = value
    info["optimizer_state"] = _unflatten_optimizer(flat, info.pop("optimizer"))
    return groups, info
