"""One step function per method; the loop in :mod:`robgan.training.loop` is shared by all.

What a method is (config section, generator, classifier, discriminator head, attacked reals) is its
entry in :data:`robgan.registry.METHODS`; this module adds only how it trains: :data:`STEPS` maps each
method to its ``train_log.csv`` columns and its step function. Adding a method is one registry entry
plus one ``STEPS`` row.

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

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import torch

from robgan import attacks, losses, registry
from robgan.registry import MethodInfo
from robgan.training.context import Context
from robgan.training.sampling import bn_statistics

Step = Callable[[Context], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class MethodSpec:
    """A method as training runs it: its registry entry and its :data:`STEPS` row.

    Attributes:
        info: the method's :class:`robgan.registry.MethodInfo`.
        log_keys: the metric columns of ``train_log.csv``, in order.
        step: one iteration.
    """

    info: MethodInfo
    log_keys: tuple[str, ...]
    step: Step

    @property
    def name(self) -> str:
        """The method name (``robgan train --method NAME``)."""
        return self.info.name

    @property
    def section(self) -> str:
        """The config section holding its budget, batch size, optimiser and schedule."""
        return self.info.section

    @property
    def has_classifier(self) -> bool:
        """The finished run offers a classifier to ``load_classifier``."""
        return self.info.has_classifier

    @property
    def attacks(self) -> bool:
        """Training attacks the real images (the context builds the section's threat model)."""
        return self.info.attacks

    @property
    def has_generator(self) -> bool:
        """The run holds a generator (``load_generator``): one it trains, or the frozen one of the run
        it starts from (fine-tuning, whose fakes it makes)."""
        src = self.info.from_run
        return self.info.has_generator or (src is not None and registry.method_info(src).has_generator)


class GanIteration:
    """One generator iteration of the GAN family: ``n_dis`` D updates, then one G update.

    Cut into the parts that :mod:`robgan.bench` times alone on the same state; calling the instance
    runs them in order (``n_dis`` × ``data`` → ``attack_reals`` → ``fakes_for_d`` → ``d_update``, then
    ``g_update``), so the benchmark measures the very code that trains.

    Args:
        loss_kind: ``"hinge"`` (SN-GAN, projection D), ``"old"`` (AC-GAN) or ``"new"`` (Rob-GAN's loss).
        attack: real images are replaced by PGD maximising D's full loss before D sees them.
    """

    def __init__(self, loss_kind: str, attack: bool) -> None:
        if loss_kind not in ("hinge", "old", "new"):
            raise ValueError(f"loss_kind must be hinge, old or new, got {loss_kind!r}")
        self.loss_kind = loss_kind
        self.attack = attack

    def data(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        """The next real batch: ``x`` float ``(B, C, H, W)`` in [0, 1] in the configured memory format,
        ``y`` int64 ``(B,)``."""
        x, y = ctx.stream.next()
        return ctx.to_memory_format(x), y

    def attack_reals(self, ctx: Context, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """PGD on D's full loss (``x`` itself when the method does not attack), under autocast like
        every other D pass (the objective is computed in float32)."""
        if not self.attack:
            return x
        with ctx.autocast():
            return attacks.pgd_discriminator_real(ctx.forward["D"], x, y, ctx.threat, generator=ctx.attack_gen)

    def fakes_for_d(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        """``batch_size`` generated images (float32, no graph) and their classes, for one D update."""
        z, y_fake = ctx.sample_latent(ctx.batch_size)
        with torch.no_grad(), ctx.autocast():
            fake = ctx.forward["G"](z, y_fake).float()
        return fake, y_fake

    def d_update(self, ctx: Context, x: torch.Tensor, y: torch.Tensor, fake: torch.Tensor,
                 y_fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One D step on reals ``x`` and ``fake``; returns (loss, accuracy of D's class head on the
        reals, None for the projection D), both detached 0-dim tensors."""
        bsz, acc = ctx.batch_size, None
        with ctx.autocast():
            # D has no batch norm, so one pass over [real; fake] equals two passes and is cheaper.
            both = ctx.to_memory_format(torch.cat([x, fake]))
            if self.loss_kind == "hinge":
                s = ctx.forward["D"](both, torch.cat([y, y_fake])).float()
                loss_d = losses.hinge_d(s[:bsz], s[bsz:])
            else:
                s, c = ctx.forward["D"](both)
                s, c = s.float(), c.float()
                if self.loss_kind == "old":
                    loss_d = losses.acgan_d(s[:bsz], c[:bsz], y, s[bsz:], c[bsz:], y_fake)
                else:
                    loss_d = losses.newloss_d(s[:bsz], c[:bsz], y, s[bsz:], ctx.cfg["train"]["loss_weights"])
                acc = (c[:bsz].argmax(1) == y).float().mean()
        opt = ctx.optimizers["D"]
        opt.zero_grad(set_to_none=True)
        loss_d.backward()
        opt.step()
        return loss_d.detach(), acc

    def g_update(self, ctx: Context) -> torch.Tensor:
        """One G step on fresh fakes through D (whose parameters get no gradient); returns the loss."""
        d = ctx.modules["D"]
        d.requires_grad_(False)
        try:
            z, y_fake = ctx.sample_latent(ctx.batch_size)
            with ctx.autocast():
                fake = ctx.to_memory_format(ctx.forward["G"](z, y_fake))
                if self.loss_kind == "hinge":
                    loss_g = losses.hinge_g(ctx.forward["D"](fake, y_fake).float())
                else:
                    s, c = ctx.forward["D"](fake)
                    s, c = s.float(), c.float()
                    loss_g = (losses.acgan_g(s, c, y_fake) if self.loss_kind == "old"
                              else losses.newloss_g(s, c, y_fake, ctx.cfg["train"]["loss_weights"]))
            opt = ctx.optimizers["G"]
            opt.zero_grad(set_to_none=True)
            loss_g.backward()
            opt.step()
        finally:
            d.requires_grad_(True)
        return loss_g.detach()

    def __call__(self, ctx: Context) -> dict[str, torch.Tensor]:
        n_dis = int(ctx.section["n_dis"])  # the method's own (train.method_overrides may set it)
        acc = torch.zeros((), device=ctx.device)
        for _ in range(n_dis):
            x, y = self.data(ctx)
            x = self.attack_reals(ctx, x, y)
            fake, y_fake = self.fakes_for_d(ctx)
            loss_d, a = self.d_update(ctx, x, y, fake, y_fake)
            if a is not None:
                acc = acc + a
        out = {"loss_d": loss_d, "loss_g": self.g_update(ctx)}
        ctx.update_g_ema()
        if self.loss_kind != "hinge":
            out["acc_real"] = acc / n_dis
        return out


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
    """Rob-GAN fine-tuning: CE on attacked reals + λ·CE on attacked fakes of the frozen generator,
    whose batch norm normalises as ``model.g_sample_bn`` says (``batch``: statistics of this batch of
    fakes, the authors'; its running statistics stay untouched either way)."""
    clf = ctx.classifier
    lam = float(ctx.cfg["finetune"]["lam"])
    x, y = ctx.stream.next()
    x = ctx.to_memory_format(x)
    with ctx.autocast():
        x_adv = attacks.pgd_classifier(clf, x, y, ctx.threat, generator=ctx.attack_gen, train_mode=None)
    n_real = x.shape[0]
    if lam > 0:
        z, y_fake = ctx.sample_latent(n_real)
        with torch.no_grad(), ctx.autocast(), bn_statistics(ctx.modules["G"], ctx.g_sample_bn):
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


def _gan(method: str, loss_kind: str) -> tuple[tuple[str, ...], GanIteration]:
    """The :data:`STEPS` row of a GAN method: ``loss_kind``, and attacked reals when the registry says
    that ``method`` attacks."""
    keys = ("loss_d", "loss_g") if loss_kind == "hinge" else ("loss_d", "loss_g", "acc_real")
    return keys, GanIteration(loss_kind, attack=registry.method_info(method).attacks)


_CLASSIFIER_KEYS = ("loss", "acc_adv")

#: ``{method: (log_keys, step)}``: how each method of :data:`robgan.registry.METHODS` trains.
STEPS: dict[str, tuple[tuple[str, ...], Step]] = {
    "sngan": _gan("sngan", "hinge"),
    "acgan": _gan("acgan", "old"),
    "acgan_newloss": _gan("acgan_newloss", "new"),
    "robgan_oldloss": _gan("robgan_oldloss", "old"),
    "robgan": _gan("robgan", "new"),
    "advtrain": (_CLASSIFIER_KEYS, _advtrain_step),
    "robgan_ft": (_CLASSIFIER_KEYS, _finetune_step),
}


def get_method(name: str) -> MethodSpec:
    """The :class:`MethodSpec` of ``name``; ``ValueError`` naming the choices for an unknown method."""
    info = registry.method_info(name)
    try:
        log_keys, step = STEPS[name]
    except KeyError:
        raise ValueError(f"method {name!r} has no step function: add its row to "
                         "robgan.training.methods.STEPS") from None
    return MethodSpec(info, log_keys, step)


class _Methods(Mapping[str, MethodSpec]):
    """:data:`METHODS`: every method of :data:`robgan.registry.METHODS` (in its order) as training runs it,
    read from the registry and :data:`STEPS` whenever it is used."""

    def __getitem__(self, name: str) -> MethodSpec:
        if name not in registry.METHODS:
            raise KeyError(name)
        return get_method(name)

    def __contains__(self, name: object) -> bool:
        return name in registry.METHODS

    def __iter__(self) -> Iterator[str]:
        return iter(registry.METHODS)

    def __len__(self) -> int:
        return len(registry.METHODS)

    def __repr__(self) -> str:
        return f"METHODS({list(self)})"


METHODS: Mapping[str, MethodSpec] = _Methods()


def run_label(method: str, cfg: dict) -> str:
    """Label of a run in results and tables (:mod:`robgan.registry`): the method, except fine-tuning,
    whose label follows its ``finetune.lam`` (:func:`robgan.registry.finetune_label`)."""
    if registry.method_info(method).section == "finetune":
        return registry.finetune_label(cfg["finetune"]["lam"])
    return method
