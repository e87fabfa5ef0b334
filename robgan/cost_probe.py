"""Seconds per training iteration of each method, measured alone: the cost a time claim is judged on.

The training logs' ``train_seconds`` are wall-clock seconds of jobs that share the machine's cores
with whatever else the DAG runs beside them, so two methods' times to a target IS compare only as well
as their neighbours were alike (issue 22, §3). The probe measures instead what one iteration of each
method costs **alone**: one process (the DAG's ``cost_probe`` rule reserves every core, so Snakemake
runs nothing beside it), the training jobs' thread count, the experiment's shapes (n_dis, attack steps,
batch, widths, bf16 / channels_last from its config: the same :class:`~robgan.training.context.Context`
and step function as the training loop, :mod:`robgan.training.methods`), freshly initialised models,
seed 0, ``WARMUP`` untimed iterations, then ``REPEATS`` timed repeats of ``ITERS`` iterations; the
cost is the **median** seconds per iteration over the repeats. Time to target in seconds is then each
seed's iteration bracket × the method's cost (:mod:`robgan.report.evaluators`).

Synthetic uint8 images of the dataset's shape feed the step (its cost does not depend on the pixel
values): the probe needs no dataset and loads none. A fine-tuning label gets an untrained generator
(the one it would load from its robgan run has the same shapes).

It is the experiment-specific sibling of :mod:`robgan.calibration` (a fixed workload that says how fast
the machine is), whose host description it shares. ``robgan cost-probe`` runs it; the record is
``results/<experiment>/cost_probe.json`` (docs/outputs.md).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ITERS", "REPEATS", "VERSION", "WARMUP", "load_cost_probe", "median_seconds", "run_cost_probe",
           "seconds_per_iteration"]

WARMUP, REPEATS, ITERS = 2, 3, 1
VERSION = 1
#: The file name of the record under ``results/<experiment>/``.
FILE_NAME = "cost_probe.json"


def median_seconds(values: Sequence[float]) -> float:
    """The median of ``values`` (:func:`statistics.median`; ValueError for no values)."""
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(float(x) for x in values))


def time_repeats(step: Callable[[], object], sync: Callable[[], None], *, warmup: int, repeats: int,
                 iters: int) -> list[float]:
    """Seconds per call of ``step`` in each of ``repeats`` timed repeats of ``iters`` calls, after
    ``warmup`` untimed calls; ``sync`` waits for queued device work around each timed region."""
    if warmup < 0 or repeats < 1 or iters < 1:
        raise ValueError(f"need warmup >= 0, repeats >= 1, iters >= 1; got {warmup}, {repeats}, {iters}")
    for _ in range(warmup):
        step()
    out = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        sync()
        out.append((time.perf_counter() - t0) / iters)
    return out


def _label_config(cfg: Mapping[str, Any], label: str) -> dict:
    """The resolved config of one training run of ``label`` (seed 0), as ``robgan train`` /
    ``robgan finetune`` would build it (fine-tuning: its ``finetune.lam``)."""
    import copy

    from robgan import pipeline, registry

    out = copy.deepcopy(dict(cfg))
    info = registry.LABELS[label].info
    if info.from_run is not None:
        out["finetune"] = {**out["finetune"], "lam": pipeline.finetune_lambda(cfg, label)}
    out["run"] = {"method": info.name, "label": label, "seed": 0, "init_from": None}
    return out


def _probe_label(cfg: dict, device, warmup: int, repeats: int, iters: int) -> dict:
    import torch

    from robgan import data as rdata
    from robgan.config import method_section_view
    from robgan.training.context import Context
    from robgan.training.methods import get_method

    spec = get_method(cfg["run"]["method"])
    info = rdata.dataset_info(cfg["data"])
    gen = torch.Generator().manual_seed(0)
    n = 4 * int(method_section_view(cfg, spec.name)["batch_size"]) * max(
        1, int(method_section_view(cfg, spec.name).get("n_dis", 1)))
    images = torch.randint(0, 256, (n, info.channels, info.resolution, info.resolution), generator=gen,
                           dtype=torch.uint8)
    labels = torch.randint(0, info.n_classes, (n,), generator=gen)
    torch.manual_seed(0)  # model initialisation draws from the global RNG
    ctx = Context(cfg, spec, device, train_data=(images, labels), info=info)
    counter = iter(range(10**9))

    def step() -> None:
        ctx.apply_schedule(next(counter) % ctx.total)  # the loop's per-iteration schedule, as in training
        spec.step(ctx)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    values = time_repeats(step, sync, warmup=warmup, repeats=repeats, iters=iters)
    section = method_section_view(cfg, spec.name)
    return {"method": spec.name, "seconds_per_iteration": round(median_seconds(values), 6),
            "repeats_seconds": [round(v, 6) for v in values], "batch_size": int(section["batch_size"]),
            "n_dis": int(section.get("n_dis", 1)), "attack_steps": ctx.threat.steps if ctx.threat else 0,
            "bf16": ctx.bf16, "channels_last": ctx.channels_last}


def run_cost_probe(cfg: Mapping[str, Any], labels: Sequence[str] | None = None, *, threads: int = 1,
                   warmup: int = WARMUP, repeats: int = REPEATS, iters: int = ITERS) -> dict:
    """Measure every label of the experiment (default: :func:`robgan.registry.experiment_labels`) alone.

    Args:
        cfg: the resolved experiment config.
        labels: the run labels to measure.
        threads: torch intra-op threads (the training jobs'); the caller's count is restored.

    Returns the record: ``{"experiment", "version", "labels": {label: {"method",
    "seconds_per_iteration" (median), "repeats_seconds", "batch_size", "n_dis", "attack_steps", "bf16",
    "channels_last"}}, "threads", "warmup", "repeats", "iters_per_repeat", "seed", "device", "torch",
    "host", "seconds"}`` (``seconds``: the probe's own wall time).
    """
    import torch

    from robgan import provenance as prov
    from robgan import registry
    from robgan.calibration import host_description

    labels = list(labels) if labels is not None else registry.experiment_labels(cfg)
    device = prov.resolve_device(cfg["device"])
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    t0 = time.perf_counter()
    try:
        per_label = {lab: _probe_label(_label_config(cfg, lab), device, warmup, repeats, iters) for lab in labels}
    finally:
        torch.set_num_threads(before)
    return {"experiment": cfg.get("experiment"), "version": VERSION, "labels": per_label,
            "threads": int(threads), "warmup": warmup, "repeats": repeats, "iters_per_repeat": iters, "seed": 0,
            "device": prov.device_name(device), "torch": torch.__version__, "host": host_description(),
            "seconds": round(time.perf_counter() - t0, 3)}


def load_cost_probe(path: str | Path | None) -> dict | None:
    """The record at ``path``; None when there is none (records of a run that predates the probe)."""
    if path is None or not Path(path).is_file():
        return None
    doc = json.loads(Path(path).read_text())
    if not isinstance(doc, dict) or not isinstance(doc.get("labels"), dict):
        raise ValueError(f"{path}: not a cost_probe record (no 'labels' mapping); re-run the cost_probe rule")
    return doc


def seconds_per_iteration(probe: Mapping[str, Any] | None, label: str) -> float | None:
    """The measured seconds per iteration of ``label`` (None when the probe lacks it)."""
    if not probe:
        return None
    row = (probe.get("labels") or {}).get(label)
    if not row or not row.get("seconds_per_iteration"):
        return None
    return float(row["seconds_per_iteration"])
