"""The single ``robgan`` command (Snakemake rules call it; so can people).

Built in one place: :func:`build_parser` imports every module of ``COMMAND_MODULES`` and calls its
``register(sub)``, which adds that module's parsers and sets ``func`` (args → exit status). A module
that cannot be imported is an error, never a silently absent command. The arguments that several
commands share (``--config``, ``--set``, ``--device``, and the ``eval`` group with its common
arguments) are defined once, here.

Import discipline: this module and every command module import neither torch nor the heavy parts of
the package at module level (each command imports what it needs when it runs), so ``robgan --help``
and ``robgan config`` start in a fraction of a second (tests/test_cli.py checks that torch stays
unimported).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from robgan.config import ConfigError, load_config, training_view

COMMAND_MODULES = (
    "robgan.cli",                      # train, finetune, config
    "robgan.data.cli",                 # data prepare, data build-imagenet143
    "robgan.evaluation.cli",           # eval pgd / autoattack / gap / lipschitz
    "robgan.evaluation.fidelity_cli",  # eval fidelity, train-reference
    "robgan.report.cli",               # report, compare
    "robgan.bench",                    # bench
)

DEVICES = ("auto", "cpu", "cuda")
_EVAL_SUBPARSERS = "robgan_eval_subparsers"  # attribute of the `eval` parser holding its sub-parsers


# --------------------------------------------------------------------------------------------------
# Shared arguments
# --------------------------------------------------------------------------------------------------
def add_config_arg(p: argparse.ArgumentParser, *, required: bool = True, help: str | None = None) -> None:
    """``--config FILE`` (an experiment YAML)."""
    p.add_argument("--config", required=required, type=Path, default=None,
                   help=help or "experiment YAML (e.g. config/config.yaml)")


def add_set_arg(p: argparse.ArgumentParser, example: str = "train.iterations=50") -> None:
    """``--set KEY.SUB=VALUE`` (repeatable; ``args.overrides``)."""
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.SUB=VALUE",
                   help=f"dotted override, value read as YAML (repeatable), e.g. --set {example}")


def add_device_arg(p: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--device {auto,cpu,cuda}``; ``default`` None means the config's ``device``."""
    p.add_argument("--device", choices=DEVICES, default=default,
                   help=("default: the config's 'device' (auto = CUDA when present)" if default is None
                         else f"default {default} (auto = CUDA when present)"))


def add_config_args(p: argparse.ArgumentParser, example: str = "train.iterations=50") -> None:
    """``--config`` (required) and ``--set``."""
    add_config_arg(p)
    add_set_arg(p, example)


def get_eval_subparsers(sub) -> argparse._SubParsersAction:
    """Create-or-return the sub-parser collection of the ``eval`` command under top-level ``sub``
    (every ``eval`` kind, whichever module defines it, goes into this one group)."""
    parser = sub.choices.get("eval")
    if parser is None:
        parser = sub.add_parser("eval", help="evaluate a finished run; writes one record (JSON)",
                                description="Evaluate a finished run directory and write one validated "
                                            "record (JSON). Settings: section 'eval' of --config "
                                            "(default: the run's config.yaml) with --set overrides.")
        setattr(parser, _EVAL_SUBPARSERS, parser.add_subparsers(dest="eval_command", required=True,
                                                                metavar="KIND"))
    return getattr(parser, _EVAL_SUBPARSERS)


def add_eval_args(p: argparse.ArgumentParser, *, run_help: str = "finished run directory (holds model.pt)",
                  out_help: str = "record file to write (JSON)", example: str = "eval.pgd.n_examples=100") -> None:
    """The arguments common to every ``eval`` command: ``--run --out --config --set --device``."""
    p.add_argument("--run", required=True, type=Path, help=run_help)
    p.add_argument("--out", required=True, type=Path, help=out_help)
    add_config_arg(p, required=False, help="config whose 'eval' section is used (default: the run's config.yaml)")
    add_set_arg(p, example)
    add_device_arg(p)


def eval_config(args: argparse.Namespace) -> dict:
    """The resolved config of an eval command (``--config`` or the run's, with ``--set`` overrides)."""
    path = args.config if args.config is not None else Path(args.run) / "config.yaml"
    return load_config(path, args.overrides)


# --------------------------------------------------------------------------------------------------
# train, finetune, config
# --------------------------------------------------------------------------------------------------
def _run_config(args, method: str, init_from: str | None = None) -> dict:
    from robgan.training import run_label

    cfg = load_config(args.config, args.overrides)
    cfg["run"] = {"method": method, "label": run_label(method, cfg), "seed": args.seed,
                  "init_from": init_from}
    return cfg


def _cmd_train(args) -> int:
    from robgan.training import train_run

    cfg = _run_config(args, args.method)
    path = train_run(cfg, args.out)
    logging.getLogger("robgan").info("finished: %s", path)
    return 0


def _cmd_finetune(args) -> int:
    from robgan.api import load_run
    from robgan.training import train_run

    src = load_run(args.source)
    if src.method != "robgan":
        raise ConfigError(f"--from {args.source} is a '{src.method}' run; fine-tuning starts from a robgan run")
    cfg = _run_config(args, "robgan_ft", str(args.source))
    for section in ("model", "data"):  # as the robgan run's hash sees them (model.g_sample_bn is not its own)
        if training_view(cfg, "robgan")[section] != training_view(src.config, "robgan")[section]:
            raise ConfigError(f"config section '{section}' differs from the one of --from {args.source}; "
                              f"fine-tune with the config the robgan run was trained with")
    train_run(cfg, args.out)
    return 0


def _cmd_config_show(args) -> int:
    from robgan.config import config_hash, dump_config

    cfg = load_config(args.config, args.overrides)
    sys.stdout.write(f"# config hash {config_hash(cfg)}\n{dump_config(cfg)}")
    return 0


def register(sub) -> None:
    from robgan.registry import METHODS

    p = sub.add_parser("train", help="train one method into a run directory (resumes if unfinished)")
    add_config_args(p)
    p.add_argument("--method", required=True, choices=[m for m, info in METHODS.items() if info.from_run is None])
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--out", required=True, type=Path, help="run directory")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("finetune", help="fine-tune a robgan run's classifier (robgan_ft)")
    add_config_args(p, "finetune.lam=0.0")
    p.add_argument("--from", dest="source", required=True, type=Path, help="finished robgan run directory")
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--out", required=True, type=Path, help="run directory of the fine-tuning")
    p.set_defaults(func=_cmd_finetune)

    p = sub.add_parser("config", help="print the resolved config (defaults filled, overrides applied)")
    add_config_args(p)
    p.set_defaults(func=_cmd_config_show)


# --------------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The ``robgan`` parser with every command of ``COMMAND_MODULES`` (an import error propagates)."""
    parser = argparse.ArgumentParser(prog="robgan", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        module = sys.modules[__name__] if name == __name__ else importlib.import_module(name)
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        logging.getLogger("robgan").error("%s", exc)
        return 2
    except (FileNotFoundError, RuntimeError, ValueError) as exc:
        if args.verbose:
            raise
        logging.getLogger("robgan").error("%s: %s (rerun with -v for the traceback)", type(exc).__name__, exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
