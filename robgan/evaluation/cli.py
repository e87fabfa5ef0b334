"""``robgan eval ...`` sub-commands: pgd, autoattack, gap, lipschitz (``eval fidelity`` and
``train-reference`` are in :mod:`robgan.evaluation.fidelity_cli`).

Each command reads a finished run directory, takes its evaluation settings from ``--config``
(default: the run's own ``config.yaml``) with ``--set`` overrides (section ``eval``; the dataset and
model always come from the run), and writes one validated record (``robgan.records``) to
``--out``. Exit status: 0 written, 1 runtime error, 2 configuration error or a run that has no
classifier (``sngan``: its projection discriminator is not a classifier — nothing is written).

The ``eval`` group and the arguments every ``eval`` command shares are defined once, in
:mod:`robgan.cli_args`; :mod:`robgan.cli` registers this module and ``fidelity_cli`` (neither imports
the other, nor :mod:`robgan.cli`).
"""

from __future__ import annotations

import logging

from robgan.cli_args import add_eval_args, eval_config, get_eval_subparsers

__all__ = ["add_eval_args", "eval_config", "get_eval_subparsers", "register"]

log = logging.getLogger("robgan.evaluation")


def _run(args, evaluate) -> int:
    from robgan import provenance as prov
    from robgan.evaluation.context import NotAClassifierError, check_classifier, open_run
    from robgan.records import write_record

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
    from robgan.evaluation.commands import evaluate_pgd

    return _run(args, evaluate_pgd)


def _cmd_autoattack(args) -> int:
    from robgan.evaluation.autoattack import evaluate_autoattack

    return _run(args, evaluate_autoattack)


def _cmd_gap(args) -> int:
    from robgan.evaluation.commands import evaluate_gap

    return _run(args, evaluate_gap)


def _cmd_lipschitz(args) -> int:
    from robgan.evaluation.commands import evaluate_lipschitz

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
    """Add ``eval pgd``, ``eval autoattack``, ``eval gap`` and ``eval lipschitz``."""
    esub = get_eval_subparsers(sub)
    for name, (func, help_) in _COMMANDS.items():
        p = esub.add_parser(name, help=help_, description=help_)
        add_eval_args(p)
        p.set_defaults(func=func)
