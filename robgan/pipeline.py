"""What the Snakemake workflow runs, where each job writes, and when a job is out of date.

Pure functions of a resolved experiment config (``robgan.config.validate``), so that the rule files
(``workflow/rules/*.smk``) stay thin and this logic is tested like the rest of the package. Torch-free:
the Snakefile imports it at every start and in every SLURM job. It never reads Snakemake globals.

- **Labels**: which runs an experiment makes and which evaluation applies to which run, from
  ``robgan.registry``.
- **Paths**: :class:`Layout`, the results tree of docs/architecture.md ("Results layout"); every rule
  takes its paths from it. Pass ``"{label}"`` / ``"{seed}"`` to get a rule's wildcard pattern.
- **Signatures**: a short hash of exactly the config each job depends on. The rules carry it as a
  param; Snakemake stores params in ``.snakemake/metadata`` and reruns a job whose params changed,
  so editing ``eval.pgd.eps`` reruns the PGD evaluations (and the report) only.
- **Job sizes**: threads, memory, time limit and GPUs per dataset and rule, read from a YAML table
  (``workflow/profiles/resources.yaml``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from robgan import registry
from robgan.config import (
    DATA_LOCATION_KEYS,
    METHOD_SECTIONS,
    SAMPLING_KEYS,
    SAMPLING_METHODS,
    ConfigError,
    config_hash,
    dump_config,
    method_section_view,
    training_view,
    validate,
)

__all__ = [
    "FINETUNE_FROM",
    "FINETUNE_SOURCE_PRIORITY",
    "JOBS",
    "PRIORITIES",
    "RESOURCE_KEYS",
    "RUN_EVALUATIONS",
    "Layout",
    "Output",
    "alternation",
    "data_signature",
    "eval_signature",
    "eval_signature_of_label",
    "evaluation_labels",
    "figure_outputs",
    "finetune_lambda",
    "finetune_runs",
    "finetuned_labels",
    "job_priority",
    "job_resources",
    "load_resources",
    "record_paths",
    "report_outputs",
    "report_signature",
    "resolve",
    "resolved_config_text",
    "run_labels",
    "run_models",
    "table_outputs",
    "trained_labels",
    "training_signature",
    "write_if_changed",
]

# The evaluations that share one rule shape (a run in, one record out); fidelity also reads the
# reference and writes a .csv beside its record.
RUN_EVALUATIONS = tuple(k for k in registry.EVALUATIONS if k != "fidelity")
# Every rule that does work, i.e. every entry a dataset needs in the job-size table.
JOBS = ("data", "train", "finetune", "cost_probe", "reference", *(f"eval_{k}" for k in registry.EVALUATIONS),
        "report")
RESOURCE_KEYS = ("threads", "mem_mb", "runtime", "gpu")
# The method whose runs fine-tuning starts from (robgan).
FINETUNE_FROM = registry.METHODS["robgan_ft"].from_run


# ---------------------------------------------------------------------------------------------
# Config and labels
# ---------------------------------------------------------------------------------------------
def resolve(cfg: Mapping[str, Any]) -> dict:
    """Validate ``cfg``, fill the schema defaults, and check the run labels it makes.

    Returns the resolved config (a new dict). Raises ``ConfigError`` with a one-line message naming the
    field and the fix (a schema violation, or two ``finetune_lambdas`` that give the same label).
    """
    out = validate(dict(cfg))
    run_labels(out)
    return out


def finetune_runs(cfg: Mapping[str, Any]) -> dict[str, float]:
    """``{label: λ}`` of the fine-tuning runs (made from every ``robgan`` run; none without one)."""
    if FINETUNE_FROM not in cfg["methods"]:
        return {}
    try:
        return registry.finetune_labels(cfg["finetune_lambdas"])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def run_labels(cfg: Mapping[str, Any]) -> list[str]:
    """Every run label of the experiment in display order (``ConfigError`` on a bad λ list)."""
    finetune_runs(cfg)  # the λ check, with ConfigError
    return registry.experiment_labels(cfg)


def finetune_lambda(cfg: Mapping[str, Any], label: str) -> float:
    """The λ of fine-tuning label ``label`` (``robgan_ft``: the value > 0, ``robgan_ft_nofake``: 0)."""
    runs = finetune_runs(cfg)
    if label not in runs:
        raise ConfigError(
            f"no fine-tuning run '{label}' in this experiment: it needs 'robgan' in methods and a "
            f"{'value > 0' if label == 'robgan_ft' else '0'} in finetune_lambdas "
            f"(now: methods {list(cfg['methods'])}, finetune_lambdas {list(cfg['finetune_lambdas'])})."
        )
    return runs[label]


def evaluation_labels(cfg: Mapping[str, Any]) -> dict[str, list[str]]:
    """``{kind: [label, ...]}``: the runs of this experiment each evaluation applies to (its
    ``eval.<kind>.labels`` subset applied)."""
    labels = run_labels(cfg)
    return {kind: registry.evaluation_labels(kind, labels, cfg) for kind in registry.EVALUATIONS}


def trained_labels() -> list[str]:
    """Labels made by ``robgan train`` (from scratch); the others by ``robgan finetune``."""
    return [lb for lb, info in registry.LABELS.items() if info.info.from_run is None]


def finetuned_labels() -> list[str]:
    """Labels made by ``robgan finetune`` from a :data:`FINETUNE_FROM` run."""
    return [lb for lb, info in registry.LABELS.items() if info.info.from_run is not None]


def alternation(names: Iterable[str]) -> str:
    """Regex matching exactly one of ``names`` (for ``wildcard_constraints``)."""
    return "|".join(sorted(names, key=len, reverse=True))


# ---------------------------------------------------------------------------------------------
# Scheduling
# ---------------------------------------------------------------------------------------------
# Snakemake starts the ready job of highest priority first. On a few cores the DAG's wall time is its
# job-seconds divided by the cores plus the time a core waits with nothing ready, mostly at the end.
# Longest jobs first (list scheduling's LPT rule) leaves the short evaluations to fill that tail:
# the cost probe (it reserves every core), then the fine-tunings (they head the longest chain:
# robgan -> robgan_ft -> its evaluations), then the training of the run they start from, the
# reference (every fidelity job waits for it), the other trainings, the fidelity jobs (the longest
# evaluations), AutoAttack, the PGD sweeps, the short evaluations, and the report.
PRIORITIES: dict[str, int] = {
    "cost_probe": 200,
    "finetune": 100,
    "train": 50,
    "reference": 55,
    "eval_fidelity": 40,
    "eval_autoattack": 30,
    "eval_pgd": 20,
    "eval_gap": 10,
    "eval_lipschitz": 10,
    "data": 0,
    "report": 0,
}
# The training that fine-tuning starts from runs before the reference and the other trainings.
FINETUNE_SOURCE_PRIORITY = 60


def job_priority(job: str, label: str | None = None) -> int:
    """Snakemake priority of a ``job`` (a name in :data:`JOBS`) for run ``label`` (higher runs first).

    Only the order among ready jobs changes, never what a job computes. ``KeyError`` names an unknown job.
    """
    if job not in PRIORITIES:
        raise KeyError(f"no priority for job '{job}': one of {sorted(PRIORITIES)}")
    if job == "train" and label == FINETUNE_FROM:
        return FINETUNE_SOURCE_PRIORITY
    return PRIORITIES[job]


# ---------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """The results tree of one experiment, ``results/<experiment>/`` (relative to the working dir).

    Per-run paths take ``label`` and ``seed``; pass ``"{label}"``, ``"{seed}"`` for a rule's pattern.
    """

    root: str

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> Layout:
        return cls(f"results/{cfg['experiment']}")

    @property
    def config(self) -> str:
        """The resolved config every rule passes to robgan (``--config``)."""
        return f"{self.root}/config.yaml"

    @property
    def data_summary(self) -> str:
        return f"{self.root}/data/summary.json"

    @property
    def runs(self) -> str:
        return f"{self.root}/runs"

    @property
    def records(self) -> str:
        return f"{self.root}/records"

    @property
    def cost_probe(self) -> str:
        """Each method's seconds per training iteration, measured alone (:mod:`robgan.cost_probe`)."""
        return f"{self.root}/cost_probe.json"

    @property
    def reference_metrics(self) -> str:
        return f"{self.root}/reference/metrics.json"

    def run_dir(self, label: str, seed: int | str) -> str:
        return f"{self.runs}/{label}/seed{seed}"

    def run_model(self, label: str, seed: int | str) -> str:
        """model.pt: the completion marker of a run directory (written last, atomically)."""
        return f"{self.run_dir(label, seed)}/model.pt"

    def record(self, kind: str, label: str, seed: int | str, ext: str = "json") -> str:
        return f"{self.records}/{kind}/{label}_seed{seed}.{ext}"

    def _per_job(self, kind: str, job: str, label: str | None, seed: int | str | None, ext: str) -> str:
        if label is None:
            return f"{self.root}/{kind}/{job}.{ext}"
        return f"{self.root}/{kind}/{job}/{label}_seed{seed}.{ext}"

    def log(self, job: str, label: str | None = None, seed: int | str | None = None) -> str:
        """``logs/<job>.log``, or ``logs/<job>/<label>_seed<seed>.log`` for a per-run job."""
        return self._per_job("logs", job, label, seed, "log")

    def benchmark(self, job: str, label: str | None = None, seed: int | str | None = None) -> str:
        """Snakemake's time/memory file of a job (``workflow/scripts/job_times.py`` sums them)."""
        return self._per_job("benchmarks", job, label, seed, "tsv")

    def table(self, name: str, ext: str) -> str:
        return f"{self.root}/tables/{name}.{ext}"

    def figure(self, name: str, ext: str) -> str:
        return f"{self.root}/figures/{name}.{ext}"

    def claims(self, ext: str) -> str:
        return f"{self.root}/claims.{ext}"


