#!/usr/bin/env bash
# Probe for #26: does Rob-GAN (new loss + attacker) stay diverse within every class over 3 seeds at
# mnist5k's budget with the quick discriminator (ndf 16), the generator weight average (g_ema 0.999)
# and bf16 training, and which generator lever (lower G rate, wider G) is needed? Every GAN at n_dis 1
# (no train.method_overrides: SN-GAN like for like; the sngan "ndis1-*" settings set it explicitly).
# and can SN-GAN train at n_dis 1 there (claim 4 like for like)?
# Usage: bash benchmarks/probes/robgan-collapse-seeds/run.sh OUT_DIR METHOD[,METHOD...] SETTING...
# (every method x setting x seeds 0-2, 2 jobs at a time)
set -euo pipefail
out=${1:?OUT_DIR}; method=${2:?METHOD}; shift 2
mkdir -p "$out"
export PROBE_OUT=$out
[ -f "$out/reference/metrics.json" ] || OMP_NUM_THREADS=2 robgan train-reference \
  --config config/mnist5k.yaml --out "$out/reference" > "$out/reference.log" 2>&1
one() {  # METHOD SETTING SEED
  local m=$1 s=$2 seed=$3 extra=() run
  case $s in
    base) ;;
    lrg5e-4) extra=(--set train.lr_g=0.0005) ;;
    lrg1e-3) extra=(--set train.lr_g=0.001) ;;
    lr1e-3) extra=(--set train.lr_d=0.001 --set train.lr_g=0.001) ;;
    ngf16) extra=(--set model.ngf=16) ;;
    noema) extra=(--set train.g_ema=null) ;;
    # SN-GAN at Rob-GAN's n_dis 1 (claim 4 like for like) with lower Adam rates, betas (0, 0.9)
    ndis1-lr1e-3) extra=(--set train.method_overrides.sngan.n_dis=1 --set train.lr_d=0.001 --set train.lr_g=0.001) ;;
    ndis1-lrg1e-3) extra=(--set train.method_overrides.sngan.n_dis=1 --set train.lr_g=0.001) ;;
    lrg1e-3-it1500) extra=(--set train.lr_g=0.001 --set train.iterations=1500 --set advtrain.iterations=1800) ;;
    ndis1-lrg5e-4) extra=(--set train.method_overrides.sngan.n_dis=1 --set train.lr_g=0.0005) ;;
    ndis1-lr5e-4) extra=(--set train.method_overrides.sngan.n_dis=1 --set train.lr_d=0.0005 --set train.lr_g=0.0005) ;;
    *) echo "unknown setting $s" >&2; return 2 ;;
  esac
  run=$PROBE_OUT/$m/$s/seed$seed; mkdir -p "$(dirname "$run")"
  if [ ! -f "$run/model.pt" ]; then
    local t0=$SECONDS
    robgan train --config config/mnist5k.yaml --set model.ndf=16 --set performance.bf16=true \
      --set "train.method_overrides={}" \
      --set snapshot_every=300 "${extra[@]}" --method "$m" --seed "$seed" --out "$run" > "$run.log" 2>&1
    echo $((SECONDS - t0)) > "$run.seconds"
  fi
  robgan eval fidelity --run "$run" --reference "$PROBE_OUT/reference" --out "$run.fid.csv" > "$run.fid.log" 2>&1
  echo "done $m $s $seed"
}
export -f one
for m in ${method//,/ }; do for s in "$@"; do for seed in 0 1 2; do echo "$m $s $seed"; done; done; done \
  | OMP_NUM_THREADS=1 xargs -P 2 -L 1 bash -c 'one "$0" "$1" "$2"'
