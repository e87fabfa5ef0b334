"""What the benchmark measures: training steps, the paper's PGD, the Rob-GAN step's cost breakdown
and the PGD efficiency; :func:`run_bench` assembles them into one JSON-serialisable result."""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch

from robgan import attacks, losses
from robgan import provenance as prov
from robgan.attacks import frozen_mode
from robgan.bench import measure
from robgan.bench.shapes import ContextFactory, Shape
from robgan.bench.syncs import probe_host_syncs
from robgan.models import ClassifierView
from robgan.training.context import Context
from robgan.training.methods import METHODS, GanIteration

log = logging.getLogger("robgan.bench")

SCHEMA_VERSION = 1
#: Targets printed with the results (issue "Performance: a benchmark harness ...").
TARGETS = {"step_over_parts_max": 1.15, "pgd_efficiency_min": 0.9}

DEFINITIONS = {
    "seconds_per_iter": "wall seconds of one iteration: the median (and quartiles) over repeats of "
                        "(time of iters_per_repeat consecutive iterations) / iters_per_repeat, after "
                        "warm-up; CUDA is synchronised before and after each repeat only",
    "iteration": "one call of the method's training step (GAN methods: n_dis D updates + 1 G update, as "
                 "one generator iteration of robgan train), or for 'pgd' one paper-protocol PGD attack "
                 "(class CE, eval.pgd.paper steps, no restarts) on one eval batch",
    "images_per_iter": "REAL training images consumed per iteration: n_dis x batch_size for GAN methods, "
                       "batch_size for advtrain and robgan_ft (whose lam * generated images are counted "
                       "apart in fake_images_per_iter), the eval batch size for pgd",
    "images_per_s": "images_per_iter / median seconds_per_iter",
    "iterations_per_s": "1 / median seconds_per_iter",
    "memory": "CUDA: torch.cuda.max_memory_allocated over warm-up + timed repeats (absolute: models, "
              "optimiser state, device-resident dataset, activations); CPU: peak RSS of the process over "
              "the same region (VmHWM reset through /proc/self/clear_refs), delta = peak - RSS before "
              "warm-up (what the steps add on top of the built models and data)",
    "flops_per_iter": "FLOPs of one iteration counted once, outside the timed loop, with "
                      "torch.utils.flop_counter.FlopCounterMode (matmuls and convolutions, forward and "
                      "backward; elementwise ops excluded)",
    "achieved": "flops_per_iter / median seconds_per_iter (GFLOP/s; TFLOP/s and the fraction of the "
                "device's dense peak for peak_dtype on CUDA)",
    "host_syncs_per_iter": "operations of one iteration (the loop's apply_schedule + the step, data "
                           "included; for pgd one attack) that make the host wait for a GPU (scalar "
                           "reads such as .item() / bool(t), data-dependent shapes such as nonzero or "
                           "boolean-mask indexing, .cpu() / .numpy() / .tolist()), counted by "
                           "robgan.bench.syncs on any device (on the CPU a proxy: what the same code "
                           "would wait for on a GPU); torch.optim's host-side step counter excluded; "
                           "0 = the inner loop never waits",
    "breakdown": "Rob-GAN step parts timed in isolation (interleaved repeats) on the same context, each for a whole "
                 "generator iteration (n_dis calls of the per-D-update parts): data = stream.next(); "
                 "pgd = the co-training attack on a real batch; fakes_for_d = the no-grad generation "
                 "of the fakes D sees; d_update = D's forward/backward/Adam step given x_adv and fakes; "
                 "g_update = fake generation + D forward + backward + G's Adam step; other = step - all "
                 "parts. ratio = median over repeats of step / (pgd + d_update + g_update) of the "
                 "same interleaved round (ratio_of_medians: the same from the medians)",
    "pgd_efficiency": "bare / pgd: seconds of a bare loop of the same number of forward + input-"
                      "gradient backward passes of the same objective, model, mode and batch, divided "
                      "by the seconds of the PGD call, both timed in interleaved repeats; the median "
                      "over repeats of the per-round ratio (efficiency_of_medians: the ratio of the "
                      "medians); 1.0 = PGD adds nothing to its passes",
}


