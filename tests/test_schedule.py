"""robgan.training.schedule: learning-rate factors and optimiser resets as functions of the iteration."""

from __future__ import annotations

from pathlib import Path

import pytest

from robgan.config import load_config
from robgan.training.schedule import eps_factor, lr_factor, milestones, resets_optimizer

REPO = Path(__file__).resolve().parent.parent


def step(**kw) -> dict:
    return {"kind": "step", "milestones": [], "every": 0, "factor": 0.5, "reset_optimizer": False,
            "start": 0, **kw}


def test_constant_is_one_everywhere():
    for sched in ({}, {"kind": "constant", "factor": 0.1, "milestones": [3]}):
        assert [lr_factor(sched, i, 10) for i in range(10)] == [1.0] * 10
        assert milestones(sched, 10) == []
        assert not any(resets_optimizer(dict(sched, reset_optimizer=True), i, 10) for i in range(10))


def test_step_milestones():
    sched = step(milestones=[3, 7], factor=0.5)
    assert milestones(sched, 10) == [3, 7]
    got = [lr_factor(sched, i, 10) for i in range(10)]
    assert got == pytest.approx([1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25], rel=1e-12)


def test_step_milestones_sorted_and_out_of_range_dropped():
    sched = step(milestones=[12, 7, 3, 10], factor=0.1)
    assert milestones(sched, 10) == [3, 7]   # 10 and 12 are not < total
    assert lr_factor(sched, 9, 10) == pytest.approx(0.01, rel=1e-12)


def test_step_every():
    sched = step(every=4, factor=0.5, milestones=[1])   # every > 0 wins over milestones
    assert milestones(sched, 10) == [4, 8]
    got = [lr_factor(sched, i, 10) for i in range(10)]
    assert got == pytest.approx([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25], rel=1e-12)
    # A multiple of `every` equal to the total is not a milestone.
    assert milestones(step(every=5), 10) == [5]


def test_step_every_matches_paper_config():
    # cifar10.yaml: halve every 50 epochs (39063 iterations) of 100 (78125).
    sched = step(every=39063, factor=0.5, reset_optimizer=True)
    assert milestones(sched, 78125) == [39063]
    assert lr_factor(sched, 39062, 78125) == 1.0
    assert lr_factor(sched, 39063, 78125) == pytest.approx(0.5, rel=1e-12)
    assert lr_factor(sched, 78124, 78125) == pytest.approx(0.5, rel=1e-12)


def test_linear_decay():
    sched = {"kind": "linear", "start": 6}
    total = 10
    got = [lr_factor(sched, i, total) for i in range(total)]
    assert got == pytest.approx([1, 1, 1, 1, 1, 1, 1.0, 0.75, 0.5, 0.25], rel=1e-12)
    assert lr_factor(sched, total, total) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(sched, total + 5, total) == 0.0   # never negative
    # start = 0: decays from the first iteration.
    assert lr_factor({"kind": "linear"}, 5, 20) == pytest.approx(0.75, rel=1e-12)
    # SN-GAN's reference: constant for 200k of 250k, then linear to 0.
    sn = {"kind": "linear", "start": 200_000}
    assert lr_factor(sn, 199_999, 250_000) == 1.0
    assert lr_factor(sn, 225_000, 250_000) == pytest.approx(0.5, rel=1e-12)


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="cosine"):
        lr_factor({"kind": "cosine"}, 0, 10)


def test_resets_optimizer_only_at_milestones_when_set():
    sched = step(milestones=[3, 7], reset_optimizer=True)
    assert [i for i in range(10) if resets_optimizer(sched, i, 10)] == [3, 7]
    sched_every = step(every=4, reset_optimizer=True)
    assert [i for i in range(12) if resets_optimizer(sched_every, i, 12)] == [4, 8]
    # Not set: never.
    assert not any(resets_optimizer(step(milestones=[3, 7]), i, 10) for i in range(10))
    assert not any(resets_optimizer(step(every=4), i, 12) for i in range(12))


@pytest.mark.parametrize("total", [60, 23438])
def test_finetune_stages_20_20_10_10(total):
    # 60 epochs in stages 20/20/10/10 with lr / 10 per stage.
    e = total / 60
    ms = [round(20 * e), round(40 * e), round(50 * e)]
    sched = step(milestones=ms, factor=0.1)
    expected = {0: 1.0, 1: 0.1, 2: 0.01, 3: 0.001}
    bounds = [0, *ms, total]
    for stage in range(4):
        lo, hi = bounds[stage], bounds[stage + 1]
        for i in (lo, (lo + hi) // 2, hi - 1):
            assert lr_factor(sched, i, total) == pytest.approx(expected[stage], rel=1e-9), (stage, i)
    assert not any(resets_optimizer(sched, i, total) for i in ms)


def test_paper_finetune_schedule_from_config():
    cfg = load_config(REPO / "config" / "cifar10.yaml")
    ft = cfg["finetune"]
    total = ft["iterations"]
    assert milestones(ft["schedule"], total) == [7813, 15625, 19531]
    for i, f in [(0, 1.0), (7812, 1.0), (7813, 0.1), (15624, 0.1), (15625, 0.01), (19530, 0.01),
                 (19531, 0.001), (total - 1, 0.001)]:
        assert lr_factor(ft["schedule"], i, total) == pytest.approx(f, rel=1e-9), i
    # Stage lengths in epochs of batch 128: 20/20/10/10 (one epoch = 50,000 / 128 ≈ 390.6 batches).
    epochs = [b / (50_000 / 128) for b in (7813, 15625 - 7813, 19531 - 15625, total - 19531)]
    assert epochs == pytest.approx([20, 20, 10, 10], abs=0.01)


def test_eps_warmup_factor():
    assert [eps_factor(4, i) for i in range(6)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0], rel=1e-12)
    assert [eps_factor(0, i) for i in range(3)] == [1.0, 1.0, 1.0]   # no warm-up: the full attack at once
    assert eps_factor(300, 149) == pytest.approx(0.5, rel=1e-12)


def test_ema_decay_ramps_to_the_configured_decay():
    from robgan.training.schedule import ema_decay

    assert ema_decay(0.99, 1) == pytest.approx(2 / 11)
    assert ema_decay(0.99, 80) == pytest.approx(0.9)
    assert ema_decay(0.99, 890) == pytest.approx(0.99)
    assert ema_decay(0.99, 5000) == 0.99
    assert ema_decay(0.0, 7) == 0.0
    with pytest.raises(ValueError, match="g_ema"):
        ema_decay(1.0, 3)
