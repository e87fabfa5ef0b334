"""benchmarks/probes/mnist5k-ndf8/summarize.py: its per-seed rules and the committed summary it writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from script_loader import load_script

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "probes" / "mnist5k-ndf8" / "summarize.py"


@pytest.fixture(scope="module")
def probes():
    return load_script(SCRIPT)


def test_advtrain_row_finds_where_training_leaves_chance(probes, tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("iteration,train_seconds,loss,acc_adv\n50,1,2.30,0.09\n100,2,2.2,0.19\n150,3,1.9,0.2\n"
                   "200,4,1.5,0.45\n")
    assert probes.advtrain_row(log) == {"leaves chance at": "150",
                                        "last row": "it 200: loss 1.500, acc under attack 0.450"}
    log.write_text("iteration,train_seconds,loss,acc_adv\n50,1,2.303,0.1\n100,2,2.3026,0.11\n")
    assert probes.advtrain_row(log)["leaves chance at"] == "never"
    assert probes.advtrain_row(tmp_path / "missing.csv")["leaves chance at"] == "not run"


def test_robgan_row_is_the_last_three_snapshots_in_order(probes, tmp_path):
    csv = tmp_path / "fid.csv"
    csv.write_text("iteration,class_accuracy\n400,0.5\n100,0.1\n300,0.97\n200,0.884\n")
    assert probes.robgan_row(csv) == "200: 0.88, 300: 0.97, 400: 0.50"


def test_committed_summary_is_what_the_committed_files_give(probes):
    committed = (SCRIPT.parent / "summary.md").read_text()
    assert probes.summary() == committed, "rerun: python benchmarks/probes/mnist5k-ndf8/summarize.py"
    # the attempt's failure and probe c's fix, read from the files
    assert "| first ndf-8 run (bdd4441) | 1 | never |" in committed
    assert all(f"| probe c | {s} | 1" in committed for s in (0, 1, 2))
