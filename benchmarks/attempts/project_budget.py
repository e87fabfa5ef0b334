"""Would a stopped DAG have fitted its budget? Project its job time from a finished run of the same DAG.

A run stopped part-way (``PARTIAL``: an experiment-like folder with the ``benchmarks/<rule>/*.tsv`` of the
jobs it finished) is compared with a finished run of the same jobs at another setting (``REFERENCE``).
Per rule, the ratio of the two runs' times over the jobs both finished scales the reference's time of
every job the stopped run did not reach (ratio 1 where the rule has no job in common); finished jobs
count their own time. Summed job seconds / ``--cores`` is a lower bound of the DAG's wall-clock (the
finished mnist5k runs took 1-2 % more than that bound). Writes a Markdown table:

    python benchmarks/attempts/project_budget.py benchmarks/attempts/mnist5k-ndf8-e8ff864-stopped \
        results/mnist5k --cores 2 --out benchmarks/attempts/mnist5k-ndf8-e8ff864-stopped/projection.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from robgan.report.job_times import read_jobs  # noqa: E402


def project(partial: Path, reference: Path) -> list[dict]:
    """Per rule: ``rule``, ``done`` / ``jobs`` (finished / all), ``done_seconds``, ``ratio`` (median of
    partial/reference over common jobs, 1.0 if none), ``projected_seconds`` and ``reference_seconds`` (all
    jobs of the rule)."""
    ref = {(j["rule"], j["job"]): j["seconds"] for j in read_jobs(reference)}
    got = {(j["rule"], j["job"]): j["seconds"] for j in read_jobs(partial)}
    unknown = sorted(set(got) - set(ref))
    if unknown:
        raise SystemExit(f"jobs of {partial} that {reference} does not have: {unknown[:3]}: not the same DAG")
    rows = []
    for rule in sorted({r for r, _ in ref}):
        keys = [k for k in ref if k[0] == rule]
        common = [got[k] / ref[k] for k in keys if k in got and ref[k] > 0]
        ratio = statistics.median(common) if common else 1.0
        done = [k for k in keys if k in got]
        rows.append({"rule": rule, "done": len(done), "jobs": len(keys),
                     "done_seconds": sum(got[k] for k in done), "ratio": ratio,
                     "projected_seconds": sum(got[k] if k in got else ref[k] * ratio for k in keys),
                     "reference_seconds": sum(ref[k] for k in keys)})
    return sorted(rows, key=lambda r: -r["projected_seconds"])


def markdown(rows: list[dict], partial: Path, reference: Path, cores: int) -> str:
    total = sum(r["projected_seconds"] for r in rows)
    ref_total = sum(r["reference_seconds"] for r in rows)
    lines = [f"# Projected job time of `{partial.name}` (unfinished jobs scaled from `{reference.name}`)", "",
             "Written by `benchmarks/attempts/project_budget.py`. Per rule: jobs the stopped run finished, "
             "their summed seconds, the median time ratio stopped/reference over the jobs both finished "
             "(1 where none), and the projected summed seconds of all the rule's jobs.", "",
             "| rule | finished / jobs | finished (s) | ratio to reference | projected (s) | reference (s) |",
             "|---|--:|--:|--:|--:|--:|"]
    for r in rows:
        lines.append(f"| {r['rule']} | {r['done']} / {r['jobs']} | {r['done_seconds']:.0f} | {r['ratio']:.2f} | "
                     f"{r['projected_seconds']:.0f} | {r['reference_seconds']:.0f} |")
    lines += ["", f"Projected: **{total:.0f} s** of job time, at least **{total / cores / 60:.1f} min** "
              f"wall-clock on {cores} cores (reference: {ref_total:.0f} s, {ref_total / cores / 60:.1f} min).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("partial", type=Path)
    parser.add_argument("reference", type=Path)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    text = markdown(project(args.partial, args.reference), args.partial, args.reference, args.cores)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
