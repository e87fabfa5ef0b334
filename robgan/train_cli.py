"""``robgan train``, ``robgan finetune``, ``robgan cost-probe`` and ``robgan config``: train one method
into a run directory, fine-tune a robgan run's classifier, time every method's training iteration
alone, print the resolved config a run would use.

Registered by :mod:`robgan.cli`; the shared arguments come from :mod:`robgan.cli_args`. Torch is
imported when a command runs, not at import (``robgan --help`` stays fast).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from robgan.cli_args import add_config_args
from robgan.config import ConfigError, load_config, training_view

__all__ = ["register"]


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


def _cmd_cost_probe(args) -> int:
    import json

    from robgan import provenance as prov
    from robgan.cost_probe import run_cost_probe

    cfg = load_config(args.config, args.overrides)
    threads = int(cfg["threads"]) or args.threads  # a config that pins the runs' threads pins the probe's
    record = run_cost_probe(cfg, args.labels, threads=threads)
    prov.atomic_write_text(args.out, json.dumps(record, indent=2) + "\n")
    logging.getLogger("robgan").info("cost probe (%d threads, %.1f s): %s -> %s", threads, record["seconds"],
                                     ", ".join(f"{k} {v['seconds_per_iteration']:.4f} s/it"
                                               for k, v in record["labels"].items()), args.out)
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

    p = sub.add_parser("cost-probe", help="seconds per training iteration of every run label, measured alone "
                       "(robgan/cost_probe.py)")
    add_config_args(p)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads, those of the training jobs (the config's `threads` wins when > 0)")
    p.add_argument("--labels", nargs="+", default=None, help="run labels to time (default: the experiment's)")
    p.add_argument("--out", required=True, type=Path, help="results/<experiment>/cost_probe.json")
    p.set_defaults(func=_cmd_cost_probe)

    p = sub.add_parser("config", help="print the resolved config (defaults filled, overrides applied)")
    add_config_args(p)
    p.set_defaults(func=_cmd_config_show)
