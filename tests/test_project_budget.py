"""benchmarks/attempts/project_budget.py: the projected job time of a stopped DAG."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STOPPED = REPO / "benchmarks" / "attempts" / "mnist5k-ndf8-e8ff864-stopped"


def _module():
    spec = importlib.util.spec_from_file_location("project_budget", REPO / "benchmarks/attempts/project_budget.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _bench(root: Path, rule: str, job: str, seconds: float) -> None:
    path = root / "benchmarks" / rule / f"{job}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t100\n")


def test_unfinished_jobs_are_scaled_by_the_rules_median_ratio(tmp_path):
    ref, part = tmp_path / "ref", tmp_path / "part"
    for job, s in (("a_seed0", 10.0), ("a_seed1", 20.0), ("a_seed2", 30.0)):
        _bench(ref, "train", job, s)
        _bench(ref, "eval", job, 100.0)
    _bench(part, "train", "a_seed0", 20.0)   # ratio 2
    _bench(part, "train", "a_seed1", 60.0)   # ratio 3 -> median 2.5
    rows = {r["rule"]: r for r in _module().project(part, ref)}
    assert rows["train"]["ratio"] == 2.5
    assert rows["train"]["projected_seconds"] == 20.0 + 60.0 + 30.0 * 2.5
    assert rows["eval"]["ratio"] == 1.0 and rows["eval"]["projected_seconds"] == 300.0
    assert (rows["train"]["done"], rows["train"]["jobs"]) == (2, 3)


def test_a_job_the_reference_lacks_is_refused(tmp_path):
    _bench(tmp_path / "ref", "train", "a_seed0", 10.0)
    _bench(tmp_path / "part", "train", "b_seed0", 10.0)
    with pytest.raises(SystemExit, match="not the same DAG"):
        _module().project(tmp_path / "part", tmp_path / "ref")


def test_committed_projection_is_what_the_script_writes():
    ref = REPO / "results" / "mnist5k"
    run = json.loads((ref / "dag_run.json").read_text())
    if not run["git_commit"].startswith("a533557"):
        pytest.skip("results/mnist5k is no longer the a533557 run the projection was scaled from")
    mod = _module()
    text = mod.markdown(mod.project(STOPPED, ref), STOPPED, ref, 2)
    assert text == (STOPPED / "projection.md").read_text()
    assert "| train | 18 / 18 |" in text
