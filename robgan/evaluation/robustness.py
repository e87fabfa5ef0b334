"""Accuracy under ℓ∞ PGD (sweeps over ε, two protocols), the train/test gap, and the local Lipschitz value.

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
  for every method (and nested: a smaller n is a prefix).
* **Local Lipschitz value (llv)**: mean over examples of the per-example ‖∇ₓ CE(c(x), y)‖₂ with x
  the image in **[0,1]** units (the gradient w.r.t. the authors' [-1,1] input is half of it).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from robgan import losses
from robgan.attacks import ThreatModel, frozen_mode, pgd_classifier
from robgan.evaluation import flags as fl

log = logging.getLogger("robgan.evaluation")

#: protocol names, in the order rows are written
PROTOCOLS = ("clean", "paper", "strong")


class NotAClassifierError(RuntimeError):
    """The run has no classifier (``sngan``'s projection discriminator is not one)."""


# --------------------------------------------------------------------------------------------------
# protocols and data


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


def to_unit(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 [0,255] → float32 [0,1] (no noise, no augmentation: evaluation sees the data as is)."""
    return images_u8.float().div_(255.0)


def eval_subset(data_cfg: Mapping[str, Any], split: str, n: int, index_seed: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fixed evaluation subset of a split.

    Returns:
        ``(x, y, idx)``: images float [0,1] ``(m,C,H,W)``, labels int64 ``(m,)``, indices into the
        split int64 ``(m,)``, with ``m = min(n, len(split))``; on the CPU.
    """
    from robgan.data import fixed_indices, load_split

    images, labels = load_split(dict(data_cfg), split)
    idx = fixed_indices(int(labels.shape[0]), int(n), int(index_seed))
    if idx.numel() < n:
        log.warning("%s split has only %d images; evaluating %d instead of %d", split, idx.numel(),
                    idx.numel(), n)
    return to_unit(images[idx]), labels[idx].clone(), idx


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
                   attack_mask: torch.Tensor | None = None, progress: tqdm | None = None) -> torch.Tensor:
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
            x_adv = pgd_classifier(model, xb, yb, one_run, generator=gen, train_mode=False)
            with torch.no_grad(), frozen_mode(model, False):
                alive[idx] = (model(x_adv).argmax(1) == yb).cpu()
            if progress is not None and run == 0:
                progress.update(1)
    return alive


def accuracy(correct: torch.Tensor) -> float:
    """Share of ``True`` in a bool ``(N,)`` tensor, as an exact Python ratio ``n_correct / n``."""
    return int(correct.sum()) / int(correct.numel())


def _row(protocol: str, eps: float, *, steps: int, step_size: float, restarts: int, random_start: bool,
         attack_seed: int, correct: torch.Tensor) -> dict[str, Any]:
    n = int(correct.numel())
    k = int(correct.sum())
    return {"protocol": protocol, "eps": float(eps), "eps_pm1": 2.0 * float(eps), "steps": int(steps),
            "step_size": float(step_size), "restarts": int(restarts), "random_start": bool(random_start),
            "attack_seed": int(attack_seed), "n": n, "n_correct": k, "accuracy": k / n}


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
              attack_seed: int, progress: bool | None = None, desc: str = "pgd") -> SweepResult:
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
                                    seed=attack_seed, attack_mask=clean, progress=bar)
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
# run-level evaluations (what the CLI calls): each returns a validated record


@dataclass
class EvalContext:
    """A run opened for evaluation: its classifier, the evaluation config, device, checkpoint section."""

    run_dir: Path
    run: Any  # robgan.api.Run
    cfg: dict  # resolved evaluation config (the `eval` section is used; data/model come from the run)
    device: torch.device
    model: nn.Module
    checkpoint: dict

    @property
    def eval_cfg(self) -> dict:
        return self.cfg["eval"]

    @property
    def data_cfg(self) -> dict:
        return self.run.config["data"]

    @property
    def n_classes(self) -> int:
        from robgan.data import dataset_info

        return dataset_info(self.data_cfg).n_classes


def check_classifier(run_dir: str | Path) -> None:
    """Raise :class:`NotAClassifierError` for runs whose discriminator is not a classifier (sngan)."""
    from robgan.api import load_run
    from robgan.training.methods import get_method

    run = load_run(run_dir)
    if not get_method(run.method).has_classifier:
        raise NotAClassifierError(
            f"{run.method}'s projection discriminator is not a classifier: there is nothing to evaluate "
            f"in {run.dir} (robustness evaluations apply to advtrain, robgan, robgan_ft and the AC-GAN "
            f"ablations)")


def checkpoint_info(path: str | Path) -> dict[str, Any]:
    """The record's checkpoint section for a model file (its ``iteration`` and ``train_seconds``)."""
    from robgan.provenance import torch_load
    from robgan.report.records import checkpoint_section

    payload = torch_load(path, map_location="cpu")
    return checkpoint_section(Path(path).name, int(payload["iteration"]), float(payload["train_seconds"]))


