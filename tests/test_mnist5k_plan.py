"""benchmarks/mnist5k-plan/estimate.md is what estimate.py computes from the committed quick run and the
measured unit costs: the mnist5k budget quoted in the config and docs is regenerated, not typed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLAN = REPO / "benchmarks" / "mnist5k-plan"


def _estimate():
    spec = importlib.util.spec_from_file_location("mnist5k_estimate", PLAN / "estimate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_estimate_is_regenerated_from_its_inputs():
    assert _estimate().main(REPO / "results" / "quick") == (PLAN / "estimate.md").read_text(), (
        "results/quick changed: python benchmarks/mnist5k-plan/estimate.py > benchmarks/mnist5k-plan/estimate.md")


def test_cpu_seconds_reads_bash_time(tmp_path):
    f = tmp_path / "x.time"
    f.write_text(" real\t13m11.739s user\t9m0.522s sys\t0m17.084s \n")
    assert abs(_estimate().cpu_seconds(f) - (540.522 + 17.084)) < 1e-9
