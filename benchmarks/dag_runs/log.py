"""The log of measured whole-DAG runs: one JSON per run in ``benchmarks/dag_runs/runs/``, and the table
of them in ``benchmarks/dag_runs/README.md`` (issue #25: DAG times that compare across machines).

Each entry is made from a finished ``results/<experiment>`` folder, i.e. its ``dag_run.json`` (the
wall-clock, the calibration timed at the start, ``wall_multiple``) and Snakemake's per-job benchmark
files (job-seconds by kind, via :func:`robgan.report.job_times.read_jobs`); nothing is typed in but the note.

    # a run on this machine (a clean clone's results folder):
    python benchmarks/dag_runs/log.py add /tmp/clone/results/quick --note "baseline on a slow machine"
    # a committed run, from git history (the results/<experiment> folder at that commit):
    python benchmarks/dag_runs/log.py add --git 0ef4edf --experiment quick --note "..."
    # the README's table from the entries (tests/test_dag_runs_log.py checks it is in step):
    python benchmarks/dag_runs/log.py table
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RUNS = HERE / "runs"
README = HERE / "README.md"
sys.path.insert(0, str(REPO))

from robgan.dag_run import wall_multiple  # noqa: E402
from robgan.report.job_times import read_jobs  # noqa: E402

# The job kinds of the table, in order; every other rule (data, reference, cost_probe, report) is "other".
KINDS = ("train", "finetune", "eval_fidelity", "eval_pgd", "eval_autoattack", "eval_lipschitz", "eval_gap")


def entry(results: Path, note: str, source: str) -> dict:
    """The log entry of the finished run in ``results`` (its ``dag_run.json`` and benchmark files)."""
    run_file = results / "dag_run.json"
    if not run_file.is_file():
        raise SystemExit(f"{run_file} is missing: run the DAG to the end first (snakemake writes it on success)")
    run = json.loads(run_file.read_text())
    jobs = read_jobs(results)
    by_kind: dict[str, float] = defaultdict(float)
    for job in jobs:
        by_kind[job["rule"] if job["rule"] in KINDS else "other"] += job["seconds"]
    cal = run.get("calibration") or {}
    wall = float(run.get("wall_seconds_total", run["wall_seconds"]))
    total = round(sum(by_kind.values()), 1)
    return {
        "experiment": results.name,
        "started": run["started"],
        "git_commit": run["git_commit"],
        "git_dirty": run["git_dirty"],
        "cores": run["cores"],
        "jobs": len(jobs),
        "wall_seconds": wall,
        "calibration_seconds": cal.get("seconds"),
        "calibration_cpu_seconds": cal.get("cpu_seconds"),
        "wall_multiple": wall_multiple(run),
        # of the calibration in the DAG's own precision (channels-last, bf16 where native); None before it existed
        "wall_multiple_native": wall_multiple(run, native=True),
        # the machine's kernel set (robgan.provenance.compute_fingerprint); absent in runs before it existed
        "compute": cal.get("compute") or records_compute(results),
        "job_seconds": {k: round(by_kind[k], 1) for k in (*KINDS, "other")},
        "job_seconds_total": total,
        # core-seconds in which no job ran (the calibration at the start included): what scheduling can win
        "idle_core_seconds": round(run["cores"] * wall - total, 1) if run["cores"] else None,
        "note": note,
        "source": source,
    }


def records_compute(results: Path) -> dict | None:
    """The compute fingerprint the run's records carry, when those that carry one agree (a calibration
    without one: runs started by code before the fingerprint existed); None otherwise."""
    seen = {json.dumps(r["compute"], sort_keys=True) for p in sorted((results / "records").rglob("*.json"))
            if "compute" in (r := json.loads(p.read_text()))}
    return json.loads(seen.pop()) if len(seen) == 1 else None


def results_at(rev: str, experiment: str, into: Path) -> Path:
    """``results/<experiment>`` as committed at ``rev``, extracted under ``into``."""
    tar = subprocess.run(["git", "-C", str(REPO), "archive", rev, f"results/{experiment}"],
                         check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as tf:
        tf.extractall(into, filter="data")
    return into / "results" / experiment


def add(results: Path, note: str, source: str) -> Path:
    """Write the entry of ``results`` to ``runs/<started>_<experiment>_<commit>.json``; returns its path."""
    e = entry(results, note, source)
    RUNS.mkdir(exist_ok=True)
    out = RUNS / f"{e['started'].replace(':', '')}_{e['experiment']}_{e['git_commit'][:7]}.json"
    out.write_text(json.dumps(e, indent=2) + "\n")
    return out


def entries() -> list[dict]:
    """Every logged run, oldest first."""
    return sorted((json.loads(p.read_text()) for p in RUNS.glob("*.json")), key=lambda e: e["started"])


HEADER = """# Whole-DAG runs: wall-clock, calibration and where the job-seconds went

