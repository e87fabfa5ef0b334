#!/usr/bin/env python3
"""Where a DAG's time went: ``python workflow/scripts/job_times.py results/quick [--jobs]``.

Sums Snakemake's per-job benchmark files into a Markdown table (``robgan.report.job_times``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from robgan.report.job_times import markdown, read_jobs, summarise  # noqa: F401 (re-exported)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="an experiment's results folder, e.g. results/quick")
    parser.add_argument("--jobs", action="store_true", help="also list every job")
    args = parser.parse_args(argv)
    try:
        jobs = read_jobs(args.results)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(markdown(jobs, with_jobs=args.jobs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
