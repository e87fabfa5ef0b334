#!/usr/bin/env bash
# gpu_slot.sh N_GPUS COMMAND [ARG...]: run COMMAND on one free GPU of this machine.
#
# Snakemake's `--resources gpu=N` caps how many GPU jobs run at once on a local machine, but it
# never says WHICH GPU a job gets: every job would use cuda:0. This wrapper (called by the rules
# as `gpu_slot {resources.gpu} robgan ...`) gives each GPU job its own device:
#   - N_GPUS = 0, or under SLURM (SLURM_JOB_ID set: SLURM exports CUDA_VISIBLE_DEVICES for the
#     GPUs it allocated), or no GPU listed: exec COMMAND unchanged;
#   - otherwise the candidates are the entries of CUDA_VISIBLE_DEVICES when it is set (so
#     `CUDA_VISIBLE_DEVICES=2,3 snakemake --resources gpu=2 ...` uses GPUs 2 and 3 only), else the
#     indices that `nvidia-smi` lists; the first candidate whose lock file can be taken with
#     `flock -n` becomes CUDA_VISIBLE_DEVICES, and COMMAND is exec'ed holding the lock (the lock
#     is released when COMMAND and its children exit). If all are busy it waits and retries.
# robgan jobs use one GPU each; N_GPUS > 1 still gets one device.
# Lock files: $ROBGAN_GPU_LOCK_DIR, default ${TMPDIR:-/tmp}/robgan-gpu-locks-<uid> (shared by all
# Snakemake runs of this user on this machine).
set -euo pipefail

if [[ $# -lt 2 || ! "$1" =~ ^[0-9]+$ ]]; then
    echo "usage: gpu_slot.sh N_GPUS COMMAND [ARG...]" >&2
    exit 2
fi
n_gpus="$1"
shift

if [[ "$n_gpus" -eq 0 || -n "${SLURM_JOB_ID:-}" ]]; then
    exec "$@"
fi

gpus=()
if [[ -n "${CUDA_VISIBLE_DEVICES+set}" ]]; then
    IFS=, read -r -a gpus <<< "$CUDA_VISIBLE_DEVICES"
elif command -v nvidia-smi > /dev/null 2>&1; then
    mapfile -t gpus < <(nvidia-smi --query-gpu=index --format=csv,noheader 2> /dev/null || true)
fi
if [[ ${#gpus[@]} -eq 0 ]]; then
    exec "$@"
fi

lock_dir="${ROBGAN_GPU_LOCK_DIR:-${TMPDIR:-/tmp}/robgan-gpu-locks-$(id -u)}"
mkdir -p "$lock_dir"
while true; do
    for gpu in "${gpus[@]}"; do
        gpu="${gpu// /}"
        [[ -n "$gpu" ]] || continue
        exec {lock_fd}> "$lock_dir/gpu-${gpu//\//_}.lock"
        if flock -n "$lock_fd"; then
            export CUDA_VISIBLE_DEVICES="$gpu"
            echo "gpu_slot: running on GPU $gpu (CUDA_VISIBLE_DEVICES=$gpu)" >&2
            exec "$@"
        fi
        exec {lock_fd}>&-
    done
    sleep 2
done
