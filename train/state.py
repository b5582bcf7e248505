"""Resumable run state without pickle: tensors in safetensors, everything else in JSON, written to
a temporary folder and renamed into place, so a kill never leaves a half-written state. And the
weights a run starts from: a saved state (--resume) or a checkpoint (--init), both loaded strictly."""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from digitsum.storage.atomic import atomic_folder
from digitsum.errors import DigitsumError, shorten

REQUIRED = ("step", "wall_seconds", "best", "optimizer")   # the keys of state.json a resume reads


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
    groups = meta["param_groups"]
    if not isinstance(groups, list) or not all(isinstance(g, dict) and {"params", "initial_lr"} <= set(g) for g in groups):
        raise ValueError("param_groups is not a list of groups with params and initial_lr")
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
    """-> (tensors by group: model, ema; info incl. 'optimizer_state'). A damaged or half-copied state
    is a one-line DigitsumError naming the file, not a traceback in the middle of a resume."""
    info_path, tensors_path = folder / "state.json", folder / "state.safetensors"
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError) as e:   # ValueError: bad JSON, or bytes that are not text
        raise DigitsumError(f"{info_path}: cannot read the saved run state ({e})") from None
    missing = [k for k in REQUIRED if not isinstance(info, dict) or k not in info]
    if missing:
        raise DigitsumError(f"{info_path}: the saved run state lacks {', '.join(missing)}")
    if not all(isinstance(info[k], (int, float)) for k in ("wall_seconds", "best")) or \
            not isinstance(info["step"], int) or info["step"] < 0:
        raise DigitsumError(f"{info_path}: step, wall_seconds or best is not a number (step a whole one)")
    if not all(math.isfinite(info[k]) for k in ("wall_seconds", "best")):
        raise DigitsumError(f"{info_path}: wall_seconds or best is NaN or infinite: the saved run state is corrupt")
    if not tensors_path.is_file():
        raise DigitsumError(f"{tensors_path}: missing, so the saved run state is incomplete")
    try:
        flat = load_file(str(tensors_path))
    except (OSError, SafetensorError) as e:
        raise DigitsumError(f"{tensors_path}: cannot read the saved run state ({e})") from None
    for name, value in flat.items():   # training never saves a non-finite value (train.loop.check_finite)
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise DigitsumError(f"{tensors_path}: {shorten(name, 100)} holds NaN or infinite values: the saved run "
                                "state is corrupt (training never saves them); resume from a copy of the run, or "
                                "start again")
    groups = {"model": {}, "ema": {}}
    for name, value in flat.items():
        head, _, rest = name.partition(".")
        if head in groups:
            groups[head][rest] = value
    try:
        info["optimizer_state"] = _unflatten_optimizer(flat, info.pop("optimizer"))
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise DigitsumError(f"{info_path}: its optimizer state is damaged ({type(e).__name__}: {e})") from None
    return groups, info


def resume(args, model, ema, optimizer) -> dict:
    """Load the run saved in OUT/last into model, EMA and optimizer, once it is known to be this
    command's run and to have steps left; -> its info (step, wall_seconds, best)."""
    from digitsum.storage.checkpoint import load_weights_strictly
    folder = args.out / "last"
    tensors, info = load_state(folder)
    saved_model = info.get("model")   # recorded since the hardening; older states are checked by their tensors
    if saved_model is not None and saved_model != args.model:
        raise DigitsumError(f"--resume: the run in {args.out} trained --model {saved_model}, not --model {args.model}; "
                            f"resume it with --model {saved_model}, or train --model {args.model} in another --out")
    if info["step"] >= args.steps:
        raise DigitsumError(f"--resume: the run in {args.out} already reached step {info['step']}; "
                            f"give --steps above {info['step']} to train further")
    groups = info["optimizer_state"]["param_groups"]
    saved_optimizer = ("sgd" if groups and "momentum" in groups[0]   # SGD's groups have momentum; Adam's and
                       else "adam" if groups and groups[0].get("decoupled_weight_decay") is False   # AdamW's differ
                       else "adamw")                                                                 # in how they decay
    if saved_optimizer != args.optimizer:
        raise DigitsumError(f"--resume: the run in {args.out} used --optimizer {saved_optimizer}, not {args.optimizer}")
    where = f"--resume {folder / 'state.safetensors'}"
    if ema is not None and not tensors["ema"]:   # the EMA is never restarted from the current weights
        raise DigitsumError(f"{where}: the saved run state has no EMA weights (ema.*): it was trained with "
                            "--ema-decay 0 (resume it with --ema-decay 0) or it is damaged")
    load_weights_strictly(model, tensors["model"], where, f"--model {args.model}")
    if ema is not None:
        load_weights_strictly(ema, tensors["ema"], where + " (EMA)", f"--model {args.model}")
    try:
        optimizer.load_state_dict(info["optimizer_state"])
    except (KeyError, TypeError, ValueError) as e:
        raise DigitsumError(f"{where}: its optimizer state does not fit --model {args.model} ({e})") from None
    check_optimizer_shapes(optimizer, where, f"--model {args.model}")
    match_parameter_layout(optimizer)
    return info


def check_optimizer_shapes(optimizer, where: str, what: str) -> None:
    """torch loads an optimizer state without looking at its tensors' shapes, and the first step
    then fails deep inside the update: each moment must have its parameter's shape (scalars such
    as AdamW's step count aside)."""
    index = 0
    for group in optimizer.param_groups:
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                if torch.is_tensor(value) and value.ndim > 0 and tuple(value.shape) != tuple(p.shape):
                    raise DigitsumError(f"{where}: its optimizer state does not fit {what} (optimizer.{index}.{key} "
                                        f"has shape {tuple(value.shape)}, its parameter {tuple(p.shape)})")
            index += 1


def match_parameter_layout(optimizer) -> None:
    """The state file holds contiguous tensors, but the parameters are channels_last: give each
    moment its parameter's strides (values unchanged), or fused AdamW on a GPU refuses them
    ("must have same dtype, device, and layout"), as it did at the first CUDA resume."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == p.shape and value.stride() != p.stride():
                    state[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)


def initial_weights(location, model) -> dict:
    """--init: the weights of a checkpoint that has the same architecture as `model`."""
    from digitsum.storage.checkpoint import load_checkpoint
    source = load_checkpoint(location)
    mine = (model.trunk_name, model.head_kind, model.height, model.width)
    theirs = (source.trunk_name, source.head_kind, source.height, source.width)
    if mine != theirs:
        raise DigitsumError(f"--init {location}: its model {theirs} differs from --model {mine}")
    return source.state_dict()
