#!/usr/bin/env bash
# The GPU session of the performance issue as one prepared script: the CUDA tests, the benchmark
# (fp32 eager, then bf16 + channels_last), the projected device-hours of the paper configs, and a
# short real Rob-GAN run at the CIFAR-10 config on a CIFAR-10 .npz subset with its sample grid.
#
#   bash benchmarks/gpu_check.sh                      # on the GPU machine, from the repository root
#   DEVICE=cpu QUICK=1 SHAPES=cifar10 METHODS=robgan,pgd PROJECT=config/cifar10.yaml ITERS=4 \
#       OUT=/tmp/check bash benchmarks/gpu_check.sh
#                                                     # smoke test of the script itself on a CPU
#
# Environment: OUT (results folder, default benchmarks/results), NPZ (the subset, default
# resources/data/cifar10_jpeg_subset.npz; the run is skipped with a message when it is absent),
# ITERS (Rob-GAN iterations of the short run, default 2000), DEVICE (cuda), QUICK=1 (bench --quick),
# SHAPES (bench shapes, default auto: all three on CUDA), METHODS (bench methods, default all),
# PROJECT (configs to project, default config/cifar10.yaml config/imagenet143.yaml; each needs its
# shape in the bench).
# Every step runs even if an earlier one failed; the exit status is that of the first failure.
set -uo pipefail
OUT=${OUT:-benchmarks/results}
NPZ=${NPZ:-resources/data/cifar10_jpeg_subset.npz}
ITERS=${ITERS:-2000}
DEVICE=${DEVICE:-cuda}
BENCH_FLAGS=(--shapes "${SHAPES:-auto}")
[ -n "${METHODS:-}" ] && BENCH_FLAGS+=(--methods "$METHODS")
PROJECT=${PROJECT:-config/cifar10.yaml config/imagenet143.yaml}
[ "${QUICK:-0}" = 1 ] && BENCH_FLAGS+=(--quick)
mkdir -p "$OUT"
status=0
step() {  # step NAME CMD...: run, time and log one step
    local name=$1; shift
    local t0=$SECONDS
    echo "== $name: $*"
    if "$@" 2>&1 | tee "$OUT/gpu-check-$name.log"; then
        echo "== $name: ok ($((SECONDS - t0)) s)"
    else
        echo "== $name: FAILED ($((SECONDS - t0)) s)"
        [ "$status" = 0 ] && status=1
    fi
}
newest_bench() { ls -t "$OUT"/bench-*.json 2>/dev/null | head -n 1; }

if [ "$DEVICE" = cuda ]; then
    step tests python -m pytest -q -m gpu -p no:cacheprovider
fi
step bench-fp32 robgan bench --device "$DEVICE" "${BENCH_FLAGS[@]}" --note "gpu_check.sh: fp32 eager" --out "$OUT"
FP32=$(newest_bench)
extra=(--channels-last)
[ "$DEVICE" = cuda ] && extra+=(--bf16)
step bench-fast robgan bench --device "$DEVICE" "${BENCH_FLAGS[@]}" "${extra[@]}" \
    --note "gpu_check.sh: ${extra[*]}" --out "$OUT"
FAST=$(newest_bench)
# Both benches project to projection-<experiment>-<device>.{json,md} (the second overwrites the first);
# each table is also kept in its step log, gpu-check-project-<experiment>-{fp32,fast}.log.
for cfg in $PROJECT; do
    name=$(basename "$cfg" .yaml)
    [ -n "$FP32" ] && step "project-$name-fp32" robgan bench --project "$cfg" --bench-json "$FP32" --out "$OUT"
    [ -n "$FAST" ] && step "project-$name-fast" robgan bench --project "$cfg" --bench-json "$FAST" --out "$OUT"
done

if [ -f "$NPZ" ]; then
    RUN="$OUT/cifar10-subset-robgan-$(date -u +%Y%m%d-%H%M)"
    step cifar10-run robgan train --config config/cifar10.yaml --method robgan --seed 0 --out "$RUN" \
        --set "data.root=$NPZ" --set data.download=false --set "train.iterations=$ITERS" \
        --set "device=$DEVICE" --set log_every=100 --set "snapshot_every=$ITERS" --set "checkpoint_every=$ITERS"
    step cifar10-grid python -c "
import sys, robgan
from robgan.report.figures import write_sample_grid
from robgan.data.cifar10 import CIFAR10_CLASSES
g = robgan.load_generator(sys.argv[1])
paths = write_sample_grid(g, sys.argv[1] + '/samples', 'Rob-GAN, CIFAR-10 subset, ' + sys.argv[2] + ' iterations',
                          g.n_classes, class_names=CIFAR10_CLASSES)
print('wrote', *paths)
" "$RUN" "$ITERS"
else
    echo "== cifar10-run: skipped, $NPZ does not exist (copy ../shared/data/cifar10_jpeg_subset.npz there)"
fi
exit $status
