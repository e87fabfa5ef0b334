"""robgan.attacks: threat model, projection, PGD invariants, strength, restarts, D attacker."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from robgan import losses
from robgan.attacks import ThreatModel, frozen_mode, pgd, pgd_classifier, pgd_discriminator_real

# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: extra intra-op threads only add contention on a busy 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class SmallConvNet(nn.Module):
    """(N,1,6,6) in [0,1] → logits (N,3); has BN and dropout so train/eval mode matters."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(4 * 6 * 6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn(self.conv(x * 2 - 1)))
        return self.head(self.drop(h).flatten(1))


class ToyD(nn.Module):
    """Linear two-head discriminator: x (N,1,4,4) → (s (N,), c (N,K))."""

    def __init__(self, k: int = 3) -> None:
        super().__init__()
        self.s = nn.Linear(16, 1)
        self.c = nn.Linear(16, k)

    def forward(self, x: torch.Tensor):
        f = x.flatten(1) * 2 - 1
        return self.s(f).squeeze(1), self.c(f)


def edge_images(n: int = 8, seed: int = 0) -> torch.Tensor:
    """Random (n,1,6,6) images in [0,1] with whole rows exactly at 0 and at 1."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 6, 6, generator=g)
    x[:, :, 0, :] = 0.0
    x[:, :, -1, :] = 1.0
    x[:, :, 2, 0] = 1.0
    x[:, :, 3, 0] = 0.0
    return x


@pytest.fixture(scope="module")
def conv_setup():
    torch.manual_seed(0)
    model = SmallConvNet().eval()
    x = edge_images(8)
    y = torch.arange(8) % 3
    return model, x, y


def toy_data(n: int, seed: int):
    """Two classes of 4x4 'images': per-pixel means 0.4 / 0.6, noise sd 0.1, clipped to [0,1].

    The class means are 0.2 apart per pixel, so an ℓ∞ perturbation of about 0.1 crosses the boundary.
    """
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = 0.4 + 0.2 * y.view(-1, 1, 1, 1).float() + 0.1 * torch.randn(n, 1, 4, 4, generator=g)
    return x.clamp(0, 1), y


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float) -> nn.Module:
    """Full-batch gradient descent by hand (torch.optim's first step costs seconds of imports)."""
    params = list(model.parameters())
    for _ in range(steps):
        grads = torch.autograd.grad(nn.functional.cross_entropy(model(x), y), params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
    return model.eval()


@pytest.fixture(scope="module")
def trained_linear():
    """Logistic regression (2-way softmax) on the separable toy set; well under 1 s on a CPU."""
    torch.manual_seed(1)
    model = fit(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), *toy_data(256, seed=2), steps=300, lr=2.0)
    return (model, *toy_data(400, seed=3))


@pytest.fixture(scope="module")
def trained_mlp():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 2))
    model = fit(model, *toy_data(256, seed=5), steps=300, lr=1.0)
    return (model, *toy_data(300, seed=6))


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def linf(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


# --------------------------------------------------------------------------- ThreatModel


@pytest.mark.parametrize("kw", [
    dict(eps=-0.01, step_size=0.1, steps=1),
    dict(eps=1.5, step_size=0.1, steps=1),
    dict(eps=float("nan"), step_size=0.1, steps=1),
    dict(eps=0.1, step_size=-0.01, steps=1),
    dict(eps=0.1, step_size=0.01, steps=-1),
    dict(eps=0.1, step_size=0.01, steps=1, restarts=0),
])
def test_threat_model_rejects_invalid(kw):
    with pytest.raises(ValueError):
        ThreatModel(**kw)


def test_threat_model_valid_and_frozen():
    tm = ThreatModel(eps=0.0, step_size=0.0, steps=0)
    assert (tm.random_start, tm.restarts) == (False, 1)
    tm = ThreatModel(eps=1.0, step_size=0.5, steps=3, random_start=True, restarts=4)
    assert tm.eps == 1.0 and tm.restarts == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        tm.eps = 0.5  # type: ignore[misc]


def test_fractional_step_size():
    tm = ThreatModel.fractional(0.1, steps=20, step_fraction=0.2)
    assert tm.step_size == pytest.approx(0.02, rel=1e-12)
    assert (tm.eps, tm.steps, tm.random_start, tm.restarts) == (0.1, 20, False, 1)
    tm = ThreatModel.fractional(8 / 255, steps=100, step_fraction=0.05, random_start=True, restarts=5)
    assert tm.step_size == pytest.approx(0.4 / 255, rel=1e-12)
    assert tm.random_start and tm.restarts == 5


def test_project_golden():
    tm = ThreatModel(eps=0.1, step_size=0.0, steps=1)
    x = torch.tensor([0.0, 0.5, 1.0, 0.95, 0.05, 0.3])
    x_adv = torch.tensor([-0.5, 0.7, 0.9, 1.2, 0.0, 0.31])
    got = tm.project(x_adv, x)
    assert got.tolist() == pytest.approx([0.0, 0.6, 0.9, 1.0, 0.0, 0.31], abs=1e-7)


def test_project_keeps_ball_and_box():
    g = torch.Generator().manual_seed(0)
    x = edge_images(16)
    x_adv = x + 3 * (torch.rand(x.shape, generator=g) - 0.5)
    for eps in (0.0, 0.03, 0.3, 1.0):
        p = ThreatModel(eps=eps, step_size=0.0, steps=1).project(x_adv.clone(), x)
        assert linf(p, x) <= eps + 1e-6
        assert p.min().item() >= 0.0 and p.max().item() <= 1.0
        # Points already feasible are left alone.
        inside = ((x_adv - x).abs() <= eps) & (x_adv >= 0) & (x_adv <= 1)
        assert torch.equal(p[inside], x_adv[inside])


# --------------------------------------------------------------------------- PGD invariants


@pytest.mark.parametrize("random_start", [False, True])
@pytest.mark.parametrize("eps", [0.01, 0.1, 0.3])
def test_pgd_invariants_conv_net(conv_setup, eps, random_start):
    model, x, y = conv_setup
    x0 = x.clone()
    tm = ThreatModel(eps=eps, step_size=eps / 4, steps=6, random_start=random_start)
    x_adv = pgd_classifier(model, x, y, tm, generator=torch.Generator().manual_seed(1))
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype
    assert not x_adv.requires_grad
    assert linf(x_adv, x) <= eps + 1e-6
    assert x_adv.min().item() >= 0.0 and x_adv.max().item() <= 1.0
    assert torch.equal(x, x0)                                   # input untouched
    assert linf(x_adv, x) > 0.5 * eps                           # it did move
    # Pixels at the box edges never leave it (the gradient pushes some of them outward).
    assert torch.all(x_adv[:, :, 0, :] >= 0) and torch.all(x_adv[:, :, -1, :] <= 1)


def test_pgd_increases_objective(conv_setup):
    model, x, y = conv_setup
    tm = ThreatModel(eps=0.1, step_size=0.025, steps=8)
    x_adv = pgd_classifier(model, x, y, tm)
    with torch.no_grad():
        before = losses.ce_per_example(model(x), y)
        after = losses.ce_per_example(model(x_adv), y)
    assert after.mean().item() > before.mean().item() + 0.05


def test_pgd_generic_objective_reaches_the_corner():
    # Maximising sum(x) over the ball ∩ box: the optimum is min(x + eps, 1), reached exactly.
    x = edge_images(4)
    tm = ThreatModel(eps=0.05, step_size=0.02, steps=5)
    x_adv = pgd(lambda xa: xa.flatten(1).sum(1), x, tm)
    assert torch.allclose(x_adv, (x + 0.05).clamp(max=1.0), atol=1e-6)


def test_pgd_random_start_determinism(conv_setup):
    model, x, y = conv_setup
    tm = ThreatModel(eps=0.1, step_size=0.02, steps=3, random_start=True)
    a = pgd_classifier(model, x, y, tm, generator=torch.Generator().manual_seed(123))
    b = pgd_classifier(model, x, y, tm, generator=torch.Generator().manual_seed(123))
    c = pgd_classifier(model, x, y, tm, generator=torch.Generator().manual_seed(124))
    assert torch.equal(a, b)
    assert linf(a, c) > 1e-3
    # Without random start the attack is deterministic whatever the generator.
    tm0 = dataclasses.replace(tm, random_start=False)
    d = pgd_classifier(model, x, y, tm0, generator=torch.Generator().manual_seed(1))
    e = pgd_classifier(model, x, y, tm0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(d, e)


@pytest.mark.parametrize("tm", [
    ThreatModel(eps=0.1, step_size=0.02, steps=0, random_start=True),
    ThreatModel(eps=0.0, step_size=0.02, steps=10, random_start=True, restarts=3),
])
def test_pgd_no_budget_is_identity(conv_setup, tm):
    model, x, y = conv_setup
    x_adv = pgd_classifier(model, x, y, tm, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x_adv, x)
    assert x_adv.data_ptr() != x.data_ptr()   # a copy, so callers may modify it


def test_pgd_restores_every_submodule_mode_and_leaves_no_grads(conv_setup):
    model, x, y = conv_setup
    model.train()
    model.bn.eval()           # a submodule in a different mode from its parent
    model.drop.eval()
    seen: list[tuple[str, bool]] = []
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: seen.append((n, m.training)))
             for n, m in model.named_modules()]
    try:
        tm = ThreatModel(eps=0.1, step_size=0.02, steps=3, random_start=True, restarts=2)
        pgd_classifier(model, x, y, tm, generator=torch.Generator().manual_seed(0))
    finally:
        for h in hooks:
            h.remove()
    # During the attack (train_mode=False default) every module is in eval mode.
    assert seen and not any(mode for _, mode in seen)
    # Afterwards every module is back to its own mode.
    assert model.training is True and model.conv.training is True and model.head.training is True
    assert model.bn.training is False and model.drop.training is False
    assert all(p.grad is None for p in model.parameters())
    model.eval()


