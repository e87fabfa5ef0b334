"""The SLURM profile on a real (one-node) SLURM cluster: submit, pre-empt, resubmit, resume.

Two kinds of tests:

- unmarked (the default run): the settings check of robgan/slurm.py, the overlay profile
  workflow/profiles/slurm-local against workflow/profiles/slurm, the slurm_smoke config's DAG;
- ``-m slurm`` (``python -m pytest -m slurm -s``): against the cluster of
  workflow/scripts/slurm_local_cluster.sh (started here when it is not running, and then stopped
  again). They need root and Debian's slurm-wlm and munge (installed by the script with apt-get):
  elsewhere they skip, saying why, unless ROBGAN_SLURM_REQUIRED=1 (CI, .ci/run), which turns the skip
  into a failure. The experiment test prints the SLURM job ids, the pre-empted training's two
  attempts and `robgan compare`'s verdict (docs/slurm.md).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import robgan.slurm as rs
from robgan.config import load_config

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SNAKEMAKE = BIN / "snakemake"
SNAKEFILE = REPO / "Snakefile"
CLUSTER = REPO / "workflow" / "scripts" / "slurm_local_cluster.sh"
SLURM_PROFILE = REPO / "workflow" / "profiles" / "slurm"
LOCAL_OVERLAY = REPO / "workflow" / "profiles" / "slurm-local"
CONFIG = REPO / "config" / "slurm_smoke.yaml"
EXPERIMENT = "slurm_smoke"
# seconds for each of the two runs (about 1 and 3 minutes on 2 idle cores; far more on a busy machine)
TIMEOUT = int(os.environ.get("ROBGAN_SLURM_TIMEOUT", "900"))
SLURMCTLD_LOG = Path(os.environ.get("ROBGAN_SLURM_DIR", "/var/lib/robgan-slurm")) / "slurmctld.log"
# every rule but `all` (a local rule) runs as a SLURM job: 15 jobs (train and finetune once, the cost probe, 2
# classifiers x 4 evaluations + fidelity of 1 generator, data, reference, report)
SLURM_JOBS = {"data": 1, "train": 1, "finetune": 1, "cost_probe": 1, "reference": 1, "eval_pgd": 2,
              "eval_autoattack": 2, "eval_gap": 2, "eval_lipschitz": 2, "eval_fidelity": 1, "report": 1}


def _env() -> dict:
    """This environment with the venv first on PATH: jobs are submitted with --export=ALL, so SLURM
    jobs find the same snakemake and robgan."""
    env = {**os.environ, "PATH": os.pathsep.join([str(BIN), os.environ["PATH"]])}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def _snakemake(workdir: Path, *args: str, timeout: int = 120) -> tuple[int, str]:
    cmd = [str(SNAKEMAKE), "--snakefile", str(SNAKEFILE), "--directory", str(workdir), "--configfile",
           str(CONFIG), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=workdir, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


# ------------------------------------------------------------------------------------------------
# Without a cluster
# ------------------------------------------------------------------------------------------------
def test_settings_error_names_each_setting_to_edit():
    gpu = {"slurm_account": "CHANGE_ME", "slurm_partition": "CHANGE_ME_GPU", "gpu": 1}
    jobs = [("data", {"slurm_account": "CHANGE_ME", "slurm_partition": "CHANGE_ME_CPU"}),
            ("train", gpu), ("eval_pgd", gpu), ("eval_pgd", gpu), ("report", {"slurm_partition": "cpu"})]
    set_resources = {"train": ["slurm_partition", "gpu"], "eval_pgd": ["slurm_partition"]}
    assert rs.settings_error(jobs, set_resources, {"cpu", "gpu"}) == (
        "SLURM settings to edit in your --profile (or on the command line): "
        "default-resources: slurm_account = 'CHANGE_ME' (the profile's placeholder); "
        "default-resources: slurm_partition = 'CHANGE_ME_CPU' (the profile's placeholder); "
        "set-resources: eval_pgd, train: slurm_partition = 'CHANGE_ME_GPU' (the profile's placeholder); "
        "the cluster's partitions: cpu, gpu")


def test_settings_error_on_a_partition_the_cluster_lacks():
    jobs = [("train", {"slurm_account": "lab", "slurm_partition": "a100"}),
            ("report", {"slurm_account": "lab", "slurm_partition": "cpu"})]
    error = rs.settings_error(jobs, {"train": ["slurm_partition"]}, {"cpu", "gpu"})
    assert error == ("SLURM settings to edit in your --profile (or on the command line): "
                     "set-resources: train: slurm_partition = 'a100' (not a partition of this cluster); "
                     "the cluster's partitions: cpu, gpu")
    # filled in and known (or not checkable: sinfo missing): nothing to say
    assert rs.settings_error(jobs[1:], {}, {"cpu", "gpu"}) is None
    assert rs.settings_error(jobs, {}, None) is None
    assert rs.settings_error([("train", {"gpu": 1})], {}, {"cpu"}) is None  # no account/partition given


def test_cluster_partitions_reads_sinfo(tmp_path):
    sinfo = tmp_path / "sinfo"
    sinfo.write_text("#!/bin/sh\nprintf 'cpu*\\ngpu\\n'\n")
    sinfo.chmod(0o755)
    assert rs.cluster_partitions(str(sinfo)) == {"cpu", "gpu"}
    assert rs.cluster_partitions(str(tmp_path / "missing")) is None
    sinfo.write_text("#!/bin/sh\necho 'slurm_load_partitions: Unable to contact slurm controller' >&2; exit 1\n")
    assert rs.cluster_partitions(str(sinfo)) is None


def test_local_overlay_is_the_slurm_profile_with_its_placeholders_filled():
    # The overlay repeats default-resources and set-resources in full (a later profile replaces a
    # top-level key as a whole): it must stay the user profile's, but for what its header names.
    user = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())
    overlay = yaml.safe_load((LOCAL_OVERLAY / "config.yaml").read_text())
    assert set(overlay) == {"default-resources", "set-resources", "slurm-status-command",
                            "slurm-init-seconds-before-status-checks"}
    filled = {"CHANGE_ME": "robgan", "CHANGE_ME_CPU": "cpu", "CHANGE_ME_GPU": "gpu"}
    expected_defaults = {k: filled.get(v, v) for k, v in user["default-resources"].items()}
    assert overlay["default-resources"] == expected_defaults
    expected = {rule: {k: (filled.get(v, v) if k != "cpus_per_gpu" else 1) for k, v in res.items()}
                for rule, res in user["set-resources"].items()}
    assert overlay["set-resources"] == expected
    assert {res["cpus_per_gpu"] for res in user["set-resources"].values()} == {8}  # what the overlay lowers
    assert overlay["slurm-status-command"] == "squeue"


def test_slurm_smoke_runs_every_rule(tmp_path):
    rc, out = _snakemake(tmp_path, "-n", "--profile", str(SLURM_PROFILE), "--profile", str(LOCAL_OVERLAY))
    assert rc == 0, out
    rules = dict(re.findall(r"^(\w+)\s+(\d+)$", out[out.index("Job stats:"):], re.M))
    assert {k: int(v) for k, v in rules.items()} == {**SLURM_JOBS, "all": 1, "total": 16}
    assert not (tmp_path / "results").exists()  # a dry run writes nothing under results/
    cfg = load_config(CONFIG)
    # tens of iterations; the pre-emption test signals after the first checkpoint, well before the end
    assert cfg["train"]["iterations"] == 100 and cfg["checkpoint_every"] == 10 and cfg["threads"] == 1


# ------------------------------------------------------------------------------------------------
# On the one-node cluster (-m slurm)
# ------------------------------------------------------------------------------------------------
def _unavailable(reason: str):
    if os.environ.get("ROBGAN_SLURM_REQUIRED") == "1":
        pytest.fail(f"ROBGAN_SLURM_REQUIRED=1 but the SLURM tests cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster():
    """The one-node cluster of slurm_local_cluster.sh: started (and afterwards stopped) here unless it
    already runs."""
    if os.geteuid() != 0:
        _unavailable("the one-node SLURM cluster needs root (it installs packages and starts daemons)")
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        _unavailable("neither SLURM (slurmctld) nor apt-get to install Debian's slurm-wlm and munge")
    running = subprocess.run(["bash", str(CLUSTER), "status"], capture_output=True, text=True).returncode == 0
    if not running:
        proc = subprocess.run(["bash", str(CLUSTER), "start"], capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            _unavailable(f"the one-node cluster did not start: {(proc.stdout + proc.stderr).strip()}")
    yield
    if not running:
        subprocess.run(["bash", str(CLUSTER), "stop"], capture_output=True, text=True)


@pytest.mark.slurm
def test_a_profile_left_with_its_placeholders_fails_before_any_sbatch(cluster, tmp_path):
    start = time.monotonic()
    rc, out = _snakemake(tmp_path, "--profile", str(SLURM_PROFILE))
    errors = [line for line in out.splitlines() if line.startswith("SLURM settings to edit")]
    assert rc != 0 and len(errors) == 1, out
    assert "default-resources: slurm_account = 'CHANGE_ME'" in errors[0]
    assert "default-resources: slurm_partition = 'CHANGE_ME_CPU'" in errors[0]
    assert re.search(r"set-resources: [\w, ]*train[\w, ]*: slurm_partition = 'CHANGE_ME_GPU'", errors[0])
    assert "submitted with SLURM jobid" not in out
    print(f"\n[slurm] user profile as shipped -> {errors[0]} ({time.monotonic() - start:.0f} s)")


@pytest.mark.slurm
def test_a_partition_the_cluster_lacks_fails_before_any_sbatch(cluster, tmp_path):
    rc, out = _snakemake(tmp_path, "--profile", str(SLURM_PROFILE), "--profile", str(LOCAL_OVERLAY),
                         "--default-resources", "slurm_account=robgan", "slurm_partition=nosuch", "runtime=60",
                         "mem_mb=4000")
    errors = [line for line in out.splitlines() if line.startswith("SLURM settings to edit")]
    assert rc != 0 and len(errors) == 1, out
    assert "default-resources: slurm_partition = 'nosuch' (not a partition of this cluster)" in errors[0]
    assert "the cluster's partitions: cpu, gpu" in errors[0] and "set-resources" not in errors[0]
    assert "submitted with SLURM jobid" not in out
    print(f"\n[slurm] partition 'nosuch' -> {errors[0]}")


@pytest.mark.slurm
def test_sbatch_takes_the_profile_options(cluster):
    # the options the profile makes the executor pass (--test-only: checked and scheduled, not run)
    base = ["sbatch", "--test-only", "--export=ALL", "-A", "robgan", "-p", "gpu", "-t", "5", "--mem", "1000",
            "--gpus=1", "--signal=TERM@300", "--wrap", "true"]
    ok = subprocess.run([*base, "--cpus-per-gpu=1"], capture_output=True, text=True)
    assert ok.returncode == 0 and "to start at" in ok.stderr, ok.stderr
    # the profile's own 8 CPUs per GPU do not fit this machine's node: why the overlay asks for 1
    eight = subprocess.run([*base, "--cpus-per-gpu=8"], capture_output=True, text=True)
    if os.cpu_count() < 8:
        assert eight.returncode != 0 and "Requested node configuration is not available" in eight.stderr
    print(f"\n[slurm] sbatch --test-only {' '.join(base[2:-2])} --cpus-per-gpu=1: {ok.stderr.strip()}"
          f"\n[slurm] ... --cpus-per-gpu=8: {eight.stderr.strip()}")


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"snakemake ended (rc {proc.returncode}) before {path} appeared")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout:.0f} s")
        time.sleep(0.2)


def _job_states(ids: list[str]) -> dict[str, str]:
    out = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%i|%T", "--jobs", ",".join(ids)],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("|") for line in out.split())


@pytest.mark.slurm
def test_experiment_through_slurm_preempted_and_resumed_equals_a_local_run(cluster, tmp_path):
    t0 = time.monotonic()
    # 1. the same config on this machine, without SLURM
    local = tmp_path / "local"
    local.mkdir()
    rc, out = _snakemake(local, "--cores", "2", timeout=TIMEOUT)
    assert rc == 0, out
    t_local = time.monotonic() - t0

    # 2. through the SLURM profile (+ the overlay of this cluster); the training is pre-empted by
    # SIGTERM through SLURM once its first checkpoint is written
    work = tmp_path / "slurm"
    work.mkdir()
    log_path = work / "snakemake.log"
    cmd = [str(SNAKEMAKE), "--snakefile", str(SNAKEFILE), "--directory", str(work), "--configfile", str(CONFIG),
           "--profile", str(SLURM_PROFILE), "--profile", str(LOCAL_OVERLAY), "--slurm-keep-successful-logs",
           "--verbose"]  # --verbose: the executor logs each sbatch call
    run_dir = work / "results" / EXPERIMENT / "runs" / "robgan" / "seed0"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=_env(), cwd=work)
        try:
            _wait_for(run_dir / "checkpoint.pt", proc, timeout=400)
            (train_id,) = re.findall(r"submitted with SLURM jobid (\d+) \(log: \S*/rule_train/", log_path.read_text())
            # what SLURM does at pre-emption or --signal=TERM@300: SIGTERM to the job's steps
            subprocess.run(["scancel", "--signal=TERM", train_id], check=True)
            rc = proc.wait(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:  # interrupted, Snakemake cancels its SLURM jobs
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
    out = log_path.read_text()
    assert rc == 0, out[-5000:]
    t_slurm = time.monotonic() - t0 - t_local

    # every job went through sbatch: Snakemake's job ids, each one in slurmctld's log
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: \S*/rule_(\w+)/", out)
    rules: dict[str, list[str]] = {}
    for job_id, rule in submitted:
        rules.setdefault(rule, []).append(job_id)
    assert {r: len(ids) for r, ids in rules.items()} == {**SLURM_JOBS, "train": 2}, submitted
    ctld = SLURMCTLD_LOG.read_text()
    for job_id, _ in submitted:
        assert re.search(rf"_slurm_rpc_submit_batch_job: JobId={job_id}\b", ctld), job_id
    # the training's sbatch call carried the profile's options
    train_calls = [line for line in out.splitlines() if line.startswith("sbatch call:") and "/rule_train/" in line]
    assert len(train_calls) == 2 and "--attempt 2" in train_calls[1], train_calls
    train_call = train_calls[0].removeprefix("sbatch call: ")
    for option in ("--export=ALL", "-A robgan", "-p gpu", "--gpus=1", "--cpus-per-gpu=1", "--signal=TERM@300"):
        assert option in train_call, (option, train_call)

    # the two attempts of the training: pre-empted (checkpoint, exit 143: SLURM state FAILED), then
    # resubmitted by Snakemake (retries) and resumed from that checkpoint
    first, second = rules["train"]
    assert _job_states([first, second]) == {first: "FAILED", second: "COMPLETED"}
    stopped = re.search(r"signal 15: checkpoint written at iteration (\d+)", out)  # shown as the failed job's log
    assert stopped and "returned non-zero exit status 143" in out, out[-5000:]
    iteration = int(stopped.group(1))
    assert 10 <= iteration < 100
    train_log = (work / "results" / EXPERIMENT / "logs" / "train" / "robgan_seed0.log").read_text()
    resumed = re.search(rf"resuming \S+ from iteration {iteration}\b", train_log)
    assert resumed, train_log
    manifest = yaml.safe_load((run_dir / "manifest.json").read_text())
    assert [r["iteration"] for r in manifest["resumes"]] == [iteration]

    # 3. the records equal the local run's (iteration-based values exactly; wall-clock ignored)
    compare = subprocess.run([str(BIN / "robgan"), "compare", str(local / "results" / EXPERIMENT),
                              str(work / "results" / EXPERIMENT)], capture_output=True, text=True)
    verdict = compare.stdout.strip().splitlines()[-1]
    assert compare.returncode == 0 and verdict.startswith("0 difference(s) beyond tolerance"), compare.stdout

    print(f"\n[slurm] local run of {CONFIG.name}: {t_local:.0f} s; SLURM run: {t_slurm:.0f} s")
    print("[slurm] SLURM job ids: " + "; ".join(f"{r} {', '.join(ids)}" for r, ids in sorted(rules.items())))
    print(f"[slurm] training sbatch call: {train_call.split(' --wrap=')[0]}")
    print(f"[slurm] training attempt 1: job {first} FAILED after `scancel --signal=TERM {first}`: "
          f"robgan '{stopped.group(0)}', exit status 143")
    print(f"[slurm] training attempt 2: job {second} COMPLETED; its log: '{resumed.group(0)}'")
    print(f"[slurm] robgan compare local slurm: {verdict}")