@dataclass(frozen=True)
class BenchSettings:
    """How long and how often to measure.

    Attributes:
        repeats: timed repeats (median and IQR are taken over them).
        warmup: untimed calls before the first repeat (torch.compile compiles here).
        iters: calls per repeat; None calibrates it to about ``target_repeat_s`` per repeat.
        target_repeat_s: the calibration's target.
        pgd_batch: batch of the PGD benchmark; None = the config's ``eval.batch_size``.
        breakdown: time the Rob-GAN step's parts and the PGD efficiency (when robgan is benchmarked).
        seed: run seed of the contexts (model initialisation, data order).
    """

    repeats: int = 5
    warmup: int = 2
    iters: int | None = None
    target_repeat_s: float = 0.25
    pgd_batch: int | None = None
    breakdown: bool = True
    seed: int = 0

    @classmethod
    def quick(cls, **kw) -> BenchSettings:
        """Smoke-test settings: 1 warm-up, 2 repeats of 1 call, PGD on at most 64 images."""
        base = {"repeats": 2, "warmup": 1, "iters": 1, "pgd_batch": 64}
        base.update({k: v for k, v in kw.items() if v is not None})
        return cls(**base)


# --------------------------------------------------------------------------------------------------
# Helpers


def _time(fn: Callable[[], object], ctx: Context, s: BenchSettings) -> measure.Timing:
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


def _count(fn: Callable[[], object], ctx: Context) -> int | None:
    with eager_forwards(ctx):
        return measure.count_flops(fn)


def _throughput(flops: int | None, seconds: float, device: torch.device, device_name: str,
                bf16: bool) -> dict:
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


def paired_ratio(num: measure.Timing, den: list[measure.Timing]) -> float:
    """Median over repeats of ``num_r / sum(den_r)``, repeat by repeat (the callables were timed in
    the same interleaved round r): a slowdown that hits one round hits both sides of its ratio, so a
    shared machine biases this far less than the ratio of the medians."""
    ratios = [n / sum(parts) for n, *parts in zip(num.values, *(d.values for d in den), strict=True)]
    return float(np.median(ratios))


def _release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _model_summary(cfg: dict, ctx: Context) -> dict:
    return {"z_dim": int(cfg["model"]["z_dim"]), "ngf": int(cfg["model"]["ngf"]),
            "ndf": int(cfg["model"]["ndf"]), "d_arch": cfg["model"]["d_arch"],
            "d_class": type(ctx.modules["D"]).__name__, "n_classes": ctx.info.n_classes,
            "channels": ctx.info.channels, "resolution": ctx.info.resolution,
            "parameters": {k: sum(p.numel() for p in m.parameters()) for k, m in ctx.modules.items()}}


def _threat_summary(threat) -> dict | None:
    if threat is None:
        return None
    return {"eps": threat.eps, "step_size": threat.step_size, "steps": threat.steps,
            "random_start": threat.random_start, "restarts": threat.restarts}


def _finite(metrics: dict) -> bool:
    return all(bool(torch.isfinite(v).all()) for v in metrics.values())


# --------------------------------------------------------------------------------------------------
# Training steps


def images_per_iter(method: str, cfg: dict) -> tuple[int, int]:
    """(real, generated) images one training iteration of ``method`` consumes (see DEFINITIONS)."""
    spec = METHODS[method]
    section = cfg[spec.section]
    bs = int(section["batch_size"])
    if spec.section == "train":
        return int(cfg["train"]["n_dis"]) * bs, 0
    if spec.section == "finetune":  # λ > 0: one generated image per real one
        return bs, (bs if float(cfg["finetune"]["lam"]) > 0 else 0)
    return bs, 0


