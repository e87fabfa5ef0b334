"""``robgan data ...``: prepare an experiment's dataset once, and build ImageNet-143.

``register(subparsers)`` adds the ``data`` command (with its sub-commands) to the ``robgan`` parser.

``prepare`` is the workflow's ``data`` rule: loading both splits through :func:`robgan.data.load_split`
downloads CIFAR-10 (``data.download``) or fills the ImageNet-143 decode cache (``data.cache_dir``) exactly
once, instead of every concurrent training job racing to do it. It writes a small JSON summary (split
sizes, class counts) whose existence the training rules require.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from robgan.config import load_config

_log = logging.getLogger("robgan.data")


def prepare(cfg: Mapping[str, Any], out: str | Path) -> dict:
    """Load both splits of ``cfg["data"]`` (fetching/decoding them if needed) and write their summary.

    Returns (and writes to ``out``, atomically) ``{"dataset", "n_classes", "channels", "resolution",
    "splits": {split: {"n", "shape", "class_counts"}}}``.
    """
    import torch

    from robgan.data import dataset_info, load_split
    from robgan.provenance import atomic_write_json, configure_threads

    configure_threads(cfg["threads"])
    info = dataset_info(cfg["data"])
    summary = {"dataset": info.name, "n_classes": info.n_classes, "channels": info.channels,
               "resolution": info.resolution, "splits": {}}
    for split in ("train", "test"):
        images, labels = load_split(cfg["data"], split)
        summary["splits"][split] = {
            "n": int(labels.numel()),
            "shape": list(images.shape),
            "class_counts": torch.bincount(labels, minlength=info.n_classes).tolist(),
        }
        _log.info("%s %s: %s images", info.name, split, labels.numel())
    atomic_write_json(out, summary)
    return summary


def _cmd_prepare(args) -> int:
    prepare(load_config(args.config), args.out)
    return 0


def _cmd_build_imagenet143(args) -> int:
    from robgan.data import build_imagenet143

    summary = build_imagenet143(args.imagenet_root, args.out)
    _log.info("built ImageNet-143 in %s: %s", args.out, {k: v for k, v in summary.items() if not isinstance(v, dict)})
    return 0


def add_commands(sub) -> None:
    """Add the ``data`` sub-commands (``prepare``, ``build-imagenet143``) to ``sub``."""
    q = sub.add_parser("prepare", help="fetch/decode the experiment's dataset once; write a summary JSON")
    q.add_argument("--config", required=True, type=Path, help="experiment YAML (e.g. config/config.yaml)")
    q.add_argument("--out", required=True, type=Path, help="summary JSON (split sizes, class counts)")
    q.set_defaults(func=_cmd_prepare)

    q = sub.add_parser("build-imagenet143", help="build SN-GAN's dog-and-cat subset of ILSVRC2012")
    q.add_argument("--imagenet-root", required=True, type=Path, help="ILSVRC2012 root holding train/ and val/")
    q.add_argument("--out", required=True, type=Path)
    q.set_defaults(func=_cmd_build_imagenet143)


def register(subparsers) -> None:
    """Add ``robgan data`` to the ``robgan`` parser's sub-commands."""
    p = subparsers.add_parser("data", help="dataset tools")
    add_commands(p.add_subparsers(dest="data_command", required=True))
