# Config resolution and validation, run labels, result paths, per-dataset job sizing, and the
# signatures that make Snakemake rerun exactly the jobs a config edit affects.
#
# Only helpers and settings here; the rules live in data.smk, train.smk, evaluate.smk, report.smk.

import os
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
# Validate against the schema that robgan itself uses; missing keys take the schema's defaults
# (in place), so `config` below is the fully resolved experiment.
validate(config, "../schemas/config.schema.yaml")


# robgan.config needs only PyYAML and jsonschema (the package imports torch lazily), so this
# costs nothing at every Snakemake start or SLURM job.
import robgan.config as RC

EXPERIMENT = config["experiment"]
DATASET = config["data"]["name"]
SEEDS = [int(s) for s in config["seeds"]]
RESULTS = f"results/{EXPERIMENT}"
# The resolved config: every rule passes it to robgan (`--config`), so that the CLI sees exactly
# what Snakemake validated. It is deliberately NOT a declared input of any rule (editing the
# eval section would otherwise retrain everything); what each job depends on is captured by its
# `params` signature (below), and run directories refuse to resume under another training_hash.
RESOLVED_CONFIG = f"{RESULTS}/config.yaml"


def _write_if_changed(path, text):
    """Write ``text`` atomically, only if the file's content differs (its mtime stays stable)."""
    path = Path(path)
    if path.is_file() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


_write_if_changed(
    RESOLVED_CONFIG,
    f"# Resolved config of experiment '{EXPERIMENT}' (schema defaults filled), written by the\n"
    f"# Snakefile and passed to every robgan command. Do not edit: edit the experiment file.\n"
    f"{RC.dump_config(config)}",
)


# ---------------------------------------------------------------------------------------------
# Runs and labels (docs/architecture.md: "label" = method, except fine-tuning)
# ---------------------------------------------------------------------------------------------
TRAIN_METHODS = list(config["methods"])

# Fine-tuning runs made from every robgan run, label -> lambda.
FINETUNE = {}
if "robgan" in TRAIN_METHODS:
    for _lam in config["finetune_lambdas"]:
        _label = "robgan_ft" if float(_lam) > 0 else "robgan_ft_nofake"
        if _label in FINETUNE:
            raise WorkflowError(
                f"finetune_lambdas {config['finetune_lambdas']}: at most one value > 0 (robgan_ft) "
                "and one 0 (robgan_ft_nofake) are allowed; fix finetune_lambdas in your config."
            )
        FINETUNE[_label] = _lam

# Which labels each evaluation applies to (canonical order = table order). sngan's projection
# discriminator has no class head, so it is never evaluated as a classifier; fine-tuning freezes the
# generator, so robgan_ft* have no generator of their own.
CLASSIFIER_ORDER = ("advtrain", "robgan", "robgan_ft", "robgan_ft_nofake", "acgan", "acgan_newloss",
                    "robgan_oldloss")
GENERATOR_ORDER = ("sngan", "robgan", "acgan", "acgan_newloss", "robgan_oldloss")
GAP_ORDER = ("advtrain", "robgan", "robgan_ft", "robgan_ft_nofake")
EVAL_ORDER = {
    "pgd": CLASSIFIER_ORDER,
    "autoattack": CLASSIFIER_ORDER,
    "gap": GAP_ORDER,
    "lipschitz": CLASSIFIER_ORDER,
    "fidelity": GENERATOR_ORDER,
}
LABELS = TRAIN_METHODS + list(FINETUNE)
EVAL_LABELS = {kind: [l for l in order if l in LABELS] for kind, order in EVAL_ORDER.items()}
GENERATOR_LABELS = EVAL_LABELS["fidelity"]


def alternation(names):
    """Regex matching exactly one of ``names`` (for wildcard_constraints)."""
    return "|".join(sorted(names, key=len, reverse=True))


wildcard_constraints:
    seed=r"\d+",


