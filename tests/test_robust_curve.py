"""benchmarks/convergence/robust_curve.py: held-out accuracy under attack over training."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
# the analysis of the committed mnist5k run (docs/mnist5k/); the probes' outputs are one-off records, not pinned
STUDY = REPO / "docs" / "mnist5k"


def _module():
    sys.path.insert(0, str(REPO / "benchmarks" / "convergence"))
    spec = importlib.util.spec_from_file_location("robust_curve", REPO / "benchmarks/convergence/robust_curve.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_summary_is_what_summarize_writes_from_the_committed_csv(tmp_path):
    csv_path = STUDY / "robust_over_training.csv"
    csv = tmp_path / csv_path.parent.name / csv_path.name
    csv.parent.mkdir()
    shutil.copy(csv_path, csv)
    _module().summarize(csv)
    # line 3 names the commit and the CSV's folder; the tables and counts must match
    assert csv.with_suffix(".md").read_text().splitlines()[4:] == \
        csv_path.with_suffix(".md").read_text().splitlines()[4:]
    assert csv.with_suffix(".png").stat().st_size > 10_000


def test_last_checkpoint_equals_the_committed_gap_record():
    """The curve's last point is the final model scored like the gap record: same images, attack, seed."""
    df = pd.read_csv(STUDY / "robust_over_training.csv")
    checked = 0
    for path in sorted((REPO / "results" / "mnist5k" / "records" / "gap").glob("*_seed*.json")):
        rec = json.loads(path.read_text())
        test = next(r for r in rec["results"] if r["split"] == "test")
        label, seed = path.stem.rsplit("_seed", 1)
        last = df[(df["label"] == label) & (df["seed"] == int(seed))].sort_values("iteration").iloc[-1]
        assert last["iteration"] == rec["checkpoint"]["iteration"]
        assert last["n"] == test["n"] and last["eps"] == test["eps"]
        assert last["robust_accuracy"] == test["accuracy_adv"], path.name
        assert last["clean_accuracy"] == test["accuracy_clean"], path.name
        checked += 1
    assert checked == 12


def test_curve_rows_read_a_rising_and_a_flat_run():
    mod = _module()
    it = list(range(100, 1300, 100))
    df = pd.DataFrame({"label": ["a"] * 12 + ["b"] * 12, "seed": 0, "iteration": it * 2,
                       "robust_accuracy": [i / 10_000 for i in it] + [0.5] * 12,
                       "clean_accuracy": [0.9] * 24})
    rows = {(r["label"], r["metric"]): r for r in mod.curve_rows(df)}
    assert rows[("a", "robust_accuracy")]["trend"] == "rising"
    assert abs(rows[("a", "robust_accuracy")]["change"] - 0.04) < 1e-9  # 1e-4 per iteration over 400
    assert rows[("b", "robust_accuracy")]["trend"] == "flat"
    assert rows[("a", "clean_accuracy")]["trend"] == "flat"


def test_a_run_with_one_checkpoint_has_no_trend_and_is_not_counted_as_moving(tmp_path):
    mod = _module()
    df = pd.DataFrame({"label": ["ft"], "seed": [0], "iteration": [150], "train_seconds": [30.0], "eps": [0.1],
                       "n": [1000], "clean_correct": [980], "robust_correct": [920], "clean_accuracy": [0.98],
                       "robust_accuracy": [0.92]})
    rows = mod.curve_rows(df)
    assert {r["trend"] for r in rows} == {"one point"}
    csv = tmp_path / "exp" / "robust_over_training.csv"
    csv.parent.mkdir()
    df.to_csv(csv, index=False)
    md = mod.summarize(csv)
    assert "under attack 0 of 1, clean 0 of 1. 1 runs have a single checkpoint" in md
    assert "| ft | 0 | robust_accuracy | 150 | 0.920 | 0.920 ± 0.000 | — | one point |" in md


def test_checkpoints_every_keeps_multiples_and_the_finished_model():
    from types import SimpleNamespace as C

    mod = _module()
    ckpts = [C(iteration=i) for i in (50, 100, 150, 200, 250, 300)] + [C(iteration=310)]
    assert [c.iteration for c in mod.checkpoints_every(ckpts, 100)] == [100, 200, 300, 310]
    assert mod.checkpoints_every(ckpts, None) == ckpts
    assert [c.iteration for c in mod.checkpoints_every(ckpts[-1:], 200)] == [310]
    df = pd.DataFrame({"label": ["a"] * 4 + ["ft"], "seed": 0, "iteration": [200, 400, 600, 700, 150]})
    assert mod._which_checkpoints(df) == "the checkpoints at multiples of 200 iterations and the finished model"
