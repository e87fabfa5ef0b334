#!/usr/bin/env bash
# Width probe: what standard AutoAttack on 200 images costs, and what the classifiers score, at other
# discriminator widths (model.ndf) of config/mnist5k.yaml. For each NDF, seed 0 of the two classifiers
# claim 6b compares is trained exactly as the experiment trains them (Rob-GAN 600 iterations +
# fine-tuning 150, Madry 900 updates), then scored with the pipeline's own `robgan eval pgd` (1,000
# test images) and `robgan eval autoattack` (version standard, N_AA images). Two jobs run side by side,
# one core each, as in the DAG.
#
#   bash benchmarks/width/run.sh                 # NDFS="8 16", N_AA=200: about 40 min on 2 cores
#
# The committed probe (benchmarks/width/mnist5k/) ran with the config frozen beside it (ndf 16, 600
# iterations: config/mnist5k.yaml at 6c8def4): CONFIG=benchmarks/width/mnist5k/config.yaml reproduces it.
# Weights go to build/width/ (ignored); records to benchmarks/width/<experiment>/ndf<N>/, summarised by
# summarize.py into benchmarks/width/<experiment>/summary.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${CONFIG:-config/mnist5k.yaml}
NDFS=${NDFS:-"8 16"}
N_AA=${N_AA:-200}
EXTRA=${EXTRA:-}   # more --set overrides for every command, e.g. EXTRA="train.iterations=20" (smoke tests)
EXP=$(sed -n 's/^experiment: *//p' "$CONFIG" | head -n 1)
ROOT=${ROOT:-benchmarks/width}   # records (and build/width for weights)
CORES=$(nproc --all)
export OMP_NUM_THREADS=1 CONFIG N_AA EXP EXTRA ROOT
extra_sets() { local kv; for kv in $EXTRA; do printf -- '--set\n%s\n' "$kv"; done; }
export -f extra_sets

one_width() {  # ndf: train both classifiers of claim 6b, then evaluate them (two jobs side by side)
  local ndf=$1 work=build/width/$EXP/ndf$1 out=$ROOT/$EXP/ndf$1
  mkdir -p "$work" "$out"
  local set=(--set "model.ndf=$ndf")
  mapfile -t -O 2 set < <(extra_sets)
  robgan train --config "$CONFIG" "${set[@]}" --method robgan --seed 0 --out "$work/robgan" > "$work/robgan.log" 2>&1
  robgan finetune --config "$CONFIG" "${set[@]}" --from "$work/robgan" --seed 0 --out "$work/robgan_ft" \
    > "$work/robgan_ft.log" 2>&1
  for label in robgan robgan_ft; do cp "$work/$label/train_log.csv" "$out/train_log_$label.csv"; done
}
one_advtrain() {
  local ndf=$1 work=build/width/$EXP/ndf$1 out=$ROOT/$EXP/ndf$1
  mkdir -p "$work" "$out"
  local set=(--set "model.ndf=$ndf")
  mapfile -t -O 2 set < <(extra_sets)
  robgan train --config "$CONFIG" "${set[@]}" --method advtrain --seed 0 --out "$work/advtrain" \
    > "$work/advtrain.log" 2>&1
  cp "$work/advtrain/train_log.csv" "$out/train_log_advtrain.csv"
}
evaluate() {  # ndf label kind
  local work=build/width/$EXP/ndf$1 out=$ROOT/$EXP/ndf$1
  local set=(--set "eval.autoattack.n_examples=$N_AA")
  mapfile -t -O 2 set < <(extra_sets)
  robgan eval "$3" --run "$work/$2" --config "$CONFIG" "${set[@]}" \
    --out "$out/$3_$2.json" > "$work/$3_$2.log" 2>&1
  echo "ndf $1 $2 $3 done"
}
export -f one_width one_advtrain evaluate
start=$(date +%s)
{ for n in $NDFS; do echo "one_width $n"; echo "one_advtrain $n"; done; } \
  | xargs -P 2 -L 1 bash -c 'set -euo pipefail; "$0" "$1"'
{ for n in $NDFS; do for l in advtrain robgan_ft; do echo "$n $l autoattack"; echo "$n $l pgd"; done; done; } \
  | xargs -P 2 -L 1 bash -c 'set -euo pipefail; evaluate "$0" "$1" "$2"'
echo "wall seconds: $(( $(date +%s) - start )) with 2 jobs on $CORES cores" | tee "$ROOT/$EXP/wall.txt"
python benchmarks/width/summarize.py "$ROOT/$EXP" --config "$CONFIG"