def run_models(cfg: Mapping[str, Any]) -> list[str]:
    """model.pt of every (label, seed) of the experiment."""
    lay = Layout.of(cfg)
    return [lay.run_model(label, seed) for label in run_labels(cfg) for seed in cfg["seeds"]]


def record_paths(cfg: Mapping[str, Any]) -> list[str]:
    """Every evaluation record of the experiment (the report's inputs); fidelity adds its .csv."""
    lay = Layout.of(cfg)
    out = []
    for kind, labels in evaluation_labels(cfg).items():
        for label in labels:
            for seed in cfg["seeds"]:
                out.append(lay.record(kind, label, seed))
                if kind == "fidelity":
                    out.append(lay.record(kind, label, seed, "csv"))
    return out


@dataclass(frozen=True)
class Output:
    """A file the report job writes; with ``caption`` it is shown in ``snakemake --report``
    (caption ``workflow/report/<caption>.rst``)."""

    path: str
    caption: str | None = None
    category: str | None = None
    subcategory: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


def table_outputs(cfg: Mapping[str, Any]) -> list[Output]:
    """tables/<name>.{csv,md,tex} of every table the experiment writes (:func:`robgan.registry.tables_of`);
    the CSVs are shown in the HTML report."""
    lay = Layout.of(cfg)
    return [Output(lay.table(name, ext), *((name, "Tables") if ext == "csv" else ()),
                   labels={"table": name} if ext == "csv" else {})
            for name in registry.tables_of(cfg) for ext in registry.TABLE_FORMATS]