def test_pgd_train_mode_true_and_none(conv_setup):
    model, x, y = conv_setup
    model.eval()
    model.bn.train()
    tm = ThreatModel(eps=0.1, step_size=0.02, steps=1)
    modes: list[bool] = []
    h = model.conv.register_forward_hook(lambda m, i, o: modes.append(m.training))
    try:
        pgd_classifier(model, x, y, tm, train_mode=True)
        assert modes and all(modes)
        modes.clear()
        pgd_classifier(model, x, y, tm, train_mode=None)
        assert modes and not any(modes)   # None leaves the current mode (conv is in eval)
    finally:
        h.remove()
    assert model.training is False and model.bn.training is True and model.conv.training is False
    model.eval()


def test_frozen_mode_restores_on_error(conv_setup):
    model, _, _ = conv_setup
    model.eval()
    model.drop.train()
    with pytest.raises(RuntimeError), frozen_mode(model, True):
        assert model.conv.training
        raise RuntimeError("boom")
    assert model.training is False and model.drop.training is True and model.conv.training is False
    model.eval()


def test_pgd_does_not_touch_existing_grads_or_params(conv_setup):
    model, x, y = conv_setup
    params = [p.detach().clone() for p in model.parameters()]
    sentinel = torch.full_like(model.head.weight, 7.0)
    model.head.weight.grad = sentinel.clone()
    pgd_classifier(model, x, y, ThreatModel(eps=0.1, step_size=0.02, steps=3))
    assert torch.equal(model.head.weight.grad, sentinel)
    assert all(torch.equal(a, b) for a, b in zip(params, model.parameters(), strict=True))
    model.head.weight.grad = None


