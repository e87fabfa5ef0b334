"""Opening a run for evaluation: the one checkpoint lister and the one "run unfinished" error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from robgan.api import RunError
from robgan.evaluation.context import RunUnfinishedError, finished_model, open_run, run_checkpoints


def _run_dir(tmp_path: Path, snapshot_iters: list[int], final: int | None) -> Path:
    """A run directory holding only what the lister reads: snapshots and model.pt with their progress."""
    d = tmp_path / "run"
    (d / "snapshots").mkdir(parents=True)
    (d / "config.yaml").write_text(yaml.safe_dump({"run": {"method": "advtrain", "label": "advtrain", "seed": 0}}))
    for it in snapshot_iters:
        torch.save({"iteration": it, "train_seconds": it / 10}, d / "snapshots" / f"iter_{it:07d}.pt")
    if final is not None:
        torch.save({"iteration": final, "train_seconds": final / 10}, d / "model.pt")
    return d


def test_lister_orders_by_iteration_and_drops_the_snapshot_that_duplicates_model_pt(tmp_path):
    d = _run_dir(tmp_path, [40, 10, 20], final=40)
    got = run_checkpoints(d)
    assert [(c.path.relative_to(d).as_posix(), c.iteration) for c in got] == [
        ("snapshots/iter_0000010.pt", 10), ("snapshots/iter_0000020.pt", 20), ("model.pt", 40)]
    assert [c.train_seconds for c in got] == pytest.approx([1.0, 2.0, 4.0], abs=1e-12)
    assert [c.path.name for c in run_checkpoints(d, with_snapshots=False)] == ["model.pt"]


def test_lister_keeps_every_snapshot_when_model_pt_has_a_new_iteration(tmp_path):
    d = _run_dir(tmp_path, [10, 20], final=25)
    assert [c.iteration for c in run_checkpoints(d)] == [10, 20, 25]


def test_every_evaluation_refuses_an_unfinished_run_with_one_error(tmp_path):
    d = _run_dir(tmp_path, [10, 20], final=None)
    calls = (lambda: finished_model(d), lambda: run_checkpoints(d),
             lambda: run_checkpoints(d, with_snapshots=False), lambda: open_run(d, {"eval": {}}, "cpu"))
    for call in calls:
        with pytest.raises(RunUnfinishedError, match="unfinished") as exc:
            call()
        assert isinstance(exc.value, RunError)  # callers that catch robgan.api.RunError keep working