def figure_outputs(cfg: Mapping[str, Any]) -> list[Output]:
    """figures/<name>.{png,pdf} and figures/samples_<label>_seed<N>.{png,pdf} (one per generator label and
    seed: :func:`robgan.registry.sample_grid_name`); the PNGs are shown in the HTML report (one caption,
    samples.rst, for all sample grids)."""
    lay = Layout.of(cfg)
    figures = [(f, f, "Plots", {"figure": f}) for f in (*registry.FIGURES, *registry.RUN_FIGURES)]
    figures += [(registry.sample_grid_name(lb, seed), "samples", "Samples",
                 {"figure": "samples", "model": lb, "seed": str(seed)})
                for lb in evaluation_labels(cfg)["fidelity"] for seed in cfg["seeds"]]
    out = []
    for name, caption, sub, labels in figures:
        for ext in registry.FIGURE_FORMATS:
            shown = ext == "png"
            out.append(Output(lay.figure(name, ext), caption if shown else None, "Figures" if shown else None,
                              sub if shown else None, labels if shown else {}))
    return out


def report_outputs(cfg: Mapping[str, Any]) -> list[str]:
    """Every file the report job writes (what the default target asks for)."""
    lay = Layout.of(cfg)
    return ([o.path for o in table_outputs(cfg) + figure_outputs(cfg)]
            + [lay.claims("md"), lay.claims("json")])