def channels_last_of(cfg: Mapping[str, Any]) -> bool:
    """Whether evaluations run the classifier in channels-last format (``performance.channels_last``)."""
    return bool(cfg.get("performance", {}).get("channels_last", False))


def open_run(run_dir: str | Path, cfg: Mapping[str, Any], device: torch.device | str,
             *, load_model: bool = True) -> EvalContext:
    """Open a finished run for evaluation (raises :class:`NotAClassifierError` for sngan)."""
    from robgan.api import RunError, load_classifier, load_run

    run_dir = Path(run_dir)
    check_classifier(run_dir)
    run = load_run(run_dir)
    model_path = run_dir / "model.pt"
    if not model_path.is_file():
        raise RunError(f"{model_path} does not exist: the run in {run_dir} is unfinished")
    device = torch.device(device)
    for key in ("name", "resolution"):
        if key in cfg.get("data", {}) and cfg["data"][key] != run.config["data"][key]:
            log.warning("evaluation config has data.%s=%r but the run was trained with %r; evaluating on "
                        "the run's data", key, cfg["data"][key], run.config["data"][key])
    model = (load_classifier(run_dir, device, channels_last=channels_last_of(cfg)) if load_model else None)
    return EvalContext(run_dir, run, dict(cfg), device, model, checkpoint_info(model_path))


def _finish(kind: str, ctx: EvalContext, settings: dict, rows: list, flags: dict, t0: float,
            checkpoint: dict | None = None) -> dict[str, Any]:
    from robgan.provenance import device_name
    from robgan.report.records import make_record

    if ctx.device.type == "cuda":
        torch.cuda.synchronize(ctx.device)
    return make_record(kind, run_dir=ctx.run_dir, checkpoint=checkpoint or ctx.checkpoint, settings=settings,
                       results=rows, flags=flags, elapsed_seconds=time.perf_counter() - t0,
                       device=device_name(ctx.device))


def _common_settings(ctx: EvalContext, split: str | list[str], n_requested: int, n: int) -> dict[str, Any]:
    return {"split": split, "n_examples": int(n), "n_examples_requested": int(n_requested),
            "index_seed": int(ctx.eval_cfg["index_seed"]), "batch_size": int(ctx.eval_cfg["batch_size"]),
            "n_classes": ctx.n_classes,
            "eps_units": "[0,1] pixels (eps_pm1 = 2 eps is the authors' [-1,1] value)"}


def evaluate_pgd(ctx: EvalContext, *, progress: bool | None = None) -> dict[str, Any]:
    """The ``pgd`` record: clean + paper + strong protocols over ``eval.pgd.eps`` on the test subset,
    plus the paper protocol at ``eval.pgd.large_eps`` (kept in ``settings.sanity``, not in the rows,
    so that the rows are exactly the configured grid)."""
    t0 = time.perf_counter()
    ev, pcfg = ctx.eval_cfg, ctx.eval_cfg["pgd"]
    x, y, _ = eval_subset(ctx.data_cfg, "test", pcfg["n_examples"], ev["index_seed"])
    n = int(y.numel())
    protocols = [PGDProtocol.from_config(name, pcfg[name]) for name in ("paper", "strong")]
    seed, bs = int(ev["attack_seed"]), int(ev["batch_size"])
    sweep = pgd_sweep(ctx.model, x, y, pcfg["eps"], protocols, batch_size=bs, device=ctx.device,
                      attack_seed=seed, progress=progress)
    large = float(pcfg["large_eps"])
    bar = progress_bar(n_batches(int(sweep.clean.sum()), bs), f"pgd large eps {large:g}", progress)
    large_ok = robust_correct(ctx.model, x, y, protocols[0].threat(large), batch_size=bs, device=ctx.device,
                              seed=seed, attack_mask=sweep.clean, progress=bar)
    bar.close()
    large_acc = accuracy(large_ok)
    chance = fl.largest_class_share(y.tolist())
    flags = sweep_flags(sweep, n, large_eps=large, large_eps_accuracy=large_acc, chance=chance)
    settings = {
        **_common_settings(ctx, "test", pcfg["n_examples"], n),
        "attack_seed": seed,
        "eps": sorted({float(e) for e in pcfg["eps"]}),
        "protocols": list(PROTOCOLS),
        "protocol_settings": {p.name: p.settings() for p in protocols},
        "robust_definition": "clean-correct and correct on the attacked image; only clean-correct images "
                             "are attacked; with restarts the worst case per example is kept",
        "sanity": {"large_eps": {"eps": large, "eps_pm1": 2 * large, "protocol": "paper",
                                 "n": n, "n_correct": int(large_ok.sum()), "accuracy": large_acc,
                                 "largest_class_share": chance}},
        "tolerance": fl.noise_tolerance(n),
    }
    return _finish("pgd", ctx, settings, sweep.rows, flags, t0)


