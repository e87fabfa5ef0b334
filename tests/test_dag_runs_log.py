"""benchmarks/dag_runs/log.py: the log of measured whole-DAG runs and its generated table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_loader import load_script

REPO = Path(__file__).resolve().parent.parent
log = load_script(REPO / "benchmarks" / "dag_runs" / "log.py")


def test_the_committed_table_is_in_step_with_the_logged_runs():
    assert log.README.read_text() == log.table(log.entries())


@pytest.mark.parametrize("path", sorted(log.RUNS.glob("*.json")), ids=lambda p: p.stem)
def test_every_logged_run_adds_up(path):
    e = json.loads(path.read_text())
    assert e["job_seconds_total"] == pytest.approx(sum(e["job_seconds"].values()), abs=0.2)
    if e["calibration_seconds"]:
        assert e["wall_multiple"] == round(e["wall_seconds"] / e["calibration_seconds"], 1)
    assert e["idle_core_seconds"] == pytest.approx(e["cores"] * e["wall_seconds"] - e["job_seconds_total"], abs=0.2)
    assert path.name == f"{e['started'].replace(':', '')}_{e['experiment']}_{e['git_commit'][:7]}.json"


def _results(tmp_path: Path) -> Path:
    results = tmp_path / "results" / "quick"
    for rel, s in [("train/robgan_seed0.tsv", 100.0), ("finetune/robgan_ft_seed0.tsv", 20.0),
                   ("eval_pgd/robgan_seed0.tsv", 10.0), ("report.tsv", 5.0)]:
        p = results / "benchmarks" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"s\n{s}\n")
    (results / "dag_run.json").write_text(json.dumps({
        "started": "2026-12-07T10:00:00Z", "wall_seconds": 80.0, "cores": 2, "git_commit": "abcdef0123",
        "git_dirty": False, "calibration": {"seconds": 2.0, "cpu_seconds": 1.9}, "wall_multiple": 40.0}))
    return results


def test_an_entry_is_read_from_the_run_files(tmp_path):
    e = log.entry(_results(tmp_path), "a note", "here")
    assert e["experiment"] == "quick" and e["jobs"] == 4 and e["wall_multiple"] == 40.0
    assert e["job_seconds"]["train"] == 100.0 and e["job_seconds"]["finetune"] == 20.0
    assert e["job_seconds"]["other"] == 5.0 and e["job_seconds_total"] == 135.0
    assert e["idle_core_seconds"] == 2 * 80.0 - 135.0
    assert e["compute"] is None  # a calibration without a fingerprint (runs before it existed), no records
    avx2 = {"device_type": "cpu", "cpu_capability": "AVX2", "bf16_native": False}
    (tmp_path / "results" / "quick" / "records" / "pgd").mkdir(parents=True)
    for name, rec in (("a", {"compute": avx2}), ("b", {}), ("c", {"compute": avx2})):
        (tmp_path / "results" / "quick" / "records" / "pgd" / f"{name}.json").write_text(json.dumps(rec))
    assert log.entry(_results(tmp_path), "a note", "here")["compute"] == avx2  # the records that carry one
    (tmp_path / "results" / "quick" / "records" / "pgd" / "b.json").write_text(json.dumps({"compute": {}}))
    assert log.entry(_results(tmp_path), "a note", "here")["compute"] is None  # they disagree: unknown
    later = dict(e, started="2026-12-08T10:00:00Z", calibration_seconds=3.0,
                 compute={**avx2, "cpu_capability": "AVX512", "bf16_native": True})
    text = log.table([e, dict(e, started="2026-12-07T11:00:00Z", compute=avx2), later]).splitlines()
    assert text[-5] == ("| 2026-12-07 10:00 | quick | `abcdef0` | 80 s | 2.00 s | — | 40 | — | 135 | 120 | 10 | 25 "
                        "| a note |")
    assert "| 2.00 s | AVX2 | 40 | — |" in text[-4] and "| 3.00 s | AVX512+bf16 | 40 | — |" in text[-3]
    native = {**json.loads((tmp_path / "results" / "quick" / "dag_run.json").read_text()),
              "calibration": {"seconds": 2.0, "native": {"seconds": 1.6}}}
    (tmp_path / "results" / "quick" / "dag_run.json").write_text(json.dumps(native))
    e = log.entry(tmp_path / "results" / "quick", "n", "s")
    assert e["wall_multiple_native"] == 50.0  # 80 s / 1.6 s
    assert "| 2.00 s | — | 40 | 50 | 135 |" in log.table([e])
    assert text[-1] == "The calibration ranged over 2.00-3.00 s (1.50x) in the 3 runs that have one."


def test_a_run_that_did_not_finish_is_refused(tmp_path):
    results = _results(tmp_path)
    (results / "dag_run.json").unlink()
    with pytest.raises(SystemExit, match="dag_run.json is missing"):
        log.entry(results, "n", "s")