Every row is one measured `snakemake --cores all` of an experiment (a clean clone unless the note says
otherwise), made by `python benchmarks/dag_runs/log.py add` from the run's `dag_run.json` and
Snakemake's per-job benchmark files; the JSON of each row is in [`runs/`](runs/). This table is
generated (`python benchmarks/dag_runs/log.py table`); `tests/test_dag_runs_log.py` checks that it is
in step with the files.

- **calibration**: the fixed one-thread workload timed at the start of the run (`robgan/calibration.py`);
  **multiple** = wall / calibration, the figure that compares across machines (docs/speed.md).
- **native multiple**: wall / the same calibration workload in the DAG's own precision and layout on
  that machine (channels-last, bf16 where native; `calibration.native`), recorded since 2026-12-07
  evening: meant to compare machines of different kernel kinds, where the float32 multiple does not.
- **kernels**: the CPU kernel set torch dispatched to and `+bf16` where bf16 is native (the calibration's
  `compute`; "—": not recorded, runs before the fingerprint existed). Without native bf16 the DAG trains
  and attacks in float32, so multiples compare only between rows of one kind.
- **job-s**: the sum of every job's wall-clock seconds; **idle core-s** = cores x wall - job-s: the
  core-seconds in which no job ran (the calibration at the start included), what scheduling can win.
- **train** includes fine-tuning; **evals** are every `eval_*` job; the rest (data, reference, cost
  probe, report) is in job-s only.
"""


def kernels_of(compute: dict | None) -> str:
    """``"AVX2"``, ``"AVX512+bf16"``...: a fingerprint's CPU kernel set and native bf16 ("—" if unknown)."""
    if not compute:
        return "—"
    kind = compute.get("cpu_capability") or compute.get("gpu") or compute.get("device_type", "?")
    return f"{kind}{'+bf16' if compute.get('bf16_native') else ''}"


def table(rows: list[dict]) -> str:
    """The README: :data:`HEADER` and one table row per entry."""
    lines = [HEADER, "| started (UTC) | experiment | commit | wall | calibration | kernels | multiple "
             "| native multiple | job-s | train | evals | idle core-s | note |",
             "|---|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|---|"]
    for e in rows:
        js = e["job_seconds"]
        train = js["train"] + js["finetune"]
        evals = sum(v for k, v in js.items() if k.startswith("eval_"))
        cal = f"{e['calibration_seconds']:.2f} s" if e["calibration_seconds"] else "—"
        mult = f"{e['wall_multiple']:g}" if e["wall_multiple"] else "—"
        kernels = kernels_of(e.get("compute"))
        native = f"{e['wall_multiple_native']:g}" if e.get("wall_multiple_native") else "—"
        idle = f"{e['idle_core_seconds']:,.0f}" if e["idle_core_seconds"] is not None else "—"
        lines.append(f"| {e['started'][:16].replace('T', ' ')} | {e['experiment']} | `{e['git_commit'][:7]}`"
                     f"{' (dirty)' if e['git_dirty'] else ''} | {e['wall_seconds']:,.0f} s | {cal} | {kernels} "
                     f"| {mult} | {native} "
                     f"| {e['job_seconds_total']:,.0f} | {train:,.0f} | {evals:,.0f} | {idle} | {e['note']} |")
    cals = [e["calibration_seconds"] for e in rows if e["calibration_seconds"]]
    if cals:  # a property of the machine (and its load), not of the code: comparable over every row
        lines += ["", f"The calibration ranged over {min(cals):.2f}-{max(cals):.2f} s ({max(cals) / min(cals):.2f}x) "
                      f"in the {len(cals)} runs that have one."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("add", help="log a finished run")
    a.add_argument("results", nargs="?", type=Path, help="a finished results/<experiment> folder")
    a.add_argument("--git", help="log the results/<experiment> committed at this revision instead")
    a.add_argument("--experiment", default="quick", help="with --git: which experiment (default quick)")
    a.add_argument("--note", required=True, help="what this run was (the machine, what changed)")
    sub.add_parser("table", help="rewrite README.md from the logged runs")
    args = ap.parse_args(argv)
    if args.cmd == "add":
        if (args.results is None) == (args.git is None):
            ap.error("add: give a results folder or --git REV (one of them)")
        if args.git:
            with tempfile.TemporaryDirectory() as tmp:
                path = add(results_at(args.git, args.experiment, Path(tmp)), args.note,
                           f"results/{args.experiment} committed at {args.git}")
        else:
            path = add(args.results, args.note, "a results folder on the machine that ran it")
        print(f"wrote {path.relative_to(REPO)}")
    README.write_text(table(entries()))
    print(f"wrote {README.relative_to(REPO)}")


if __name__ == "__main__":
    main()
