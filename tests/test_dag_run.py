"""results/<exp>/dag_run.json: the wall-clock of a Snakemake invocation (robgan/dag_run.py)."""

from __future__ import annotations

import json
import os
import time

from robgan import dag_run


def _bench(results, rel, mtime):
    p = results / "benchmarks" / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("s\n1.0\n")
    os.utime(p, (mtime, mtime))


def test_finish_counts_the_jobs_of_this_invocation_only(tmp_path):
    results = tmp_path / "results" / "quick"
    _bench(results, "train/old_seed0.tsv", time.time() - 3600)       # from an earlier invocation
    dag_run.start(results, calibrate=None)
    _bench(results, "train/robgan_seed0.tsv", time.time() + 1)
    _bench(results, "report.tsv", time.time() + 1)
    rec = dag_run.finish(results, cores=2, root=tmp_path)
    assert rec is not None and rec["jobs"] == 2 and rec["jobs_in_experiment"] == 3 and rec["cores"] == 2
    assert 0 <= rec["wall_seconds"] < 60
    assert json.loads((results / "dag_run.json").read_text()) == rec
    assert not (results / ".dag_run_start").exists()


def test_a_cluster_run_has_no_cores(tmp_path):
    # under the SLURM executor Snakemake has no --cores (workflow.cores raises): recorded as null
    results = tmp_path / "r"
    dag_run.start(results)
    _bench(results, "report.tsv", time.time() + 1)
    rec = dag_run.finish(results, cores=None, root=tmp_path)
    assert rec is not None and rec["cores"] is None and rec["jobs"] == 1


def test_an_invocation_without_jobs_keeps_the_previous_record(tmp_path):
    results = tmp_path / "r"
    (results).mkdir()
    (results / "dag_run.json").write_text('{"wall_seconds": 500.0}')
    _bench(results, "train/a_seed0.tsv", time.time() - 3600)
    dag_run.start(results, calibrate=None)
    assert dag_run.finish(results, cores=2, root=tmp_path) is None
    assert json.loads((results / "dag_run.json").read_text()) == {"wall_seconds": 500.0}
    assert dag_run.finish(results, cores=2, root=tmp_path) is None   # no stamp: nothing to do


def test_git_dirty_ignores_the_results_the_run_rewrites(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "table.csv").write_text("a\n1\n")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "c")
    (tmp_path / "results" / "table.csv").write_text("a\n2\n")          # the run rewrote a committed output
    commit, dirty = dag_run._git_commit(tmp_path)
    assert len(commit) == 40 and dirty is False
    (tmp_path / "code.py").write_text("x = 2\n")                       # a code edit is dirty
    assert dag_run._git_commit(tmp_path)[1] is True


def test_an_interrupted_invocation_counts_in_the_total(tmp_path):
    results = tmp_path / "r"
    t0 = time.time()
    dag_run.start(results, calibrate=None)                                       # killed: never reaches finish
    (results / ".dag_run_start").write_text(repr(t0 - 1000))     # (it started 1000 s ago)
    _bench(results, "train/a_seed0.tsv", t0 - 900)               # its two jobs; the last ended 600 s in
    _bench(results, "train/b_seed0.tsv", t0 - 400)
    dag_run.start(results, calibrate=None)                                       # the rerun that completes the DAG
    _bench(results, "train/b_seed0.tsv", time.time() + 1)
    rec = dag_run.finish(results, cores=2, root=tmp_path)
    assert rec["jobs"] == 1 and rec["jobs_in_experiment"] == 2
    [gone] = rec["interrupted"]
    assert gone["jobs"] == 2 and abs(gone["wall_seconds"] - 600) < 2  # from its start to its last job
    assert rec["wall_seconds_total"] == round(rec["wall_seconds"] + gone["wall_seconds"], 1)
    assert not (results / ".dag_run_interrupted.json").exists()
    dag_run.start(results, calibrate=None)
    _bench(results, "report.tsv", time.time() + 1)
    assert "interrupted" not in dag_run.finish(results, cores=2, root=tmp_path)  # counted once


def test_a_stamp_without_jobs_is_not_an_interrupted_invocation(tmp_path):
    results = tmp_path / "r"
    dag_run.start(results, calibrate=None)
    dag_run.start(results, calibrate=None)
    assert not (results / ".dag_run_interrupted.json").exists()


