"""The committed calibration of the within-class collapse floor (benchmarks/collapse/): its summary is
rendered from its numbers, its floor is the package's, the committed mnist5k config's generator fails the
check and quick's passes, and the held-out real digits sit well above the floor."""

from __future__ import annotations

import json
from pathlib import Path

from script_loader import load_script

from robgan.evaluation import acceptance

REPO = Path(__file__).resolve().parents[1]
HERE = REPO / "benchmarks" / "collapse"


def test_committed_calibration_summary():
    calibrate = load_script(HERE / "calibrate.py")
    s = json.loads((HERE / "summary.json").read_text())
    assert (HERE / "summary.md").read_text() == calibrate.render(s)
    assert s["floor"] == acceptance.MIN_INTRA_RECALL and s["per_class_samples"] == 50
    held_out = [d["intra_recall"] for d in s["held_out_draws"]]
    assert len(held_out) == 5 and min(held_out) > 3 * acceptance.MIN_INTRA_RECALL   # the upper reference
    # the per-class floor sits far below every held-out draw's lowest class
    assert min(d["intra_recall_min_class"] for d in s["held_out_draws"]) > 10 * acceptance.MIN_CLASS_INTRA_RECALL
    gens = s["generators"]
    by_experiment = {g["experiment"]: g for g in gens.values()}
    assert by_experiment["mnist5k"]["as trained"]["collapse_check"] == acceptance.FAILED
    assert by_experiment["quick"]["as trained"]["collapse_check"] == acceptance.OK
    for g in gens.values():                                    # the lower reference: noise ignored
        assert g["noise ignored (z = 0)"]["intra_recall"] < 0.02
        assert g["noise ignored (z = 0)"]["collapse_check"] == acceptance.FAILED
        for m in (g["as trained"], g["noise ignored (z = 0)"]):
            assert acceptance.collapse_check({**m, "iteration": 0})[0] == m["collapse_check"]
