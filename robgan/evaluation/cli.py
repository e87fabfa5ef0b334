"""``robgan eval ...`` sub-commands: pgd, autoattack, gap, lipschitz (and, from another module, fidelity).

Each command reads a finished run directory, takes its evaluation settings from ``--config``
(default: the run's own ``config.yaml``) with ``--set`` overrides (section ``eval``; the dataset and
model always come from the run), and writes one validated record (``robgan.report.records``) to
``--out``. Exit status: 0 written, 1 runtime error, 2 configuration error or a run that has no
classifier (``sngan``: its projection discriminator is not a classifier — nothing is written).

Coordination with ``robgan.evaluation.fidelity_cli`` (``eval fidelity``, ``train-reference``): all
``eval`` commands share one sub-parser collection. Call :func:`get_eval_subparsers` with the top-level
sub-parsers object to get it (it creates the ``eval`` parser on first use and stores the collection
on that parser as ``robgan_eval_subparsers``)::

    from robgan.evaluation.cli import add_eval_args, get_eval_subparsers

    def register(sub):
        p = get_eval_subparsers(sub).add_parser("fidelity", help=...)
        add_eval_args(p)   # optional: --run --out --config --set --device
        ...
        sub.add_parser("train-reference", ...)

:func:`register` (called by ``robgan.cli`` for this module) calls ``fidelity_cli.register(sub)`` when
that module exists, so ``robgan.cli`` needs no change.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from pathlib import Path

from robgan.config import load_config

log = logging.getLogger("robgan.evaluation")

_ATTR = "robgan_eval_subparsers"


def get_eval_subparsers(sub) -> argparse._SubParsersAction:
    """Create-or-return the sub-parser collection of the ``eval`` command under top-level ``sub``."""
    parser = sub.choices.get("eval")
    if parser is None:
        parser = sub.add_parser("eval", help="evaluate a finished run; writes one record (JSON)",
                                description="Evaluate a finished run directory and write one validated "
                                            "record (JSON). Settings: section 'eval' of --config "
                                            "(default: the run's config.yaml) with --set overrides.")
        setattr(parser, _ATTR, parser.add_subparsers(dest="eval_command", required=True, metavar="KIND"))
    return getattr(parser, _ATTR)


def add_eval_args(p: argparse.ArgumentParser) -> None:
    """The arguments common to every ``eval`` command."""
    p.add_argument("--run", required=True, type=Path, help="finished run directory (holds model.pt)")
    p.add_argument("--out", required=True, type=Path, help="record file to write (JSON)")
    p.add_argument("--config", type=Path, default=None,
                   help="config whose 'eval' section is used (default: the run's config.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.SUB=VALUE",
                   help="dotted override, value read as YAML (repeatable), e.g. "
                        "--set eval.pgd.n_examples=100")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None,
                   help="default: the config's 'device' (auto = CUDA when present)")


def eval_config(args) -> dict:
    """The resolved config of an eval command (``--config`` or the run's, with ``--set`` overrides)."""
    path = args.config if args.config is not None else Path(args.run) / "config.yaml"
    return load_config(path, args.overrides)


def _run(args, evaluate) -> int:
    from robgan import provenance as prov
    from robgan.evaluation.robustness import NotAClassifierError, check_classifier, open_run
    from robgan.report.records import write_record

    try:
        check_classifier(args.run)
    except NotAClassifierError as exc:
        log.error("%s", exc)
        return 2
    cfg = eval_config(args)
    device = prov.resolve_device(args.device or cfg["device"])
    prov.configure_threads(cfg["threads"])
    ctx = open_run(args.run, cfg, device)
    record = evaluate(ctx)
    write_record(record, args.out)
    log.info("wrote %s record %s (%.1f s on %s)", record["kind"], args.out, record["elapsed_seconds"],
             record["device"])
    for name, flag in record["flags"].items():
        if not flag["ok"]:
            log.warning("flag %s: %s", name, flag["detail"])
    return 0


def _cmd_pgd(args) -> int:
    from robgan.evaluation.robustness import evaluate_pgd

    return _run(args, evaluate_pgd)


def _cmd_autoattack(args) -> int:
    from robgan.evaluation.autoattack import evaluate_autoattack

    return _run(args, evaluate_autoattack)


def _cmd_gap(args) -> int:
    from robgan.evaluation.robustness import evaluate_gap

    return _run(args, evaluate_gap)


def _cmd_lipschitz(args) -> int:
    from robgan.evaluation.robustness import evaluate_lipschitz

    return _run(args, evaluate_lipschitz)


_COMMANDS = {
    "pgd": (_cmd_pgd, "accuracy under l-inf PGD over eval.pgd.eps: clean, paper and strong protocols"),
    "autoattack": (_cmd_autoattack, "AutoAttack at eval.autoattack.eps (per-stage cascade) + PGD on the same "
                                    "images; AutoAttack's log goes to stderr"),
    "gap": (_cmd_gap, "paper-protocol PGD at eval.gap.eps on fixed train vs test subsets"),
    "lipschitz": (_cmd_lipschitz, "local Lipschitz value (input-gradient l2 norm of the CE) over "
                                  "every snapshot"),
}


def register(sub) -> None:
    esub = get_eval_subparsers(sub)
    for name, (func, help_) in _COMMANDS.items():
        p = esub.add_parser(name, help=help_, description=help_)
        add_eval_args(p)
        p.set_defaults(func=func)
    try:
        fidelity_cli = importlib.import_module("robgan.evaluation.fidelity_cli")
    except ModuleNotFoundError as exc:
        if exc.name != "robgan.evaluation.fidelity_cli":  # a missing dependency of it is a real error
            raise
    else:
        fidelity_cli.register(sub)
