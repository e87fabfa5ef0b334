"""AutoAttack through pyautoattack: exact on linear models (closed form), stage-by-stage cascade,
the masking flags on a gradient-masked model, and configuration checks."""

from __future__ import annotations

import pytest
import torch

from robgan.config import ConfigError
from robgan.evaluation.autoattack import (
    _set_apgd_iterations,
    autoattack_flags,
    build_adversary,
    check_attacks,
    run_autoattack,
)
from robgan.evaluation.robustness import PAPER, PGDProtocol, accuracy, robust_correct

TIE = 1e-4


def _aa(model, x, y, eps, attacks, **kw):
    kw.setdefault("apgd_iterations", 50)
    return run_autoattack(model, x, y, eps=eps, version="custom", attacks=attacks, seed=0, batch_size=128,
                          progress=False, **kw)


@pytest.mark.parametrize("eps", [0.01, 0.03])
def test_apgd_ce_is_exact_on_a_two_class_linear_model(linear_problem, eps, exact_robust_margin):
    model, w, b, x, y = linear_problem(2, n=160)
    margin = exact_robust_margin(w, b, x, y, eps)
    assert (margin.abs() > TIE).all()
    res = _aa(model, x, y, eps, ["apgd-ce"])
    assert torch.equal(res.final, margin > 0)
    assert res.n_inconsistent == 0
    assert (res.x_adv - x).abs().max() <= eps + 1e-6


@pytest.mark.parametrize("eps", [0.01, 0.03])
def test_apgd_ce_then_apgd_t_is_exact_on_a_four_class_linear_model(linear_problem, eps, exact_robust_margin):
    # pyautoattack's targeted DLR loss needs >= 4 classes; the closed form is the min over the other
    # classes j of m_j - eps*||w_y - w_j||_1 (exact for linear models away from the box boundary).
    model, w, b, x, y = linear_problem(4, n=160, seed=1)
    margin = exact_robust_margin(w, b, x, y, eps)
    assert (margin.abs() > TIE).all()
    res = _aa(model, x, y, eps, ["apgd-ce", "apgd-t"], n_target_classes=3)
    exact = margin > 0
    assert torch.equal(res.final, exact)
    # the cascade: accumulated accuracy never rises, and apgd-t adds to apgd-ce here
    rows = res.rows(eps)
    assert [r["stage"] for r in rows] == ["clean", "apgd-ce", "apgd-t", "final"]
    accs = [r["accuracy"] for r in rows]
    assert accs == sorted(accs, reverse=True)
    assert rows[-1]["n_correct"] == int(exact.sum()) and rows[-1]["n"] == y.numel()
    assert torch.equal(res.stages["apgd-t"], res.final)
    assert (res.stages["apgd-ce"] & ~res.stages["apgd-t"]).any()  # apgd-ce alone is not exact
    # PGD on the class CE is an upper bound, AutoAttack reaches the optimum
    pgd = robust_correct(model, x, y, PAPER.threat(eps), batch_size=128, device="cpu", seed=0)
    assert accuracy(res.final) <= accuracy(pgd)


def test_masking_flag_fires_on_a_gradient_masked_model(linear_problem, capsys):
    model, _, _, x, y = linear_problem(2, n=120, seed=4, quantise=True)
    eps = 0.1
    paper = robust_correct(model, x, y, PAPER.threat(eps), batch_size=128, device="cpu", seed=0)
    strong = robust_correct(model, x, y, PGDProtocol("strong", 10, 0.25, 2, True).threat(eps),
                            batch_size=128, device="cpu", seed=0)
    res = _aa(model, x, y, eps, ["apgd-ce", "square"])
    pgd = {"paper": accuracy(paper), "strong": accuracy(strong)}
    flags = autoattack_flags(accuracy(res.final), pgd, eps, y.numel())
    assert accuracy(paper) == accuracy(res.clean)  # zero gradients: paper PGD finds nothing
    assert flags["pgd_near_autoattack"]["ok"] is False  # the black-box Square attack exposes it
    assert flags["autoattack_le_pgd"]["ok"] is True
    assert capsys.readouterr().out == ""  # AutoAttack's log goes to stderr, never stdout


def test_masking_flags_stay_quiet_on_a_linear_model(linear_problem):
    model, _, _, x, y = linear_problem(2, n=120, seed=4)
    eps = 0.02
    paper = robust_correct(model, x, y, PAPER.threat(eps), batch_size=128, device="cpu", seed=0)
    res = _aa(model, x, y, eps, ["apgd-ce"])
    flags = autoattack_flags(accuracy(res.final), {"paper": accuracy(paper)}, eps, y.numel())
    assert all(f["ok"] for f in flags.values()), flags
    assert 0.2 < accuracy(res.final) < accuracy(res.clean)  # not a trivial comparison


def test_custom_settings_reach_the_attack_objects(linear_problem):
    model, *_ = linear_problem(10, n=8)
    adv, settings = build_adversary(model, eps=0.1, version="custom", attacks=["apgd-ce", "apgd-t"],
                                    apgd_iterations=25, n_target_classes=3, n_classes=10, seed=7,
                                    device="cpu")
    assert adv.apgd.n_iter == adv.apgd_targeted.n_iter == 25
    assert adv.apgd.n_iter_2 == max(int(0.22 * 25), 1) and adv.apgd_targeted.size_decr == 1
    assert adv.apgd_targeted.n_target_classes == 3
    assert settings["attacks"] == ["apgd-ce", "apgd-t"] and settings["cheap_subset"] is True
    assert settings["apgd_targeted"]["n_target_classes"] == 3 and "square" not in settings
    std, s2 = build_adversary(model, eps=0.1, version="standard", attacks=None, apgd_iterations=25,
                              n_target_classes=3, n_classes=5, seed=7, device="cpu")
    assert s2["attacks"] == ["apgd-ce", "apgd-t", "fab-t", "square"] and s2["cheap_subset"] is False
    assert std.apgd.n_iter == 100 and std.apgd_targeted.n_target_classes == 4  # capped at K-1


def test_set_apgd_iterations_matches_the_constructor():
    from pyautoattack.autopgd_base import APGDAttack

    a, b = APGDAttack(None, n_iter=100, eps=0.1), APGDAttack(None, n_iter=30, eps=0.1)
    _set_apgd_iterations(a, 30)
    for key in ("n_iter", "n_iter_orig", "n_iter_2", "n_iter_min", "size_decr"):
        assert getattr(a, key) == getattr(b, key), key


def test_impossible_attack_settings_are_config_errors():
    with pytest.raises(ConfigError, match="4 classes"):
        check_attacks(["apgd-ce", "apgd-t"], 3, 2, "custom")
    with pytest.raises(ConfigError, match="n_target_classes"):
        check_attacks(["apgd-t"], 5, 5, "custom")
    with pytest.raises(ConfigError, match="3 classes"):
        check_attacks(["apgd-dlr"], 2, 1, "custom")
    check_attacks(["apgd-ce", "square"], 2, 9, "custom")  # untargeted: any n_target_classes
    check_attacks(["apgd-t"], 10, 9, "custom")
