"""AutoAttack (Croce & Hein 2020) through ``pyautoattack``, with the cascade reported stage by stage.

``pyautoattack`` 0.2's ``AutoAttack.run_standard_evaluation`` runs its attacks in cascade (each attack
only on the points still robust) but returns only ``(x_adv, y_adv)``; the per-attack accuracies are
only logged. So :func:`run_autoattack` drives the cascade itself, one attack at a time, calling
``run_standard_evaluation`` with ``attacks_to_run = [attack]`` on the points still robust after the
previous attacks. This is the same computation as the library's cascade (same attack objects and
settings, same seed per attack, the same still-robust points in the same order and batch size),
and it yields the accumulated robust accuracy after every stage: rows ``clean``, ``apgd-ce``,
``apgd-t``, ... and ``final``.

The final accuracy is not taken on trust: the returned adversarial images are checked (inside the
ℓ∞ ball of radius ε and the [0,1] box) and re-classified; an example counts as robust iff it is
clean-correct and the model is still correct on its returned image. Disagreements with the library's
own verdict are counted in ``settings.n_inconsistent`` (expected 0).

Versions (``eval.autoattack.version``):

* ``standard`` — the library's standard ℓ∞ setting (apgd-ce, apgd-t, fab-t, square; 100 APGD
  iterations, 9 target classes, 5,000 Square queries); only the number of target classes is capped at
  ``n_classes - 1`` (needed below 10 classes; recorded). ``attacks``, ``apgd_iterations`` and
  ``n_target_classes`` of the config are ignored.
* ``custom`` — the cheap subset ``eval.autoattack.attacks`` with ``apgd_iterations`` (APGD-CE and
  APGD-T iterations) and ``n_target_classes`` (APGD-T and FAB-T); recorded as
  ``settings.cheap_subset = true``: such a number is an upper bound weaker than standard AutoAttack.

Per classifier (``eval.autoattack.overrides``, :func:`robgan.config.autoattack_view`): an entry for a
run label replaces any of ``version``, ``attacks``, ``n_examples``, ``apgd_iterations`` and
``n_target_classes`` for that classifier (e.g. standard AutoAttack for the classifiers the claims
compare, a cheap named subset for the ablations). The record's ``settings.version`` /
``settings.cheap_subset`` say what ran and ``settings.override`` which fields came from the entry.

The PGD comparison for the flags is measured in the same command on the same images at the same ε
(paper and strong protocols of ``eval.pgd``), stored in ``settings.pgd_at_eps``; this keeps one
record per evaluation and makes the comparison paired (reading a pgd record instead would compare
different image subsets, or an ε that the PGD grid may not contain).

AutoAttack's log (logger ``auto-attack``, raised to DEBUG while it runs so that its per-attack
messages appear) and any stray ``print`` go to stderr — the Snakemake rule's log.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from robgan.config import ConfigError, autoattack_view
from robgan.evaluation import flags as fl
from robgan.evaluation.commands import common_settings, finish_record
from robgan.evaluation.context import EvalContext, eval_subset
from robgan.evaluation.robustness import (
    PGDProtocol,
    accuracy,
    clean_correct,
    n_batches,
    outcome_fields,
    predict,
    progress_bar,
    robust_correct,
)
from robgan.registry import pgd_protocols

log = logging.getLogger("robgan.evaluation")

_BALL_TOL = 1e-5  # float slack on ‖x_adv − x‖∞ ≤ ε


@dataclass
class AutoAttackResult:
    """Per-example outcomes (bool ``(N,)`` CPU tensors) after each stage and the effective settings."""

    clean: torch.Tensor
    stages: dict[str, torch.Tensor]  # attack name -> robust after this attack (accumulated)
    final: torch.Tensor
    x_adv: torch.Tensor
    settings: dict[str, Any] = field(default_factory=dict)
    attacks_run: list[str] = field(default_factory=list)
    n_inconsistent: int = 0

    def rows(self, eps: float) -> list[dict[str, Any]]:
        """Record rows (``autoattack_row``): clean, each stage in cascade order, final; each with its
        per-image outcomes (``correct``)."""
        def row(stage: str, ok: torch.Tensor) -> dict[str, Any]:
            return {"stage": stage, "eps": float(eps), **outcome_fields(ok)}

        stages = [row(a, v) for a, v in self.stages.items()]
        return [row("clean", self.clean), *stages, row("final", self.final)]


def _set_apgd_iterations(attack, n_iter: int) -> None:
    """Set an APGD attack's iterations and the checkpoint schedule its constructor derives from them."""
    attack.n_iter = int(n_iter)
    attack.n_iter_orig = int(n_iter)
    attack.n_iter_2 = max(int(0.22 * n_iter), 1)
    attack.n_iter_min = max(int(0.06 * n_iter), 1)
    attack.size_decr = max(int(0.03 * n_iter), 1)


