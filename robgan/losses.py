"""Loss functions: pure functions of logits (no modules, no state).

Notation: ``s`` is D's real/fake logit, shape (N,); ``c`` its class logits, shape (N, K);
``y`` int64 labels (N,). Every function returns a scalar (batch mean) unless it says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

# Weights of Rob-GAN's modified loss in the authors' code.
NEW_LOSS_WEIGHTS: Mapping[str, float] = {
    "d_real_adv": 0.5, "d_class_adv": 0.5, "d_fake": 1.0, "g_adv": 0.5, "g_class": 0.5,
}


def bce_real(s: torch.Tensor) -> torch.Tensor:
    """BCE(s, 1) with logits = mean softplus(-s)."""
    return F.softplus(-s).mean()


def bce_fake(s: torch.Tensor) -> torch.Tensor:
    """BCE(s, 0) with logits = mean softplus(s)."""
    return F.softplus(s).mean()


def classification(c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Class cross-entropy, batch mean."""
    return F.cross_entropy(c, y)


def hinge_d(s_real: torch.Tensor, s_fake: torch.Tensor) -> torch.Tensor:
    """SN-GAN hinge loss of D: mean relu(1 - s_real) + mean relu(1 + s_fake)."""
    return F.relu(1.0 - s_real).mean() + F.relu(1.0 + s_fake).mean()


def hinge_g(s_fake: torch.Tensor) -> torch.Tensor:
    """SN-GAN hinge loss of G: -mean s_fake."""
    return -s_fake.mean()


def acgan_d(s_real, c_real, y_real, s_fake, c_fake, y_fake) -> torch.Tensor:
    """Standard AC-GAN D loss: BCE(s_real,1) + BCE(s_fake,0) + CE(c_real,y) + CE(c_fake,y_fake)."""
    return (bce_real(s_real) + bce_fake(s_fake)
            + classification(c_real, y_real) + classification(c_fake, y_fake))


def acgan_g(s_fake, c_fake, y_fake) -> torch.Tensor:
    """Standard AC-GAN G loss: BCE(s_fake,1) + CE(c_fake,y_fake)."""
    return bce_real(s_fake) + classification(c_fake, y_fake)


def newloss_d(s_real, c_real, y_real, s_fake, weights: Mapping[str, float] = NEW_LOSS_WEIGHTS) -> torch.Tensor:
    """Rob-GAN's modified D loss: the class head is trained on real (attacked) images only.

    ``w.d_real_adv·BCE(s_real,1) + w.d_class_adv·CE(c_real,y) + w.d_fake·BCE(s_fake,0)``.
    """
    return (weights["d_real_adv"] * bce_real(s_real) + weights["d_class_adv"] * classification(c_real, y_real)
            + weights["d_fake"] * bce_fake(s_fake))


def newloss_g(s_fake, c_fake, y_fake, weights: Mapping[str, float] = NEW_LOSS_WEIGHTS) -> torch.Tensor:
    """Rob-GAN's G loss: ``w.g_adv·BCE(s_fake,1) + w.g_class·CE(c_fake,y_fake)``."""
    return weights["g_adv"] * bce_real(s_fake) + weights["g_class"] * classification(c_fake, y_fake)


def finetune(c_real_adv, y_real, c_fake_adv=None, y_fake=None, lam: float = 0.3) -> torch.Tensor:
    """Fine-tuning loss: CE(c(x_adv_real), y) + λ·CE(c(x_adv_fake), y_fake); λ = 0 drops the fake term."""
    loss = classification(c_real_adv, y_real)
    if lam > 0:
        if c_fake_adv is None or y_fake is None:
            raise ValueError("finetune loss with lam > 0 needs fake logits and labels")
        loss = loss + lam * classification(c_fake_adv, y_fake)
    return loss


# Per-example objectives that the attacker maximises (shape (N,), no reduction).

def ce_per_example(c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(c, y, reduction="none")


def d_full_loss_real_per_example(s: torch.Tensor, c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """D's full loss on real images (both heads) per example: BCE(s,1) + CE(c,y); co-training attack."""
    return F.softplus(-s) + F.cross_entropy(c, y, reduction="none")
