"""robgan.losses against numbers computed by hand with math.log / math.exp."""

from __future__ import annotations

import math

import pytest
import torch

from robgan import losses

TOL = dict(rel=1e-6, abs=1e-6)


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


def ce(logits: list[float], y: int) -> float:
    return -logits[y] + math.log(sum(math.exp(v) for v in logits))


# Small fixed tensors: two examples, three classes.
S_REAL = [0.0, 2.0]
S_FAKE = [-1.0, 0.5]
C_REAL = [[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]]
Y_REAL = [0, 2]
C_FAKE = [[0.0, 0.0, 0.0], [3.0, -1.0, 1.0]]
Y_FAKE = [1, 0]


def t(v) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float64)


def yt(v) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.int64)


def mean(v: list[float]) -> float:
    return sum(v) / len(v)


# Hand values.
BCE_REAL = mean([softplus(-s) for s in S_REAL])        # (log 2 + log(1+e^-2)) / 2
BCE_FAKE_OF_FAKE = mean([softplus(s) for s in S_FAKE])
BCE_REAL_OF_FAKE = mean([softplus(-s) for s in S_FAKE])
CE_REAL = mean([ce(c, y) for c, y in zip(C_REAL, Y_REAL, strict=True)])
CE_FAKE = mean([ce(c, y) for c, y in zip(C_FAKE, Y_FAKE, strict=True)])


def test_hand_values_are_what_we_think():
    # Anchor the helpers themselves on closed forms.
    assert BCE_REAL == pytest.approx((math.log(2) + math.log(1 + math.exp(-2))) / 2, rel=1e-12)
    assert ce([0.0, 0.0, 0.0], 1) == pytest.approx(math.log(3), rel=1e-12)


def test_bce_real_and_fake():
    assert losses.bce_real(t(S_REAL)).item() == pytest.approx(BCE_REAL, **TOL)
    assert losses.bce_real(t(S_REAL)).item() == pytest.approx(0.410038, abs=1e-5)
    assert losses.bce_fake(t(S_REAL)).item() == pytest.approx(
        (math.log(2) + math.log(1 + math.exp(2))) / 2, **TOL)
    assert losses.bce_fake(t(S_FAKE)).item() == pytest.approx(BCE_FAKE_OF_FAKE, **TOL)
    # Numerically stable for large logits (no inf/nan).
    big = t([100.0, -100.0])
    assert losses.bce_real(big).item() == pytest.approx(50.0, rel=1e-9)
    assert losses.bce_fake(big).item() == pytest.approx(50.0, rel=1e-9)


def test_classification():
    assert losses.classification(t(C_REAL), yt(Y_REAL)).item() == pytest.approx(CE_REAL, **TOL)
    assert losses.classification(t(C_FAKE), yt(Y_FAKE)).item() == pytest.approx(CE_FAKE, **TOL)


def test_hinge():
    s_real = t([0.5, 2.0, -1.0])
    s_fake = t([-2.0, 0.0, 0.5])
    # relu(1 - s_real) = [0.5, 0, 2] → 5/6 ; relu(1 + s_fake) = [0, 1, 1.5] → 5/6
    assert losses.hinge_d(s_real, s_fake).item() == pytest.approx(5 / 6 + 5 / 6, **TOL)
    assert losses.hinge_g(s_fake).item() == pytest.approx(-(-2.0 + 0.0 + 0.5) / 3, **TOL)
    # Saturated: confident D has zero hinge loss.
    assert losses.hinge_d(t([1.0, 3.0]), t([-1.0, -5.0])).item() == pytest.approx(0.0, abs=1e-12)


def test_acgan_d_is_sum_of_four_terms():
    got = losses.acgan_d(t(S_REAL), t(C_REAL), yt(Y_REAL), t(S_FAKE), t(C_FAKE), yt(Y_FAKE)).item()
    assert got == pytest.approx(BCE_REAL + BCE_FAKE_OF_FAKE + CE_REAL + CE_FAKE, **TOL)


def test_acgan_g():
    got = losses.acgan_g(t(S_FAKE), t(C_FAKE), yt(Y_FAKE)).item()
    assert got == pytest.approx(BCE_REAL_OF_FAKE + CE_FAKE, **TOL)


def test_new_loss_default_weights_are_the_authors():
    assert dict(losses.NEW_LOSS_WEIGHTS) == {
        "d_real_adv": 0.5, "d_class_adv": 0.5, "d_fake": 1.0, "g_adv": 0.5, "g_class": 0.5,
    }


def test_newloss_d_default_weights():
    got = losses.newloss_d(t(S_REAL), t(C_REAL), yt(Y_REAL), t(S_FAKE)).item()
    assert got == pytest.approx(0.5 * BCE_REAL + 0.5 * CE_REAL + 1.0 * BCE_FAKE_OF_FAKE, **TOL)