def check_attacks(attacks: Sequence[str], n_classes: int, n_target_classes: int, version: str) -> None:
    """Raise :class:`ConfigError` for attack settings that cannot run with ``n_classes`` classes."""
    field_ = "eval.autoattack.attacks" if version == "custom" else "eval.autoattack.version"
    if "apgd-t" in attacks and n_classes < 4:
        raise ConfigError(f"config error at '{field_}': apgd-t (targeted DLR loss) needs at least 4 classes, "
                          f"the dataset has {n_classes}; drop apgd-t (use version: custom)")
    if "apgd-dlr" in attacks and n_classes < 3:
        raise ConfigError(f"config error at '{field_}': apgd-dlr needs at least 3 classes, "
                          f"the dataset has {n_classes}; drop apgd-dlr (use version: custom)")
    targeted = any(a in attacks for a in ("apgd-t", "fab-t"))
    if version == "custom" and targeted and n_target_classes > n_classes - 1:
        raise ConfigError(f"config error at 'eval.autoattack.n_target_classes': {n_target_classes} target "
                          f"classes but the dataset has only {n_classes - 1} classes besides the true one; "
                          f"set it to at most {n_classes - 1}")


@contextlib.contextmanager
def _log_to_stderr() -> Iterator[None]:
    """AutoAttack's DEBUG log and prints to stderr for the duration."""
    aa_log = logging.getLogger("auto-attack")
    old = aa_log.level
    aa_log.setLevel(logging.DEBUG)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        aa_log.setLevel(old)


def build_adversary(model: nn.Module, *, eps: float, version: str, attacks: Sequence[str] | None,
                    apgd_iterations: int, n_target_classes: int, n_classes: int, seed: int,
                    device: torch.device | str):
    """A configured ``pyautoattack.AutoAttack`` (ℓ∞) and its effective settings (for the record)."""
    from pyautoattack import AutoAttack

    if version == "standard":
        adversary = AutoAttack(model, norm="Linf", eps=float(eps), version="standard", device=device,
                               seed=int(seed))
        targets = min(adversary.apgd_targeted.n_target_classes, n_classes - 1)
        adversary.apgd_targeted.n_target_classes = targets
        adversary.fab.n_target_classes = targets
    elif version == "custom":
        if not attacks:
            raise ConfigError("config error at 'eval.autoattack.attacks': version custom needs at least one "
                              "attack")
        adversary = AutoAttack(model, norm="Linf", eps=float(eps), version="custom", attacks=list(attacks),
                               device=device, seed=int(seed))
        _set_apgd_iterations(adversary.apgd, apgd_iterations)
        _set_apgd_iterations(adversary.apgd_targeted, apgd_iterations)
        adversary.apgd_targeted.n_target_classes = int(n_target_classes)
        adversary.fab.n_target_classes = int(n_target_classes)
    else:
        raise ConfigError(f"config error at 'eval.autoattack.version': unknown version {version!r}")
    run = list(adversary.attacks_to_run)
    check_attacks(run, n_classes, adversary.apgd_targeted.n_target_classes, version)
    settings = {
        "version": version,
        "attacks": run,
        "cheap_subset": version != "standard",
        "norm": "Linf",
        "seed": int(seed),
    }
    # the effective parameters of the attacks that run (read back from the attack objects)
    if {"apgd-ce", "apgd-dlr"} & set(run):
        settings["apgd"] = {"n_iter": adversary.apgd.n_iter, "n_restarts": adversary.apgd.n_restarts}
    if "apgd-t" in run:
        settings["apgd_targeted"] = {"n_iter": adversary.apgd_targeted.n_iter,
                                     "n_restarts": adversary.apgd_targeted.n_restarts,
                                     "n_target_classes": adversary.apgd_targeted.n_target_classes}
    if {"fab", "fab-t"} & set(run):
        settings["fab"] = {"n_iter": adversary.fab.n_iter, "n_restarts": adversary.fab.n_restarts,
                           "n_target_classes": adversary.fab.n_target_classes}
    if "square" in run:
        settings["square"] = {"n_queries": adversary.square.n_queries, "p_init": adversary.square.p_init}
    return adversary, settings


