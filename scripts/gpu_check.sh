#!/usr/bin/env bash
# GPU check of training: trains the default reader on CUDA with --val and --test, prints images/s
# from the metrics log, and scores the result on the robustness suite. Fails loudly (set -e, and
# a run that cannot use CUDA stops at the first line). Usage: bash scripts/gpu_check.sh OUT_DIR
set -euo pipefail
PY=${PY:-python3}
OUT=${1:-runs/gpu-check}
STEPS=${STEPS:-7000}
BATCH=${BATCH:-128}
LR=${LR:-2e-3}
mkdir -p "$OUT"
$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('device:', torch.cuda.get_device_name(), 'torch', torch.__version__)"
[ -f data/val/data0.npy ] || $PY -m digitsum make-dataset --split train --n 2000 --seed 2 --out data/val
[ -f data/test/data0.npy ] || $PY -m digitsum make-dataset --split test --n 10000 --seed 1234 --out data/test
start=$(date +%s)
$PY -m train --device cuda --model "${MODEL:-reader}" --synthetic-fraction 1 --val data/val --test data/test --steps "$STEPS" \
    --batch-size "$BATCH" --lr "$LR" --eval-every 500 --seed 0 --out "$OUT/run" --export "$OUT/checkpoint" \
    2>&1 | grep -v "it/s]" | tail -20
echo "train wall time: $(( $(date +%s) - start )) s"
$PY - "$OUT/run/metrics.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rates = [r["images_per_second"] for r in rows if r["kind"] == "train"][2:]
vals = [r for r in rows if r["kind"] == "val"]
print(f"training images/s (median of logging windows): {sorted(rates)[len(rates) // 2]:.0f}")
for r in vals:
    print(f"step {r['step']:>6}  {r['wall_seconds']:7.1f} s  val EMA sum acc {r.get('ema_sum_accuracy', float('nan')):.4f}")
PYEOF
