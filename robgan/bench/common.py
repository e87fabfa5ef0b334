"""What every measurement of the benchmark shares: timing a callable on a context, counting its FLOPs
on the eager modules, and the record fields that describe the model, the attack and the FLOP/s."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from robgan.bench import measure
from robgan.bench.settings import BenchSettings
from robgan.models import ClassifierView
from robgan.training.context import Context


def timed(fn: Callable[[], object], ctx: Context, s: BenchSettings) -> measure.Timing:
    """Time ``fn`` on the context's device with the settings' warm-up, repeats and calls per repeat."""
    return measure.time_calls(fn, ctx.device, warmup=s.warmup, repeats=s.repeats, iters=s.iters,
                              target_repeat_s=s.target_repeat_s)


@contextlib.contextmanager
def eager_forwards(ctx: Context) -> Iterator[None]:
    """Temporarily route the context's forward passes through the eager modules (FLOP counting does
    not see inside torch.compile'd graphs; the arithmetic is the same)."""
    saved = ctx.forward, ctx.classifier
    ctx.forward = dict(ctx.modules)
    ctx.classifier = ClassifierView(ctx.modules["D"]) if saved[1] is not None else None
    try:
        yield
    finally:
        ctx.forward, ctx.classifier = saved


def eager_flops(fn: Callable[[], object], ctx: Context) -> int | None:
    """FLOPs of one call of ``fn`` on the eager modules (:func:`robgan.bench.measure.count_flops`)."""
    with eager_forwards(ctx):
        return measure.count_flops(fn)


def throughput(flops: int | None, seconds: float, device: torch.device, device_name: str,
               bf16: bool) -> dict:
    """The record's FLOP/s fields: achieved GFLOP/s, and on CUDA TFLOP/s and the fraction of the device's
    dense peak for the compute dtype."""
    dtype, why = measure.compute_dtype(device, bf16)
    out = {"flops_per_iter": flops, "achieved_gflops_per_s": None, "achieved_tflops_per_s": None,
           "peak_dtype": dtype if device.type == "cuda" else None, "peak_dtype_reason": why,
           "peak_tflops": None, "fraction_of_peak": None}
    if flops is None or seconds <= 0:
        return out
    out["achieved_gflops_per_s"] = flops / seconds / 1e9
    if device.type == "cuda":
        out["achieved_tflops_per_s"] = flops / seconds / 1e12
        peak = measure.peak_tflops(device_name, dtype)
        out["peak_tflops"] = peak if peak is not None else "unknown"
        out["fraction_of_peak"] = out["achieved_tflops_per_s"] / peak if peak else "unknown"
    return out


def model_summary(cfg: dict, ctx: Context) -> dict:
    """The record's ``model`` field: widths, D architecture and class, data shape, parameter counts."""
    return {"z_dim": int(cfg["model"]["z_dim"]), "ngf": int(cfg["model"]["ngf"]),
            "ndf": int(cfg["model"]["ndf"]), "d_arch": cfg["model"]["d_arch"],
            "d_class": type(ctx.modules["D"]).__name__, "n_classes": ctx.info.n_classes,
            "channels": ctx.info.channels, "resolution": ctx.info.resolution,
            "parameters": {k: sum(p.numel() for p in m.parameters()) for k, m in ctx.modules.items()}}


def threat_summary(threat) -> dict | None:
    """The record's ``attack`` field: the threat model's settings (None without an attack)."""
    if threat is None:
        return None
    return {"eps": threat.eps, "step_size": threat.step_size, "steps": threat.steps,
            "random_start": threat.random_start, "restarts": threat.restarts}


def all_finite(metrics: dict) -> bool:
    """Whether every tensor a step returned (its losses) is finite."""
    return all(bool(torch.isfinite(v).all()) for v in metrics.values())
