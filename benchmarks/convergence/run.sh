#!/usr/bin/env bash
# Convergence study: seed 0 of every GAN method of an embedded experiment trained ITERS iterations
# (default 1500) and Madry's adversarial training ADV_ITERS updates (>= the GANs' 1500 + 150 fine-tuning
# D updates, as the config validation requires), then IS / FID / class accuracy of every generator
# snapshot (the pipeline's own `robgan eval fidelity`). Training is deterministic on the CPU and the GANs'
# learning rates are constant, so the first train.iterations of the config are the experiment's seed-0
# runs and the rest extends them (summarize.py checks it against COMMITTED).
# The committed study (benchmarks/convergence/mnist5k/) ran with the config frozen beside it (ndf 16,
# 600 iterations: config/mnist5k.yaml at 6c8def4) and compares with that experiment's seed-0 records,
# kept in prefix_records/; reproduce it with
#   CONFIG=benchmarks/convergence/mnist5k/config.yaml COMMITTED=benchmarks/convergence/mnist5k/prefix_records \
#     bash benchmarks/convergence/run.sh
# The longest job (SN-GAN, 5 D updates per iteration) is listed first.
#
#   bash benchmarks/convergence/run.sh            # about 45 min on 2 cores
#   ITERS=1500 ADV_ITERS=2250 JOBS=2 bash benchmarks/convergence/run.sh
#
# Run directories (weights) go to build/convergence/ (ignored); the measured records to
# benchmarks/convergence/<experiment>/, which summarize.py turns into summary.md and convergence.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${CONFIG:-config/mnist5k.yaml}
ITERS=${ITERS:-1500}
ADV_ITERS=${ADV_ITERS:-2250}
JOBS=${JOBS:-2}
METHODS=${METHODS:-"sngan acgan acgan_newloss robgan robgan_oldloss"}
EXP=$(sed -n 's/^experiment: *//p' "$CONFIG" | head -n 1)
COMMITTED=${COMMITTED:-results/$EXP/records/fidelity}
WORK=build/convergence/$EXP
OUT=benchmarks/convergence/$EXP
mkdir -p "$WORK" "$OUT/fidelity" "$OUT/train_logs"
CORES=$(nproc --all)       # before OMP_NUM_THREADS, which nproc obeys
export OMP_NUM_THREADS=1   # one core per job; JOBS jobs side by side

echo "reference features -> $WORK/reference"
robgan train-reference --config "$CONFIG" --out "$WORK/reference" > "$WORK/reference.log" 2>&1

train_one() {  # method iterations
  local m=$1 n=$2
  # advtrain.iterations is set for every method: validation wants it >= the GANs' budget
  robgan train --config "$CONFIG" --set "train.iterations=$ITERS" --set "advtrain.iterations=$ADV_ITERS" \
    --set snapshot_every=100 \
    --method "$m" --seed 0 --out "$WORK/$m" > "$WORK/$m.train.log" 2>&1
  cp "$WORK/$m/train_log.csv" "$OUT/train_logs/$m.csv"
  if [ "$m" != advtrain ]; then
    robgan eval fidelity --run "$WORK/$m" --reference "$WORK/reference" --config "$CONFIG" \
      --out "$OUT/fidelity/$m.csv" > "$WORK/$m.fidelity.log" 2>&1
  fi
  echo "$m done ($n iterations)"
}
export -f train_one
export CONFIG WORK OUT ITERS ADV_ITERS
start=$(date +%s)
{ for m in $METHODS; do echo "$m $ITERS"; done; echo "advtrain $ADV_ITERS"; } | xargs -P "$JOBS" -L 1 bash -c 'set -euo pipefail; train_one "$0" "$1"'
echo "wall seconds: $(( $(date +%s) - start )) with $JOBS jobs on $CORES cores" | tee "$OUT/wall.txt"
python benchmarks/convergence/summarize.py "$OUT" --config "$CONFIG" --iters "$ITERS" --adv-iters "$ADV_ITERS" \
  --committed "$COMMITTED"
