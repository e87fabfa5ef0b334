"""``robgan bench``: throughput, memory and FLOP/s of every method's training step and of the paper's
PGD at three problem shapes, the Rob-GAN step's cost breakdown, PGD efficiency, and GPU-hour
projections of an experiment config. See ``docs/bench.md``.

Modules: :mod:`robgan.bench.measure` (timing, memory, FLOPs, device peaks), :mod:`robgan.bench.syncs`
(host-sync counting), :mod:`robgan.bench.shapes` (shapes and contexts over synthetic data),
:mod:`robgan.bench.settings` (what a result holds: definitions, targets, repeats),
:mod:`robgan.bench.common` (what the measurements share), :mod:`robgan.bench.steps` (training-step and
PGD throughput), :mod:`robgan.bench.efficiency` (the Rob-GAN step breakdown and PGD efficiency),
:mod:`robgan.bench.suite` (the whole benchmark: one result), :mod:`robgan.bench.report` (Markdown, files,
projections).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from robgan import registry

log = logging.getLogger("robgan.bench")

__all__ = ["PROXIES", "default_methods", "main_bench", "register"]

#: Methods that are not benchmarked by default: each is timed by the benchmarked step closest to it
#: (:func:`robgan.bench.report.project_hours`).
PROXIES = {"acgan": "sngan", "acgan_newloss": "sngan", "robgan_oldloss": "robgan"}


def default_methods() -> list[str]:
    """What ``--methods`` measures by default: every method of :data:`robgan.registry.METHODS` without a
    proxy, then the paper's PGD (``"pgd"``)."""
    return [*(m for m in registry.METHODS if m not in PROXIES), "pgd"]


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def register(sub) -> None:
    """Add the ``bench`` sub-command to the ``robgan`` command's sub-parsers."""
    from robgan.cli_args import add_device_arg, add_set_arg

    p = sub.add_parser(
        "bench", help="benchmark training steps and PGD (throughput, memory, FLOP/s); project GPU-hours",
        description="Benchmark every method's training step and the paper's PGD, or (--project) turn a "
                    "bench result into projected training hours of an experiment config.")
    p.add_argument("--shapes", default="auto",
                   help=f"comma list of {', '.join(d.bench.name for d in registry.DATASETS.values())} (one per "
                        "dataset of the registry; default auto: the real-data ones on the CPU, all on CUDA)")
    p.add_argument("--methods", default=",".join(default_methods()),
                   help="comma list of training methods (any of robgan train's, plus robgan_ft) and 'pgd' "
                        "(default %(default)s)")
    add_device_arg(p, default="auto")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5; --quick: 2)")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up calls (default 2; --quick: 1)")
    p.add_argument("--iters", type=int, default=None,
                   help="calls per repeat (default: calibrated to ~0.25 s per repeat; --quick: 1)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1 warm-up, 2 repeats of 1 call, PGD batch <= 64")
    p.add_argument("--pgd-batch", type=int, default=None,
                   help="PGD benchmark batch (default eval.batch_size)")
    p.add_argument("--no-breakdown", action="store_true",
                   help="skip the Rob-GAN breakdown and PGD efficiency")
    perf = p.add_argument_group("performance options (default: fp32, eager, contiguous, for every shape)")
    perf.add_argument("--bf16", action="store_true",
                      help="bf16 autocast (CUDA, and CPUs with AVX-512-BF16/AMX; float32 elsewhere)")
    perf.add_argument("--bf16-attacks", action="store_true",
                      help="the evaluation PGD's attack passes in bf16 autocast (performance.bf16_attacks; "
                           "same hardware condition as --bf16)")
    perf.add_argument("--channels-last", action="store_true")
    perf.add_argument("--compile", action="store_true", help="torch.compile the models")
    perf.add_argument("--perf-from-config", action="store_true",
                      help="use each config's own performance section instead of the flags")
    perf.add_argument("--baseline", default=None, metavar="KEY=VALUE[,KEY=VALUE]",
                      help="also measure every step under these performance settings (e.g. bf16=false), "
                           "just before the benchmarked ones: old and new side by side")
    p.add_argument("--no-calibration", action="store_true",
                   help="skip the calibration workload (robgan.calibration) run before the measurements")
    add_set_arg(p, "train.batch_size=128 (applied to every shape)")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: OMP_NUM_THREADS "
                                                           "or torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--note", default="", help="free text stored with the result (e.g. 'shared CPU')")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="output directory")
    p.add_argument("--project", type=Path, default=None, metavar="CONFIG",
                   help="instead of benchmarking: project training hours of CONFIG from a bench result")
    p.add_argument("--bench-json", type=Path, default=None,
                   help="bench result for --project (default: the newest bench-*.json in --out)")
    p.set_defaults(func=main_bench)


