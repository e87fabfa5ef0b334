"""One step function per method; the loop in :mod:`robgan.training.loop` is shared by all.

A step consumes batches from ``ctx.stream``, updates the models through ``ctx.optimizers`` and
returns a dict of detached scalar tensors (no host sync: the loop reads them at log intervals).

| method | D head | real images seen by D | loss |
|---|---|---|---|
| sngan | projection + SN | clean | hinge |
| acgan | AC | clean | old AC-GAN loss |
| acgan_newloss | AC | clean | Rob-GAN new loss |
| robgan_oldloss | AC | PGD-attacked | old AC-GAN loss |
| robgan | AC | PGD-attacked | Rob-GAN new loss |
| advtrain | AC (class head only) | PGD-attacked | CE |
| robgan_ft | AC from a robgan run | PGD-attacked (+ λ·attacked fakes) | CE (+ λ·CE) |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from robgan import attacks, losses
from robgan.training.context import Context


@dataclass(frozen=True)
class MethodSpec:
    """What a method trains and how one iteration goes.

    Attributes:
        name: method name (``robgan train --method NAME``).
        section: config section holding its budget, batch size, optimiser and schedule.
        has_generator / has_classifier: what the finished run offers to ``load_generator`` /
            ``load_classifier``.
        log_keys: the metric columns of ``train_log.csv``, in order.
        step: one iteration.
    """

    name: str
    section: str
    has_generator: bool
    has_classifier: bool
    log_keys: tuple[str, ...]
    step: Callable[[Context], dict[str, torch.Tensor]]


def _gan_step(loss_kind: str, attack: bool) -> Callable[[Context], dict[str, torch.Tensor]]:
    """Step of the GAN family: ``n_dis`` D updates then one G update.

    ``loss_kind``: ``hinge`` (SN-GAN, projection D), ``old`` (AC-GAN) or ``new`` (Rob-GAN's loss);
    ``attack``: real images are replaced by PGD maximising D's full loss before D sees them.
    """

    def step(ctx: Context) -> dict[str, torch.Tensor]:
        d = ctx.modules["D"]
        g_fwd, d_fwd = ctx.forward["G"], ctx.forward["D"]
        opt_d, opt_g = ctx.optimizers["D"], ctx.optimizers["G"]
        weights = ctx.cfg["train"]["loss_weights"]
        bsz = ctx.batch_size
        acc = torch.zeros((), device=ctx.device)
        for _ in range(ctx.cfg["train"]["n_dis"]):
            x, y = ctx.stream.next()
            x = ctx.to_memory_format(x)
            if attack:
                # Under autocast like every other D pass (the objective is computed in float32).
                with ctx.autocast():
                    x = attacks.pgd_discriminator_real(d_fwd, x, y, ctx.threat, generator=ctx.attack_gen)
            z, y_fake = ctx.sample_latent(bsz)
            with torch.no_grad(), ctx.autocast():
                fake = g_fwd(z, y_fake).float()
            with ctx.autocast():
                # D has no batch norm, so one pass over [real; fake] equals two passes and is cheaper.
                both = ctx.to_memory_format(torch.cat([x, fake]))
                if loss_kind == "hinge":
                    s = d_fwd(both, torch.cat([y, y_fake])).float()
                    loss_d = losses.hinge_d(s[:bsz], s[bsz:])
                else:
                    s, c = d_fwd(both)
                    s, c = s.float(), c.float()
                    if loss_kind == "old":
                        loss_d = losses.acgan_d(s[:bsz], c[:bsz], y, s[bsz:], c[bsz:], y_fake)
                    else:
                        loss_d = losses.newloss_d(s[:bsz], c[:bsz], y, s[bsz:], weights)
                    acc = acc + (c[:bsz].argmax(1) == y).float().mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

        d.requires_grad_(False)  # G's update needs no D parameter gradients
        try:
            z, y_fake = ctx.sample_latent(bsz)
            with ctx.autocast():
                fake = ctx.to_memory_format(g_fwd(z, y_fake))
                if loss_kind == "hinge":
                    loss_g = losses.hinge_g(d_fwd(fake, y_fake).float())
                else:
                    s, c = d_fwd(fake)
                    s, c = s.float(), c.float()
                    loss_g = (losses.acgan_g(s, c, y_fake) if loss_kind == "old"
                              else losses.newloss_g(s, c, y_fake, weights))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
        finally:
            d.requires_grad_(True)
        out = {"loss_d": loss_d.detach(), "loss_g": loss_g.detach()}
        if loss_kind != "hinge":
            out["acc_real"] = acc / ctx.cfg["train"]["n_dis"]
        return out

    return step


def _advtrain_step(ctx: Context) -> dict[str, torch.Tensor]:
    """Madry PGD adversarial training: minimise CE on PGD-attacked real images."""
    clf = ctx.classifier
    x, y = ctx.stream.next()
    x = ctx.to_memory_format(x)
    with ctx.autocast():
        x_adv = attacks.pgd_classifier(clf, x, y, ctx.threat, generator=ctx.attack_gen, train_mode=None)
        logits = clf(ctx.to_memory_format(x_adv)).float()
        loss = losses.classification(logits, y)
    opt = ctx.optimizers["D"]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"loss": loss.detach(), "acc_adv": (logits.argmax(1) == y).float().mean().detach()}


def _finetune_step(ctx: Context) -> dict[str, torch.Tensor]:
    """Rob-GAN fine-tuning: CE on attacked reals + λ·CE on attacked fakes of the frozen generator."""
    clf = ctx.classifier
    lam = float(ctx.cfg["finetune"]["lam"])
    x, y = ctx.stream.next()
    x = ctx.to_memory_format(x)
    with ctx.autocast():
        x_adv = attacks.pgd_classifier(clf, x, y, ctx.threat, generator=ctx.attack_gen, train_mode=None)
    n_real = x.shape[0]
    if lam > 0:
        z, y_fake = ctx.sample_latent(n_real)
        with torch.no_grad(), ctx.autocast():
            fake = ctx.forward["G"](z, y_fake).float()
        with ctx.autocast():
            fake_adv = attacks.pgd_classifier(clf, ctx.to_memory_format(fake), y_fake, ctx.threat,
                                              generator=ctx.attack_gen, train_mode=None)
        batch = torch.cat([x_adv, fake_adv])
    else:
        y_fake, batch = None, x_adv
    with ctx.autocast():
        logits = clf(ctx.to_memory_format(batch)).float()
        loss = losses.finetune(logits[:n_real], y, logits[n_real:] if lam > 0 else None, y_fake, lam)
    opt = ctx.optimizers["D"]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"loss": loss.detach(), "acc_adv": (logits[:n_real].argmax(1) == y).float().mean().detach()}


_GAN_KEYS = ("loss_d", "loss_g", "acc_real")
METHODS: dict[str, MethodSpec] = {
    "sngan": MethodSpec("sngan", "train", True, False, ("loss_d", "loss_g"), _gan_step("hinge", False)),
    "acgan": MethodSpec("acgan", "train", True, True, _GAN_KEYS, _gan_step("old", False)),
    "acgan_newloss": MethodSpec("acgan_newloss", "train", True, True, _GAN_KEYS, _gan_step("new", False)),
    "robgan_oldloss": MethodSpec("robgan_oldloss", "train", True, True, _GAN_KEYS, _gan_step("old", True)),
    "robgan": MethodSpec("robgan", "train", True, True, _GAN_KEYS, _gan_step("new", True)),
    "advtrain": MethodSpec("advtrain", "advtrain", False, True, ("loss", "acc_adv"), _advtrain_step),
    "robgan_ft": MethodSpec("robgan_ft", "finetune", True, True, ("loss", "acc_adv"), _finetune_step),
}


def get_method(name: str) -> MethodSpec:
    if name not in METHODS:
        raise ValueError(f"unknown method '{name}' (--method): choose one of {', '.join(METHODS)}")
    return METHODS[name]


def run_label(method: str, cfg: dict) -> str:
    """Label of a run in results and tables: the method, except λ = 0 fine-tuning (no fake data)."""
    if method == "robgan_ft" and float(cfg["finetune"]["lam"]) == 0.0:
        return "robgan_ft_nofake"
    return method