def test_the_calibration_is_recorded_beside_the_wall_clock(tmp_path):
    results = tmp_path / "results" / "quick"
    cal = {"seconds": 4.0, "cpu_seconds": 3.9, "iterations": 10, "workload": "w", "version": 1}
    dag_run.start(results, calibrate=lambda: cal)
    _bench(results, "train/robgan_seed0.tsv", time.time() + 1)
    rec = dag_run.finish(results, cores=2, root=tmp_path)
    assert rec["calibration"] == cal
    assert rec["wall_multiple"] == round(rec["wall_seconds"] / 4.0, 1)
    assert not (results / ".dag_run_calibration.json").exists()
    # an interrupted invocation's time counts in the multiple like in the total
    assert dag_run.wall_multiple({"wall_seconds": 100.0, "wall_seconds_total": 300.0,
                                  "calibration": cal}) == 75.0
    assert dag_run.wall_multiple({"wall_seconds": 100.0, "calibration": cal}) == 25.0
    # the calibration in the DAG's own precision, where the record has it (None before it existed)
    assert rec["wall_multiple_native"] is None
    native = {**cal, "native": {"seconds": 2.5}}
    assert dag_run.wall_multiple({"wall_seconds": 100.0, "calibration": native}, native=True) == 40.0
    assert dag_run.wall_multiple({"wall_seconds": 100.0, "calibration": native}) == 25.0


def test_a_record_without_calibration_has_no_multiple(tmp_path):
    results = tmp_path / "r"
    dag_run.start(results, calibrate=lambda: None)                # the calibration failed
    _bench(results, "train/robgan_seed0.tsv", time.time() + 1)
    rec = dag_run.finish(results, cores=2, root=tmp_path)
    assert rec["calibration"] is None and rec["wall_multiple"] is None
    assert dag_run.wall_multiple({"wall_seconds": 900.6}) is None  # records written before calibration



def test_scale_wall_compares_machines_of_one_kind_only():
    # same kind (native bf16 on both, or on neither): the calibration ratio
    assert dag_run.scale_wall(600.0, 2.0, True, 3.0, True) == (900.0, dag_run.SAME_KIND)
    assert dag_run.scale_wall(600.0, 2.0, False, 1.0, False) == (300.0, dag_run.SAME_KIND)
    # this CPU lacks the native bf16 the earlier one had: the ratio is a lower bound only
    assert dag_run.scale_wall(600.0, 2.0, True, 3.0, False) == (900.0, dag_run.LOWER_BOUND)
    seconds, why = dag_run.scale_wall(600.0, 2.0, False, 3.0, True)
    assert seconds is None and "does not compare" in why
    seconds, why = dag_run.scale_wall(600.0, 2.0, None, 3.0, True)
    assert seconds is None and "do not say" in why


def _cal(seconds, bf16, cap="AVX512"):
    return {"seconds": seconds, "compute": {"cpu_capability": cap, "bf16_native": bf16}}


def test_expected_wall_reads_the_kind_from_the_record_or_from_its_records():
    new = {"wall_seconds": 100.0, "wall_seconds_total": 400.0, "calibration": _cal(2.0, False, "AVX2")}
    assert dag_run.expected_wall(new, _cal(1.0, False, "AVX2")) == (200.0, dag_run.SAME_KIND)  # the total
    old = {"wall_seconds": 600.0, "calibration": {"seconds": 2.0}}  # a calibration without the fingerprint
    assert dag_run.expected_wall(old, _cal(3.0, True))[0] is None
    assert dag_run.expected_wall(old, _cal(3.0, True), previous_bf16=True) == (900.0, dag_run.SAME_KIND)
    assert dag_run.expected_wall({"wall_seconds": 600.0, "calibration": None}, _cal(3.0, True))[0] is None


def test_start_announces_the_expected_time_from_the_earlier_run(tmp_path, capsys):
    results = tmp_path / "results" / "quick"
    (results / "records" / "pgd").mkdir(parents=True)
    (results / "dag_run.json").write_text(json.dumps(
        {"wall_seconds": 600.0, "git_commit": "abcdef0123", "calibration": {"seconds": 2.0}}))
    # the earlier run's records say its attacks ran in bf16: its CPU had native bf16
    (results / "records" / "pgd" / "advtrain_seed0.json").write_text(
        json.dumps({"settings": {"attack_precision": "bf16"}}))
    dag_run.start(results, calibrate=lambda: _cal(3.0, True))
    err = capsys.readouterr().err
    assert "the earlier run in" in err and "(commit abcdef0) took 10.0 min" in err
    assert "should take about 15 min here" in err
    dag_run.start(results, calibrate=lambda: _cal(3.0, False, "AVX2"))
    assert "should take more than 15 min here (this CPU lacks native bf16" in capsys.readouterr().err
    (results / "dag_run.json").unlink()  # no earlier run: nothing to say
    dag_run.start(results, calibrate=lambda: _cal(3.0, True))
    assert "robgan:" not in capsys.readouterr().err