# --------------------------------------------------------------------------- strength


def test_pgd_beats_no_attack_and_is_monotone_in_eps(trained_linear):
    model, x, y = trained_linear
    clean = accuracy(model, x, y)
    assert clean > 0.95
    accs = []
    for eps in (0.0, 0.02, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2):
        tm = ThreatModel.fractional(eps, steps=20, step_fraction=0.2)   # the paper's protocol
        x_adv = pgd_classifier(model, x, y, tm)
        assert linf(x_adv, x) <= eps + 1e-6
        accs.append(accuracy(model, x_adv, y))
    assert accs[0] == clean
    assert all(b <= a for a, b in zip(accs, accs[1:], strict=False)), accs
    assert accs[2] > 0.9, accs                # eps = 0.05: half the class gap, little effect
    assert accs[4] < clean - 0.3, accs        # eps = 0.1: a clear drop
    assert accs[-1] < 0.05, accs              # eps = 0.2: the class means are 0.2 apart per pixel


def test_pgd_beats_random_noise(trained_mlp):
    model, x, y = trained_mlp
    clean = accuracy(model, x, y)
    assert clean > 0.95
    eps = 0.12
    g = torch.Generator().manual_seed(0)
    noisy = (x + eps * torch.sign(torch.rand(x.shape, generator=g) - 0.5)).clamp(0, 1)
    adv = pgd_classifier(model, x, y, ThreatModel.fractional(eps, steps=20, step_fraction=0.2))
    acc_noise, acc_adv = accuracy(model, noisy, y), accuracy(model, adv, y)
    assert acc_noise > clean - 0.1
    assert acc_adv < acc_noise - 0.3, (clean, acc_noise, acc_adv)


def _single_restarts(model, x, y, tm, seed, n):
    """Run ``n`` one-restart attacks that draw the same random starts as one ``n``-restart run."""
    g = torch.Generator().manual_seed(seed)
    one = dataclasses.replace(tm, restarts=1)
    return [pgd_classifier(model, x, y, one, generator=g) for _ in range(n)]