def _project(args) -> int:
    import json

    from robgan.bench.report import newest_result, project_hours, render_projection, write_projection
    from robgan.config import load_config

    path = args.bench_json or newest_result(args.out)
    bench = json.loads(Path(path).read_text())
    cfg = load_config(args.project, args.overrides)
    proj = project_hours(bench, cfg)
    proj["bench_file"] = str(path)
    paths = write_projection(proj, args.out)
    sys.stdout.write(render_projection(proj) + "\n")
    log.info("wrote %s and %s", paths["json"], paths["md"])
    return 0


def _baseline(text: str) -> dict:
    """``--baseline bf16=false,channels_last=false`` → ``{"bf16": False, "channels_last": False}``."""
    out = {}
    for item in _csv(text):
        key, sep, value = item.partition("=")
        if (not sep or key not in ("bf16", "bf16_attacks", "channels_last", "compile")
                or value.lower() not in ("true", "false")):
            raise SystemExit(f"--baseline: expected KEY=true|false with KEY in bf16, bf16_attacks, channels_last, "
                             f"compile; "
                             f"got {item!r}")
        out[key] = value.lower() == "true"
    return out


def main_bench(args: argparse.Namespace) -> int:
    """Entry point of ``robgan bench`` (returns the exit status)."""
    if args.project is not None:
        return _project(args)

    from robgan import provenance as prov
    from robgan.bench.report import write_result
    from robgan.bench.settings import BenchSettings
    from robgan.bench.shapes import SHAPES, get_shape
    from robgan.bench.suite import run_bench

    device = prov.resolve_device(args.device)
    prov.configure_threads(args.threads)
    if args.shapes == "auto":
        names = [n for n, sh in SHAPES.items() if device.type == "cuda" or not sh.synthetic]
    else:
        names = _csv(args.shapes)
    shapes = [get_shape(n) for n in names]
    kw = {"repeats": args.repeats, "warmup": args.warmup, "iters": args.iters, "pgd_batch": args.pgd_batch,
          "breakdown": not args.no_breakdown, "seed": args.seed, "calibration": not args.no_calibration}
    if args.quick:
        settings = BenchSettings.quick(**kw)
    else:
        settings = BenchSettings(**{k: v for k, v in kw.items()
                                    if v is not None or k in ("iters", "pgd_batch")})
    performance = None if args.perf_from_config else {
        "bf16": bool(args.bf16), "bf16_attacks": bool(args.bf16_attacks), "channels_last": bool(args.channels_last),
        "compile": bool(args.compile)}
    if performance and (performance["bf16"] or performance["bf16_attacks"]) and not prov.bf16_supported(device):
        log.warning("--bf16/--bf16-attacks have no effect here: %s has no native bf16 (float32 is measured)", device)
    baseline = _baseline(args.baseline) if args.baseline else None
    res = run_bench(shapes, _csv(args.methods), device, settings, performance=performance,
                    overrides=args.overrides, quick=args.quick, note=args.note, baseline=baseline)
    paths = write_result(res, args.out)
    log.info("wrote %s, %s and %s", paths["json"], paths["md"], paths["latest"])
    return 0
