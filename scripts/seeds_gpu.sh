#!/usr/bin/env bash
# The seeds' table at the gpu budget on one H100/H200-class GPU: every row of
# `python -m train.experiments seeds` (bf16 autocast and channels_last, as python -m train does on
# CUDA; data held on the GPU) in about 12 minutes in all, or in two parts of about 6 minutes each
# (--part 1/2, then --part 2/2) for shorter leases. Resumable: a row done is skipped, a row stopped
# midway goes on from its last save point, so the same command can simply be run again.
# --dry-run (no GPU needed) prints every row's command, its steps and its estimated time on one
# H100 (train/experiments/estimate.py). When every row is done, results.json and results.md are copied
# to results/seeds-gpu/ (their paths are relative to the repository) with commands.txt, and each
# row's estimate is printed beside its measured wall time.
#
# Usage: bash scripts/seeds_gpu.sh [--dry-run] [--part K/2] [--only NAME]... [--rerun] [--pretrained PATH]...
# env: OUT (runs/seeds-gpu), PY (.venv/bin/python when there, else python3), RESULTS (results/seeds-gpu:
#      where a finished table is copied), PUBLISH (1; 0 copies nothing), DEVICE (cuda; cpu skips the
#      GPU check, for the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PY:-}" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
OUT=${OUT:-runs/seeds-gpu}
PUBLISH=${PUBLISH:-1}
RESULTS=${RESULTS:-results/seeds-gpu}
DEVICE=${DEVICE:-cuda}

dry=0
for arg in "$@"; do [ "$arg" = --dry-run ] && dry=1; done
if [ "$dry" = 0 ] && [ "$DEVICE" != cpu ]; then
    $PY -c "
import sys, torch
if not torch.cuda.is_available():
    sys.exit('seeds_gpu: no CUDA GPU here (--dry-run plans without one)')
print(f'seeds_gpu: {torch.cuda.get_device_name()} | torch {torch.__version__} | {torch.cuda.device_count()} GPU(s)')"
fi

start=$(date +%s)
status=0
$PY -m train.experiments seeds --budget gpu --out "$OUT" --device "$DEVICE" "$@" || status=$?
echo "seeds_gpu: this call took $(( $(date +%s) - start )) s (exit $status)"
[ "$dry" = 1 ] && exit "$status"

$PY - "$OUT" "$PUBLISH" "$RESULTS" <<'PYEOF'
import json, shutil, sys
from pathlib import Path
from train.experiments.systems import SYSTEMS
from train.experiments.table import ours_text
out, publish, target = Path(sys.argv[1]), sys.argv[2] == "1", Path(sys.argv[3])
rows = {e["name"]: e for e in json.loads((out / "results.json").read_text())}
print(f"{'row':<22} {'estimated':>9} {'measured':>9}  ours")
for s in SYSTEMS:
    e = rows.get(s.name, {})
    est, wall = e.get("estimated_seconds_h100"), e.get("wall_seconds")
    print(f"{s.name:<22} {'-' if est is None else f'{est:.0f} s':>9} {'-' if wall is None else f'{wall:.0f} s':>9}  "
          f"{ours_text(e) if e else 'not run yet'}")
done = [s.name for s in SYSTEMS if rows.get(s.name, {}).get("status") == "done" and rows[s.name]["budget"] == "gpu"]
if len(done) < len(SYSTEMS):
    print(f"seeds_gpu: {len(done)} of {len(SYSTEMS)} rows done; run the script again for the rest")
elif publish:
    target.mkdir(parents=True, exist_ok=True)
    for name in ("results.json", "results.md"):
        shutil.copy(out / name, target / name)
    (target / "commands.txt").write_text("".join(rows[s.name]["command"] + "\n" for s in SYSTEMS))
    print(f"seeds_gpu: every row done; copied to {target}/ (results.json, results.md, commands.txt)")
PYEOF
exit "$status"