def run_dir(label, seed):
    return f"{RESULTS}/runs/{label}/seed{seed}"


def run_model(label, seed):
    """model.pt: the completion marker of a run directory (written last, atomically)."""
    return f"{run_dir(label, seed)}/model.pt"


def record_path(kind, label, seed, ext="json"):
    return f"{RESULTS}/records/{kind}/{label}_seed{seed}.{ext}"


def log_path(name):
    return f"{RESULTS}/logs/{name}.log"


def data_ready():
    """Input of every job that reads the training set (the data rule's summary). ancient(): only
    its existence matters, so re-running the data step (e.g. after moving data.root) never makes
    trained runs look out of date."""
    return ancient(f"{RESULTS}/data/summary.json")


def all_run_models():
    return [run_model(label, seed) for label in LABELS for seed in SEEDS]


def all_records():
    """Every evaluation record of the experiment (the report's inputs)."""
    out = []
    for kind, labels in EVAL_LABELS.items():
        for label in labels:
            for seed in SEEDS:
                out.append(record_path(kind, label, seed))
                if kind == "fidelity":
                    out.append(record_path(kind, label, seed, "csv"))
    return out


# ---------------------------------------------------------------------------------------------
# What `robgan report` writes (docs/architecture.md, results layout); captions live in
# workflow/report/<name>.rst.
# ---------------------------------------------------------------------------------------------
TABLES = ("robust_accuracy", "robust_accuracy_strong", "autoattack", "generation", "ablation")
TABLE_FORMATS = ("csv", "md", "tex")
FIGURES = ("is_vs_time", "is_vs_iter", "fid_vs_time", "fid_vs_iter", "accuracy_vs_eps",
           "robustness_gap", "lipschitz")
FIGURE_FORMATS = ("png", "pdf")


# What the paper claims (directions; values null until transcribed), judged by the report.
PAPER_CLAIMS = os.path.join(workflow.basedir, "config", "paper_claims.yaml")


def table_outputs(flag=False):
    """tables/<name>.{csv,md,tex}; with ``flag`` the CSVs are marked for `snakemake --report`
    (caption workflow/report/<name>.rst)."""
    out = []
    for name in TABLES:
        for ext in TABLE_FORMATS:
            path = f"{RESULTS}/tables/{name}.{ext}"
            if flag and ext == "csv":
                path = report(path, caption=f"../report/{name}.rst", category="Tables",
                              labels={"table": name})
            out.append(path)
    return out


def figure_outputs(flag=False):
    """figures/<name>.{png,pdf} and figures/samples_<label>.{png,pdf} (one per generator label);
    with ``flag`` the PNGs are marked for the report (caption workflow/report/<name>.rst, one
    caption, samples.rst, for all sample grids)."""
    out = []
    for name, caption, labels in [
        *((f, f, {"figure": f}) for f in FIGURES),
        *((f"samples_{l}", "samples", {"figure": "samples", "model": l}) for l in GENERATOR_LABELS),
    ]:
        for ext in FIGURE_FORMATS:
            path = f"{RESULTS}/figures/{name}.{ext}"
            if flag and ext == "png":
                path = report(path, caption=f"../report/{caption}.rst",
                              category="Figures", subcategory="Samples" if caption == "samples" else "Plots",
                              labels=labels)
            out.append(path)
    return out


def report_outputs():
    """Every file the report job writes (what the default target asks for)."""
    return table_outputs() + figure_outputs() + [f"{RESULTS}/claims.md", f"{RESULTS}/claims.json"]


