#!/usr/bin/env bash
# The GPU session of the performance issue as one prepared script: the CUDA tests, the benchmark
# (fp32 eager, then bf16 + bf16 attacks + channels_last, then the same compiled), the projected device-hours of the paper configs, and a
# short real Rob-GAN run at the CIFAR-10 config on a CIFAR-10 .npz subset with its sample grid.
#
#   bash benchmarks/gpu_check.sh                      # on the GPU machine, from the repository root
#   DEVICE=cpu QUICK=1 SHAPES=cifar10 METHODS=robgan,pgd PROJECT=config/cifar10.yaml ITERS=4 \
#       RESULTS=/tmp/check bash benchmarks/gpu_check.sh
#                                                     # smoke test of the script itself on a CPU
#
# On a GPU machine where the project is not installed and the registry is out of reach, prepare
# the missing dependencies here first (bash benchmarks/device_wheels.sh -> .whl/) and carry .whl and
# resources/data: the script runs the checkout through PYTHONPATH and `python3 -m robgan`, installing
# the wheels into /tmp/robgan-site only when jsonschema or mlxtend cannot be imported.
#
# Environment: RESULTS (results folder, default benchmarks/results), NPZ (the subset, default
# resources/data/cifar10_jpeg_subset.npz; the run is skipped with a message when it is absent),
# ITERS (Rob-GAN iterations of the short run, default 2000), DEVICE (cuda), COMPILE (1: also bench with
# torch.compile, default 1), QUICK=1 (bench --quick),
# SHAPES (bench shapes, default auto: all three on CUDA), METHODS (bench methods, default all),
# PROJECT (configs to project, default config/cifar10.yaml config/imagenet143.yaml; each needs its
# shape in the bench), PY (the Python holding torch, default python3), WHL (wheel folder, default .whl),
# BUNDLE (a .tar.gz path: after every step, everything under RESULTS except the *.pt model files is packed
# into it, so that a machine that returns only a few files, or a command killed at its time limit,
# still hands back every result so far).
# Every step runs even if an earlier one failed; the exit status is that of the first failure.
set -uo pipefail
RESULTS=${RESULTS:-benchmarks/results}
NPZ=${NPZ:-resources/data/cifar10_jpeg_subset.npz}
ITERS=${ITERS:-2000}
DEVICE=${DEVICE:-cuda}
BENCH_FLAGS=(--shapes "${SHAPES:-auto}")
[ -n "${METHODS:-}" ] && BENCH_FLAGS+=(--methods "$METHODS")
PROJECT=${PROJECT:-config/cifar10.yaml config/imagenet143.yaml}
[ "${QUICK:-0}" = 1 ] && BENCH_FLAGS+=(--quick)
PY=${PY:-$(command -v python3 || command -v python)}
WHL=${WHL:-.whl}
if ! "$PY" -c "import robgan" 2>/dev/null; then  # not installed: run the checkout itself
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! "$PY" -c "import jsonschema, mlxtend" 2>/dev/null; then
    if ls "$WHL"/*.whl >/dev/null 2>&1; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/robgan-site "$WHL"/*.whl || exit 1
        export PYTHONPATH="/tmp/robgan-site${PYTHONPATH:+:$PYTHONPATH}"
    else
        echo "jsonschema / mlxtend missing and no wheels in $WHL: run benchmarks/device_wheels.sh here first" >&2
        exit 1
    fi
fi
ROBGAN=(robgan)
command -v robgan >/dev/null 2>&1 || ROBGAN=("$PY" -m robgan)
mkdir -p "$RESULTS"
status=0
step() {  # step NAME CMD...: run, time and log one step
    local name=$1; shift
    local t0=$SECONDS
    echo "== $name: $*"
    if "$@" 2>&1 | tee "$RESULTS/gpu-check-$name.log"; then
        echo "== $name: ok ($((SECONDS - t0)) s)"
    else
        echo "== $name: FAILED ($((SECONDS - t0)) s)"
        [ "$status" = 0 ] && status=1
    fi
    if [ -n "${BUNDLE:-}" ]; then
        tar czf "$BUNDLE.tmp" --exclude='*.pt' -C "$RESULTS" . && mv "$BUNDLE.tmp" "$BUNDLE"
    fi
}
newest_bench() { ls -t "$RESULTS"/bench-*.json 2>/dev/null | head -n 1; }

step env "$PY" -c "
import torch, robgan, sys
print('python', sys.version.split()[0], '| torch', torch.__version__, '| CUDA', torch.version.cuda,
      '| device', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none', '| robgan from', robgan.__file__)
"
if [ "$DEVICE" = cuda ]; then
    step tests "$PY" -m pytest -q -m gpu -p no:cacheprovider
fi
step bench-fp32 "${ROBGAN[@]}" bench --device "$DEVICE" "${BENCH_FLAGS[@]}" --note "gpu_check.sh: fp32 eager" --out "$RESULTS"
FP32=$(newest_bench)
# the switches the configs use (quick: channels_last, bf16 training, bf16 evaluation PGD), then the same
# with torch.compile (measured, not used by any config: docs/speed.md)
extra=(--channels-last)
[ "$DEVICE" = cuda ] && extra+=(--bf16 --bf16-attacks)
step bench-fast "${ROBGAN[@]}" bench --device "$DEVICE" "${BENCH_FLAGS[@]}" "${extra[@]}" \
    --note "gpu_check.sh: ${extra[*]}" --out "$RESULTS"
FAST=$(newest_bench)
if [ "${COMPILE:-1}" = 1 ]; then
    step bench-compile "${ROBGAN[@]}" bench --device "$DEVICE" "${BENCH_FLAGS[@]}" "${extra[@]}" --compile \
        --note "gpu_check.sh: ${extra[*]} --compile" --out "$RESULTS"
fi
# Both benches project to projection-<experiment>-<device>.{json,md} (the second overwrites the first);
# each table is also kept in its step log, gpu-check-project-<experiment>-{fp32,fast}.log.
for cfg in $PROJECT; do
    name=$(basename "$cfg" .yaml)
    [ -n "$FP32" ] && step "project-$name-fp32" "${ROBGAN[@]}" bench --project "$cfg" --bench-json "$FP32" --out "$RESULTS"
    [ -n "$FAST" ] && step "project-$name-fast" "${ROBGAN[@]}" bench --project "$cfg" --bench-json "$FAST" --out "$RESULTS"
done

if [ -f "$NPZ" ]; then
    RUN="$RESULTS/cifar10-subset-robgan-$(date -u +%Y%m%d-%H%M)"
    step cifar10-run "${ROBGAN[@]}" train --config config/cifar10.yaml --method robgan --seed 0 --out "$RUN" \
        --set "data.root=$NPZ" --set data.download=false --set "train.iterations=$ITERS" \
        --set "device=$DEVICE" --set log_every=100 --set "snapshot_every=$ITERS" --set "checkpoint_every=$ITERS"
    step cifar10-grid "$PY" -c "
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
