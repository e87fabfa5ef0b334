"""The single ``robgan`` command (Snakemake rules call it; so can people).

Sub-commands register themselves: each module in ``_COMMAND_MODULES`` exposes
``register(subparsers)`` which adds its parsers and sets ``func`` (args → exit status).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from robgan.config import ConfigError, load_config

_COMMAND_MODULES = (
    "robgan.cli",               # train, finetune, data, config
    "robgan.evaluation.cli",    # eval ..., train-reference
    "robgan.report.cli",        # report
    "robgan.bench",             # bench
)


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, type=Path, help="experiment YAML (e.g. config/config.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.SUB=VALUE",
                   help="dotted override, value read as YAML (repeatable), e.g. --set train.iterations=50")


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
    for section in ("model", "data"):
        if cfg[section] != src.config[section]:
            raise ConfigError(f"config section '{section}' differs from the one of --from {args.source}; "
                              f"fine-tune with the config the robgan run was trained with")
    train_run(cfg, args.out)
    return 0


def _cmd_build_imagenet143(args) -> int:
    from robgan.data import build_imagenet143

    summary = build_imagenet143(args.imagenet_root, args.out)
    logging.getLogger("robgan").info("built ImageNet-143 in %s: %s", args.out,
                                     {k: v for k, v in summary.items() if not isinstance(v, dict)})
    return 0


def _cmd_config_show(args) -> int:
    from robgan.config import config_hash, dump_config

    cfg = load_config(args.config, args.overrides)
    sys.stdout.write(f"# config hash {config_hash(cfg)}\n{dump_config(cfg)}")
    return 0


def register(sub) -> None:
    from robgan.training.methods import METHODS

    p = sub.add_parser("train", help="train one method into a run directory (resumes if unfinished)")
    add_config_args(p)
    p.add_argument("--method", required=True, choices=[m for m in METHODS if m != "robgan_ft"])
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--out", required=True, type=Path, help="run directory")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("finetune", help="fine-tune a robgan run's classifier (robgan_ft)")
    add_config_args(p)
    p.add_argument("--from", dest="source", required=True, type=Path, help="finished robgan run directory")
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--out", required=True, type=Path, help="run directory of the fine-tuning")
    p.set_defaults(func=_cmd_finetune)

    p = sub.add_parser("data", help="dataset tools")
    dsub = p.add_subparsers(dest="data_command", required=True)
    q = dsub.add_parser("build-imagenet143", help="build SN-GAN's dog-and-cat subset of ILSVRC2012")
    q.add_argument("--imagenet-root", required=True, type=Path, help="ILSVRC2012 root holding train/ and val/")
    q.add_argument("--out", required=True, type=Path)
    q.set_defaults(func=_cmd_build_imagenet143)

    p = sub.add_parser("config", help="print the resolved config (defaults filled, overrides applied)")
    add_config_args(p)
    p.set_defaults(func=_cmd_config_show)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="robgan", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        try:
            module = sys.modules[__name__] if name == __name__ else importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):  # a missing dependency is a real error
                raise
            continue
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
