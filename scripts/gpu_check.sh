#!/usr/bin/env bash
# GPU check of training. On CUDA it trains --preset gpu for a few hundred steps with --val and
# --test, resumes that run for a few more steps, trains the CPU recipe (batch 128) briefly for
# comparison, and, when the machine has two GPUs or more, trains with 2-process torchrun (on one GPU
# it checks that the second process is refused in one line, as it needs a GPU of its own). For each
# run it prints the training images/s (the median of the logging windows, all processes together),
# the validation curve and the test accuracy. It fails loudly: set -euo pipefail, and a check
# after each run (an export with test metrics, a finite validation accuracy above MIN_ACC, the GPU
# named in the model card). Usage: bash scripts/gpu_check.sh [OUT_DIR]
# env: STEPS (600), BASELINE_STEPS (300; 0 skips the batch-128 run), MIN_ACC (0.5),
#      EXTRA (more flags for every run, e.g. --compile), PY (python3), DEVICE (cuda; cpu for a dry run)
set -euo pipefail
PY=${PY:-python3}
OUT=${1:-runs/gpu-check}
STEPS=${STEPS:-600}
BASELINE_STEPS=${BASELINE_STEPS:-300}
MIN_ACC=${MIN_ACC:-0.5}
EXTRA=${EXTRA:-}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"

fail() { echo "gpu_check FAILED: $*" >&2; exit 1; }
quiet() { tr '\r' '\n' | { grep -v -E -e '^(train|evaluate): +[0-9]+%\|' -e '^ *$' || true; } | tail -15; }   # no tqdm bars

GPUS=$($PY - "$DEVICE" <<'PYEOF'
import sys, torch
if sys.argv[1] != "cpu":
    assert torch.cuda.is_available(), "no CUDA device"
    print(f"device: {torch.cuda.get_device_name()} | torch {torch.__version__} | "
          f"GPUs: {torch.cuda.device_count()}", file=sys.stderr)
print(torch.cuda.device_count() if sys.argv[1] != "cpu" else 0)
PYEOF
) || fail "no CUDA device here"
[ -f data/val/data0.npy ] || $PY -m digitsum make-dataset --split train --n 2000 --seed 2 --out data/val
[ -f data/test/data0.npy ] || $PY -m digitsum make-dataset --split test --n 10000 --seed 1234 --out data/test

# check NAME RUN_DIR EXPORT_DIR WALL_SECONDS: print the run's figures; fail when they are wrong
check() {
    $PY - "$@" "$MIN_ACC" "$DEVICE" <<'PYEOF'
import json, math, sys
from pathlib import Path
name, run, export, wall, min_acc, device = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], float(sys.argv[5]), sys.argv[6]
def fail(msg):
    sys.exit(f"gpu_check FAILED ({name}): {msg}")
rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if l]
rates = [r["images_per_second"] for r in rows if r["kind"] == "train"][1:]   # the first window warms up
vals = [r for r in rows if r["kind"] == "val"]
if not rates or not vals:
    fail("no training or validation records in metrics.jsonl")
for r in vals:
    print(f"  {name}: step {r['step']:>5}  {r['wall_seconds']:7.1f} s  val EMA sum acc {r.get('ema_sum_accuracy', float('nan')):.4f}")
acc = vals[-1].get("ema_sum_accuracy", vals[-1].get("raw_sum_accuracy"))
if acc is None or not math.isfinite(acc) or acc < min_acc:
    fail(f"validation sum accuracy {acc} at step {vals[-1]['step']} (below {min_acc})")