def evaluate_gap(ctx: EvalContext, *, progress: bool | None = None) -> dict[str, Any]:
    """The ``gap`` record: paper-protocol PGD at ``eval.gap.eps`` (and clean accuracy) on fixed
    subsets of the training and the test split (``eval.gap.n_examples`` each, same index seed)."""
    t0 = time.perf_counter()
    ev, gcfg = ctx.eval_cfg, ctx.eval_cfg["gap"]
    eps, seed, bs = float(gcfg["eps"]), int(ev["attack_seed"]), int(ev["batch_size"])
    proto = PGDProtocol.from_config("paper", ev["pgd"]["paper"])
    rows, ns = [], {}
    for split in ("train", "test"):
        x, y, _ = eval_subset(ctx.data_cfg, split, gcfg["n_examples"], ev["index_seed"])
        clean = clean_correct(ctx.model, x, y, batch_size=bs, device=ctx.device)
        bar = progress_bar(n_batches(int(clean.sum()), bs), f"gap {split}", progress)
        adv = robust_correct(ctx.model, x, y, proto.threat(eps), batch_size=bs, device=ctx.device, seed=seed,
                             attack_mask=clean, progress=bar)
        bar.close()
        ns[split] = int(y.numel())
        rows.append({"split": split, "eps": eps, "n": ns[split],
                     "accuracy_clean": accuracy(clean),
                     "accuracy_adv": accuracy(adv)})
        log.info("gap %s: clean %.4f adv %.4f (n=%d)", split, rows[-1]["accuracy_clean"],
                 rows[-1]["accuracy_adv"], ns[split])
    settings = {
        **_common_settings(ctx, ["train", "test"], gcfg["n_examples"], min(ns.values())),
        "n_examples_by_split": ns,
        "attack_seed": seed,
        "eps": eps,
        "protocol": "paper",
        "protocol_settings": {"paper": proto.settings()},
        "gap_adv": rows[0]["accuracy_adv"] - rows[1]["accuracy_adv"],
        "gap_clean": rows[0]["accuracy_clean"] - rows[1]["accuracy_clean"],
    }
    return _finish("gap", ctx, settings, rows, {}, t0)


def _model_files(run_dir: Path) -> list[Path]:
    """Every snapshot and ``model.pt``; ``model.pt`` is dropped when a snapshot has its iteration
    (the loop writes the last snapshot and model.pt from the same weights)."""
    from robgan.api import snapshots
    from robgan.provenance import torch_load

    files = list(snapshots(run_dir))
    iters = set()
    for f in files:
        iters.add(int(torch_load(f)["iteration"]))
    final = run_dir / "model.pt"
    if int(torch_load(final)["iteration"]) not in iters:
        files.append(final)
    return files


def evaluate_lipschitz(ctx: EvalContext, *, progress: bool | None = None) -> dict[str, Any]:
    """The ``lipschitz`` record: llv (mean per-example ‖∇ₓ CE‖₂, x in [0,1]) of every classifier
    snapshot and the final model on fixed train and test subsets (``eval.lipschitz.n_examples``)."""
    from robgan.api import load_classifier

    t0 = time.perf_counter()
    ev, lcfg = ctx.eval_cfg, ctx.eval_cfg["lipschitz"]
    bs = int(ev["batch_size"])
    data = {s: eval_subset(ctx.data_cfg, s, lcfg["n_examples"], ev["index_seed"]) for s in ("train", "test")}
    files = _model_files(ctx.run_dir)
    total = len(files) * sum(n_batches(int(d[1].numel()), bs) for d in data.values())
    bar = progress_bar(total, "lipschitz", progress)
    rows, used = [], []
    try:
        for f in files:
            info = checkpoint_info(f)
            model = load_classifier(ctx.run_dir, ctx.device, checkpoint=f, channels_last=channels_last_of(ctx.cfg))
            used.append({"file": str(f.relative_to(ctx.run_dir)), "iteration": info["iteration"],
                         "train_seconds": info["train_seconds"]})
            for split, (x, y, _) in data.items():
                norms = input_gradient_norms(model, x, y, batch_size=bs, device=ctx.device, norm="l2",
                                             progress=bar)
                rows.append({"iteration": info["iteration"], "train_seconds": info["train_seconds"],
                             "split": split, "norm": "l2", "n": int(y.numel()), "llv": float(norms.mean())})
    finally:
        bar.close()
    rows.sort(key=lambda r: (r["iteration"], r["split"]))
    last = max(used, key=lambda u: u["iteration"])
    settings = {
        **_common_settings(ctx, ["train", "test"], lcfg["n_examples"],
                           min(int(d[1].numel()) for d in data.values())),
        "n_examples_by_split": {s: int(d[1].numel()) for s, d in data.items()},
        "quantity": "mean over examples of per-example ||grad_x CE(c(x), y)||_2",
        "norm": "l2",
        "input_scale": "[0,1] (the gradient w.r.t. the authors' [-1,1] input is half of it)",
        "checkpoints": used,
    }
    from robgan.report.records import checkpoint_section

    checkpoint = checkpoint_section("snapshots", last["iteration"], last["train_seconds"])
    return _finish("lipschitz", ctx, settings, rows, {}, t0, checkpoint=checkpoint)