def bench_step(factory: ContextFactory, shape: Shape, method: str, s: BenchSettings,
               device_name: str) -> dict:
    """Time ``METHODS[method].step`` (with the loop's per-iteration ``apply_schedule``) at ``shape``."""
    ctx = factory.build(shape, method)
    spec, cfg = METHODS[method], ctx.cfg
    counter = itertools.count()
    last: dict = {}

    def one() -> None:
        ctx.apply_schedule(next(counter) % ctx.total)
        last.update(spec.step(ctx))

    meter = measure.MemoryMeter(ctx.device)
    meter.start()
    timing = _time(one, ctx, s)
    memory = meter.stop()
    finite = _finite(last)
    flops = _count(lambda: spec.step(ctx), ctx)
    with eager_forwards(ctx):
        syncs = probe_host_syncs(one, ctx.device)
    real, fake = images_per_iter(method, cfg)
    med = timing.median
    rec = {
        "shape": shape.name, "method": method, "kind": "train_step", "section": spec.section,
        "batch_size": ctx.batch_size, "n_dis": int(cfg["train"]["n_dis"]) if spec.section == "train" else 1,
        "images_per_iter": real, "fake_images_per_iter": fake,
        "seconds_per_iter": timing.as_dict(), "iterations_per_s": 1.0 / med, "images_per_s": real / med,
        "memory": memory, **_throughput(flops, med, ctx.device, device_name, ctx.bf16),
        "losses_finite": finite, "host_syncs_per_iter": len(syncs), "host_sync_ops": syncs.summary(),
        "attack": _threat_summary(ctx.threat), "model": _model_summary(cfg, ctx),
        "augment": cfg["data"]["augment"], "data": factory.data_description(shape),
    }
    return rec


# --------------------------------------------------------------------------------------------------
# PGD (evaluation, paper protocol)


