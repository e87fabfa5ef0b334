"""PGD sweeps against closed-form robust accuracy of linear models; flags on a gradient-masked model;
the input-gradient norm (local Lipschitz value) against its closed form."""

from __future__ import annotations

import pytest
import torch

from robgan.evaluation import flags as fl
from robgan.evaluation.robustness import (
    PAPER,
    PGDProtocol,
    accuracy,
    input_gradient_norms,
    pgd_sweep,
    robust_correct,
    sweep_flags,
)

EPS = [0.0, 0.01, 0.02, 0.04, 0.08]
STRONG = PGDProtocol("strong", steps=10, step_fraction=0.25, restarts=2, random_start=True)
TIE = 1e-4  # margins this close to 0 would be ties; the tests check none occur


def _sweep(model, x, y, eps=EPS, protocols=(PAPER, STRONG), batch_size=64, seed=0):
    return pgd_sweep(model, x, y, eps, list(protocols), batch_size=batch_size, device="cpu",
                     attack_seed=seed, progress=False)


def test_pgd_recovers_the_exact_robust_accuracy_of_a_two_class_linear_model(linear_problem, exact_robust_margin):
    model, w, b, x, y = linear_problem(2)
    sweep = _sweep(model, x, y)
    assert sweep.rows[0] == {**sweep.rows[0], "protocol": "clean", "eps": 0.0, "steps": 0}
    exact_clean = exact_robust_margin(w, b, x, y, 0.0) > 0
    assert torch.equal(sweep.clean, exact_clean)
    accs = []
    for eps in EPS[1:]:
        margin = exact_robust_margin(w, b, x, y, eps)
        assert (margin.abs() > TIE).all(), "a tie: pick another seed"
        exact = margin > 0
        for proto in ("paper", "strong"):
            # per example, not just the count
            assert torch.equal(sweep.robust[(proto, eps)], exact), (proto, eps)
        accs.append(accuracy(exact))
    # the grid is informative: accuracy really varies over it
    assert accs[0] > 0.6 and accs[-1] < 0.35
    paper_rows = [r for r in sweep.rows if r["protocol"] == "paper"]
    assert [r["eps"] for r in paper_rows] == EPS[1:]
    assert [r["accuracy"] for r in paper_rows] == pytest.approx(accs, abs=0)
    r = paper_rows[1]
    assert r["steps"] == 20 and r["step_size"] == pytest.approx(0.2 * EPS[2]) and r["restarts"] == 1
    assert r["random_start"] is False and r["n"] == y.numel() and r["eps_pm1"] == 2 * r["eps"]


def test_pgd_never_beats_the_exact_optimum_of_a_four_class_linear_model(linear_problem, exact_robust_margin):
    # With >2 classes CE-PGD may pick a non-worst direction; it can never beat the exact optimum.
    model, w, b, x, y = linear_problem(4, seed=1)
    sweep = _sweep(model, x, y)
    for eps in EPS[1:]:
        exact = exact_robust_margin(w, b, x, y, eps) > 0
        for proto in ("paper", "strong"):
            found = sweep.robust[(proto, eps)]
            assert not (exact & ~found).any(), "PGD broke an example that is provably robust"
    assert sweep.accuracy("paper", EPS[-1]) < sweep.accuracy("clean", 0.0) - 0.5  # not vacuous


def test_sweep_is_deterministic_and_paper_protocol_is_batch_size_independent(linear_problem):
    model, _, _, x, y = linear_problem(4, seed=2)
    a = _sweep(model, x, y, batch_size=64, seed=3)
    b = _sweep(model, x, y, batch_size=64, seed=3)
    c = _sweep(model, x, y, batch_size=17, seed=3, protocols=(PAPER,))
    assert a.rows == b.rows
    for eps in EPS[1:]:
        assert torch.equal(a.robust[("paper", eps)], c.robust[("paper", eps)])


def test_only_clean_correct_examples_count_as_robust(linear_problem):
    model, _, _, x, y = linear_problem(2)
    clean = model(x).argmax(1) == y
    ok = robust_correct(model, x, y, PAPER.threat(0.001), batch_size=50, device="cpu", seed=0)
    assert not (ok & ~clean).any() and (~clean).sum() >= 20


class _CountingModel(torch.nn.Module):
    """Wraps a classifier and records the batch size of every forward pass."""

    def __init__(self, model):
        super().__init__()
        self.model, self.sizes = model, []

    def forward(self, x):
        self.sizes.append(x.shape[0])
        return self.model(x)


def test_restarts_attack_only_survivors_and_never_raise_accuracy(linear_problem):
    from robgan.evaluation.robustness import PGDProtocol

    model, _, _, x, y = linear_problem(4, seed=5)
    eps = EPS[2]
    one = robust_correct(model, x, y, PGDProtocol("s", 5, 0.25, 1, True).threat(eps), batch_size=1000,
                         device="cpu", seed=7)
    counting = _CountingModel(model)
    three = robust_correct(counting, x, y, PGDProtocol("s", 5, 0.25, 3, True).threat(eps), batch_size=1000,
                           device="cpu", seed=7)
    # the first run is the one-restart attack (same seed, same random starts): later runs only remove
    assert not (three & ~one).any()
    assert 0 < int(one.sum()) < y.numel() and int(three.sum()) > 0
    # each run: one clean pass, 5 PGD steps + the final check, over the survivors of the previous run only
    clean_n = int((model(x).argmax(1) == y).sum())
    per_run = [counting.sizes[1 + 6 * r] for r in range(3)]
    assert counting.sizes[0] == y.numel() and per_run[0] == clean_n
    assert per_run[1] == int(one.sum()) and per_run[2] <= per_run[1]
    assert len(counting.sizes) == 1 + 6 * 3


