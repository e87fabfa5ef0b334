#!/usr/bin/env bash
# slurm_local_cluster.sh start|stop|status: a one-node SLURM cluster on this machine, to try the
# SLURM profile (workflow/profiles/slurm) without a real cluster, and to test it in CI
# (tests/workflow/test_slurm.py; docs/slurm.md).
#
#   start   as root: install Debian's slurm-wlm and munge if they are missing (apt-get), write
#           /etc/slurm/slurm.conf and /etc/slurm/gres.conf, start munged, slurmctld and slurmd
#           (no systemd) and wait until the node is idle. Safe to run twice: a running cluster is
#           left as it is.
#   stop    stop the three daemons (the configuration and the logs stay).
#   status  print the daemons' state and `sinfo`; exit 0 when both daemons run and the node is
#           not down or drained.
#
# The cluster: one node (this machine's hostname, all of its CPUs, 3/4 of its memory) with
# $ROBGAN_SLURM_GPUS "gpu" generic resources (default 2) that are not devices, in two partitions,
# `cpu` (the default) and `gpu`, both on that node. The gpu GRES lets the profile's
# `--gpus=1 --cpus-per-gpu=N` jobs schedule on a CPU-only machine (slurmd logs that the File= is
# not a device; jobs still run, on the CPU). No cgroups (ProctrackType=proctrack/linuxproc,
# TaskPlugin=task/none) and no accounting database: jobs' states come from squeue (the profile
# overlay workflow/profiles/slurm-local sets `slurm-status-command: squeue`; MinJobAge=600 keeps
# finished jobs in squeue long enough for it). Daemons' logs and state: $ROBGAN_SLURM_DIR
# (default /var/lib/robgan-slurm). A slurm.conf that this script did not write is never replaced.
set -euo pipefail

STATE="${ROBGAN_SLURM_DIR:-/var/lib/robgan-slurm}"
GPUS="${ROBGAN_SLURM_GPUS:-2}"
CONF=/etc/slurm/slurm.conf
GRES_CONF=/etc/slurm/gres.conf
MARKER="# written by robgan-repro workflow/scripts/slurm_local_cluster.sh"
NODE="$(hostname -s)"

say() { echo "slurm_local_cluster: $*"; }
die() { echo "slurm_local_cluster: $*" >&2; exit 1; }

alive() {  # alive PIDFILE: the process of PIDFILE runs
    [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

node_state() {
    sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n 1
}

install_packages() {
    local missing=()
    command -v munged >/dev/null 2>&1 || missing+=(munge)
    for cmd in slurmctld slurmd sbatch; do
        command -v "$cmd" >/dev/null 2>&1 || { missing+=(slurm-wlm); break; }
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    command -v apt-get >/dev/null 2>&1 || die "needs ${missing[*]} (Debian packages) and there is no apt-get"
    say "installing ${missing[*]} (apt-get)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null
}

write_config() {
    if [[ -f "$CONF" ]] && ! grep -qF "$MARKER" "$CONF"; then
        die "$CONF exists and was not written by this script: this machine has a SLURM set-up of its own, not touching it"
    fi
    local cpus mem_mb
    cpus="$(nproc --all)"
    mem_mb="$(awk '/MemTotal/ {print int($2 / 1024 * 3 / 4)}' /proc/meminfo)"
    mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d"
    local gres_lines="" i
    for ((i = 0; i < GPUS; i++)); do
        # not a device: slurmd says so in its log, schedules the GRES all the same
        gres_lines+="NodeName=$NODE Name=gpu File=$STATE/gpu$i"$'\n'
        : > "$STATE/gpu$i"
    done
    cat > "$CONF.new" <<CONF
$MARKER
ClusterName=robgan-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
# finished jobs stay in squeue this long (seconds): the executor plugin reads their state there
MinJobAge=600
KillWait=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:$GPUS State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
CONF
    printf '%s\n%s' "$MARKER" "$gres_lines" > "$GRES_CONF.new"
    mv "$CONF.new" "$CONF"
    mv "$GRES_CONF.new" "$GRES_CONF"
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return 0
    fi
    [[ -s /etc/munge/munge.key ]] || { mungekey --create --keyfile=/etc/munge/munge.key; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 755 /run/munge
    runuser -u munge -- munged
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    die "munged does not answer (see /var/log/munge/munged.log)"
}

wait_idle() {
    local state=""
    for _ in $(seq 60); do
        state="$(node_state)"
        case "$state" in
            idle*|mixed*|allocated*|completing*) return 0 ;;
            down*|drain*) scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
        esac
        sleep 1
    done
    die "node $NODE is '${state:-unknown}' after 60 s, not idle (logs: $STATE/slurmctld.log, $STATE/slurmd.log)"
}

start() {
    [[ "$(id -u)" -eq 0 ]] || die "start needs root (it installs packages and starts system daemons)"
    install_packages
    if alive "$STATE/slurmctld.pid" && alive "$STATE/slurmd.pid"; then
        wait_idle
        say "already running: node $NODE $(node_state) (partitions: $(sinfo -h -o %P | tr '\n' ' '))"
        return 0
    fi
    write_config
    start_munge
    alive "$STATE/slurmctld.pid" || slurmctld
    alive "$STATE/slurmd.pid" || slurmd
    wait_idle
    say "running: node $NODE $(node_state), $(nproc --all) CPUs, gpu:$GPUS; partitions: $(sinfo -h -o %P | tr '\n' ' ')"
}

stop() {
    local name pidfile pid
    for name in slurmd slurmctld; do
        pidfile="$STATE/$name.pid"
        if alive "$pidfile"; then
            pid="$(cat "$pidfile")"
            kill "$pid"
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
            say "stopped $name ($pid)"
        fi
        rm -f "$pidfile"
    done
    local munge_pid=/run/munge/munged.pid
    if alive "$munge_pid"; then
        pid="$(cat "$munge_pid")"
        kill "$pid"
        say "stopped munged ($pid)"
    fi
}

status() {
    local name ok=0
    for name in slurmctld slurmd; do
        if alive "$STATE/$name.pid"; then say "$name running ($(cat "$STATE/$name.pid"))"; else say "$name not running"; ok=1; fi
    done
    [[ $ok -eq 0 ]] || return 1
    sinfo
    case "$(node_state)" in down*|drain*|fail*|unknown*|"") return 1 ;; *) return 0 ;; esac
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
