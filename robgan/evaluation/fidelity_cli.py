"""``robgan eval fidelity`` and ``robgan train-reference``.

``robgan train-reference --config F --out DIR [--set ...] [--seed N] [--device D]``
    mnist5k: trains the feature CNN (``DIR/classifier.pt``; fails, writing nothing, when its test
    accuracy is below ``eval.fidelity.reference_classifier.min_test_accuracy``); every dataset: caches
    the training split's features and FID statistics (``DIR/fidelity_cache/``) and writes
    ``DIR/metrics.json`` last (test accuracy, epochs, seed, time; extractor, layers, weights).

``robgan eval fidelity --run RUN --reference DIR --out FILE.csv [--config F] [--set ...] [--device D]``
    IS and FID of the run's generator (``model.pt`` and, with ``eval.fidelity.snapshots``, every
    snapshot): ``FILE.csv`` (one row per checkpoint) and ``FILE.json`` (the fidelity record). A run
    trained with ``train.g_ema``: its generator is the weight average; the final model's trained
    weights are measured too (the record's ``results_raw``, a CSV row with ``weights`` = ``trained``).

:mod:`robgan.cli` registers this module beside :mod:`robgan.evaluation.cli`; the ``eval`` group and
the shared arguments come from :mod:`robgan.cli_args`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from robgan.cli_args import add_config_args, add_device_arg, add_eval_args, eval_config, get_eval_subparsers
from robgan.config import ConfigError, load_config

log = logging.getLogger("robgan.evaluation")


def _cmd_train_reference(args) -> int:
    from robgan import provenance as prov
    from robgan.evaluation.reference import build_reference

    cfg = load_config(args.config, args.overrides)
    device = prov.resolve_device(args.device or cfg["device"])
    prov.configure_threads(cfg["threads"])
    ref = build_reference(cfg, args.out, args.seed, device, verbose=sys.stderr.isatty() or bool(args.verbose))
    log.info("wrote reference %s: %s, %s on %d %s training images, real-data IS %.4f ± %.4f (%.1f s)", args.out,
             ref["metric_label"], ref["extractor"], ref["n_images"], ref["dataset"], ref["real_is_mean"],
             ref["real_is_std"], ref["elapsed_seconds"])
    return 0


def _cmd_fidelity(args) -> int:
    from robgan import provenance as prov
    from robgan.api import load_run
    from robgan.evaluation.fidelity import evaluate_fidelity, write_csv
    from robgan.records import write_record
    from robgan.training.methods import get_method

    out = Path(args.out)
    if out.suffix != ".csv":
        raise ConfigError(f"--out {out}: give a .csv file (the record goes next to it as {out.with_suffix('.json')})")
    run = load_run(args.run)
    if not get_method(run.method).has_generator:
        log.error("%s is a '%s' run, which trains no generator: nothing to evaluate", args.run, run.method)
        return 2
    cfg = eval_config(args)
    device = prov.resolve_device(args.device or cfg["device"])
    prov.configure_threads(cfg["threads"])
    fid_cfg = cfg["eval"]["fidelity"]
    # the schema has no eval.fidelity.seed (yet): fall back to the fixed evaluation-subset seed
    seed = args.sample_seed if args.sample_seed is not None else int(fid_cfg.get("seed", cfg["eval"]["index_seed"]))
    record, rows = evaluate_fidelity(args.run, args.reference, cfg, device, sample_seed=seed, work_dir=out.parent,
                                     verbose=sys.stderr.isatty() or bool(args.verbose))
    write_csv(rows, out)
    write_record(record, out.with_suffix(".json"))
    log.info("wrote %s and %s: %d checkpoints%s, %s (%.1f s on %s)", out, out.with_suffix(".json"),
             len(record["results"]), " and the final model's trained weights" if record.get("results_raw") else "",
             record["settings"]["metric_label"], record["elapsed_seconds"], record["device"])
    for name, flag in record["flags"].items():
        if not flag["ok"]:
            log.warning("flag %s: %s", name, flag["detail"])
    return 0


def register(sub) -> None:
    """Add ``eval fidelity`` (to the shared ``eval`` group) and ``train-reference``."""
    help_ = "IS/FID of the run's generator over its snapshots and model.pt (CSV + fidelity record)"
    p = get_eval_subparsers(sub).add_parser("fidelity", help=help_, description=help_)
    add_eval_args(p, run_help="finished run directory with a generator",
                  out_help="FILE.csv to write (the record is written as FILE.json)",
                  example="eval.fidelity.n_samples=500")
    p.add_argument("--reference", required=True, type=Path, help="directory written by `robgan train-reference`")
    p.add_argument("--sample-seed", type=int, default=None,
                   help="seed of latent vectors and class labels (default: eval.index_seed)")
    p.set_defaults(func=_cmd_fidelity)

    help_ = "train the mnist5k feature CNN (if mnist5k) and cache the training split's IS/FID reference features"
    p = sub.add_parser("train-reference", help=help_, description=help_)
    add_config_args(p, "eval.fidelity.reference_classifier.epochs=2")
    p.add_argument("--out", required=True, type=Path, help="reference directory")
    p.add_argument("--seed", type=int, default=0, help="seed of the CNN's training (default 0)")
    add_device_arg(p)
    p.set_defaults(func=_cmd_train_reference)