def test_newloss_d_weights_are_used_term_by_term():
    w = {"d_real_adv": 2.0, "d_class_adv": 3.0, "d_fake": 5.0, "g_adv": 0.0, "g_class": 0.0}
    got = losses.newloss_d(t(S_REAL), t(C_REAL), yt(Y_REAL), t(S_FAKE), w).item()
    assert got == pytest.approx(2 * BCE_REAL + 3 * CE_REAL + 5 * BCE_FAKE_OF_FAKE, **TOL)


def test_newloss_d_fake_weight_zero_removes_fake_term_exactly():
    w = dict(losses.NEW_LOSS_WEIGHTS, d_fake=0.0)
    s_fake = t(S_FAKE).requires_grad_(True)
    loss = losses.newloss_d(t(S_REAL), t(C_REAL), yt(Y_REAL), s_fake, w)
    assert loss.item() == pytest.approx(0.5 * BCE_REAL + 0.5 * CE_REAL, **TOL)
    # Any fake logits give the same value, and no gradient flows to them.
    other = losses.newloss_d(t(S_REAL), t(C_REAL), yt(Y_REAL), t([50.0, -7.0]), w)
    assert other.item() == loss.item()
    (g,) = torch.autograd.grad(loss, s_fake)
    assert torch.equal(g, torch.zeros_like(g))


def test_newloss_d_has_no_fake_class_term():
    # The fake class logits are not an argument: the class head learns from real images only.
    import inspect

    assert "c_fake" not in inspect.signature(losses.newloss_d).parameters


def test_newloss_g():
    got = losses.newloss_g(t(S_FAKE), t(C_FAKE), yt(Y_FAKE)).item()
    assert got == pytest.approx(0.5 * BCE_REAL_OF_FAKE + 0.5 * CE_FAKE, **TOL)
    w = {"d_real_adv": 0.0, "d_class_adv": 0.0, "d_fake": 0.0, "g_adv": 1.0, "g_class": 0.0}
    got = losses.newloss_g(t(S_FAKE), t(C_FAKE), yt(Y_FAKE), w).item()
    assert got == pytest.approx(BCE_REAL_OF_FAKE, **TOL)
    w = dict(w, g_adv=0.0, g_class=2.0)
    assert losses.newloss_g(t(S_FAKE), t(C_FAKE), yt(Y_FAKE), w).item() == pytest.approx(2 * CE_FAKE, **TOL)


def test_finetune_lam_zero_is_real_ce_and_ignores_fakes():
    real = losses.finetune(t(C_REAL), yt(Y_REAL), lam=0.0).item()
    assert real == pytest.approx(CE_REAL, **TOL)
    with_fakes = losses.finetune(t(C_REAL), yt(Y_REAL), t(C_FAKE), yt(Y_FAKE), lam=0.0).item()
    assert with_fakes == real


def test_finetune_with_fakes():
    got = losses.finetune(t(C_REAL), yt(Y_REAL), t(C_FAKE), yt(Y_FAKE), lam=0.3).item()
    assert got == pytest.approx(CE_REAL + 0.3 * CE_FAKE, **TOL)
    got = losses.finetune(t(C_REAL), yt(Y_REAL), t(C_FAKE), yt(Y_FAKE), lam=0.8).item()
    assert got == pytest.approx(CE_REAL + 0.8 * CE_FAKE, **TOL)


def test_finetune_lam_positive_without_fakes_raises():
    with pytest.raises(ValueError, match="fake"):
        losses.finetune(t(C_REAL), yt(Y_REAL), lam=0.3)
    with pytest.raises(ValueError, match="fake"):
        losses.finetune(t(C_REAL), yt(Y_REAL), t(C_FAKE), None, lam=0.3)


def test_ce_per_example():
    got = losses.ce_per_example(t(C_REAL), yt(Y_REAL))
    assert got.shape == (2,)
    for i in range(2):
        assert got[i].item() == pytest.approx(ce(C_REAL[i], Y_REAL[i]), **TOL)
    assert got.mean().item() == pytest.approx(CE_REAL, **TOL)


def test_d_full_loss_real_per_example():
    got = losses.d_full_loss_real_per_example(t(S_REAL), t(C_REAL), yt(Y_REAL))
    assert got.shape == (2,)
    for i in range(2):
        assert got[i].item() == pytest.approx(softplus(-S_REAL[i]) + ce(C_REAL[i], Y_REAL[i]), **TOL)
    # Its batch mean is D's full (both-head, unweighted) loss on real images.
    full = losses.bce_real(t(S_REAL)) + losses.classification(t(C_REAL), yt(Y_REAL))
    assert got.mean().item() == pytest.approx(full.item(), **TOL)


def test_losses_are_differentiable_and_pure():
    s = t(S_REAL).requires_grad_(True)
    before = s.detach().clone()
    loss = losses.bce_real(s)
    (g,) = torch.autograd.grad(loss, s)
    # d/ds mean softplus(-s) = -sigmoid(-s) / N
    expected = [-1 / (1 + math.exp(v)) / 2 for v in S_REAL]
    assert g.tolist() == pytest.approx(expected, **TOL)
    assert torch.equal(s.detach(), before)