def test_restarts_are_at_least_as_strong_and_keep_first_success(trained_mlp):
    model, x, y = trained_mlp
    # Few steps from a random start: the outcome depends on the start.
    tm = ThreatModel(eps=0.1, step_size=0.02, steps=3, random_start=True, restarts=3)
    singles = _single_restarts(model, x, y, tm, seed=7, n=3)
    multi = pgd_classifier(model, x, y, tm, generator=torch.Generator().manual_seed(7))
    assert linf(multi, x) <= tm.eps + 1e-6 and multi.min() >= 0 and multi.max() <= 1
    with torch.no_grad():
        succ = torch.stack([model(s).argmax(1) != y for s in singles])      # (3, N)
        ce = torch.stack([losses.ce_per_example(model(s), y) for s in singles])
        succ_multi = model(multi).argmax(1) != y
        ce_multi = losses.ce_per_example(model(multi), y)
    # The test only bites if restarts matter here.
    assert 0 < succ[0].sum() < len(y)
    assert succ.any(0).sum() > succ[0].sum()
    # At least as strong per example as restarts=1 with the same first seed.
    assert torch.all(succ_multi >= succ[0])
    assert succ_multi.sum() == succ.any(0).sum()
    # Exact semantics: first successful restart, else the one with the highest objective.
    for i in range(len(y)):
        if succ[:, i].any():
            k = int(succ[:, i].nonzero()[0])
        else:
            k = int(ce[:, i].argmax())
            assert ce_multi[i] >= ce[0, i] - 1e-6
        assert torch.equal(multi[i], singles[k][i]), i


def test_generic_restarts_keep_highest_objective():
    torch.manual_seed(0)
    w = torch.randn(1, 16)
    x = torch.rand(6, 1, 4, 4)

    def objective(xa):   # non-linear so that the start matters
        return torch.sin(8 * (xa.flatten(1) * w).sum(1))

    tm = ThreatModel(eps=0.2, step_size=0.03, steps=2, random_start=True, restarts=4)
    g = torch.Generator().manual_seed(11)
    singles = [pgd(objective, x, dataclasses.replace(tm, restarts=1), generator=g) for _ in range(4)]
    multi = pgd(objective, x, tm, generator=torch.Generator().manual_seed(11))
    with torch.no_grad():
        scores = torch.stack([objective(s) for s in singles])
        assert torch.allclose(objective(multi), scores.max(0).values, atol=1e-6)
        assert torch.all(objective(multi) >= scores[0] - 1e-6)


# --------------------------------------------------------------------------- co-training attacker


def _d_objective(d, x, y):
    with torch.no_grad():
        s, c = d(x)
        return losses.d_full_loss_real_per_example(s, c, y)


def test_pgd_discriminator_real_increases_full_loss():
    torch.manual_seed(0)
    d = ToyD()
    x = torch.rand(32, 1, 4, 4)
    x[:4] = 0.0
    x[4:8] = 1.0
    y = torch.arange(32) % 3
    x0 = x.clone()
    tm = ThreatModel(eps=4 / 255 * 4, step_size=1 / 255 * 4, steps=5)
    x_adv = pgd_discriminator_real(d, x, y, tm)
    before, after = _d_objective(d, x, y), _d_objective(d, x_adv, y)
    # The objective is convex in x (linear D), so every sign step can only increase it.
    assert torch.all(after >= before - 1e-6)
    assert after.mean() > before.mean() + 0.05
    assert linf(x_adv, x) <= tm.eps + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert torch.equal(x, x0)
    assert all(p.grad is None for p in d.parameters())


@pytest.mark.parametrize("silent_head", ["s", "c"])
def test_pgd_discriminator_real_uses_both_heads(silent_head):
    # With one head's weights zeroed, the attack must still raise the loss through the other head.
    torch.manual_seed(1)
    d = ToyD()
    with torch.no_grad():
        getattr(d, silent_head).weight.zero_()
    x = 0.25 + 0.5 * torch.rand(16, 1, 4, 4)
    y = torch.arange(16) % 3
    x_adv = pgd_discriminator_real(d, x, y, ThreatModel(eps=0.1, step_size=0.025, steps=4))
    before, after = _d_objective(d, x, y), _d_objective(d, x_adv, y)
    assert torch.all(after > before + 1e-4)


def test_pgd_discriminator_real_keeps_mode_by_default():
    d = ToyD()
    d.train()
    d.c.eval()
    modes: list[tuple[bool, bool]] = []
    h = d.s.register_forward_hook(lambda m, i, o: modes.append((m.training, d.c.training)))
    try:
        pgd_discriminator_real(d, torch.rand(4, 1, 4, 4), torch.zeros(4, dtype=torch.int64),
                               ThreatModel(eps=0.1, step_size=0.05, steps=2))
    finally:
        h.remove()
    assert modes == [(True, False), (True, False)]    # train_mode=None: left as it is
    assert d.training and d.s.training and not d.c.training
    assert all(p.grad is None for p in d.parameters())
