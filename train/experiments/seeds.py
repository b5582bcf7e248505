"""The `seeds` command: every system of the table at one budget, each skipped when an earlier call
in the same DIR already did it at this budget (so a stopped call resumes), the table rewritten
after each system."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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
    entries = []
    for i, system in enumerate(SYSTEMS):
        old = previous.get(system.name)
        selected = not a.only or system.name in a.only
        done = old is not None and old.get("status") == "done" and old.get("budget") == budget.name
        if not selected or (done and not a.rerun):
            if old:
                entries.append(old)
            continue
        entries.append(run_system(seeds, system))
        if not a.dry_run:   # after every system: what is done so far, and what an earlier call left
            later = [previous[s.name] for s in SYSTEMS[i + 1:] if s.name in previous]
            write_results(out, entries + later, budget.name, notes)
    if not a.dry_run:
        write_results(out, entries, budget.name, notes)
        print(f"wrote {out / 'results.json'} and {out / 'results.md'}")
    failed = [e["name"] for e in entries if e.get("status") == "failed"]
    if failed:
        print(f"error: {len(failed)} system(s) failed: {', '.join(failed)} (see {out / 'logs'})", file=sys.stderr)
        return 1
    return 0


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
