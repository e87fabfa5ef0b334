#!/bin/bash
# eval_pgd's cost on one finished classifier run: quick's eps grid against the paper grid, and the
# paper grid with the old (20 x 1) and the new (50 x 3) strong protocol. One thread, as a DAG job.
# Usage (repository root, project environment): bash benchmarks/eval_cost/measure.sh RUN_DIR OUT_DIR
set -euo pipefail
run=$1; out=$2; mkdir -p "$out"
common=(--run "$run" --device cpu --config config/config.yaml --set threads=1)
grid6='eval.pgd.eps=[0.0, 0.05, 0.1, 0.15, 0.2, 0.3]'
t() {
  local name=$1; shift
  local s; s=$(date +%s.%N)
  robgan eval pgd "${common[@]}" --out "$out/$name.json" "$@" > "$out/$name.log" 2>&1
  echo "$name $(echo "$(date +%s.%N) - $s" | bc)" | tee -a "$out/times.txt"
}
# quick: its old grid vs the paper grid (+0.15, +0.3), 200 images, quick's strong (20 x 1)
t quick_grid4 --set 'eval.pgd.eps=[0.0, 0.05, 0.1, 0.2]'
t quick_grid6 --set "$grid6"
# mnist5k's old and new strong protocol on 200 images (mnist5k evaluates 1,000), the paper grid
t m5k_strong20x1 --set "$grid6" --set eval.batch_size=250 \
  --set 'eval.pgd.strong={steps: 20, step_fraction: 0.15, restarts: 1, random_start: true}'
t m5k_strong50x3 --set "$grid6" --set eval.batch_size=250 \
  --set 'eval.pgd.strong={steps: 50, step_fraction: 0.1, restarts: 3, random_start: true}'
