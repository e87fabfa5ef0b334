"""The single ``robgan`` command (Snakemake rules call it; so can people).

Built in one place: :func:`build_parser` imports every module of ``COMMAND_MODULES`` and calls its
``register(sub)``, which adds that module's parsers and sets ``func`` (args → exit status). A module
that cannot be imported is an error, never a silently absent command. The arguments that several
commands share (``--config``, ``--set``, ``--device``, and the ``eval`` group with its common
arguments) are defined once, in :mod:`robgan.cli_args`; no command module imports this one
(tests/test_layering.py), so there is no import cycle behind ``import_module``.

Errors: a configuration error (exit 2) or a runtime error (exit 1) is printed as one line
``robgan: error: ...`` on stderr, without the log format's time and logger prefix; ``-v`` raises the
runtime error with its traceback instead.

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

from robgan.cli_args import DEVICES
from robgan.config import ConfigError

__all__ = ["COMMAND_MODULES", "DEVICES", "build_parser", "main"]

COMMAND_MODULES = (
    "robgan.train_cli",                # train, finetune, config
    "robgan.data.cli",                 # data prepare, data build-imagenet143
    "robgan.evaluation.cli",           # eval pgd / autoattack / gap / lipschitz
    "robgan.evaluation.fidelity_cli",  # eval fidelity, train-reference
    "robgan.report.cli",               # report, compare, readme
    "robgan.bench",                    # bench
)


# --------------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The ``robgan`` parser with every command of ``COMMAND_MODULES`` (an import error propagates)."""
    parser = argparse.ArgumentParser(prog="robgan", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, handlers=[handler])
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        _error(str(exc))
        return 2
    except (FileNotFoundError, RuntimeError, ValueError) as exc:
        if args.verbose:
            raise
        _error(f"{type(exc).__name__}: {exc} (rerun with -v for the traceback)")
        return 1


class _Formatter(logging.Formatter):
    """Progress lines keep time, logger and level; an error is one line ``robgan: error: ...``, prefixed
    like argparse's own errors, not like a log line."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.ERROR and not record.exc_info:
            return f"robgan: error: {record.getMessage()}"
        return super().format(record)


def _error(message: str) -> None:
    """Log ``message`` as an error: :class:`_Formatter` prints it as one line ``robgan: error: ...``."""
    logging.getLogger("robgan").error("%s", message)


if __name__ == "__main__":
    sys.exit(main())
