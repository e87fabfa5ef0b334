"""Estimate the mnist5k DAG's job-seconds and wall-clock on 2 cores from measured unit costs.

    python benchmarks/mnist5k-plan/estimate.py [QUICK_RESULTS] > benchmarks/mnist5k-plan/estimate.md

Inputs (all measured, none typed in):
- ``QUICK_RESULTS/benchmarks/**.tsv`` (default ``results/quick``): Snakemake's per-job seconds of a quick
  run. quick trains exactly as mnist5k (one seed), so its training jobs are mnist5k's per seed; its
  evaluation jobs are scaled by the ratio of images or samples of the two configs (an upper bound for the
  fixed per-job start-up, which does not scale).
- ``measured/aa_std200.{json,time}``: one standard AutoAttack job on 200 images of a Rob-GAN classifier
  at ndf 16 (CPU seconds = user + sys of ``time``; the machine was shared, CPU time is the comparable
  figure). Scaled by each classifier's ``n_examples`` / 200.
- ``measured/pgd_40x2_bf16.{json,time}``: one PGD sweep of 1,000 images over mnist5k's grid with a 40 x 2
  strong protocol in bf16 at ndf 16: an upper bound for the config's cheaper strong protocol.

The wall estimate is job-seconds / 2 (perfect packing on 2 cores) plus the measured idle share of the
quick run (its wall x 2 - job-seconds, scaled by the job-seconds ratio).

Where ``results/mnist5k`` holds a run of the current ``config/mnist5k.yaml`` (its ``config.yaml`` equal to
it), a second table puts that run's measured job-seconds per kind (its Snakemake benchmark files) and its
wall-clock (``dag_run.json``) beside the estimate. Where it holds a run of a config that differs only in
training lengths or snapshot spacing (:data:`SCALABLE`), the second table scales that run to the current
config instead: the better estimate, measured on the machine that would run it, every evaluation as
measured.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from robgan.config import autoattack_view, load_config  # noqa: E402
from robgan.registry import evaluation_labels, experiment_labels  # noqa: E402
from robgan.report.compare import flatten  # noqa: E402
from robgan.report.job_times import read_jobs  # noqa: E402


def cpu_seconds(time_file: Path) -> float:
    """user + sys of a bash ``time`` output ("real 1m2.3s user 0m50.0s sys 0m1.0s")."""
    text = time_file.read_text()
    total = 0.0
    for key in ("user", "sys"):
        m = re.search(rf"{key}\s+(\d+)m([\d.]+)s", text)
        total += int(m.group(1)) * 60 + float(m.group(2))
    return total


def train_scale(rule: str, label: str, new: dict, old: dict) -> float:
    """How much longer a training job of ``label`` runs under config ``new`` than under ``old``: the
    ratio of its iterations (GAN ``train``, Madry ``advtrain`` or ``finetune``); a training step costs
    the same in both (same models, batch and precision)."""
    section = "finetune" if rule == "finetune" else "advtrain" if label == "advtrain" else "train"
    return new[section]["iterations"] / old[section]["iterations"]


def snapshots(cfg: dict) -> float:
    """Snapshots of one GAN run (what a fidelity job evaluates besides the final generator)."""
    return cfg["train"]["iterations"] / cfg["snapshot_every"]


def quick_jobs(results: Path) -> dict[str, dict[str, float]]:
    """{rule: {label: seconds}} from Snakemake's benchmark files of one quick run (seed 0)."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for job in read_jobs(results):
        out[job["rule"]][job["job"].rsplit("_seed", 1)[0]] = job["seconds"]
    return out


KINDS = ("train + finetune", "eval_fidelity", "eval_autoattack", "eval_pgd", "eval_gap", "eval_lipschitz",
         "data, reference, cost_probe, report")


def kind_of(rule: str) -> str:
    """The estimate's row for a Snakemake rule."""
    if rule in ("train", "finetune"):
        return "train + finetune"
    return rule if rule in KINDS else "data, reference, cost_probe, report"


# What may differ between the run in results/mnist5k and config/mnist5k.yaml for the run to be scaled to
# the config (training lengths and snapshot spacing; every step costs what it did).
SCALABLE = ("train.iterations", "advtrain.iterations", "advtrain.schedule.start", "finetune.iterations",
            "snapshot_every")


def _kind_table(columns: list[str], body: list[tuple[str, list[str]]], total: list[str]) -> list[str]:
    """A Markdown table: one row of cells per job kind, then the bold total."""
    return ["| job kind | " + " | ".join(columns) + " |", "|---|" + "--:|" * len(columns),
            *(f"| {kind} | " + " | ".join(cells) + " |" for kind, cells in body),
            "| **total** | " + " | ".join(f"**{c}**" for c in total) + " |"]