# ---------------------------------------------------------------------------------------------
# Rerun signatures (Snakemake's default rerun triggers include `params`)
# ---------------------------------------------------------------------------------------------
# Each rule carries, as a param, a short hash of exactly the config it depends on. Snakemake
# stores params in .snakemake/metadata and reruns a job whose params changed, so:
#   - editing eval.pgd.eps changes only the pgd signature -> only eval_pgd jobs (+ report) rerun;
#   - adding a seed adds jobs (+ report, whose input list changed) and reruns nothing else;
#   - editing a training section reruns the training jobs of the methods that use it (and, as
#     their model.pt is protected, Snakemake stops with a ProtectedOutputException first, instead
#     of silently deleting an expensive model: move the run directory away to retrain; write
#     protection does not bind root, so do not run the workflow as root).
# Not in any signature: device, threads, eval.batch_size (speed/memory knobs that do not change
# results) and where the data lives (data.root, data.download, data.cache_dir).
_DATA_LOCATION_KEYS = ("root", "download", "cache_dir")
# The config section each training job reads its budget/optimiser/attack from.
_OWN_SECTION = {"advtrain": "advtrain", "robgan_ft": "finetune"}


def signature(obj):
    """16-hex SHA-256 of the canonical JSON of ``obj`` (robgan.config.config_hash)."""
    return RC.config_hash(obj)


def _data_view():
    return {k: v for k, v in config["data"].items() if k not in _DATA_LOCATION_KEYS}


def training_signature(method, finetune_lam=None):
    """Signature of what a training job of ``method`` computes: robgan.config.training_view (what
    the run directory's hash covers) without the sections owned by other methods (editing
    finetune.* must not retrain sngan) and without data-location keys. ``finetune_lam``: the
    lambda the fine-tuning job passes with --set (it replaces finetune.lam)."""
    view = RC.training_view(config)
    view["data"] = _data_view()
    own = _OWN_SECTION.get(method, "train")
    for section in ("train", "advtrain", "finetune"):
        # fine-tuning starts from a robgan run: keep `train` (its generator makes the fakes)
        if section != own and not (own == "finetune" and section == "train"):
            view.pop(section, None)
    if finetune_lam is not None:
        view["finetune"] = {**view["finetune"], "lam": float(finetune_lam)}
    return signature(view)


def finetune_lambda(label):
    """The lambda of fine-tuning label ``label`` (robgan_ft: the value > 0, robgan_ft_nofake: 0)."""
    if label not in FINETUNE:
        raise WorkflowError(
            f"no fine-tuning run '{label}' in this experiment: it needs 'robgan' in methods and a "
            f"{'value > 0' if label == 'robgan_ft' else '0'} in finetune_lambdas "
            f"(now: methods {TRAIN_METHODS}, finetune_lambdas {config['finetune_lambdas']})."
        )
    return FINETUNE[label]


def eval_signature(kind):
    """Signature of the settings one kind of job (an evaluation, the reference) depends on."""
    ev = config["eval"]
    seeds = {"index_seed": ev["index_seed"], "attack_seed": ev["attack_seed"]}
    views = {
        "pgd": {"pgd": ev["pgd"], **seeds},
        "autoattack": {"autoattack": ev["autoattack"], **seeds},
        # the gap uses the paper protocol at eval.gap.eps, not the eps grid
        "gap": {"gap": ev["gap"], "paper": ev["pgd"]["paper"], **seeds},
        "lipschitz": {"lipschitz": ev["lipschitz"], "index_seed": ev["index_seed"]},
        # the reference classifier's settings reach fidelity through reference/metrics.json
        "fidelity": {k: v for k, v in ev["fidelity"].items() if k != "reference_classifier"},
        "reference": {"data": _data_view(), "fidelity": {k: v for k, v in ev["fidelity"].items()
                                                         if k != "snapshots"}},
    }
    return signature(views[kind])


def report_signature():
    """The report reads the whole config (labels, eps grid, AutoAttack eps), less the knobs above."""
    view = {k: v for k, v in config.items() if k not in ("device", "threads")}
    view["data"] = _data_view()
    view["eval"] = {k: v for k, v in config["eval"].items() if k != "batch_size"}
    return signature(view)


