"""The ``pgd``, ``gap`` and ``lipschitz`` records: what ``robgan eval pgd|gap|lipschitz`` run.

Each command takes a run opened by :func:`robgan.evaluation.context.open_run`, measures with
:mod:`robgan.evaluation.robustness` on the fixed evaluation images
(:func:`robgan.evaluation.context.eval_subset`) and returns one validated record
(``robgan.records``). :func:`finish_record` and :func:`common_settings` are shared with the
``autoattack`` record (:mod:`robgan.evaluation.autoattack`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch

from robgan.evaluation import flags as fl
from robgan.evaluation.context import (
    EvalContext,
    attack_precision_text,
    bf16_attacks_of,
    eval_subset,
    load_run_classifier,
    run_checkpoints,
)
from robgan.evaluation.robustness import (
    PGDProtocol,
    accuracy,
    clean_and_robust,
    input_gradient_norms,
    n_batches,
    outcome_fields,
    pgd_sweep,
    progress_bar,
    robust_correct,
    sweep_flags,
)
from robgan.registry import pgd_protocols

log = logging.getLogger("robgan.evaluation")


def finish_record(kind: str, ctx: EvalContext, settings: dict, rows: list, flags: dict, t0: float,
                  checkpoint: dict | None = None) -> dict[str, Any]:
    """The validated record of an evaluation that started at ``time.perf_counter() == t0``
    (``checkpoint``: default the run's ``model.pt`` section)."""
    from robgan.provenance import device_name
    from robgan.records import make_record

    if ctx.device.type == "cuda":
        torch.cuda.synchronize(ctx.device)
    return make_record(kind, run_dir=ctx.run_dir, checkpoint=checkpoint or ctx.checkpoint, settings=settings,
                       results=rows, flags=flags, elapsed_seconds=time.perf_counter() - t0,
                       device=device_name(ctx.device))


def common_settings(ctx: EvalContext, split: str | list[str], n_requested: int, n: int) -> dict[str, Any]:
    """The settings every robustness record holds: images, seeds, batch size, classes, ε units, and
    (``split_size``) how many images each evaluated split has, so that a report can tell whether the
    whole split is used."""
    return {"split": split, "n_examples": int(n), "n_examples_requested": int(n_requested),
            "index_seed": int(ctx.eval_cfg["index_seed"]), "batch_size": int(ctx.eval_cfg["batch_size"]),
            "n_classes": ctx.n_classes,
            "split_size": {s: split_size(ctx, s) for s in ([split] if isinstance(split, str) else split)},
            "outcomes": OUTCOMES_TEXT,
            "eps_units": "[0,1] pixels (eps_pm1 = 2 eps is the authors' [-1,1] value)"}


#: what a record's ``correct`` strings are, in words (``settings.outcomes``)
OUTCOMES_TEXT = ("correct / correct_clean / correct_adv: one character per evaluated image ('1' correct or "
                 "robust), image i being robgan.data.fixed_indices(split_size, n, index_seed)[i] of the "
                 "row's split")


def split_size(ctx: EvalContext, split: str) -> int:
    """Number of images in ``split`` of the run's dataset."""
    from robgan.data import load_split

    return int(load_split(dict(ctx.data_cfg), split)[1].shape[0])


def evaluate_pgd(ctx: EvalContext, *, progress: bool | None = None) -> dict[str, Any]:
    """The ``pgd`` record: clean + paper + strong (unless null) protocols over ``eval.pgd.eps`` on the test subset,
    plus the paper protocol at ``eval.pgd.large_eps`` (kept in ``settings.sanity``, not in the rows,
    so that the rows are exactly the configured grid)."""
    t0 = time.perf_counter()
    ev, pcfg = ctx.eval_cfg, ctx.eval_cfg["pgd"]
    x, y, _ = eval_subset(ctx.data_cfg, "test", pcfg["n_examples"], ev["index_seed"])
    n = int(y.numel())
    protocols = [PGDProtocol.from_config(name, pcfg[name]) for name in pgd_protocols(ctx.cfg)]
    seed, bs = int(ev["attack_seed"]), int(ev["batch_size"])
    bf16 = bf16_attacks_of(ctx.cfg, ctx.device)
    sweep = pgd_sweep(ctx.model, x, y, pcfg["eps"], protocols, batch_size=bs, device=ctx.device,
                      attack_seed=seed, progress=progress, bf16=bf16)
    large = float(pcfg["large_eps"])
    bar = progress_bar(n_batches(int(sweep.clean.sum()), bs), f"pgd large eps {large:g}", progress)
    large_ok = robust_correct(ctx.model, x, y, protocols[0].threat(large), batch_size=bs, device=ctx.device,
                              seed=seed, attack_mask=sweep.clean, progress=bar, bf16=bf16)
    bar.close()
    large_acc = accuracy(large_ok)
    chance = fl.largest_class_share(y.tolist())
    flags = sweep_flags(sweep, n, large_eps=large, large_eps_accuracy=large_acc, chance=chance)
    settings = {
        **common_settings(ctx, "test", pcfg["n_examples"], n),
        "attack_seed": seed,
        "attack_precision": attack_precision_text(bf16),
        "eps": sorted({float(e) for e in pcfg["eps"]}),
        "protocols": ["clean", *(p.name for p in protocols)],
        "protocol_settings": {p.name: p.settings() for p in protocols},
        "robust_definition": "clean-correct and correct on the attacked image; only clean-correct images "
                             "are attacked; with restarts the worst case per example is kept",
        "sanity": {"large_eps": {"eps": large, "eps_pm1": 2 * large, "protocol": "paper",
                                 **outcome_fields(large_ok), "largest_class_share": chance}},
        "tolerance": fl.noise_tolerance(n),
    }
    return finish_record("pgd", ctx, settings, sweep.rows, flags, t0)


def evaluate_gap(ctx: EvalContext, *, progress: bool | None = None) -> dict[str, Any]:
    """The ``gap`` record: paper-protocol PGD at ``eval.gap.eps`` (and clean accuracy) on fixed
    subsets of the training and the test split (``eval.gap.n_examples`` each, same index seed)."""
    t0 = time.perf_counter()
    ev, gcfg = ctx.eval_cfg, ctx.eval_cfg["gap"]
    eps, seed, bs = float(gcfg["eps"]), int(ev["attack_seed"]), int(ev["batch_size"])
    proto = PGDProtocol.from_config("paper", ev["pgd"]["paper"])
    bf16 = bf16_attacks_of(ctx.cfg, ctx.device)
    rows, ns = [], {}
    for split in ("train", "test"):
        x, y, _ = eval_subset(ctx.data_cfg, split, gcfg["n_examples"], ev["index_seed"])
        clean, adv = clean_and_robust(ctx.model, x, y, proto.threat(eps), batch_size=bs, device=ctx.device,
                                      seed=seed, progress=progress, desc=f"gap {split}", bf16=bf16)
        ns[split] = int(y.numel())
        rows.append({"split": split, "eps": eps, "n": ns[split],
                     "accuracy_clean": accuracy(clean),
                     "accuracy_adv": accuracy(adv),
                     "correct_clean": outcome_fields(clean)["correct"],
                     "correct_adv": outcome_fields(adv)["correct"]})
        log.info("gap %s: clean %.4f adv %.4f (n=%d)", split, rows[-1]["accuracy_clean"],
                 rows[-1]["accuracy_adv"], ns[split])
    settings = {
        **common_settings(ctx, ["train", "test"], gcfg["n_examples"], min(ns.values())),
        "n_examples_by_split": ns,
        "attack_seed": seed,
        "attack_precision": attack_precision_text(bf16),
        "eps": eps,
        "protocol": "paper",
        "protocol_settings": {"paper": proto.settings()},
        "gap_adv": rows[0]["accuracy_adv"] - rows[1]["accuracy_adv"],
        "gap_clean": rows[0]["accuracy_clean"] - rows[1]["accuracy_clean"],
    }
    return finish_record("gap", ctx, settings, rows, {}, t0)


def evaluate_lipschitz(ctx: EvalContext, *, progress: bool | None = None) -> dict[str, Any]:
    """The ``lipschitz`` record: llv (mean per-example ‖∇ₓ CE‖₂, x in [0,1]) of every classifier
    snapshot and the final model (:func:`robgan.evaluation.context.run_checkpoints`) on fixed train
    and test subsets (``eval.lipschitz.n_examples``)."""
    from robgan.records import checkpoint_section

    t0 = time.perf_counter()
    ev, lcfg = ctx.eval_cfg, ctx.eval_cfg["lipschitz"]
    bs = int(ev["batch_size"])
    data = {s: eval_subset(ctx.data_cfg, s, lcfg["n_examples"], ev["index_seed"]) for s in ("train", "test")}
    checkpoints = run_checkpoints(ctx.run_dir)
    total = len(checkpoints) * sum(n_batches(int(d[1].numel()), bs) for d in data.values())
    bar = progress_bar(total, "lipschitz", progress)
    rows, used = [], []
    try:
        for ckpt in checkpoints:
            model = load_run_classifier(ctx, ckpt.path)
            used.append({"file": str(ckpt.path.relative_to(ctx.run_dir)), "iteration": ckpt.iteration,
                         "train_seconds": ckpt.train_seconds})
            for split, (x, y, _) in data.items():
                norms = input_gradient_norms(model, x, y, batch_size=bs, device=ctx.device, norm="l2",
                                             progress=bar)
                rows.append({"iteration": ckpt.iteration, "train_seconds": ckpt.train_seconds,
                             "split": split, "norm": "l2", "n": int(y.numel()), "llv": float(norms.mean())})
    finally:
        bar.close()
    rows.sort(key=lambda r: (r["iteration"], r["split"]))
    last = max(used, key=lambda u: u["iteration"])
    settings = {
        **common_settings(ctx, ["train", "test"], lcfg["n_examples"],
                          min(int(d[1].numel()) for d in data.values())),
        "n_examples_by_split": {s: int(d[1].numel()) for s, d in data.items()},
        "quantity": "mean over examples of per-example ||grad_x CE(c(x), y)||_2",
        "norm": "l2",
        "input_scale": "[0,1] (the gradient w.r.t. the authors' [-1,1] input is half of it)",
        "checkpoints": used,
    }
    checkpoint = checkpoint_section("snapshots", last["iteration"], last["train_seconds"])
    return finish_record("lipschitz", ctx, settings, rows, {}, t0, checkpoint=checkpoint)
