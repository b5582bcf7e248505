"""Where a run's metrics go: a JSONL file beside the run, TensorBoard when installed, a PNG plot."""
from __future__ import annotations

import json
import os
from pathlib import Path


class MetricsLog:
    """OUT/metrics.jsonl. A run writes its records to a pending copy (`begin`) that replaces the file
    at the run's first save (`commit`): a run that dies before saving anything, or one that is
    refused, leaves the metrics of the run before it as they were. (Not atomic.write_file's one-shot
    write: the pending copy grows, record by record, until the save that renames it.)"""

    def __init__(self, folder: Path, enabled: bool):
        self.path = folder / "metrics.jsonl"
        self.pending = None   # while set: the file records go to until the first save
        self.enabled = enabled
        self.tb = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(folder / "tensorboard"))
            except ImportError:  # tensorboard is optional
                self.tb = None

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.pending or self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "step":
                    self.tb.add_scalar(key, value, record["step"])
            self.tb.flush()

    def begin(self, resumed_at: int | None) -> None:
        """Start the pending copy: empty for a new run; for a resumed one, the records up to its saved
        step (those the killed run wrote after its last saved state are dropped)."""
        if not self.enabled:
            return
        kept = []
        if resumed_at is not None and self.path.is_file():
            kept = [json.dumps(r) for r in self.read() if r.get("step", resumed_at + 1) <= resumed_at]
        self.pending = self.path.with_name(f".{self.path.name}.new")
        self.pending.write_text("".join(l + "\n" for l in kept))

    def commit(self) -> None:
        """At a save: the pending copy becomes metrics.jsonl (once; later records are appended to it)."""
        if self.enabled and self.pending is not None:
            os.replace(self.pending, self.path)
            self.pending = None

    def read(self) -> list[dict]:
        """The records; a line a full disk cut short (the last one written) is left out."""
        if not self.path.is_file():
            return []
        records = []
        for line in self.path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records


def plot_curves(records: list[dict], out_png: Path) -> None:
    """Training loss and validation sum/digit accuracy (raw vs EMA) against steps."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in records if r.get("kind") == "train"]
    val = [r for r in records if r.get("kind") == "val"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    if train:
        axes[0].plot([r["step"] for r in train], [r["loss"] for r in train], lw=1)
    axes[0].set(title="training loss", xlabel="step", yscale="log")
    for key, style in (("sum_accuracy", "-"), ("digit_accuracy", "--")):
        for which in ("raw", "ema"):
            pts = [(r["step"], r[f"{which}_{key}"]) for r in val if r.get(f"{which}_{key}") is not None]
            if pts:
                axes[1].plot(*zip(*pts), style, label=f"{which} {key.replace('_', ' ')}")
    axes[1].set(title="validation", xlabel="step", ylabel="accuracy")
    if val:
        axes[1].legend()
    axes[1].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
