"""The `seeds` command: every system of the table at one budget, each skipped when an earlier call
in the same DIR already did it at this budget (so a stopped call resumes), the table rewritten
after each system."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import estimate
from .inputs import prepare_data, prepare_pretrained
from .plan import BUDGETS, SeedsRun
from .systems import SYSTEMS, run_system
from .table import NO_IMAGENET, scale_note, write_results


def run_seeds(a: argparse.Namespace) -> int:
    """-> 0, or 1 when a system failed (the others still run)."""
    budget = BUDGETS[a.budget]
    out = a.out.resolve()
    seeds = SeedsRun(out, budget, device=a.device, threads=a.threads, dry_run=a.dry_run)
    out.mkdir(parents=True, exist_ok=True)
    prepare_pretrained(seeds, a.pretrained, a.torchvision_weights)
    prepare_data(seeds, a.data.resolve(), make=not a.dry_run)
    previous = {} if a.dry_run else _previous(out / "results.json")
    notes = _table_notes(seeds)
    timed = budget.name == "gpu" or a.part is not None   # the estimates are an H100's
    estimates = [estimate.estimate(s.kind, s.plan(seeds, s.name), budget) for s in SYSTEMS] if timed else []
    parts = estimate.split([e.seconds for e in estimates], a.part[1] if a.part else 2) if timed else []
    entries = []
    for i, system in enumerate(SYSTEMS):
        old = previous.get(system.name)
        selected = (not a.only or system.name in a.only) and (a.part is None or parts[i] == a.part[0])
        done = old is not None and old.get("status") == "done" and old.get("budget") == budget.name
        if not selected or (done and not a.rerun):
            if old:
                entries.append(old)
            continue
        entries.append(run_system(seeds, system, estimates[i].seconds if timed else None))
        if not a.dry_run:   # after every system: what is done so far, and what an earlier call left
            later = [previous[s.name] for s in SYSTEMS[i + 1:] if s.name in previous]
            write_results(out, entries + later, budget.name, notes)
    if not a.dry_run:
        write_results(out, entries, budget.name, notes)
        print(f"wrote {out / 'results.json'} and {out / 'results.md'}")
    elif timed:
        print_estimates(estimates, parts, a.part[1] if a.part else 2, a)
    failed = [e["name"] for e in entries if e.get("status") == "failed"]
    if failed:
        print(f"error: {len(failed)} system(s) failed: {', '.join(failed)} (see {out / 'logs'})", file=sys.stderr)
        return 1
    return 0


def print_estimates(estimates: list, parts: list, n: int, a: argparse.Namespace) -> None:
    """The dry run's table: each row's steps, its estimated time a step and in all on one H100, and
    its part; then the totals, all rows and each part."""
    print("\nestimated on one H100-class GPU (train/experiments/estimate.py; what this call runs is marked *):")
    print(f"  {'':1} {'part':>4}  {'row':<25} {'steps x batch':>14}  {'ms/step':>13}  {'minutes':>7}")
    for system, e, p in zip(SYSTEMS, estimates, parts):
        chosen = (not a.only or system.name in a.only) and (a.part is None or p == a.part[0])
        steps = f"{e.steps} x {e.batch}" if e.steps else "-"
        per = f"{e.step_ms:.1f} ({e.bound})" if e.steps else "-"
        print(f"  {'*' if chosen else '':1} {p:>4}  {system.name:<25} {steps:>14}  {per:>13}  {e.seconds / 60:7.1f}")
    totals = [sum(e.seconds for e, q in zip(estimates, parts) if q == k) / 60 for k in range(1, n + 1)]
    print(f"  all {len(estimates)} rows: {sum(totals):.1f} min; " + ", ".join(
        f"part {k}/{n}: {t:.1f} min" for k, t in enumerate(totals, 1))
        + f"; plus {estimate.DATA_SECONDS / 60:.1f} min making the data once")


def _previous(path: Path) -> dict:
    """An earlier call's rows by name; none when there is no readable results.json."""
    if not path.is_file():
        return {}
    try:
        return {e["name"]: e for e in json.loads(path.read_text())}
    except (ValueError, KeyError, TypeError):
        return {}


def _table_notes(seeds: SeedsRun) -> list:
    """The lines under the table: where the ImageNet weights came from (or that none did), and
    what knowing nothing scores on the test images."""
    notes = list(seeds.pretrained_notes) + ([] if seeds.dry_run else scale_note(seeds.data["test"]))
    if not seeds.pretrained:
        notes.append(NO_IMAGENET)
    return notes