def _eval_batch(ctx: Context, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` training images (repeated if the dataset is smaller), float [0,1] on the device."""
    images, labels = ctx.stream.images, ctx.stream.labels
    idx = torch.arange(n, device=images.device) % images.shape[0]
    return images[idx].float().div_(255.0), labels[idx]


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


def bench_pgd(factory: ContextFactory, shape: Shape, s: BenchSettings, device_name: str
              ) -> tuple[dict, dict]:
    """Paper-protocol PGD on the AC discriminator's class head (as ``robgan eval pgd`` runs it: eval
    mode, no autocast). Returns the throughput record and the PGD-efficiency record."""
    from robgan.evaluation.robustness import PGDProtocol

    ctx = factory.build(shape, "robgan")
    cfg, ev = ctx.cfg, ctx.cfg["eval"]
    protocol = PGDProtocol.from_config("paper", ev["pgd"]["paper"])
    eps = float(ev["gap"]["eps"])
    threat = protocol.threat(eps)
    batch = int(s.pgd_batch or ev["batch_size"])
    x, y = _eval_batch(ctx, batch)
    model = ctx.classifier

    def attack() -> torch.Tensor:
        return attacks.pgd_classifier(model, x, y, threat)

    meter = measure.MemoryMeter(ctx.device)
    meter.start()
    timing = _time(attack, ctx, s)
    memory = meter.stop()
    flops = _count(lambda: attacks.pgd_classifier(ctx.classifier, x, y, threat), ctx)
    syncs = probe_host_syncs(attack, ctx.device)
    med = timing.median
    rec = {
        "shape": shape.name, "method": "pgd", "kind": "pgd_eval", "section": "eval",
        "batch_size": batch, "n_dis": 1, "images_per_iter": batch, "fake_images_per_iter": 0,
        "seconds_per_iter": timing.as_dict(), "iterations_per_s": 1.0 / med, "images_per_s": batch / med,
        "memory": memory, **_throughput(flops, med, ctx.device, device_name, False),
        "losses_finite": True, "host_syncs_per_iter": len(syncs), "host_sync_ops": syncs.summary(),
        "attack": {**_threat_summary(threat), "protocol": "paper",
                                          "objective": "class cross-entropy", "autocast": False},
        "model": _model_summary(cfg, ctx), "augment": "none", "data": factory.data_description(shape),
    }

    def objective(xa: torch.Tensor) -> torch.Tensor:
        return losses.ce_per_example(model(xa), y)

    eff = _efficiency(ctx, s, shape, "eval_paper", batch, threat.steps, attack, lambda: _in_mode(
        model, False, lambda: bare_input_gradients(objective, x, threat.steps)), model)
    return rec, eff


def _in_mode(model: torch.nn.Module, train: bool | None, fn: Callable[[], object]) -> object:
    with frozen_mode(model, train):
        return fn()


def _efficiency(ctx: Context, s: BenchSettings, shape: Shape, attack: str, batch: int, steps: int,
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
           "attack": _threat_summary(ctx.threat), "seconds": sec,
           "timings": {k: v.as_dict() for k, v in t.items()}, "other_seconds": sec["step"] - parts_sum,
           "shares": shares, "ratio": ratio,
           "ratio_of_medians": sec["step"] / (sec["pgd"] + sec["d_update"] + sec["g_update"]),
           "target": TARGETS["step_over_parts_max"], "met": ratio <= TARGETS["step_over_parts_max"]}

    d = ctx.forward["D"]

    def objective(xa: torch.Tensor) -> torch.Tensor:
        sc, c = d(xa)
        return losses.d_full_loss_real_per_example(sc, c, y)

    steps = ctx.threat.steps
    eff = _efficiency(ctx, s, shape, "cotrain", ctx.batch_size, steps, lambda: step_fn.attack_reals(ctx, x, y),
                      lambda: _in_mode(d, None, lambda: bare_input_gradients(objective, x, steps)),
                      ctx.modules["D"])
    return rec, eff


# --------------------------------------------------------------------------------------------------
# The whole benchmark


def environment(device: torch.device) -> dict:
    """Device, library and host description stamped into the result."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        platform.processor() or platform.machine())
    threads = torch.get_num_threads()
    slug = measure.slug(f"cuda-{name}") if device.type == "cuda" else measure.slug(
        f"cpu-{platform.machine()}-{threads}t")
    return {
        "type": device.type, "name": name, "description": prov.device_name(device), "slug": slug,
        "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
        "threads": threads, "interop_threads": torch.get_num_interop_threads(), "cpu_count": os.cpu_count(),
        "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
        "matmul_precision": torch.get_float32_matmul_precision(), "host": platform.node(),
        "python": platform.python_version(),
    }


def run_bench(shapes: list[Shape], methods: list[str], device: torch.device, settings: BenchSettings, *,
              performance: dict | None, overrides: list[str] | None = None, quick: bool = False,
              note: str = "") -> dict:
    """Run every requested measurement and return the result (see ``benchmarks/README.md``).

    Args:
        shapes: problem sizes (:data:`robgan.bench.shapes.SHAPES`).
        methods: training methods of :data:`robgan.training.METHODS` and/or ``"pgd"``.
        device: where to run.
        settings: repeats, warm-up, iterations.
        performance: the ``performance`` config section to use for every shape (None: each config's own).
        overrides: dotted config overrides applied to every shape.
        quick: recorded in the settings (the caller chose ``BenchSettings.quick``).
        note: free text stored with the result (e.g. "CPU shared with other jobs").
    """
    items = (*METHODS, "pgd")  # every training method's step, and the paper's PGD
    unknown = [m for m in methods if m not in items]
    if unknown:
        raise ValueError(f"unknown --methods {unknown}: choose from {', '.join(items)}")
    t0 = time.perf_counter()
    env = environment(device)
    factory = ContextFactory(device, performance=performance, overrides=list(overrides or []),
                             seed=settings.seed)
    results, breakdown, efficiency = [], [], []
    for shape in shapes:
        for method in methods:
            log.info("bench %s / %s on %s", shape.name, method, env["description"])
            if method == "pgd":
                rec, eff = bench_pgd(factory, shape, settings, env["name"])
                efficiency.append(eff)
            else:
                rec = bench_step(factory, shape, method, settings, env["name"])
            _release(device)  # the context of the measurement is gone: return its memory
            rec["performance"] = factory.config(shape, "robgan")["performance"]
            results.append(rec)
            log.info("  %.4g s/iter (IQR %.2g), %.4g images/s", rec["seconds_per_iter"]["median"],
                     rec["seconds_per_iter"]["iqr"], rec["images_per_s"])
        if settings.breakdown and "robgan" in methods:
            log.info("bench %s / robgan step breakdown", shape.name)
            rec, eff = bench_breakdown(factory, shape, settings)
            _release(device)
            breakdown.append(rec)
            efficiency.append(eff)
    git = prov.git_info()
    return {
        "schema_version": SCHEMA_VERSION, "kind": "bench", "created": prov.utc_now(),
        "git": git, "packages": prov.package_versions(), "device": env,
        "settings": {**asdict(settings), "quick": quick, "shapes": [sh.name for sh in shapes],
                     "shape_descriptions": {sh.name: sh.description for sh in shapes},
                     "methods": list(methods), "performance": performance or "from each config",
                     "overrides": list(overrides or []), "note": note},
        "definitions": DEFINITIONS, "targets": TARGETS,
        "results": results, "breakdown": breakdown, "pgd_efficiency": efficiency,
        "elapsed_seconds": time.perf_counter() - t0,
    }
