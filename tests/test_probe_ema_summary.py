"""benchmarks/probes/mnist5k-ndf8-ema/summarize.py: its per-run rules and the committed summary it writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from script_loader import load_script

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "probes" / "mnist5k-ndf8-ema" / "summarize.py"


@pytest.fixture(scope="module")
def probe():
    return load_script(SCRIPT)


def test_row_reads_the_shown_snapshots_and_marks_a_low_in_the_last_third(probe, tmp_path):
    csv = tmp_path / "fid.csv"
    csv.write_text("iteration,is_mean,fid,class_accuracy\n1200,8.5,7.25,0.95\n700,3,50,0.1\n800,8,9,0.93\n"
                   "900,8,9,0.89\n1000,8,9,0.99\n1100,8,9,1.0\n")
    r = probe.row(csv)
    assert [r[k] for k in ("800", "900", "1000", "1100", "1200")] == ["0.93", "0.89", "0.99", "1.00", "0.95"]
    assert r["min 800+"] == "0.89 *"   # 700's 0.1 is before the last third
    assert (r["final IS"], r["final FID"]) == ("8.50", "7.2")


def test_committed_summary_is_what_the_committed_files_give(probe):
    committed = (SCRIPT.parent / "summary.md").read_text()
    assert probe.summary() == committed, "rerun: python benchmarks/probes/mnist5k-ndf8-ema/summarize.py"
    # the average does not change training: every probe log equals the attempt's
    assert all(probe.same_training(m, s) for m in probe.METHODS for s in probe.SEEDS)
