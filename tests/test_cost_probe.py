"""The cost probe (robgan/cost_probe.py): each method's seconds per training iteration, measured alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from robgan import cost_probe as cp
from robgan import pipeline
from robgan.config import load_config

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick():
    return load_config(REPO / "config" / "config.yaml")


def test_median_seconds():
    assert cp.median_seconds([3.0, 1.0, 2.0]) == 2.0
    assert cp.median_seconds([4.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError):
        cp.median_seconds([])


def test_time_repeats_times_after_warmup_and_per_iteration(monkeypatch):
    clock = [0.0]
    costs = iter([5.0, 5.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0])   # 2 warm-up calls, then 3 repeats of 2 calls
    syncs = []

    def step():
        clock[0] += next(costs)

    monkeypatch.setattr(cp.time, "perf_counter", lambda: clock[0])
    values = cp.time_repeats(step, lambda: syncs.append(1), warmup=2, repeats=3, iters=2)
    assert values == [1.5, 3.5, 7.0] and cp.median_seconds(values) == 3.5
    assert len(syncs) == 6   # before and after each timed repeat
    with pytest.raises(ValueError):
        cp.time_repeats(step, lambda: None, warmup=0, repeats=0, iters=1)


def test_label_configs_are_the_runs_of_each_label(quick):
    assert cp._label_config(quick, "robgan_ft_nofake")["finetune"]["lam"] == 0.0
    ft = cp._label_config(quick, "robgan_ft")
    assert ft["finetune"]["lam"] == 0.3 and ft["run"] == {"method": "robgan_ft", "label": "robgan_ft", "seed": 0,
                                                          "init_from": None}
    assert quick.get("run") is None   # the experiment's config is not modified


def test_the_probe_times_each_label_at_the_configs_shapes(quick):
    before = torch.get_num_threads()
    rec = cp.run_cost_probe(quick, ["sngan", "robgan", "robgan_ft_nofake"], threads=1, warmup=0, repeats=2, iters=1)
    assert torch.get_num_threads() == before
    assert list(rec["labels"]) == ["sngan", "robgan", "robgan_ft_nofake"]
    sn, rg, nf = (rec["labels"][k] for k in ("sngan", "robgan", "robgan_ft_nofake"))
    # quick: every GAN at n_dis 1, robgan with a 3-step attack; fine-tuning: batch 64
    assert (sn["n_dis"], sn["attack_steps"], sn["batch_size"]) == (1, 0, 32)
    assert (rg["n_dis"], rg["attack_steps"], rg["batch_size"]) == (1, 3, 32)
    assert (nf["method"], nf["batch_size"], nf["attack_steps"]) == ("robgan_ft", 64, 3)
    for row in rec["labels"].values():
        assert len(row["repeats_seconds"]) == 2 and row["seconds_per_iteration"] > 0
        assert row["seconds_per_iteration"] == pytest.approx(cp.median_seconds(row["repeats_seconds"]), abs=2e-6)
    assert (rec["threads"], rec["repeats"], rec["warmup"], rec["iters_per_repeat"], rec["seed"]) == (1, 2, 0, 1, 0)
    assert rec["experiment"] == "quick" and rec["torch"] == torch.__version__ and rec["seconds"] > 0


def test_the_defaults_are_what_the_docs_say():
    # docs/convergence.md "Time claims": 2 warm-up iterations, median of 3 repeats of 1 iteration
    assert (cp.WARMUP, cp.REPEATS, cp.ITERS) == (2, 3, 1)


def test_reading_a_cost_probe(tmp_path):
    assert cp.load_cost_probe(tmp_path / "cost_probe.json") is None and cp.load_cost_probe(None) is None
    path = tmp_path / "cost_probe.json"
    path.write_text(json.dumps({"labels": {"robgan": {"seconds_per_iteration": 0.25}, "sngan": {}}}))
    rec = cp.load_cost_probe(path)
    assert cp.seconds_per_iteration(rec, "robgan") == 0.25
    assert cp.seconds_per_iteration(rec, "sngan") is None and cp.seconds_per_iteration(rec, "acgan") is None
    assert cp.seconds_per_iteration(None, "robgan") is None
    path.write_text(json.dumps({"seconds": 3}))
    with pytest.raises(ValueError, match="not a cost_probe record"):
        cp.load_cost_probe(path)


def test_the_probe_reruns_when_a_training_shape_changes(quick):
    sig = pipeline.cost_probe_signature(quick)
    wider = {**quick, "model": {**quick["model"], "ndf": 32}}
    more_steps = {**quick, "train": {**quick["train"], "attack_steps": 5}}
    assert pipeline.cost_probe_signature(wider) != sig and pipeline.cost_probe_signature(more_steps) != sig
    # neither threads nor the evaluation settings change what one training iteration computes
    assert pipeline.cost_probe_signature({**quick, "threads": 4}) == sig
    assert pipeline.cost_probe_signature({**quick, "eval": {**quick["eval"], "batch_size": 7}}) == sig
    assert pipeline.Layout.of(quick).cost_probe == "results/quick/cost_probe.json"
