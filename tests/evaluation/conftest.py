"""Fixtures of the evaluation tests: single-threaded torch (tiny models run faster on 2 shared cores),
toy linear classifiers with closed-form robust accuracy, and a tiny finished advtrain run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[2]

# Training budget of the tiny run directory (seconds on a CPU).
TINY_RUN = [
    "model.ngf=8", "model.ndf=8", "model.z_dim=16",
    "advtrain.iterations=4", "advtrain.batch_size=16",
    "advtrain.allow_smaller_budget=true",  # fewer advtrain updates than robgan + fine-tuning: tests only
    "log_every=2", "checkpoint_every=2", "snapshot_every=2",
    "threads=1", "device=cpu",
]

# Evaluation sizes of the CLI tests.
TINY_EVAL = [
    "eval.batch_size=16",
    "eval.pgd.eps=[0.0, 0.05, 0.1, 0.2]", "eval.pgd.n_examples=40",
    "eval.pgd.strong={steps: 5, step_fraction: 0.3, restarts: 2, random_start: true}",
    "eval.autoattack.n_examples=24", "eval.autoattack.apgd_iterations=5",
    "eval.autoattack.n_target_classes=2",
    "eval.gap.n_examples=32", "eval.lipschitz.n_examples=24",
]


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


class LinearClassifier(nn.Module):
    """``logits = W · x.flatten() + b``, optionally behind a zero-gradient quantiser (gradient masking).

    With ``quantise`` the input is rounded to multiples of 1/4 first (``torch.round`` has a zero
    gradient everywhere), so every gradient-based attack sees ∇ₓ = 0.
    """

    def __init__(self, w: torch.Tensor, b: torch.Tensor, quantise: bool = False):
        super().__init__()
        self.w = nn.Parameter(w.clone().float())
        self.b = nn.Parameter(b.clone().float())
        self.quantise = quantise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.quantise:
            x = torch.round(x * 4) / 4
        return x.flatten(1) @ self.w.T + self.b


def _exact_robust_margin(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                        eps: float) -> torch.Tensor:
    """min over j ≠ y of m_j − ε‖w_y − w_j‖₁ (float64 (N,)): the worst-case margin of a linear model
    over the ℓ∞ ball (no box clipping: inputs lie in [0.3,0.7] and ε ≤ 0.2). Robust iff > 0."""
    w, b, xf = w.double(), b.double(), x.flatten(1).double()
    z = xf @ w.T + b
    m = z.gather(1, y[:, None]) - z                               # (N,K) margins m_j
    d1 = (w[y][:, None, :] - w[None]).abs().sum(-1)               # (N,K) ‖w_y − w_j‖₁
    r = m - eps * d1
    r[torch.arange(y.numel()), y] = float("inf")
    return r.min(1).values


@pytest.fixture(scope="session")
def exact_robust_margin():
    """The closed-form worst-case margin function (see :func:`_exact_robust_margin`)."""
    return _exact_robust_margin


@pytest.fixture(scope="session")
def linear_problem():
    """Factory: ``(model, w, b, x, y)`` with K classes, inputs (n,1,4,4) in [0.3,0.7], labels the
    model's own predictions except the first 10% (shifted: clean errors)."""

    def make(k: int, n: int = 240, seed: int = 0, quantise: bool = False):
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(k, 16, generator=g)
        b = -0.5 * w.sum(1)  # centres the margins on the middle of the input box
        x = 0.3 + 0.4 * torch.rand(n, 1, 4, 4, generator=g)
        model = LinearClassifier(w, b, quantise=quantise).eval()
        with torch.no_grad():
            y = model(x).argmax(1)
        n_wrong = n // 10
        y[:n_wrong] = (y[:n_wrong] + 1) % k
        return model, w, b, x, y

    return make


@pytest.fixture(scope="session")
def advtrain_run(tmp_path_factory) -> Path:
    """A finished tiny advtrain run directory (trained through the CLI on the default config)."""
    import robgan.cli

    out = tmp_path_factory.mktemp("runs") / "advtrain" / "seed0"
    args = ["train", "--config", str(REPO / "config" / "config.yaml"), "--method", "advtrain", "--seed", "0",
            "--out", str(out)]
    for item in TINY_RUN:
        args += ["--set", item]
    old = torch.get_num_threads()
    try:
        assert robgan.cli.main(args) == 0
    finally:
        torch.set_num_threads(old)
    assert (out / "model.pt").is_file()
    return out


@pytest.fixture(scope="session")
def eval_overrides() -> list[str]:
    return list(TINY_EVAL)
