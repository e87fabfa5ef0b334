"""ℓ∞ projected gradient descent (PGD) over a tiny threat-model object.

The attack is generic: it maximises a per-example objective ``objective(x_adv) -> (N,)`` over the
ℓ∞ ball of radius ε around ``x`` intersected with the image box [0,1]. It never touches model
parameters (gradients are taken with respect to the input only) and restores the model's mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from robgan import losses

Objective = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ThreatModel:
    """ℓ∞ threat model and attack budget.

    Attributes:
        eps: radius in [0,1] pixel units (the authors' [-1,1] value is ``2·eps``).
        step_size: signed-gradient step, [0,1] units.
        steps: number of PGD iterations (0 = no attack).
        random_start: start from a uniform point of the ball.
        restarts: independent runs; the worst case per example is kept (needs ``random_start`` to differ).
    """

    eps: float
    step_size: float
    steps: int
    random_start: bool = False
    restarts: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.eps <= 1.0:
            raise ValueError(f"eps must be in [0,1] pixel units, got {self.eps}")
        if self.step_size < 0 or self.steps < 0 or self.restarts < 1:
            raise ValueError(f"invalid threat model {self}")

    @classmethod
    def fractional(cls, eps: float, steps: int, step_fraction: float, **kw) -> ThreatModel:
        """A threat model whose step size is ``step_fraction · eps`` (e.g. the paper's ε/5)."""
        return cls(eps=eps, step_size=step_fraction * eps, steps=steps, **kw)

    def project(self, x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Project onto the ε-ball around ``x`` and the [0,1] box."""
        return torch.clamp(x_adv, *self.bounds(x))

    def bounds(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Elementwise (lower, upper) of the ε-ball ∩ [0,1] around ``x``; computed once per attack so
        that each step projects with a single clamp."""
        return (x - self.eps).clamp_(min=0.0), (x + self.eps).clamp_(max=1.0)


@contextlib.contextmanager
def frozen_mode(model: nn.Module, train: bool | None) -> Iterator[None]:
    """Temporarily set ``model.train(train)`` (None = leave as is) and restore every submodule's mode."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        if train is not None:
            model.train(train)
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def pgd(
    objective: Objective,
    x: torch.Tensor,
    threat: ThreatModel,
    *,
    generator: torch.Generator | None = None,
    success: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Maximise ``objective`` (per-example, shape (N,)) over the threat model's ℓ∞ ball.

    Args:
        objective: maps images (N,C,H,W) in [0,1] to a per-example loss (N,) to maximise.
        x: clean images, float in [0,1], (N,C,H,W). Not modified.
        threat: the threat model.
        generator: RNG for the random start (same seed → same x_adv).
        success: optional ``x_adv -> bool (N,)``; across restarts an example keeps the first
            successful perturbation (e.g. a misclassification), else the one of highest objective.

    Returns:
        ``x_adv`` detached, same shape/dtype as ``x``, with ‖x_adv − x‖∞ ≤ ε and values in [0,1].
    """
    x = x.detach()
    if threat.steps == 0 or threat.eps == 0.0:
        return x.clone()
    lo, hi = threat.bounds(x)
    if threat.restarts > 1:  # bookkeeping of the worst case over restarts
        best = x.clone()
        best_score = torch.full((x.shape[0],), -float("inf"), device=x.device)
        done = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    for _ in range(threat.restarts):
        if threat.random_start:
            noise = torch.rand(x.shape, generator=generator, device=generator.device if generator else x.device)
            x_adv = torch.clamp(x + (noise.to(x.device, x.dtype) * 2 - 1) * threat.eps, lo, hi)
        else:
            x_adv = x.clone()
        for _ in range(threat.steps):
            x_adv.requires_grad_(True)
            loss = objective(x_adv)
            (grad,) = torch.autograd.grad(loss.sum(), x_adv)
            # x_adv + step·sign(grad), projected: in place on tensors this loop owns.
            x_adv = x_adv.detach().add_(grad.sign(), alpha=threat.step_size)
            x_adv = torch.clamp(x_adv, lo, hi, out=x_adv)
        if threat.restarts == 1:
            return x_adv.detach()
        with torch.no_grad():
            score = objective(x_adv).detach()
            succ = success(x_adv) if success is not None else torch.zeros_like(done)
            # An example already broken keeps its perturbation; else take this run if it is
            # successful now or has a higher objective.
            take = ~done & (succ | (score > best_score))
            best[take] = x_adv[take]
            best_score = torch.where(take, score, best_score)
            done |= succ
    return best.detach()


def pgd_classifier(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    threat: ThreatModel,
    *,
    generator: torch.Generator | None = None,
    train_mode: bool | None = False,
) -> torch.Tensor:
    """PGD on the class cross-entropy of ``model`` (images [0,1] → logits (N,K)).

    The model is put in ``train_mode`` (default eval) during the attack and restored after; with
    several restarts a misclassified restart wins per example.
    """
    with frozen_mode(model, train_mode):
        # .float(): under bf16 autocast the logits are bf16; the objective and its gradient are not.
        return pgd(lambda xa: losses.ce_per_example(model(xa).float(), y), x, threat, generator=generator,
                   success=lambda xa: model(xa).argmax(1) != y)


def pgd_discriminator_real(
    d: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    threat: ThreatModel,
    *,
    generator: torch.Generator | None = None,
    train_mode: bool | None = None,
) -> torch.Tensor:
    """Co-training attacker: PGD maximising D's full loss on real images (both heads)."""
    def objective(xa: torch.Tensor) -> torch.Tensor:
        s, c = d(xa)
        return losses.d_full_loss_real_per_example(s.float(), c.float(), y)

    with frozen_mode(d, train_mode):
        return pgd(objective, x, threat, generator=generator)