def run_autoattack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float,
                   version: str = "standard", attacks: Sequence[str] | None = None,
                   apgd_iterations: int = 100, n_target_classes: int = 9, seed: int = 0,
                   batch_size: int = 500, device: torch.device | str = "cpu",
                   progress: bool | None = None) -> AutoAttackResult:
    """AutoAttack at ℓ∞ radius ``eps`` on ``(x, y)`` (CPU, x float [0,1]) with the cascade reported per stage.

    ``model`` maps [0,1] images to logits, is on ``device`` and in eval mode.
    """
    from robgan.attacks import frozen_mode

    with torch.no_grad():
        n_classes = int(model(x[:1].to(device)).shape[1])
    adversary, settings = build_adversary(model, eps=eps, version=version, attacks=attacks,
                                          apgd_iterations=apgd_iterations, n_target_classes=n_target_classes,
                                          n_classes=n_classes, seed=seed, device=device)
    order = settings["attacks"]
    clean = clean_correct(model, x, y, batch_size=batch_size, device=device)
    robust = clean.clone()
    x_adv = x.clone()
    stages: dict[str, torch.Tensor] = {}
    attacks_run: list[str] = []
    bar = progress_bar(len(order), f"autoattack eps={eps:g}", progress)
    with frozen_mode(model, False), _log_to_stderr():
        try:
            for attack in order:
                bar.set_postfix_str(attack)
                idx = robust.nonzero().flatten()
                if idx.numel() > 0:
                    adversary.attacks_to_run = [attack]
                    xa, ya = adversary.run_standard_evaluation(x[idx].to(device), y[idx].to(device),
                                                               batch_size=batch_size)
                    broken = (ya.cpu() != y[idx])
                    robust[idx[broken]] = False
                    x_adv[idx[broken]] = xa.detach().cpu()[broken]
                    attacks_run.append(attack)
                    log.info("autoattack %s: robust accuracy %.4f", attack, accuracy(robust))
                else:
                    log.info("autoattack %s skipped: no robust point left", attack)
                stages[attack] = robust.clone()
                bar.update(1)
        finally:
            bar.close()
    # Verify: inside the ball and the box, and re-classified by us.
    dist = (x_adv - x).flatten(1).abs().amax(1)
    inside = (dist <= eps + _BALL_TOL) & (x_adv.flatten(1).amin(1) >= 0) & (x_adv.flatten(1).amax(1) <= 1)
    if not bool(inside.all()):
        log.warning("autoattack returned %d images outside the eps-ball or the [0,1] box; they count "
                    "as robust", int((~inside).sum()))
    x_final = torch.where(inside.view(-1, *[1] * (x.dim() - 1)), x_adv, x)
    final = clean & (predict(model, x_final, batch_size=batch_size, device=device) == y)
    n_inconsistent = int((final != robust).sum())
    if n_inconsistent:
        log.warning("autoattack: %d examples where the library's verdict differs from re-classification; "
                    "the re-classified verdict is recorded", n_inconsistent)
    return AutoAttackResult(clean=clean, stages=stages, final=final, x_adv=x_final, settings=settings,
                            attacks_run=attacks_run, n_inconsistent=n_inconsistent)


