"""The arguments that several ``robgan`` commands share, defined once: ``--config``, ``--set``,
``--device`` and the ``eval`` group with the arguments common to every ``eval`` kind.

Every command module (:mod:`robgan.train_cli`, :mod:`robgan.data.cli`, :mod:`robgan.evaluation.cli`,
:mod:`robgan.evaluation.fidelity_cli`, :mod:`robgan.report.cli`, :mod:`robgan.bench`) takes them from
here; none imports :mod:`robgan.cli`, which only assembles the command (tests/test_layering.py).
Torch-free, like every command module at import time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from robgan.config import load_config

__all__ = ["DEVICES", "add_config_arg", "add_config_args", "add_device_arg", "add_eval_args", "add_set_arg",
           "eval_config", "get_eval_subparsers"]

DEVICES = ("auto", "cpu", "cuda")
_EVAL_SUBPARSERS = "robgan_eval_subparsers"  # attribute of the `eval` parser holding its sub-parsers


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