# ---------------------------------------------------------------------------------------------
# Rerun signatures
# ---------------------------------------------------------------------------------------------
# In no signature: device, threads, eval.batch_size (speed/memory knobs that do not change
# results) and where the data lives (data.root, data.download, data.cache_dir) -- except for the
# data job itself, which fetches into data.root.
def _data_view(cfg: Mapping[str, Any]) -> dict:
    return {k: v for k, v in cfg["data"].items() if k not in DATA_LOCATION_KEYS}


def data_signature(cfg: Mapping[str, Any]) -> str:
    """Signature of the data job: the whole ``data`` section (a new data.root fetches again)."""
    return config_hash(cfg["data"])


def training_signature(cfg: Mapping[str, Any], method: str, finetune_lam: float | None = None) -> str:
    """Signature of what a training job of ``method`` computes.

    ``robgan.config.training_view`` (what the run directory's hash covers) without the budget sections
    of other methods (editing finetune.* must not retrain sngan) and without data-location keys.
    Fine-tuning keeps ``train`` (its robgan run's generator makes the fakes). ``finetune_lam``: the λ
    the fine-tuning job passes with ``--set finetune.lam`` (it replaces finetune.lam).
    """
    view = training_view(cfg)
    view["data"] = _data_view(cfg)
    info = registry.method_info(method)
    # whose run it is: the method's own, or for fine-tuning the run it starts from (MethodInfo.from_run)
    base = registry.METHODS[info.from_run] if info.from_run is not None else info
    for section in METHOD_SECTIONS:
        if section not in (info.section, base.section):
            view.pop(section, None)
    if finetune_lam is not None:
        view["finetune"] = {**view["finetune"], "lam": float(finetune_lam)}
    if base.section == "train":  # a GAN's own optimiser overrides (fine-tuning: its source run's)
        view["train"] = method_section_view(cfg, base.name)
    if method not in SAMPLING_METHODS:  # how G samples changes only fine-tuning's training
        view["model"] = {k: v for k, v in view["model"].items() if k not in SAMPLING_KEYS}
    return config_hash(view)


def cost_probe_signature(cfg: Mapping[str, Any]) -> str:
    """Signature of the cost probe: what every run label's training computes (its shapes: widths,
    batch, n_dis, attack, performance settings), as :func:`training_signature` sees it."""
    runs = finetune_runs(cfg)
    return config_hash({label: training_signature(cfg, registry.LABELS[label].info.name, runs.get(label))
                        for label in run_labels(cfg)})


def eval_signature(cfg: Mapping[str, Any], kind: str, label: str | None = None) -> str:
    """Signature of the settings one kind of job (an evaluation, or ``reference``) depends on.

    ``label``: the classifier of the job, for the kinds whose settings differ per label (``autoattack``'s
    ``eval.autoattack.overrides``): its job then reruns when its own entry changes, not another's. A
    label without an entry has the signature of the experiment's settings, as before overrides existed.
    """
    ev = cfg["eval"]
    seeds = {"index_seed": ev["index_seed"], "attack_seed": ev["attack_seed"]}

    def autoattack() -> dict[str, Any]:
        aa = {k: v for k, v in ev["autoattack"].items() if k != "overrides"}
        overrides = ev["autoattack"].get("overrides") or {}
        own = overrides if label is None else overrides.get(label)
        return {"autoattack": aa, **seeds, **({"overrides": own} if own else {})}

    views = {
        "pgd": lambda: {"pgd": ev["pgd"], **seeds},
        "autoattack": autoattack,
        # the gap uses the paper protocol at eval.gap.eps, not the eps grid
        "gap": lambda: {"gap": ev["gap"], "paper": ev["pgd"]["paper"], **seeds},
        "lipschitz": lambda: {"lipschitz": ev["lipschitz"], "index_seed": ev["index_seed"]},
        # the reference classifier's settings reach fidelity through reference/metrics.json
        "fidelity": lambda: {**{k: v for k, v in ev["fidelity"].items() if k != "reference_classifier"},
                             "g_sample_bn": cfg["model"]["g_sample_bn"]},
        "reference": lambda: {"data": _data_view(cfg),
                              "fidelity": {k: v for k, v in ev["fidelity"].items() if k != "snapshots"}},
    }
    if kind not in views:
        raise ValueError(f"no signature for {kind!r}: choose one of {', '.join(views)}")
    return config_hash(views[kind]())


