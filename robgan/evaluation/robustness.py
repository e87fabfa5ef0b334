"""Accuracy under ℓ∞ PGD (sweeps over ε, two protocols), the train/test gap, and the local Lipschitz value.

The computations only: :mod:`robgan.evaluation.context` opens a run and draws the evaluation images,
:mod:`robgan.evaluation.commands` turns these computations into the ``pgd``, ``gap`` and
``lipschitz`` records.

Library functions take a classifier ``model`` (images float [0,1] ``(N,C,H,W)`` → logits ``(N,K)``,
already on ``device`` and in eval mode), images ``x`` float [0,1] ``(N,C,H,W)`` and labels ``y``
int64 ``(N,)`` on the CPU; they batch, move batches to ``device`` and return CPU tensors. Every ε is in
[0,1] pixel units (the authors' [-1,1] value is ``2·ε``).

Definitions shared by every command:

* **Robust** example at ε: correctly classified on the clean image *and* on the attacked image
  (as RobustBench/AutoAttack count it). Only clean-correct images are attacked, so accuracy under
  attack never exceeds clean accuracy.
* **Protocols** (``eval.pgd.paper`` / ``eval.pgd.strong``): PGD on the class cross-entropy with
  ``steps`` signed-gradient steps of ``step_fraction·ε``, optional uniform random start, and
  ``restarts`` runs; with restarts an example counts as broken if any restart breaks it (worst case
  per example). A restart only attacks the examples that every earlier restart left unbroken (the
  outcome is the same as attacking all of them; the cost is not). Without a random start restarts
  would repeat the same run, so one is made. The paper's protocol: 20 steps of ε/5, no
  random start, 1 run.
* **Random starts** come from a CPU ``torch.Generator`` seeded with ``eval.attack_seed`` afresh for
  every (protocol, ε), so a sweep is reproducible and identical on CPU and GPU for the same batch size.
* **Evaluation images**: ``robgan.data.fixed_indices(N_split, n, eval.index_seed)`` — the same images
  for every method (and nested: a smaller n is a prefix); see
  :func:`robgan.evaluation.context.eval_subset`.
* **Local Lipschitz value (llv)**: mean over examples of the per-example ‖∇ₓ CE(c(x), y)‖₂ with x
  the image in **[0,1]** units (the gradient w.r.t. the authors' [-1,1] input is half of it).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from robgan import losses
from robgan.attacks import ThreatModel, frozen_mode, pgd_classifier
from robgan.evaluation import flags as fl
from robgan.provenance import autocast

log = logging.getLogger("robgan.evaluation")

#: protocol names, in the order rows are written
PROTOCOLS = ("clean", "paper", "strong")


# --------------------------------------------------------------------------------------------------
# protocols and batching


@dataclass(frozen=True)
class PGDProtocol:
    """One PGD evaluation protocol (a section ``eval.pgd.paper`` / ``eval.pgd.strong`` of the config)."""

    name: str
    steps: int
    step_fraction: float
    restarts: int = 1
    random_start: bool = False

    @classmethod
    def from_config(cls, name: str, section: Mapping[str, Any]) -> PGDProtocol:
        return cls(name=name, steps=int(section["steps"]), step_fraction=float(section["step_fraction"]),
                   restarts=int(section.get("restarts", 1)),
                   random_start=bool(section.get("random_start", False)))

    def threat(self, eps: float) -> ThreatModel:
        return ThreatModel.fractional(eps, self.steps, self.step_fraction, random_start=self.random_start,
                                      restarts=self.restarts)

    def settings(self) -> dict[str, Any]:
        """JSON description for a record's settings."""
        return {**asdict(self), "objective": "class cross-entropy", "norm": "Linf",
                "step_size": f"{self.step_fraction:g} * eps"}


PAPER = PGDProtocol("paper", steps=20, step_fraction=0.2, restarts=1, random_start=False)


def progress_bar(total: int, desc: str, enabled: bool | None = None) -> tqdm:
    """tqdm on stderr, shown only when stderr is a terminal (quiet in Snakemake logs) unless forced."""
    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(total=total, desc=desc, disable=not show, dynamic_ncols=True, file=sys.stderr)


def _batches(n: int, batch_size: int) -> Iterable[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def n_batches(n: int, batch_size: int) -> int:
    return (n + batch_size - 1) // batch_size


# --------------------------------------------------------------------------------------------------
# accuracy


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int, device: torch.device | str,
            progress: tqdm | None = None) -> torch.Tensor:
    """Predicted labels int64 ``(N,)`` on the CPU."""
    out = torch.empty(x.shape[0], dtype=torch.int64)
    with frozen_mode(model, False):
        for sl in _batches(x.shape[0], batch_size):
            out[sl] = model(x[sl].to(device)).argmax(1).cpu()
            if progress is not None:
                progress.update(1)
    return out


