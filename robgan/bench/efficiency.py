"""Ratios measured on one context: the Rob-GAN step's cost breakdown (each part timed alone, against the
whole step) and PGD's efficiency (a bare loop of its forward/backward passes against the attack), both
timed in interleaved repeats (:func:`robgan.bench.measure.time_interleaved`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch

from robgan import losses
from robgan.attacks import frozen_mode
from robgan.bench import measure
from robgan.bench.common import threat_summary
from robgan.bench.settings import TARGETS, BenchSettings
from robgan.bench.shapes import ContextFactory, Shape
from robgan.training.context import Context
from robgan.training.methods import METHODS, GanIteration


def paired_ratio(num: measure.Timing, den: list[measure.Timing]) -> float:
    """Median over repeats of ``num_r / sum(den_r)``, repeat by repeat (the callables were timed in
    the same interleaved round r): a slowdown that hits one round hits both sides of its ratio, so a
    shared machine biases this far less than the ratio of the medians."""
    ratios = [n / sum(parts) for n, *parts in zip(num.values, *(d.values for d in den), strict=True)]
    return float(np.median(ratios))


def bare_input_gradients(model_objective: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                         passes: int) -> torch.Tensor:
    """``passes`` forward + input-gradient backward passes of a per-example objective at ``x``: the
    arithmetic of a PGD attack without its step, sign, projection and bookkeeping."""
    grad = x
    for _ in range(passes):
        xa = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(model_objective(xa).sum(), xa)
    return grad


@contextlib.contextmanager
def frozen_parameters(model: torch.nn.Module) -> Iterator[None]:
    """Temporarily ``requires_grad_(False)`` on every parameter (restored after)."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in flags:
            p.requires_grad_(f)


def in_mode(model: torch.nn.Module, train: bool | None, fn: Callable[[], object]) -> object:
    """``fn()`` with ``model`` in train (True) / eval (False) / its current (None) mode, restored after."""
    with frozen_mode(model, train):
        return fn()


def pgd_efficiency(ctx: Context, s: BenchSettings, shape: Shape, attack: str, batch: int, steps: int,
                   pgd: Callable[[], object], bare: Callable[[], object], model: torch.nn.Module) -> dict:
    """PGD vs a bare loop of its passes (and the same loop with frozen parameters), timed interleaved."""

    def bare_frozen() -> object:
        with frozen_parameters(model):
            return bare()

    t = measure.time_interleaved({"pgd": pgd, "bare": bare, "bare_params_frozen": bare_frozen}, ctx.device,
                                 warmup=s.warmup, repeats=s.repeats, iters=s.iters,
                                 target_repeat_s=s.target_repeat_s)
    eff = paired_ratio(t["bare"], [t["pgd"]])
    return {"shape": shape.name, "attack": attack, "batch_size": batch, "steps": steps,
            "pgd_seconds": t["pgd"].median, "bare_seconds": t["bare"].median,
            "bare_params_frozen_seconds": t["bare_params_frozen"].median,
            "timings": {k: v.as_dict() for k, v in t.items()}, "efficiency": eff,
            "efficiency_of_medians": t["bare"].median / t["pgd"].median,
            "target": TARGETS["pgd_efficiency_min"], "met": eff >= TARGETS["pgd_efficiency_min"]}


def eval_pgd_efficiency(ctx: Context, s: BenchSettings, shape: Shape, model: torch.nn.Module, x: torch.Tensor,
                        y: torch.Tensor, threat, attack: Callable[[], object]) -> dict:
    """Efficiency of the paper-protocol PGD ``attack`` on the classifier ``model`` (eval mode) at ``x``, ``y``."""

    def objective(xa: torch.Tensor) -> torch.Tensor:
        return losses.ce_per_example(model(xa), y)

    return pgd_efficiency(ctx, s, shape, "eval_paper", int(x.shape[0]), threat.steps, attack, lambda: in_mode(
        model, False, lambda: bare_input_gradients(objective, x, threat.steps)), model)


# --------------------------------------------------------------------------------------------------
# Rob-GAN step breakdown


def bench_breakdown(factory: ContextFactory, shape: Shape, s: BenchSettings) -> tuple[dict, dict]:
    """Cost of each part of one Rob-GAN generator iteration, and the co-training PGD's efficiency."""
    ctx = factory.build(shape, "robgan")
    step_fn = METHODS["robgan"].step
    if not isinstance(step_fn, GanIteration):
        raise TypeError(f"the robgan step is a {type(step_fn).__name__}, not a GanIteration: no parts to time")
    n = int(ctx.cfg["train"]["n_dis"])
    step_fn(ctx)  # allocate Adam's state before the parts are timed
    x, y = step_fn.data(ctx)
    x_adv = step_fn.attack_reals(ctx, x, y)
    fake, y_fake = step_fn.fakes_for_d(ctx)

    def rep(fn: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(n):
                fn()
        return run

    t = measure.time_interleaved({
        "data": rep(lambda: step_fn.data(ctx)),
        "pgd": rep(lambda: step_fn.attack_reals(ctx, x, y)),
        "fakes_for_d": rep(lambda: step_fn.fakes_for_d(ctx)),
        "d_update": rep(lambda: step_fn.d_update(ctx, x_adv, y, fake, y_fake)),
        "g_update": lambda: step_fn.g_update(ctx),
        "step": lambda: step_fn(ctx),
    }, ctx.device, warmup=s.warmup, repeats=s.repeats, iters=s.iters, target_repeat_s=s.target_repeat_s)
    sec = {k: v.median for k, v in t.items()}
    ratio = paired_ratio(t["step"], [t["pgd"], t["d_update"], t["g_update"]])
    parts_sum = sum(v for k, v in sec.items() if k != "step")
    shares = {k: sec[k] / sec["step"] for k in sec if k != "step"}
    shares["other"] = (sec["step"] - parts_sum) / sec["step"]
    rec = {"shape": shape.name, "method": "robgan", "n_dis": n, "batch_size": ctx.batch_size,
           "attack": threat_summary(ctx.threat), "seconds": sec,
           "timings": {k: v.as_dict() for k, v in t.items()}, "other_seconds": sec["step"] - parts_sum,
           "shares": shares, "ratio": ratio,
           "ratio_of_medians": sec["step"] / (sec["pgd"] + sec["d_update"] + sec["g_update"]),
           "target": TARGETS["step_over_parts_max"], "met": ratio <= TARGETS["step_over_parts_max"]}

    d = ctx.forward["D"]

    def objective(xa: torch.Tensor) -> torch.Tensor:
        sc, c = d(xa)
        return losses.d_full_loss_real_per_example(sc, c, y)

    steps = ctx.threat.steps
    eff = pgd_efficiency(ctx, s, shape, "cotrain", ctx.batch_size, steps, lambda: step_fn.attack_reals(ctx, x, y),
                         lambda: in_mode(d, None, lambda: bare_input_gradients(objective, x, steps)),
                         ctx.modules["D"])
    return rec, eff