line = f"  {name}: {sorted(rates)[len(rates) // 2]:,.0f} training images/s (median), wall {wall} s, val EMA sum acc {acc:.4f}"
if export.name != "-":
    if not (export / "model.safetensors").is_file():
        fail(f"no export in {export}")
    tests = {k: v for k, v in json.loads((export / "metrics.json").read_text()).items() if k.startswith("test ")}
    if not tests:
        fail("no test metrics in the export")
    for k, v in tests.items():
        line += f", {k} sum {v['sum_accuracy']:.4f} / digit {v.get('digit_accuracy') or float('nan'):.4f}"
    card = (export / "README.md").read_text()
    if device != "cpu" and "**device**: cpu" in card:
        fail("the model card says it trained on the CPU")
    if name.startswith("torchrun") and "**processes**: 2 (torchrun; global batch 512 = 2 x 256 images)" not in card:
        fail("the model card does not record 2 processes and the global batch 512")
print(line)
PYEOF
}

COMMON=(--device "$DEVICE" --synthetic-fraction 1 --val data/val --seed 0 $EXTRA)

echo "== --preset gpu, $STEPS steps, --val and --test"
start=$(date +%s)
$PY -m train --preset gpu "${COMMON[@]}" --test data/test --steps "$STEPS" --eval-every $(( (STEPS + 2) / 3 )) \
    --out "$OUT/gpu" --export "$OUT/gpu-checkpoint" 2>&1 | quiet
check preset-gpu "$OUT/gpu" "$OUT/gpu-checkpoint" $(( $(date +%s) - start ))

echo "== --resume of that run to $(( STEPS + 100 )) steps"
$PY -m train --preset gpu "${COMMON[@]}" --steps $(( STEPS + 100 )) --eval-every $(( (STEPS + 2) / 3 )) \
    --out "$OUT/gpu" --resume 2>&1 | quiet
$PY -c "import json,sys; s=json.load(open('$OUT/gpu/last/state.json'))['step']; sys.exit(0 if s == $STEPS + 100 else f'gpu_check FAILED: resumed to step {s}')"

if [ "$BASELINE_STEPS" -gt 0 ]; then
    echo "== the CPU recipe (reader, batch 128), $BASELINE_STEPS steps, for comparison"
    start=$(date +%s)
    $PY -m train "${COMMON[@]}" --steps "$BASELINE_STEPS" --eval-every "$BASELINE_STEPS" --out "$OUT/cpu-recipe" 2>&1 | quiet
    check cpu-recipe "$OUT/cpu-recipe" - $(( $(date +%s) - start ))
fi

if [ "$GPUS" -ge 2 ]; then
    echo "== 2-process torchrun, --preset gpu, $STEPS steps (the global batch 512: 256 per process, one GPU each)"
    start=$(date +%s)
    $PY -m torch.distributed.run --standalone --nproc_per_node 2 -m train --preset gpu "${COMMON[@]}" --test data/test \
        --steps "$STEPS" --eval-every $(( (STEPS + 2) / 3 )) --out "$OUT/ddp" --export "$OUT/ddp-checkpoint" 2>&1 | quiet
    check torchrun-2 "$OUT/ddp" "$OUT/ddp-checkpoint" $(( $(date +%s) - start ))
elif [ "$DEVICE" != cpu ]; then
    echo "== 2-process torchrun on $GPUS GPU: each rank needs its own GPU, so rank 1 is refused in one line"
    if $PY -m torch.distributed.run --standalone --nproc_per_node 2 -m train "${COMMON[@]}" --steps 2 \
        --out "$OUT/ddp-refused" > "$OUT/ddp-refused.log" 2>&1; then
        fail "2 processes on $GPUS GPU were not refused"
    fi
    grep -q "error: rank 1: --device $DEVICE: this process needs cuda:0+LOCAL_RANK 1 = cuda:1" "$OUT/ddp-refused.log" \
        || fail "2 processes on $GPUS GPU: not the one-line refusal (see $OUT/ddp-refused.log)"
    echo "  refused: $(grep -m1 'error: rank 1' "$OUT/ddp-refused.log")"
else
    echo "== 2-process torchrun: skipped (DEVICE=cpu)"
fi
echo "gpu_check passed"