def previous_run(m5k: dict, m5k_results: Path) -> dict | None:
    """The run in ``m5k_results`` against the config ``m5k``: None without a run; else ``{"run"
    (dag_run.json), "differ" (the flattened config keys that differ), "changes" (them in words),
    "scalable" (all of them are in :data:`SCALABLE`), "actual" and "scaled" ({kind: job-seconds}: as
    measured, and each training job scaled by its iteration ratio, each fidelity job by its snapshot
    ratio), "idle" (the run's idle share), "scaled_wall" (the scaled job-seconds on the run's cores
    with that idle share)}``; the last four only when scalable."""
    import yaml

    cfg_file, dag_file = m5k_results / "config.yaml", m5k_results / "dag_run.json"
    if not (cfg_file.is_file() and dag_file.is_file()):
        return None
    ran = load_config(yaml.safe_load(cfg_file.read_text()))
    a, b = flatten(ran), flatten(m5k)
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    out = {"run": json.loads(dag_file.read_text()), "differ": differ,
           "changes": "; ".join(f"{k} {a.get(k)} → {b.get(k)}" for k in differ),
           "scalable": all(k in SCALABLE for k in differ)}
    if not out["scalable"]:
        return out
    actual: dict[str, float] = defaultdict(float)
    scaled: dict[str, float] = defaultdict(float)
    for job in read_jobs(m5k_results):  # every seed's job
        kind, label = kind_of(job["rule"]), job["job"].rsplit("_seed", 1)[0]
        factor = (train_scale(job["rule"], label, m5k, ran) if kind == "train + finetune" else
                  snapshots(m5k) / snapshots(ran) if kind == "eval_fidelity" else 1.0)
        actual[kind] += job["seconds"]
        scaled[kind] += job["seconds"] * factor
    run = out["run"]
    idle = max(0.0, run["wall_seconds"] * run["cores"] - sum(actual.values())) / sum(actual.values())
    return {**out, "actual": actual, "scaled": scaled, "idle": idle,
            "scaled_wall": sum(scaled.values()) / run["cores"] * (1 + idle)}


def measured_section(rows: list[tuple[str, str, float]], wall: float, m5k: dict, m5k_results: Path) -> list[str]:
    """The run in ``m5k_results`` beside the estimate: measured against estimated when it ran this config;
    scaled to this config when it ran one that differs only in :data:`SCALABLE` settings (each training
    job by its iteration ratio, each fidelity job by its snapshot ratio, the idle share of the run kept);
    a line saying why not otherwise; nothing when there is no run."""
    prev = previous_run(m5k, m5k_results)
    if prev is None:
        return []
    differ = prev["differ"]
    if not prev["scalable"]:
        return ["", f"`{m5k_results.name}` holds a run of another config ({', '.join(differ)} differ): "
                    "not comparable."]
    run, actual, scaled, idle = prev["run"], prev["actual"], prev["scaled"], prev["idle"]
    head = (f"`results/{m5k_results.name}`, commit `{run['git_commit'][:7]}`, {run['cores']} cores, "
            f"{run['jobs']} jobs, calibration {(run.get('calibration') or {}).get('seconds', float('nan')):.2f} s")
    est_total, act_total = sum(s for _, _, s in rows), sum(actual.values())
    if not differ:
        return ["", f"## The run beside the estimate ({head})", "", *_kind_table(
            ["estimated job-s", "measured job-s", "measured / estimated"],
            [(kind, [f"{est:,.0f}", f"{actual[kind]:,.0f}", f"{actual[kind] / est:.2f}"]) for kind, _, est in rows],
            [f"{est_total:,.0f}", f"{act_total:,.0f}", f"{act_total / est_total:.2f}"]), "",
            f"Wall-clock: estimated {wall:,.0f} s ({wall / 60:.0f} min), measured **{run['wall_seconds']:,.0f} s "
            f"({run['wall_seconds'] / 60:.1f} min)** against the budget of 7,200 s."]
    sc_total, sc_wall, changes = sum(scaled.values()), prev["scaled_wall"], prev["changes"]
    return ["", f"## The previous run, scaled to this config ({head})", "",
            f"It ran the config before these changes: {changes}. Scaled: each training job by its "
            "iteration ratio, each fidelity job by its snapshot ratio, every other job as measured.", "",
            *_kind_table(["previous run's job-s", "scaled to this config", "estimate above"],
                         [(kind, [f"{actual[kind]:,.0f}", f"{scaled[kind]:,.0f}", f"{est:,.0f}"])
                          for kind, _, est in rows],
                         [f"{act_total:,.0f}", f"{sc_total:,.0f}", f"{est_total:,.0f}"]), "",
            f"Wall-clock: the previous run **{run['wall_seconds']:,.0f} s ({run['wall_seconds'] / 60:.1f} min)**; "
            f"scaled, {sc_total:,.0f} / {run['cores']} x (1 + {idle:.3f}) = "
            f"**{sc_wall:,.0f} s ({sc_wall / 60:.0f} min)** on that machine, against the budget of 7,200 s."]