def clean_correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int,
                  device: torch.device | str, progress: tqdm | None = None) -> torch.Tensor:
    """bool ``(N,)``: clean image classified correctly."""
    return predict(model, x, batch_size=batch_size, device=device, progress=progress) == y


def robust_correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: ThreatModel, *,
                   batch_size: int, device: torch.device | str, seed: int,
                   attack_mask: torch.Tensor | None = None, progress: tqdm | None = None,
                   bf16: bool = False) -> torch.Tensor:
    """bool ``(N,)``: example robust under PGD ``threat`` (clean-correct and still correct when attacked).

    With ``threat.restarts = R > 1`` (and a random start) restart ``r`` attacks only the examples that
    restarts ``1..r-1`` left unbroken: an example is robust iff it survives all R runs. The first run
    draws the same random starts as a one-restart attack with the same seed, so the robust set under
    R restarts is a subset of the one-restart set.

    Args:
        attack_mask: bool ``(N,)`` of the examples to attack (default: the clean-correct ones);
            the others count as not robust.
        seed: seeds the CPU generator of the random starts.
        progress: updated once per batch of attacked examples of the first run.
        bf16: the attack's forward/backward passes under bf16 autocast (the caller checked
            :func:`robgan.provenance.bf16_supported`; objective and adversarial images stay float32).
            Whether the attacked image is still classified correctly is always decided in float32.
    """
    if attack_mask is None:
        attack_mask = clean_correct(model, x, y, batch_size=batch_size, device=device)
    alive = attack_mask.clone().to(torch.bool)
    gen = torch.Generator().manual_seed(int(seed))
    one_run = replace(threat, restarts=1)
    runs = threat.restarts if threat.random_start else 1
    for run in range(runs):
        todo = alive.nonzero().flatten()
        for sl in _batches(todo.numel(), batch_size):
            idx = todo[sl]
            xb, yb = x[idx].to(device), y[idx].to(device)
            with autocast(torch.device(device), bf16):
                x_adv = pgd_classifier(model, xb, yb, one_run, generator=gen, train_mode=False)
            with torch.no_grad(), frozen_mode(model, False):
                alive[idx] = (model(x_adv).argmax(1) == yb).cpu()
            if progress is not None and run == 0:
                progress.update(1)
    return alive


def accuracy(correct: torch.Tensor) -> float:
    """Share of ``True`` in a bool ``(N,)`` tensor, as an exact Python ratio ``n_correct / n``."""
    return int(correct.sum()) / int(correct.numel())


def outcome_fields(correct: torch.Tensor) -> dict[str, Any]:
    """``{"n", "n_correct", "accuracy", "correct"}`` of a bool ``(N,)`` tensor of per-image outcomes
    (``correct``: the record's ``0``/``1`` string in image order, :func:`robgan.records.outcomes_string`)."""
    from robgan.records import outcomes_string

    n, k = int(correct.numel()), int(correct.sum())
    return {"n": n, "n_correct": k, "accuracy": k / n, "correct": outcomes_string(correct.tolist())}


def _row(protocol: str, eps: float, *, steps: int, step_size: float, restarts: int, random_start: bool,
         attack_seed: int, correct: torch.Tensor) -> dict[str, Any]:
    return {"protocol": protocol, "eps": float(eps), "eps_pm1": 2.0 * float(eps), "steps": int(steps),
            "step_size": float(step_size), "restarts": int(restarts), "random_start": bool(random_start),
            "attack_seed": int(attack_seed), **outcome_fields(correct)}


@dataclass
class SweepResult:
    """Per-example outcomes of a PGD sweep (bool ``(N,)`` CPU tensors) and the record rows."""

    clean: torch.Tensor
    robust: dict[tuple[str, float], torch.Tensor]
    rows: list[dict[str, Any]]

    def accuracy(self, protocol: str, eps: float) -> float:
        if protocol == "clean" or eps == 0.0:
            return accuracy(self.clean)
        return accuracy(self.robust[(protocol, eps)])

    def accuracy_by_eps(self, protocol: str) -> dict[float, float]:
        """``{eps: accuracy}`` including ``0.0`` → clean accuracy."""
        out = {0.0: accuracy(self.clean)}
        out.update({e: accuracy(v) for (p, e), v in self.robust.items() if p == protocol})
        return out