def test_restarts_without_random_start_run_once(linear_problem):
    from robgan.evaluation.robustness import PGDProtocol

    model, _, _, x, y = linear_problem(2, seed=6)
    counting = _CountingModel(model)
    a = robust_correct(counting, x, y, PGDProtocol("s", 4, 0.25, 3, False).threat(0.1), batch_size=1000,
                       device="cpu", seed=0)
    b = robust_correct(model, x, y, PGDProtocol("s", 4, 0.25, 1, False).threat(0.1), batch_size=1000,
                       device="cpu", seed=0)
    assert torch.equal(a, b) and len(counting.sizes) == 1 + 5


def _flags(model, x, y, eps_grid):
    sweep = _sweep(model, x, y, eps=eps_grid)
    large = robust_correct(model, x, y, PAPER.threat(0.5), batch_size=64, device="cpu", seed=0,
                           attack_mask=sweep.clean)
    return sweep, sweep_flags(sweep, y.numel(), large_eps=0.5, large_eps_accuracy=accuracy(large),
                              chance=fl.largest_class_share(y.tolist()))


def test_flags_fire_on_a_gradient_masked_model(linear_problem):
    model, _, _, x, y = linear_problem(2, seed=4, quantise=True)
    sweep, flags = _flags(model, x, y, [0.0, 0.05, 0.1, 0.2])
    # the zero gradient hides everything from the paper protocol...
    assert sweep.accuracy("paper", 0.2) == sweep.accuracy("clean", 0.0)
    # ...and the large-eps check catches it (the true accuracy at eps 0.5 is at most the class share)
    assert flags["large_eps_near_zero"]["ok"] is False
    assert set(flags) == {"monotone_in_eps", "large_eps_near_zero", "strong_le_paper"}


def test_flags_stay_quiet_on_a_linear_model(linear_problem):
    model, _, _, x, y = linear_problem(2, seed=4)
    _, flags = _flags(model, x, y, EPS)
    assert all(f["ok"] for f in flags.values()), flags


def test_input_gradient_norm_matches_the_closed_form(linear_problem):
    # CE gradient of a linear model: sum_k (p_k - 1[k=y]) w_k
    model, w, b, x, y = linear_problem(3, n=50)
    norms = input_gradient_norms(model, x, y, batch_size=16, device="cpu", norm="l2")
    p = torch.softmax(x.flatten(1) @ w.T + b, 1)
    grad = (p - torch.nn.functional.one_hot(y, 3).float()) @ w
    assert norms == pytest.approx(grad.norm(dim=1), rel=1e-4, abs=1e-6)
    linf = input_gradient_norms(model, x, y, batch_size=50, device="cpu", norm="linf")
    assert linf == pytest.approx(grad.abs().amax(1), rel=1e-4, abs=1e-6)


# ------------------------------------------------------------------------------ bf16 attacks (performance.bf16_attacks)

_BF16 = pytest.mark.skipif(not __import__("robgan.provenance", fromlist=["x"]).bf16_supported(torch.device("cpu")),
                           reason="this CPU computes no bf16 natively (AVX-512-BF16/AMX)")


@_BF16
def test_bf16_attack_recovers_the_exact_robust_accuracy_of_a_two_class_linear_model(linear_problem,
                                                                                  exact_robust_margin):
    """The attack's passes in bf16 still find the exact optimum of a linear model (its gradient sign is
    the sign of w1 - w0, which bf16 rounding keeps), example by example."""
    model, w, b, x, y = linear_problem(2)
    sweep = pgd_sweep(model, x, y, EPS, [PAPER, STRONG], batch_size=64, device="cpu", attack_seed=0,
                      progress=False, bf16=True)
    for eps in EPS[1:]:
        exact = exact_robust_margin(w, b, x, y, eps) > 0
        for proto in ("paper", "strong"):
            assert torch.equal(sweep.robust[(proto, eps)], exact), (proto, eps)


@_BF16
def test_bf16_attack_runs_under_autocast_and_decides_in_float32(linear_problem):
    model, _, _, x, y = linear_problem(3, seed=2)
    seen: list[bool] = []

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, xb):
            seen.append(torch.is_autocast_enabled("cpu"))
            return self.inner(xb)

    threat = PAPER.threat(0.04)
    robust_correct(Spy(), x, y, threat, batch_size=240, device="cpu", seed=0, bf16=True)
    # one clean pass (float32), 20 attack steps under autocast, one verdict pass (float32)
    assert seen == [False] + [True] * threat.steps + [False]
    seen.clear()
    robust_correct(Spy(), x, y, threat, batch_size=240, device="cpu", seed=0)
    assert seen == [False] * (threat.steps + 2)
