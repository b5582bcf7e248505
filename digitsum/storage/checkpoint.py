"""Checkpoints in the Hugging Face layout: config.json + model.safetensors + README.md (model card)
+ metrics.json, written through PyTorchModelHubMixin and read back strictly with safetensors (every
tensor named, shaped and typed as the config's model expects). Never unpickles anything."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from safetensors.torch import load_file

from digitsum.storage.atomic import atomic_folder, recover
from digitsum.errors import CheckpointError, shorten
from digitsum.models.fusion import fold_batchnorm
from digitsum.models.net import DigitSumNet

CONFIG, WEIGHTS, CARD, METRICS = "config.json", "model.safetensors", "README.md", "metrics.json"
HUB = "hf://"   # a checkpoint on the Hugging Face Hub is named hf://owner/name; anything else is a local path
HUB_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?/[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")


def hub_id(spec) -> str | None:
    """'hf://owner/name' -> 'owner/name'; None for a local path. A spec that starts with hf:// but
    is not owner/name is a one-line CheckpointError. A plain 'owner/name' is a path: a mistyped
    folder is said to be missing, never looked for on the Hub."""
    text = os.fspath(spec) if isinstance(spec, os.PathLike) else str(spec)
    if not text.startswith(HUB):
        return None
    repo = text[len(HUB):]
    if not HUB_ID.fullmatch(repo) or ".." in repo or "--" in repo or repo.endswith(".git"):
        raise CheckpointError(f"{shorten(text, quote=True)}: a Hugging Face Hub checkpoint is written hf://owner/name "
                              "(letters, digits, '.', '_' and '-')")
    return repo


def missing_folder(spec) -> str:
    """'X: no such checkpoint folder', with how to name a Hub checkpoint when X looks like one."""
    text = shorten(os.fspath(spec) if isinstance(spec, os.PathLike) else str(spec), 200)
    hint = f" (a checkpoint on the Hugging Face Hub is written {HUB}{text})" if HUB_ID.fullmatch(text) else ""
    return f"{text}: no such checkpoint folder{hint}"


def model_card(name: str, model: DigitSumNet, info: dict, metrics: dict) -> str:
    """A README.md for the Hub: what the model is, how it was trained, what it scores."""
    lines = ["---", "library_name: digitsum", "license: mit", "tags: [digitsum, mnist, image-classification]", "---",
             f"# {name}", "",
             f"A `{model.trunk_name}` trunk with a `{model.head_kind}` head, for {model.height}x{model.width} "
             "images of four handwritten digits (white on black). Predicts every digit and the sum (0-36).", "",
             "## Training", ""]
    lines += [f"- **{k}**: `{v}`" if k == "command" else f"- **{k}**: {v}" for k, v in info.items()]
    lines += ["", "## Metrics", "", "| set | metric | value |", "|---|---|---|"]
    for set_name, values in metrics.items():
        for key, value in values.items():
            if isinstance(value, float):
                lines.append(f"| {set_name} | {key} | {value:.4f} |")
    lines += ["", "Load with `digitsum.storage.checkpoint.load_checkpoint(path_or_repo_id)`.", ""]
    return "\n".join(lines)


def save_checkpoint(model: DigitSumNet, folder, info: dict | None = None, metrics: dict | None = None,
                    half: bool = False) -> Path:
    """Write the checkpoint folder atomically: built in a temporary sibling, then renamed into place."""
    folder = Path(folder)
    with atomic_folder(folder) as tmp:
        to_save = model
        if half:  # fp16 weights halve the file; loading casts them back to float32
            to_save = DigitSumNet(**_config_of(model))
            to_save.load_state_dict(model.state_dict())
            to_save.half()
        to_save.save_pretrained(tmp)
        (tmp / CARD).write_text(model_card(folder.name, model, info or {}, metrics or {}))
        (tmp / METRICS).write_text(json.dumps(metrics or {}, indent=2))
    return folder


def _config_of(model: DigitSumNet) -> dict:
    return dict(model._hub_mixin_config) if hasattr(model, "_hub_mixin_config") else {}


def _load_local(folder: Path) -> DigitSumNet:
    missing = [f for f in (CONFIG, WEIGHTS) if not (folder / f).is_file()]
    if missing:
        raise CheckpointError(f"{folder}: not a digitsum checkpoint (missing {', '.join(missing)})")
    try:
        config = json.loads((folder / CONFIG).read_text())
        if not isinstance(config, dict) or "trunk" not in config:
            raise ValueError("no 'trunk' in it")
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{folder / CONFIG}: not a digitsum config ({e})") from None
    problem = config_problem(config)
    if problem:   # before anything is built: hidden = 1,000,000 would take the memory of the machine
        raise CheckpointError(f"{folder / CONFIG}: {problem}")
    try:
        model = DigitSumNet(**config)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{folder / CONFIG}: config does not fit a DigitSumNet ({shorten(e, 200)})") from None
    try:
        tensors = load_file(str(folder / WEIGHTS))
    except Exception as e:  # safetensors raises its own errors on truncated or foreign files
        raise CheckpointError(f"{folder / WEIGHTS}: cannot load weights ({type(e).__name__}: {e})") from None
    load_weights_strictly(model, tensors, str(folder / WEIGHTS))
    return model


# what a config may hold: its sizes bound what building the model costs (the largest shipped: hidden 256)
CONFIG_RANGES = {"height": (8, 512), "width": (8, 4096), "hidden": (1, 4096), "head_blocks": (0, 16)}


def config_problem(config: dict) -> str | None:
    """Why `config` cannot be a digitsum model worth building, in a few words; None when it can."""
    for key, (low, high) in CONFIG_RANGES.items():
        if key in config:
            value = config[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                return f"{key} must be a whole number in {low}..{high}, not {shorten(value, 40, quote=True)}"
    if "dropout" in config:
        value = config["dropout"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            return f"dropout must be a number in [0, 1), not {shorten(value, 40, quote=True)}"
    if "row_features" in config and not isinstance(config["row_features"], bool):
        return f"row_features must be true or false, not {shorten(config['row_features'], 40, quote=True)}"
    for key in ("trunk", "head"):
        if key in config and not isinstance(config[key], str):
            return f"{key} must be a name, not {shorten(config[key], 40, quote=True)}"
    return None


FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)   # what a checkpoint's weights may be


def load_weights_strictly(model: torch.nn.Module, tensors: dict, where: str,
                          expected: str = "the model in config.json") -> None:
    """Load `tensors` into `model` only if they are exactly its own: the same names, shapes and
    kinds of dtype (fp16 weights of a float32 model are fine: `--half` exports them). A missing or
    renamed tensor is an error that names it, never a silently random weight."""
    mine = model.state_dict()
    missing = sorted(set(mine) - set(tensors))
    unexpected = sorted(set(tensors) - set(mine))
    common = sorted(set(mine) & set(tensors))
    reshaped = [k for k in common if tuple(mine[k].shape) != tuple(tensors[k].shape)]
    retyped = [k for k in common if mine[k].is_floating_point() != tensors[k].is_floating_point()
               or (tensors[k].is_floating_point() and tensors[k].dtype not in FLOAT_DTYPES)]   # fp8: too coarse
    problems = [f"{label}: {_names(keys)}" for label, keys in
                (("missing", missing), ("unexpected", unexpected), ("other shape", reshaped), ("other dtype", retyped)) if keys]
    if problems:
        raise CheckpointError(f"{where}: the weights do not fit {expected} ({'; '.join(problems)})")
    model.load_state_dict({k: v.to(mine[k].dtype) for k, v in tensors.items()}, strict=True)


def _names(keys: list[str], shown: int = 3) -> str:
    return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


def _download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    try:
        return Path(snapshot_download(repo_id, allow_patterns=[CONFIG, WEIGHTS, CARD, METRICS]))
    except Exception as e:  # offline, unknown repo, no permission: all end the same for the user
        raise CheckpointError(f"{HUB}{repo_id}: cannot be downloaded from the Hugging Face Hub "
                              f"({type(e).__name__}); check the name or your connection") from None


def load_checkpoint(path_or_repo: str | os.PathLike, device: str | torch.device = "cpu",
                    for_inference: bool = False) -> DigitSumNet:
    """A model in eval mode, float32, from a local checkpoint folder or a Hub repo (hf://owner/name).
    for_inference: fold its BatchNorms into the convolutions before them (digitsum.models.fusion):
    the same readings, faster, but the model can no longer be trained or saved as a checkpoint."""
    repo = hub_id(path_or_repo)
    if repo:
        folder = _download(repo)
    else:
        path = Path(path_or_repo)
        recover(path)   # a save killed mid-swap leaves .NAME.old: the complete previous checkpoint
        if not path.exists():
            raise CheckpointError(missing_folder(path_or_repo))
        if not path.is_dir():
            raise CheckpointError(f"{path}: a checkpoint is a folder (config.json + model.safetensors), not a file")
        folder = path
    model = _load_local(folder).float().to(device).eval()
    bad = [name for name, t in model.state_dict().items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise CheckpointError(f"{folder}: weights hold NaN or infinite values ({bad[0]}, ...)")
    if for_inference:
        fold_batchnorm(model)
    check_outputs(model, folder)
    return model


@torch.no_grad()
def check_outputs(model: DigitSumNet, where) -> None:
    """One forward pass on a blank canvas and on one with a stroke: finite weights can still give
    infinite or NaN outputs (weights scaled by 1e30 read every image as "0 0 0 0, sum 0")."""
    device = next(model.parameters()).device
    probe = torch.zeros(2, 1, model.height, model.width, device=device)
    probe[1, :, model.height // 4:3 * model.height // 4, model.width // 8:model.width // 8 + 3] = 1.0
    out = model(probe)
    if not torch.isfinite(out.float()).all():
        raise CheckpointError(f"{where}: its outputs are NaN or infinite on a plain canvas (weights too large "
                              "or damaged); it cannot read anything")


def load_metrics(folder) -> dict:
    """The metrics saved beside a checkpoint ({} when there are none)."""
    try:
        return json.loads((Path(folder) / METRICS).read_text())
    except (OSError, ValueError):
        return {}


def is_checkpoint(folder) -> bool:
    return (Path(folder) / CONFIG).is_file() and (Path(folder) / WEIGHTS).is_file()

