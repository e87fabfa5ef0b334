"""Unit tests of the sanity flags with hand-made accuracies (both outcomes of each)."""

from __future__ import annotations

import math

import pytest

from robgan.evaluation import flags as fl


def test_noise_tolerance_is_two_standard_errors_at_p_half():
    assert fl.noise_tolerance(100) == pytest.approx(0.1)
    assert fl.noise_tolerance(10_000) == pytest.approx(0.01)
    assert fl.noise_tolerance(400, z=1.0) == pytest.approx(0.5 / 20)
    assert fl.noise_tolerance(500) == pytest.approx(1 / math.sqrt(500))
    with pytest.raises(ValueError):
        fl.noise_tolerance(0)


def _shape(flag):
    assert set(flag) == {"ok", "detail"} and isinstance(flag["ok"], bool) and flag["detail"]


def test_monotone_in_eps():
    n = 400  # tolerance 0.05
    ok = fl.monotone_in_eps({0.0: 0.9, 0.1: 0.6, 0.2: 0.3, 0.3: 0.32}, n, label="paper")
    _shape(ok)
    assert ok["ok"] and ok["detail"].startswith("paper:")
    bad = fl.monotone_in_eps({0.3: 0.5, 0.0: 0.9, 0.1: 0.6, 0.2: 0.3}, n)  # order does not matter
    assert not bad["ok"] and "eps=0.3" in bad["detail"]
    # just inside / just outside the tolerance
    assert fl.monotone_in_eps({0.1: 0.5, 0.2: 0.549}, n)["ok"]
    assert not fl.monotone_in_eps({0.1: 0.5, 0.2: 0.551}, n)["ok"]


def test_large_eps_near_zero():
    n = 100  # tolerance 0.1
    good = fl.large_eps_near_zero(0.15, 0.5, n, chance=0.1)
    _shape(good)
    assert good["ok"] and "provable" in good["detail"]
    bad = fl.large_eps_near_zero(0.25, 0.5, n, chance=0.1)
    assert not bad["ok"] and "masking" in bad["detail"]
    assert "heuristic" in fl.large_eps_near_zero(0.0, 0.3, n, chance=0.1)["detail"]
    # a 2-class problem: chance is the larger class share
    assert fl.large_eps_near_zero(0.55, 0.5, 10_000, chance=0.55)["ok"]
    assert not fl.large_eps_near_zero(0.6, 0.5, 10_000, chance=0.55)["ok"]


def test_strong_le_paper():
    n = 400
    paper = {0.1: 0.6, 0.2: 0.3}
    assert fl.strong_le_paper({0.1: 0.5, 0.2: 0.34}, paper, n)["ok"]
    bad = fl.strong_le_paper({0.1: 0.5, 0.2: 0.36}, paper, n)
    assert not bad["ok"] and "eps=0.2" in bad["detail"]
    assert not fl.strong_le_paper({0.5: 0.1}, paper, n)["ok"]  # nothing to compare


def test_autoattack_le_pgd():
    n = 400
    assert fl.autoattack_le_pgd(0.40, {"paper": 0.45, "strong": 0.42}, 0.1, n)["ok"]
    assert fl.autoattack_le_pgd(0.46, {"paper": 0.45, "strong": 0.42}, 0.1, n)["ok"]  # within noise
    bad = fl.autoattack_le_pgd(0.48, {"paper": 0.45, "strong": 0.42}, 0.1, n)
    assert not bad["ok"] and "weaker" in bad["detail"]
    assert not fl.autoattack_le_pgd(0.4, {}, 0.1, n)["ok"]


def test_pgd_near_autoattack():
    n = 400  # tolerance 0.05, default gap 0.05
    assert fl.pgd_near_autoattack(0.40, {"paper": 0.49}, 0.1, n)["ok"]
    bad = fl.pgd_near_autoattack(0.40, {"paper": 0.51, "strong": 0.45}, 0.1, n)
    assert not bad["ok"] and "masking" in bad["detail"]
    assert fl.pgd_near_autoattack(0.40, {"paper": 0.51}, 0.1, n, max_gap=0.2)["ok"]


def test_largest_class_share_and_all_ok():
    assert fl.largest_class_share([0, 1, 1, 2]) == 0.5
    with pytest.raises(ValueError):
        fl.largest_class_share([])
    assert fl.all_ok({"a": {"ok": True, "detail": "x"}})
    assert not fl.all_ok({"a": {"ok": True, "detail": "x"}, "b": {"ok": False, "detail": "y"}})
