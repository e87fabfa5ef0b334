"""Throughput records: one training step of a method, or one paper-protocol PGD attack, at a shape —
seconds, images/s, memory, FLOP/s and host syncs per iteration."""

from __future__ import annotations

import itertools

import torch

from robgan import attacks
from robgan.bench import measure
from robgan.bench.common import (
    all_finite,
    eager_flops,
    eager_forwards,
    model_summary,
    threat_summary,
    throughput,
    timed,
)
from robgan.bench.efficiency import eval_pgd_efficiency
from robgan.bench.settings import BenchSettings
from robgan.bench.shapes import ContextFactory, Shape
from robgan.bench.syncs import probe_host_syncs
from robgan.config import method_section_view
from robgan.training.context import Context
from robgan.training.methods import METHODS

# --------------------------------------------------------------------------------------------------
# Training steps


def images_per_iter(method: str, cfg: dict) -> tuple[int, int]:
    """(real, generated) images one training iteration of ``method`` consumes
    (:data:`robgan.bench.settings.DEFINITIONS`)."""
    spec = METHODS[method]
    section = cfg[spec.section]
    bs = int(section["batch_size"])
    if spec.section == "train":
        return int(method_section_view(cfg, method)["n_dis"]) * bs, 0
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
    timing = timed(one, ctx, s)
    memory = meter.stop()
    finite = all_finite(last)
    flops = eager_flops(lambda: spec.step(ctx), ctx)
    with eager_forwards(ctx):
        syncs = probe_host_syncs(one, ctx.device)
    real, fake = images_per_iter(method, cfg)
    n_dis = int(method_section_view(cfg, method)["n_dis"]) if spec.section == "train" else 1
    med = timing.median
    rec = {
        "shape": shape.name, "method": method, "kind": "train_step", "section": spec.section,
        "batch_size": ctx.batch_size, "n_dis": n_dis,
        "images_per_iter": real, "fake_images_per_iter": fake,
        "seconds_per_iter": timing.as_dict(), "iterations_per_s": 1.0 / med, "images_per_s": real / med,
        "memory": memory, **throughput(flops, med, ctx.device, device_name, ctx.bf16),
        "losses_finite": finite, "host_syncs_per_iter": len(syncs), "host_sync_ops": syncs.summary(),
        "attack": threat_summary(ctx.threat), "model": model_summary(cfg, ctx),
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


def bench_pgd(factory: ContextFactory, shape: Shape, s: BenchSettings, device_name: str
              ) -> tuple[dict, dict]:
    """Paper-protocol PGD on the AC discriminator's class head (as ``robgan eval pgd`` runs it: eval
    mode; its attack passes under bf16 autocast when the config's ``performance.bf16_attacks`` and the
    device allow). Returns the throughput record and the PGD-efficiency record."""
    from robgan.evaluation.context import bf16_attacks_of
    from robgan.evaluation.robustness import PGDProtocol
    from robgan.provenance import autocast

    ctx = factory.build(shape, "robgan")
    cfg, ev = ctx.cfg, ctx.cfg["eval"]
    protocol = PGDProtocol.from_config("paper", ev["pgd"]["paper"])
    eps = float(ev["gap"]["eps"])
    threat = protocol.threat(eps)
    batch = int(s.pgd_batch or ev["batch_size"])
    x, y = _eval_batch(ctx, batch)
    model = ctx.classifier
    bf16 = bf16_attacks_of(cfg, ctx.device)

    def attack() -> torch.Tensor:
        with autocast(ctx.device, bf16):
            return attacks.pgd_classifier(model, x, y, threat)

    meter = measure.MemoryMeter(ctx.device)
    meter.start()
    timing = timed(attack, ctx, s)
    memory = meter.stop()
    flops = eager_flops(lambda: attacks.pgd_classifier(ctx.classifier, x, y, threat), ctx)  # counted in float32
    syncs = probe_host_syncs(attack, ctx.device)
    med = timing.median
    rec = {
        "shape": shape.name, "method": "pgd", "kind": "pgd_eval", "section": "eval",
        "batch_size": batch, "n_dis": 1, "images_per_iter": batch, "fake_images_per_iter": 0,
        "seconds_per_iter": timing.as_dict(), "iterations_per_s": 1.0 / med, "images_per_s": batch / med,
        "memory": memory, **throughput(flops, med, ctx.device, device_name, bf16),
        "losses_finite": True, "host_syncs_per_iter": len(syncs), "host_sync_ops": syncs.summary(),
        "attack": {**threat_summary(threat), "protocol": "paper",
                                          "objective": "class cross-entropy", "autocast": bf16},
        "model": model_summary(cfg, ctx), "augment": "none", "data": factory.data_description(shape),
    }

    eff = eval_pgd_efficiency(ctx, s, shape, model, x, y, threat, attack)
    return rec, eff
