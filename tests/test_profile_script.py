"""benchmarks/profile/profile_quick.py: its DAG accounting on the committed results and its rendering."""

from __future__ import annotations

import json

import pytest
from script_loader import load_script

from robgan.provenance import REPO_ROOT

REPO_RESULTS = "results/quick"


@pytest.fixture(scope="module")
def prof():
    return load_script(REPO_ROOT / "benchmarks" / "profile" / "profile_quick.py")


def test_dag_jobs_account_for_every_benchmark_file(prof):
    results = REPO_ROOT / REPO_RESULTS
    dag = prof.dag_jobs(results)
    tsvs = sorted((results / "benchmarks").rglob("*.tsv"))
    assert sum(r["jobs"] for r in dag["rules"].values()) == len(tsvs)
    total = sum(float(t.read_text().splitlines()[1].split("\t")[0]) for t in tsvs)
    assert sum(r["seconds"] for r in dag["rules"].values()) == pytest.approx(total)
    # work never exceeds the job holding it: what is left is start-up and I/O, 0 < it < the job
    for rule in ("eval_pgd", "eval_autoattack", "train"):
        r = dag["rules"][rule]
        assert r["with_work"] == r["jobs"] and 0 < r["outside_work_seconds"] < r["seconds"], rule
    assert dag["dag_run"] == json.loads((results / "dag_run.json").read_text())


def test_categories(prof):
    assert prof._category("aten::convolution_backward") == "conv backward"
    assert prof._category("aten::mkldnn_convolution") == "conv forward"
    assert prof._category("Optimizer.step#Adam.step") == "optimiser step"
    assert prof._category("aten::native_batch_norm") == "normalisation"
    assert prof._category("aten::clamp_min") == "activations, element-wise, other ops"


def test_committed_summary_is_rendered_from_the_committed_profile(prof):
    d = REPO_ROOT / "benchmarks" / "profile"
    res = json.loads((d / "profile.json").read_text())
    assert (d / "summary.md").read_text() == prof.render(res)
    for v in [*res["training"].values(), *res["attacks"].values()]:
        # the categories (ops' self time + the framework remainder) add up to the wall time or more
        assert sum(v["categories_ms"].values()) >= 0.99 * v["ms"]
