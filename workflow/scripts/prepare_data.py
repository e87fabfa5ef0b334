"""Fetch / decode the experiment's dataset once, before any training job reads it.

Run by the ``data`` rule (workflow/rules/data.smk) through Snakemake's ``script:`` directive.
Loading both splits through :func:`robgan.data.load_split` downloads CIFAR-10 (``data.download``)
or fills the ImageNet-143 decode cache (``data.cache_dir``) exactly once, instead of every
concurrent training job racing to do it. Writes a small JSON summary (split sizes, class counts)
that the training rules require to exist. (No `from __future__` import: Snakemake prepends code.)
"""

import logging

import torch

from robgan.config import load_config
from robgan.data import dataset_info, load_split
from robgan.provenance import atomic_write_json, configure_threads


def prepare(config_path: str, out: str) -> dict:
    cfg = load_config(config_path)
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
        logging.getLogger("robgan.data").info("%s %s: %s images", info.name, split, labels.numel())
    atomic_write_json(out, summary)
    return summary


if __name__ == "__main__":
    smk = globals()["snakemake"]  # injected by Snakemake's script directive
    logging.basicConfig(filename=smk.log[0], level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    prepare(smk.params.config, smk.output.summary)