def autoattack_flags(aa_final: float, pgd: dict[str, float], eps: float, n: int) -> dict[str, dict]:
    """The autoattack record's flags: ``autoattack_le_pgd`` and ``pgd_near_autoattack``."""
    return {"autoattack_le_pgd": fl.autoattack_le_pgd(aa_final, pgd, eps, n),
            "pgd_near_autoattack": fl.pgd_near_autoattack(aa_final, pgd, eps, n)}


def evaluate_autoattack(ctx: EvalContext, *, progress: bool | None = None) -> dict[str, Any]:
    """The ``autoattack`` record: AutoAttack at ``eval.autoattack.eps`` on the fixed test subset (the
    run label's settings: ``eval.autoattack`` with its ``overrides`` entry), with paper- and
    strong-protocol PGD (unless ``eval.pgd.strong`` is null) at the same ε on the same images in
    ``settings.pgd_at_eps``."""
    t0 = time.perf_counter()
    ev, acfg = ctx.eval_cfg, autoattack_view(ctx.cfg, ctx.run.label)
    eps, seed, bs = float(acfg["eps"]), int(ev["attack_seed"]), int(ev["batch_size"])
    x, y, _ = eval_subset(ctx.data_cfg, "test", acfg["n_examples"], ev["index_seed"])
    n = int(y.numel())
    res = run_autoattack(ctx.model, x, y, eps=eps, version=acfg["version"], attacks=acfg["attacks"],
                         apgd_iterations=acfg["apgd_iterations"], n_target_classes=acfg["n_target_classes"],
                         seed=seed, batch_size=bs, device=ctx.device, progress=progress)
    aa_final = accuracy(res.final)
    pgd_ref: dict[str, Any] = {"eps": eps, "images": "the same images as AutoAttack", "attack_seed": seed}
    pgd_acc: dict[str, float] = {}
    for name in pgd_protocols(ctx.cfg):
        proto = PGDProtocol.from_config(name, ev["pgd"][name])
        bar = progress_bar(n_batches(int(res.clean.sum()), bs), f"pgd {name} eps={eps:g}", progress)
        ok = robust_correct(ctx.model, x, y, proto.threat(eps), batch_size=bs, device=ctx.device, seed=seed,
                            attack_mask=res.clean, progress=bar)
        bar.close()
        pgd_acc[name] = accuracy(ok)
        pgd_ref[name] = {**proto.settings(), **outcome_fields(ok),
                         # images that PGD breaks but AutoAttack left robust (should be few)
                         "n_broken_by_pgd_only": int((res.final & ~ok).sum())}
    settings = {
        **common_settings(ctx, "test", acfg["n_examples"], n),
        "eps": eps,
        "eps_pm1": 2 * eps,
        **res.settings,
        "override": acfg["override"],  # the fields of eval.autoattack.overrides[label] ([]: none)
        "attacks_run": res.attacks_run,
        "stage_accuracy": "accumulated: robust after every attack so far (cascade on still-robust points)",
        "n_inconsistent": res.n_inconsistent,
        "pyautoattack_version": _pyautoattack_version(),
        "pgd_at_eps": pgd_ref,
        "tolerance": fl.noise_tolerance(n),
    }
    flags = autoattack_flags(aa_final, pgd_acc, eps, n)
    return finish_record("autoattack", ctx, settings, res.rows(eps), flags, t0)


def _pyautoattack_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("pyautoattack")
    except metadata.PackageNotFoundError:
        return None
