"""robgan.report.job_times.read_jobs: the one reader of Snakemake's per-job benchmark files (used by
workflow/scripts/job_times.py, benchmarks/dag_runs/log.py and benchmarks/mnist5k-plan/estimate.py)."""

from __future__ import annotations

import math

import pytest

from robgan.report.job_times import read_jobs


def test_read_jobs_reads_every_benchmark_file(tmp_path):
    results = tmp_path / "r"
    with pytest.raises(FileNotFoundError, match="run the workflow first"):
        read_jobs(results)                                              # no benchmarks folder
    for rel, text in [("train/robgan_ft_seed2.tsv", "s\th:m:s\tmax_rss\n12.5\t0:00:12\t300.5\n"),
                      ("eval_pgd/acgan_seed0.tsv", "s\n3.0\n4.25\n"),  # ran twice: the last row
                      ("report.tsv", "s\n7.0\n"), ("eval_gap/empty_seed0.tsv", "s\n")]:
        p = results / "benchmarks" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    jobs = read_jobs(results)
    assert [(j["rule"], j["job"], j["seconds"]) for j in jobs] == [
        ("eval_pgd", "acgan_seed0", 4.25), ("report", "-", 7.0), ("train", "robgan_ft_seed2", 12.5)]
    assert jobs[2]["max_rss_mib"] == 300.5 and math.isnan(jobs[0]["max_rss_mib"])
