# The resolved config, and the names the rules use. The logic (labels, paths, rerun signatures, job
# sizes) lives in the tested package module robgan/pipeline.py; the rules live in data.smk,
# train.smk, evaluate.smk, report.smk.

import os
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError

# Torch-free (PyYAML and jsonschema only): costs nothing at every Snakemake start or SLURM job.
import robgan.pipeline as pipeline
import robgan.slurm

# Validate against the schema robgan itself uses and fill its defaults (in place: `config` is the
# fully resolved experiment). A bad config stops here with robgan's one-line message (field, fix).
try:
    config.update(pipeline.resolve(config))
except ValueError as exc:
    raise WorkflowError(str(exc)) from None

paths = pipeline.Layout.of(config)
# Every rule passes the resolved config to robgan (`--config`), so that the CLI sees exactly what
# Snakemake validated. It is deliberately NOT a declared input of any rule (editing the eval section
# would otherwise retrain everything); what each job depends on is its `params` signature
# (robgan/pipeline.py), and run directories refuse to resume under another training_hash.
# It is written by the Snakefile's onstart handler, i.e. only when jobs are about to run: a dry run
# (`snakemake -n`), `--lint` or `--report` writes nothing under results/ (the spawned SLURM jobs run
# with --no-hooks and read the file the main process wrote).
RESOLVED_CONFIG = paths.config


def write_resolved_config():
    """Write results/<exp>/config.yaml when its content changed (an unchanged file keeps its mtime)."""
    pipeline.write_if_changed(paths.config, pipeline.resolved_config_text(config))

# The paper's claims (directions; values null until transcribed), judged by the report.
PAPER_CLAIMS = os.path.join(workflow.basedir, "config", "paper_claims.yaml")


wildcard_constraints:
    seed=r"\d+",


def data_ready():
    """Input of every job that reads the training set (the data rule's summary). ancient(): only
    its existence matters, so re-running the data step (e.g. after moving data.root) never makes
    trained runs look out of date."""
    return ancient(paths.data_summary)


def shown(outputs):
    """The paths of pipeline.Output entries; those with a caption marked for `snakemake --report`."""
    out = []
    for o in outputs:
        path = o.path
        if o.caption:
            path = report(path, caption=f"../report/{o.caption}.rst", category=o.category,
                          subcategory=o.subcategory, labels=o.labels)
        out.append(path)
    return out


# Job sizes per dataset (workflow/profiles/resources.yaml); --set-resources / --set-threads or a
# profile override them.
_RESOURCES = pipeline.load_resources(Path(workflow.basedir) / "workflow" / "profiles" / "resources.yaml")


def threads_of(job):
    return pipeline.job_resources(_RESOURCES, config["data"]["name"], job)["threads"]


def every_core():
    """Every core of this invocation (--cores), for a job that must run alone (the cost probe).
    workflow.cores raises under a cluster executor, which takes no --cores (the bug the Snakefile's
    onsuccess avoids): there each job has its own allocation, sized by the rule's threads_of()."""
    try:
        return workflow.cores
    except WorkflowError:
        return threads_of("cost_probe")


def resources_of(job):
    """mem_mb, runtime and gpu of the rule named ``job`` for this experiment's dataset."""
    res = pipeline.job_resources(_RESOURCES, config["data"]["name"], job)
    return {k: v for k, v in res.items() if k != "threads"}


# ---------------------------------------------------------------------------------------------
# Software and GPU placement
# ---------------------------------------------------------------------------------------------
# The rules run the `robgan` command of the environment Snakemake runs in (the project's venv:
# `pip install -e .`). SOFTWARE_ENV is the same software as a conda environment file, used only with
# `--software-deployment-method conda` (it pip-installs ${ROBGAN_REPO}, set here to the repository
# root). It must be a file: for a named environment Snakemake runs `conda env export` after every
# job, even without conda deployment.
SOFTWARE_ENV = "../envs/robgan.yaml"
os.environ.setdefault("ROBGAN_REPO", str(Path(workflow.basedir).resolve()))

# `gpu_slot N CMD...` (workflow/scripts/gpu_slot.sh) runs CMD on one free GPU of a local
# multi-GPU machine: `--resources gpu=N` caps how many GPU jobs run at once, but Snakemake never
# sets CUDA_VISIBLE_DEVICES, so without it every job would land on cuda:0. It takes a per-GPU lock
# and exports CUDA_VISIBLE_DEVICES=<that GPU>; with N=0, under SLURM (which sets the variable
# itself) or without GPUs it runs CMD unchanged. The function is defined in the shell prefix
# (braces doubled: Snakemake formats the prefix). It execs (it is the last command of each job's
# shell): the job's process becomes robgan, whose own exit status then reaches Snakemake (143 after
# SIGTERM), and a SIGTERM that SLURM sends to every process of a job (pre-emption, time limit) finds
# no shell around robgan to kill.
_GPU_SLOT = shlex.quote(str(Path(workflow.basedir) / "workflow" / "scripts" / "gpu_slot.sh"))
_SHELL_PREFIX = f'set -euo pipefail; gpu_slot() {{ exec bash {_GPU_SLOT} "$@"; }}; '
shell.prefix(_SHELL_PREFIX.replace("{", "{{").replace("}", "}}"))


# ---------------------------------------------------------------------------------------------
# SLURM settings
# ---------------------------------------------------------------------------------------------
def check_slurm_settings():
    """Under the SLURM executor (known only once the run starts: the Snakefile's onstart), stop
    before the first sbatch when the account or a partition of a job to submit is still the
    profile's CHANGE_ME placeholder or a partition the cluster lacks: one line naming each setting
    (robgan/slurm.py). Dry-runs and other executors are not checked."""
    plugin = workflow.executor_plugin
    if plugin is None or plugin.name != "slurm":
        return
    jobs = [(job.rule.name, job.resources) for job in workflow.dag.needrun_jobs() if not job.is_local]
    set_resources = {rule: list(res) for rule, res in workflow.resource_settings.overwrite_resources.items()}
    error = robgan.slurm.settings_error(jobs, set_resources, robgan.slurm.cluster_partitions())
    if error:
        raise WorkflowError(error)