def eval_signature_of_label(cfg: Mapping[str, Any], kind: str) -> Callable[[Any], str]:
    """The rule ``params`` function of :func:`eval_signature` for the job of ``wildcards.label``."""
    return lambda wildcards: eval_signature(cfg, kind, wildcards.label)


def report_signature(cfg: Mapping[str, Any]) -> str:
    """The report reads the whole config (labels, eps grid, AutoAttack eps), less the knobs above."""
    view = {k: v for k, v in cfg.items() if k not in ("device", "threads")}
    view["data"] = _data_view(cfg)
    view["eval"] = {k: v for k, v in cfg["eval"].items() if k != "batch_size"}
    return config_hash(view)


# ---------------------------------------------------------------------------------------------
# Job sizes
# ---------------------------------------------------------------------------------------------
def load_resources(path: str | Path) -> dict[str, dict[str, dict[str, int]]]:
    """Read and check a job-size table: ``{dataset: {job: {threads, mem_mb, runtime, gpu}}}``.

    Every dataset names every job of :data:`JOBS` with exactly :data:`RESOURCE_KEYS`, each a
    non-negative integer (``gpu`` 0 or 1). Raises ``ConfigError`` naming the file and the entry.
    """
    with open(path) as fh:
        table = yaml.safe_load(fh) or {}
    where = Path(path).name
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a mapping dataset -> job -> resources")
    out = {}
    for dataset, jobs in table.items():
        if not isinstance(jobs, dict) or set(jobs) != set(JOBS):
            have = set(jobs) if isinstance(jobs, dict) else set()
            raise ConfigError(f"{where}: dataset '{dataset}' must size exactly the jobs {', '.join(JOBS)} "
                              f"(missing: {sorted(set(JOBS) - have)}, unknown: {sorted(have - set(JOBS))})")
        out[dataset] = {}
        for job, res in jobs.items():
            if not isinstance(res, dict) or set(res) != set(RESOURCE_KEYS) or not all(
                    isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in res.values()):
                raise ConfigError(f"{where}: {dataset}.{job} must be {{{', '.join(RESOURCE_KEYS)}}}, "
                                  f"non-negative integers (got {res!r})")
            if res["gpu"] > 1:
                raise ConfigError(f"{where}: {dataset}.{job}.gpu must be 0 or 1 (one GPU per job)")
            out[dataset][job] = dict(res)
    return out


def job_resources(table: Mapping[str, Mapping[str, Mapping[str, int]]], dataset: str, job: str) -> dict[str, int]:
    """The ``{threads, mem_mb, runtime, gpu}`` of rule ``job`` for ``dataset`` (``ConfigError`` if absent)."""
    if dataset not in table:
        raise ConfigError(f"no job sizes for dataset '{dataset}': add it to workflow/profiles/resources.yaml "
                          f"(sized now: {', '.join(table)})")
    return dict(table[dataset][job])


# ---------------------------------------------------------------------------------------------
# The resolved config file
# ---------------------------------------------------------------------------------------------
def resolved_config_text(cfg: Mapping[str, Any]) -> str:
    """The resolved config as written to :attr:`Layout.config` (with a do-not-edit header)."""
    return (f"# Resolved config of experiment '{cfg['experiment']}' (schema defaults filled), written by the\n"
            f"# Snakefile and passed to every robgan command. Do not edit: edit the experiment file.\n"
            f"{dump_config(cfg)}")


def write_if_changed(path: str | Path, text: str) -> bool:
    """Write ``text`` atomically, only if the file's content differs (so its mtime stays stable).

    Returns whether the file was written.
    """
    path = Path(path)
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True
