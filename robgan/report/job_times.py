"""Where a DAG's time went: sum Snakemake's per-job benchmark files into a Markdown table.

Command: ``python workflow/scripts/job_times.py results/quick [--jobs]`` (a thin wrapper of this module).

Every rule writes ``results/<experiment>/benchmarks/<rule>/<label>_seed<N>.tsv`` (or
``benchmarks/<rule>.tsv`` for single jobs) with Snakemake's measurement of the job: wall-clock seconds
(``s``), peak resident memory (``max_rss``, MiB) and more. This prints, per rule, the number of jobs,
their summed and largest wall-clock time and their largest peak memory, with each rule's share of the
summed job time; ``--jobs`` also lists every job. The summed job time divided by ``--cores`` is a lower
bound of the DAG's wall-clock time.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path


def read_jobs(results: Path) -> list[dict]:
    """One dict per benchmark file: ``rule``, ``job`` (file stem or ``-``), ``seconds``, ``max_rss_mib``.

    A file with several lines (Snakemake's ``repeat()``) counts its last measurement."""
    bench = results / "benchmarks"
    if not bench.is_dir():
        raise FileNotFoundError(f"{bench} does not exist: run the workflow first (every rule writes a "
                                f"benchmark file there)")
    jobs = []
    for path in sorted(bench.rglob("*.tsv")):
        rel = path.relative_to(bench)
        rule, job = (rel.parts[0], path.stem) if len(rel.parts) > 1 else (path.stem, "-")
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]
        rss = row.get("max_rss", "")
        jobs.append({"rule": rule, "job": job, "seconds": float(row["s"]),
                     "max_rss_mib": float(rss) if rss not in ("", "NA", "-") else math.nan})
    return jobs


def summarise(jobs: list[dict]) -> list[dict]:
    """Per rule: ``rule``, ``jobs``, ``seconds`` (sum), ``max_seconds``, ``max_rss_mib``, ``share``
    (of all jobs' summed seconds), sorted by summed seconds, largest first."""
    total = sum(j["seconds"] for j in jobs) or 1.0
    rules: dict[str, dict] = {}
    for j in jobs:
        r = rules.setdefault(j["rule"], {"rule": j["rule"], "jobs": 0, "seconds": 0.0, "max_seconds": 0.0,
                                         "max_rss_mib": math.nan})
        r["jobs"] += 1
        r["seconds"] += j["seconds"]
        r["max_seconds"] = max(r["max_seconds"], j["seconds"])
        if not math.isnan(j["max_rss_mib"]):
            r["max_rss_mib"] = j["max_rss_mib"] if math.isnan(r["max_rss_mib"]) else max(r["max_rss_mib"],
                                                                                           j["max_rss_mib"])
    out = sorted(rules.values(), key=lambda r: -r["seconds"])
    for r in out:
        r["share"] = r["seconds"] / total
    return out


def markdown(jobs: list[dict], *, with_jobs: bool = False) -> str:
    rows = summarise(jobs)
    lines = ["| rule | jobs | job time (s, summed) | share | longest job (s) | peak memory (MiB) |",
             "|---|--:|--:|--:|--:|--:|"]
    for r in rows:
        rss = "–" if math.isnan(r["max_rss_mib"]) else f"{r['max_rss_mib']:.0f}"
        lines.append(f"| {r['rule']} | {r['jobs']} | {r['seconds']:.1f} | {100 * r['share']:.1f} % | "
                     f"{r['max_seconds']:.1f} | {rss} |")
    total = sum(r["seconds"] for r in rows)
    lines.append(f"| **all** | {sum(r['jobs'] for r in rows)} | {total:.1f} | 100 % | | |")
    if with_jobs:
        lines += ["", "| rule | job | wall (s) |", "|---|---|--:|"]
        lines += [f"| {j['rule']} | {j['job']} | {j['seconds']:.1f} |"
                  for j in sorted(jobs, key=lambda j: -j["seconds"])]
    return "\n".join(lines)
