"""benchmarks/width/summarize.py: the width probe's summary, from evaluation records of two widths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from script_loader import load_script

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def summarize():
    return load_script(REPO / "benchmarks" / "width" / "summarize.py")


def _records(d: Path, label: str, clean: float, paper: float, strong: float, aa: float, aa_s: float) -> None:
    pgd = {"settings": {"n_examples": 1000}, "elapsed_seconds": 50.0,
           "results": [{"protocol": "clean", "eps": 0.0, "accuracy": clean},
                       {"protocol": "paper", "eps": 0.05, "accuracy": 0.99},
                       {"protocol": "paper", "eps": 0.1, "accuracy": paper},
                       {"protocol": "strong", "eps": 0.1, "accuracy": strong}]}
    auto = {"settings": {"eps": 0.1}, "elapsed_seconds": aa_s,
            "results": [{"stage": "clean", "n": 200, "accuracy": clean},
                        {"stage": "final", "n": 200, "accuracy": aa}]}
    (d / f"pgd_{label}.json").write_text(json.dumps(pgd))
    (d / f"autoattack_{label}.json").write_text(json.dumps(auto))


def test_summary_rows_and_projected_autoattack_hours(summarize, tmp_path):
    probe = tmp_path / "mnist5k"
    for ndf, aa_s in ((8, 360.0), (16, 1200.0)):
        d = probe / f"ndf{ndf}"
        d.mkdir(parents=True)
        _records(d, "advtrain", 0.95, 0.85, 0.84, 0.86, aa_s)
        _records(d, "robgan_ft", 0.97, 0.89, 0.88, 0.90, aa_s / 2)
        for label, seconds in (("advtrain", 100.0), ("robgan", 200.0), ("robgan_ft", 30.0)):
            pd.DataFrame({"iteration": [50, 100], "train_seconds": [seconds / 2, seconds]}).to_csv(
                d / f"train_log_{label}.csv", index=False)
    assert summarize.main([str(probe), "--config", str(REPO / "config" / "mnist5k.yaml")]) == 0
    text = (probe / "summary.md").read_text()
    # mnist5k: 7 classifier labels x 3 seeds = 21 runs; 360 s each = 2.1 core-hours
    assert summarize.n_classifier_runs(summarize.load_config(REPO / "config" / "mnist5k.yaml")) == 21
    assert "| 8 | advtrain | 16,731 | 100 | 95.0 | 85.0 | 84.0 | 1000, 50 s | 86.0 | 200, 360 s | 2.1 core-h |" in text
    # robgan_ft's training time counts its co-training run (200 + 30 s); 180 s x 21 runs = 1.05 core-hours
    assert "| 8 | robgan_ft | 16,731 | 230 | 97.0 | 89.0 | 88.0 | 1000, 50 s | 90.0 | 200, 180 s | 1.1 core-h |" in text
    assert "| 16 | advtrain | 66,219 |" in text and "| 200, 1200 s | 7.0 core-h |" in text
    assert len(pd.read_csv(probe / "summary.csv")) == 4


def test_committed_summary_is_what_summarize_writes_from_the_committed_records(summarize, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the summary names the config as given
    committed = REPO / "benchmarks" / "width" / "mnist5k"
    probe = tmp_path / "mnist5k"
    shutil.copytree(committed, probe)
    (probe / "summary.md").unlink()
    assert summarize.main([str(probe), "--config", "benchmarks/width/mnist5k/config.yaml"]) == 0
    body = [(p / "summary.md").read_text().splitlines()[3:] for p in (probe, committed)]  # line 3 names the commit
    assert body[0] == body[1]
    assert pd.read_csv(probe / "summary.csv").equals(pd.read_csv(committed / "summary.csv"))