def pgd_sweep(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps_grid: Sequence[float],
              protocols: Sequence[PGDProtocol], *, batch_size: int, device: torch.device | str,
              attack_seed: int, progress: bool | None = None, desc: str = "pgd",
              bf16: bool = False) -> SweepResult:
    """Clean accuracy and accuracy under every protocol at every ε > 0 of ``eps_grid``.

    Rows (record schema ``pgd_row``): one ``clean`` row at ε = 0 (steps 0, restarts 0), then for
    each protocol and each distinct ε > 0 in increasing order one row. An ε of 0 in the grid is the
    clean row (PGD with a zero radius is the identity).
    """
    eps_pos = sorted({float(e) for e in eps_grid if float(e) > 0.0})
    n = x.shape[0]
    bar = progress_bar(n_batches(n, batch_size), f"{desc} clean", progress)
    clean = clean_correct(model, x, y, batch_size=batch_size, device=device, progress=bar)
    bar.close()
    n_att = n_batches(int(clean.sum()), batch_size)
    rows = [_row("clean", 0.0, steps=0, step_size=0.0, restarts=0, random_start=False,
                 attack_seed=attack_seed, correct=clean)]
    robust: dict[tuple[str, float], torch.Tensor] = {}
    bar = progress_bar(n_att * len(eps_pos) * len(protocols), f"{desc} attacks", progress)
    try:
        for proto in protocols:
            for eps in eps_pos:
                threat = proto.threat(eps)
                bar.set_postfix_str(f"{proto.name} eps={eps:g}")
                ok = robust_correct(model, x, y, threat, batch_size=batch_size, device=device,
                                    seed=attack_seed, attack_mask=clean, progress=bar, bf16=bf16)
                robust[(proto.name, eps)] = ok
                rows.append(_row(proto.name, eps, steps=threat.steps, step_size=threat.step_size,
                                 restarts=threat.restarts, random_start=threat.random_start,
                                 attack_seed=attack_seed, correct=ok))
                log.info("%s eps=%g: accuracy %.4f (n=%d)", proto.name, eps, rows[-1]["accuracy"], n)
    finally:
        bar.close()
    return SweepResult(clean=clean, robust=robust, rows=rows)


def sweep_flags(sweep: SweepResult, n: int, *, large_eps: float, large_eps_accuracy: float,
                chance: float) -> dict[str, dict]:
    """The pgd record's flags: ``monotone_in_eps`` (every protocol), ``large_eps_near_zero``,
    ``strong_le_paper``."""
    protos = sorted({p for p, _ in sweep.robust})
    mono = [fl.monotone_in_eps(sweep.accuracy_by_eps(p), n, label=p) for p in protos]
    flags = {
        "monotone_in_eps": {"ok": all(m["ok"] for m in mono),
                            "detail": " | ".join(m["detail"] for m in mono)},
        "large_eps_near_zero": fl.large_eps_near_zero(large_eps_accuracy, large_eps, n, chance),
    }
    if "paper" in protos and "strong" in protos:
        paper = {e: a for e, a in sweep.accuracy_by_eps("paper").items() if e > 0}
        strong = {e: a for e, a in sweep.accuracy_by_eps("strong").items() if e > 0}
        flags["strong_le_paper"] = fl.strong_le_paper(strong, paper, n)
    return flags


# --------------------------------------------------------------------------------------------------
# local Lipschitz value


def input_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int,
                         device: torch.device | str, norm: str = "l2",
                         progress: tqdm | None = None) -> torch.Tensor:
    """Per-example ‖∇ₓ CE(model(x), y)‖ (float ``(N,)``, CPU), x in [0,1] units, model in eval mode.

    The examples of a batch do not interact in eval mode, so the gradient of the summed loss holds
    every example's own gradient.
    """
    p = {"l1": 1.0, "l2": 2.0, "linf": float("inf")}[norm]
    out = torch.empty(x.shape[0])
    with frozen_mode(model, False):
        for sl in _batches(x.shape[0], batch_size):
            xb = x[sl].to(device).requires_grad_(True)
            loss = losses.ce_per_example(model(xb), y[sl].to(device))
            (grad,) = torch.autograd.grad(loss.sum(), xb)
            out[sl] = grad.flatten(1).norm(p=p, dim=1).detach().cpu()
            if progress is not None:
                progress.update(1)
    return out


# --------------------------------------------------------------------------------------------------
# train/test gap


def clean_and_robust(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: ThreatModel, *,
                     batch_size: int, device: torch.device | str, seed: int, progress: bool | None = None,
                     desc: str = "pgd", bf16: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """bool ``(N,)`` pair ``(clean-correct, robust under threat)`` of one image set (a split of the gap).

    Only the clean-correct examples are attacked (:func:`robust_correct` with ``seed``); the progress
    bar counts their batches.
    """
    clean = clean_correct(model, x, y, batch_size=batch_size, device=device)
    bar = progress_bar(n_batches(int(clean.sum()), batch_size), desc, progress)
    try:
        adv = robust_correct(model, x, y, threat, batch_size=batch_size, device=device, seed=seed,
                             attack_mask=clean, progress=bar, bf16=bf16)
    finally:
        bar.close()
    return clean, adv
