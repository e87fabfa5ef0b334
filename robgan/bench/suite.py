"""The whole benchmark: :func:`run_bench` runs every requested measurement (:mod:`robgan.bench.steps`,
:mod:`robgan.bench.efficiency`) at every shape and assembles them, with the environment, into one
JSON-serialisable result (written by :mod:`robgan.bench.report`)."""

from __future__ import annotations

import gc
import logging
import os
import platform
import time
from dataclasses import asdict

import torch

from robgan import provenance as prov
from robgan.bench import measure
from robgan.bench.efficiency import bench_breakdown
from robgan.bench.settings import DEFINITIONS, SCHEMA_VERSION, TARGETS, BenchSettings
from robgan.bench.shapes import ContextFactory, Shape
from robgan.bench.steps import bench_pgd, bench_step
from robgan.training.methods import METHODS

log = logging.getLogger("robgan.bench")


def _release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def environment(device: torch.device) -> dict:
    """Device, library and host description stamped into the result."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        platform.processor() or platform.machine())
    threads = torch.get_num_threads()
    compute = prov.compute_fingerprint(device)
    # the CPU's kernel set in the name: an AVX2 CPU's figures (float32 where bf16 is not native) and an
    # AVX-512-BF16 CPU's are different machines' (results before this were named without it)
    kernels = f"{compute['cpu_capability']}{'-bf16' if compute['bf16_native'] else ''}".lower()
    slug = measure.slug(f"cuda-{name}") if device.type == "cuda" else measure.slug(
        f"cpu-{platform.machine()}-{kernels}-{threads}t")
    return {
        "type": device.type, "name": name, "description": prov.device_name(device), "slug": slug,
        "compute": compute,
        "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
        "threads": threads, "interop_threads": torch.get_num_interop_threads(), "cpu_count": os.cpu_count(),
        "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
        "matmul_precision": torch.get_float32_matmul_precision(), "host": platform.node(),
        "python": platform.python_version(),
    }


def _comparison(base: dict, new: dict) -> dict:
    """One row of the old-vs-new table: both settings, both medians and the speedup."""
    b, n = base["seconds_per_iter"]["median"], new["seconds_per_iter"]["median"]
    return {"shape": new["shape"], "method": new["method"], "baseline_performance": base["performance"],
            "performance": new["performance"], "baseline_seconds": b, "seconds": n, "speedup": b / n}


def run_bench(shapes: list[Shape], methods: list[str], device: torch.device, settings: BenchSettings, *,
              performance: dict | None, overrides: list[str] | None = None, quick: bool = False,
              note: str = "", baseline: dict | None = None) -> dict:
    """Run every requested measurement and return the result (see ``docs/bench.md``).

    Args:
        shapes: problem sizes (:data:`robgan.bench.shapes.SHAPES`).
        methods: training methods of :data:`robgan.training.METHODS` and/or ``"pgd"``.
        device: where to run.
        settings: repeats, warm-up, iterations.
        performance: the ``performance`` config section to use for every shape (None: each config's own).
        overrides: dotted config overrides applied to every shape.
        quick: recorded in the settings (the caller chose ``BenchSettings.quick``).
        note: free text stored with the result (e.g. "CPU shared with other jobs").
        baseline: performance keys to change for a baseline (e.g. ``{"bf16": False}``): every throughput
            measurement is then also taken under them, just before the benchmarked one
            (``baseline_results``, and ``comparison``: old and new settings side by side).
    """
    items = (*METHODS, "pgd")  # every training method's step, and the paper's PGD
    unknown = [m for m in methods if m not in items]
    if unknown:
        raise ValueError(f"unknown --methods {unknown}: choose from {', '.join(items)}")
    t0 = time.perf_counter()
    env = environment(device)
    calibration = None
    if settings.calibration:
        from robgan.calibration import run_calibration

        log.info("calibration (one thread)")
        calibration = run_calibration()
        log.info("  %.3f s", calibration["seconds"])
    factory = ContextFactory(device, performance=performance, overrides=list(overrides or []),
                             seed=settings.seed)
    results, breakdown, efficiency, baseline_results, comparison = [], [], [], [], []
    for shape in shapes:
        base_factory = None
        if baseline:
            base_perf = {**factory.config(shape, "robgan")["performance"], **baseline}
            base_factory = ContextFactory(device, performance=base_perf, overrides=list(overrides or []),
                                          seed=settings.seed)
        for method in methods:
            for label, fac in (("baseline", base_factory), ("benchmarked", factory)):
                if fac is None:
                    continue
                log.info("bench %s / %s on %s (%s settings)", shape.name, method, env["description"], label)
                if method == "pgd":
                    rec, eff = bench_pgd(fac, shape, settings, env["name"])
                else:
                    rec = bench_step(fac, shape, method, settings, env["name"])
                _release(device)  # the context of the measurement is gone: return its memory
                rec["performance"] = dict(fac.config(shape, "robgan")["performance"])
                if method == "pgd":  # the evaluation's PGD runs float32 whatever performance.bf16 says
                    rec["performance"]["bf16"] = False
                log.info("  %.4g s/iter (IQR %.2g), %.4g images/s", rec["seconds_per_iter"]["median"],
                         rec["seconds_per_iter"]["iqr"], rec["images_per_s"])
                if label == "baseline":
                    baseline_results.append(rec)
                else:
                    results.append(rec)
                    if method == "pgd":
                        efficiency.append(eff)
            if base_factory is not None:
                comparison.append(_comparison(baseline_results[-1], results[-1]))
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
                     "overrides": list(overrides or []), "note": note, "baseline": baseline},
        "definitions": DEFINITIONS, "targets": TARGETS, "calibration": calibration,
        "results": results, "breakdown": breakdown, "pgd_efficiency": efficiency,
        "baseline_results": baseline_results, "comparison": comparison,
        "elapsed_seconds": time.perf_counter() - t0,
    }