def main(results: Path, m5k_results: Path = REPO / "results" / "mnist5k") -> str:
    quick = load_config(results / "config.yaml")
    m5k = load_config(REPO / "config" / "mnist5k.yaml")
    seeds = len(m5k["seeds"])
    jobs = quick_jobs(results)
    run = json.loads((results / "dag_run.json").read_text())
    q_job_s = sum(s for r in jobs.values() for s in r.values())
    idle_share = max(0.0, run["wall_seconds"] * run["cores"] - q_job_s) / q_job_s

    ev_q, ev_m = quick["eval"], m5k["eval"]
    rows = []  # (kind, how, seconds)
    train = sum(sec * train_scale(rule, lb, m5k, quick) for rule in ("train", "finetune")
                for lb, sec in jobs[rule].items())
    iters = "x " + ", ".join(f"{m5k[k]['iterations']}/{quick[k]['iterations']}" for k in ("train", "advtrain"))
    rows.append(("train + finetune", f"quick's {len(jobs['train']) + len(jobs['finetune'])} jobs {iters} "
                 f"iterations (GAN, Madry) x {seeds} seeds", train * seeds))
    ratio = ev_m["fidelity"]["n_samples"] / ev_q["fidelity"]["n_samples"]
    snaps = snapshots(m5k) / snapshots(quick)
    rows.append(("eval_fidelity", f"quick's x {ratio:g} samples x {snaps:g} snapshots x {seeds} seeds",
                 sum(jobs["eval_fidelity"].values()) * ratio * snaps * seeds))
    aa_unit = cpu_seconds(HERE / "measured" / "aa_std200.time")
    labels = evaluation_labels("autoattack", experiment_labels(m5k), m5k)
    aa = 0.0
    parts = []
    for lb in labels:
        view = autoattack_view(m5k, lb)
        if view["version"] != "standard":
            raise SystemExit(f"{lb}: only standard AutoAttack has a measured unit cost here")
        aa += aa_unit * view["n_examples"] / 200 * seeds
        parts.append(f"{lb} {view['n_examples']}")
    rows.append(("eval_autoattack", f"{aa_unit:.0f} CPU s per 200 images ({', '.join(parts)}) x {seeds} seeds", aa))
    pgd_unit = cpu_seconds(HERE / "measured" / "pgd_40x2_bf16.time")
    n_cls = len(evaluation_labels("pgd", experiment_labels(m5k), m5k))
    rows.append(("eval_pgd", f"{pgd_unit:.0f} CPU s per sweep (40 x 2 strong: upper bound) x {n_cls} x {seeds}",
                 pgd_unit * n_cls * seeds))
    for kind, key in (("eval_gap", "gap"), ("eval_lipschitz", "lipschitz")):
        r = ev_m[key]["n_examples"] / ev_q[key]["n_examples"]
        n_m = len(evaluation_labels(key, experiment_labels(m5k), m5k))
        per = sum(jobs[kind].values()) / max(1, len(jobs[kind]))
        rows.append((kind, f"quick's mean job x {r:g} images x {n_m} classifiers x {seeds} seeds",
                     per * r * n_m * seeds))
    other = sum(s for rule, r in jobs.items() if rule not in {
        "train", "finetune", "eval_fidelity", "eval_autoattack", "eval_pgd", "eval_gap", "eval_lipschitz"}
        for s in r.values())
    rows.append(("data, reference, cost_probe, report", "quick's, once", other))
    total = sum(s for _, _, s in rows)
    wall = total / 2 * (1 + idle_share)
    lines = ["# mnist5k cost estimate (generated by `benchmarks/mnist5k-plan/estimate.py`)", "",
             f"From `{results.relative_to(REPO) if results.is_relative_to(REPO) else results}` "
             f"(commit `{run['git_commit'][:7]}`, wall {run['wall_seconds']:.0f} s, "
             f"{q_job_s:.0f} job-s, idle share {idle_share:.1%}) and `measured/`.", "",
             "| job kind | how | job-seconds |", "|---|---|--:|"]
    lines += [f"| {k} | {how} | {s:,.0f} |" for k, how, s in rows]
    lines += [f"| **total** | | **{total:,.0f}** |", "",
              f"Wall-clock on 2 cores: {total:,.0f} / 2 x (1 + {idle_share:.3f}) = **{wall:,.0f} s "
              f"({wall / 60:.0f} min)** against the budget of 7,200 s (120 min)."]
    lines += measured_section(rows, wall, m5k, m5k_results)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else REPO / "results" / "quick"))