# ---------------------------------------------------------------------------------------------
# Job sizing, per dataset (the schema belongs to the package, so it is not a config key)
# ---------------------------------------------------------------------------------------------
# threads: torch intra-op threads (Snakemake exports OMP_NUM_THREADS=threads, robgan reads it;
#          on SLURM also --cpus-per-task / --cpus-per-gpu);
# mem_mb:  host memory; runtime: minutes, the time limit of ONE attempt (training is resumable:
#          a job that hits it checkpoints on SIGTERM, fails, and the SLURM profile's `retries`
#          resubmits it, so runtime need not cover a whole training run);
# gpu:     GPUs per job (0/1); locally it only counts against `--resources gpu=N`.
# Estimates for one current data-centre GPU (UNMEASURED for the paper configs: adjust from the
# SLURM efficiency report). Override per run with --set-resources RULE:KEY=VALUE / --set-threads
# RULE=N, or in a profile.
_CPU_SMALL = dict(threads=1, mem_mb=4000, runtime=60, gpu=0)  # 2 one-thread jobs beat 1 two-thread job on small convs
_GPU_JOB = dict(threads=8, mem_mb=32000, gpu=1)
RESOURCES = {
    # embedded digits, CPU-sized: the whole DAG in minutes on 2 cores
    "mnist5k": {
        job: dict(_CPU_SMALL)
        for job in ("data", "train", "finetune", "reference", "eval_pgd", "eval_autoattack",
                     "eval_gap", "eval_lipschitz", "eval_fidelity", "report")
    },
    "cifar10": {
        "data": dict(threads=2, mem_mb=8000, runtime=60, gpu=0),
        "train": dict(_GPU_JOB, runtime=1440),
        "finetune": dict(_GPU_JOB, runtime=720),
        "reference": dict(_GPU_JOB, runtime=120),
        "eval_pgd": dict(_GPU_JOB, runtime=360),
        "eval_autoattack": dict(_GPU_JOB, runtime=720),
        "eval_gap": dict(_GPU_JOB, runtime=120),
        "eval_lipschitz": dict(_GPU_JOB, runtime=240),
        "eval_fidelity": dict(_GPU_JOB, runtime=720),
        "report": dict(threads=2, mem_mb=8000, runtime=60, gpu=0),
    },
    "imagenet143": {
        # decodes the built class-folder tree once into data.cache_dir (the uint8 tensor, ~2.2 GB)
        "data": dict(threads=8, mem_mb=24000, runtime=240, gpu=0),
        "train": dict(_GPU_JOB, mem_mb=64000, runtime=1440),
        "finetune": dict(_GPU_JOB, mem_mb=64000, runtime=1440),
        "reference": dict(_GPU_JOB, mem_mb=64000, runtime=240),
        "eval_pgd": dict(_GPU_JOB, mem_mb=48000, runtime=480),
        "eval_autoattack": dict(_GPU_JOB, mem_mb=48000, runtime=1440),
        "eval_gap": dict(_GPU_JOB, mem_mb=64000, runtime=240),
        "eval_lipschitz": dict(_GPU_JOB, mem_mb=64000, runtime=360),
        "eval_fidelity": dict(_GPU_JOB, mem_mb=48000, runtime=1440),
        "report": dict(threads=2, mem_mb=8000, runtime=60, gpu=0),
    },
}


def threads_of(job):
    return RESOURCES[DATASET][job]["threads"]


def resources_of(job):
    """mem_mb, runtime and gpu of the rule named ``job`` for this experiment's dataset."""
    return {k: v for k, v in RESOURCES[DATASET][job].items() if k != "threads"}


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
# (braces doubled: Snakemake formats the prefix).
_GPU_SLOT = shlex.quote(str(Path(workflow.basedir) / "workflow" / "scripts" / "gpu_slot.sh"))
_SHELL_PREFIX = f'set -euo pipefail; gpu_slot() {{ bash {_GPU_SLOT} "$@"; }}; '
shell.prefix(_SHELL_PREFIX.replace("{", "{{").replace("}", "}}"))
