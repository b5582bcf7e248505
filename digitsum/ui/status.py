"""The line above the tabs that follows the background scoring of the test set (Errors and Compare
wait for it), polled each second while the scoring runs."""
from __future__ import annotations

import gradio as gr

from digitsum.app.service import DigitsumService
from .common import PRIVATE


def _of(k: int, n: int) -> str:
    return "every checkpoint" if k == n else f"{k} of {n} checkpoints"


def scoring_line(service: DigitsumService) -> str:
    """'' once every checkpoint has scored the whole set (or nothing runs), else where the scoring
    stands: 'scoring the test set: digitsum-small 40% of 10,000 · done: first 300: every checkpoint,
    all 10,000: 1 of 4'."""
    scoring = service.scoring
    running = scoring.running()
    total, names = len(service.dataset), service.names
    full = sum(scoring.fully_scored(n) for n in names)
    if not running and (full == len(names) or scoring.scoring_done()):
        return ""
    first = sum(scoring.available(n) > 0 for n in names)
    now = ", ".join(f"{n} {f:.0%} of {'the first ' if size < total else ''}{size:,}"
                    for n, (f, size) in running.items()) or "waiting"
    done = [f"all {total:,}: {_of(full, len(names))}"]
    if total > scoring.first_slice:
        done.insert(0, f"first {scoring.first_slice:,}: {_of(first, len(names))}")
    return f"scoring the test set: {now} · done: {', '.join(done)}"


def add_scoring_status(service: DigitsumService) -> None:
    """The status line and its timer; the poll stops once nothing is left to score."""
    status = gr.Markdown(elem_id="scoring-status")
    timer = gr.Timer(1.0)

    def on_tick():
        line = scoring_line(service)
        done = not line and service.scoring_done()
        return (f"⏳ {line} (Compare and Errors show what is scored; their ↻ takes more)" if line else ""), \
            gr.Timer(active=not done)

    timer.tick(on_tick, None, [status, timer], show_progress="hidden", **PRIVATE)
