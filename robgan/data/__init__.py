"""Datasets as uint8 tensors, the resumable augmenting batch stream, and the ImageNet-143 builder.

Every dataset is returned whole as ``(images, labels)``: images ``torch.uint8`` ``(N, C, H, W)`` in
[0, 255] at ``data.resolution``, labels ``torch.int64`` ``(N,)`` in ``[0, n_classes)``. Conversion to
float [0,1], augmentation and noise happen per batch in :class:`BatchStream`.

``data_cfg`` is the ``data:`` section of a resolved config (``workflow/schemas/config.schema.yaml``):
``name`` (a key of :data:`robgan.registry.DATASETS`), ``root``, ``download``, ``resolution``,
``augment``, ``noise``, ``cache_dir``. Missing keys take the schema defaults.

Adding a dataset: one :class:`robgan.registry.DatasetSpec` entry (with the shape ``robgan bench`` times
it at) and its own module defining ``info(data_cfg)`` and ``load(data_cfg, split)``; :func:`dataset_info`
and :func:`load_split` dispatch through the registry, and nothing else names a dataset.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from robgan.registry import DATASETS, DatasetSpec, dataset_spec

if TYPE_CHECKING:
    import torch

# The dataset modules (and torch) load on first use: the `robgan` command imports robgan.data.cli to
# build its parser, which must not import torch (tests/test_cli.py).
_EXPORTS = {
    "CIFAR10_CLASSES": "cifar10", "load_cifar10": "cifar10",
    "IMAGENET143_CLASS_RANGE": "imagenet143", "build_imagenet143": "imagenet143",
    "imagenet143_class_names": "imagenet143", "load_imagenet143": "imagenet143",
    "MNIST5K_SPLIT_SEED": "mnist5k", "load_mnist5k": "mnist5k",
    "AUGMENTATIONS": "stream", "BatchStream": "stream", "fixed_indices": "stream",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"robgan.data.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'robgan.data' has no attribute '{name}'")


__all__ = [
    "AUGMENTATIONS",
    "DATASETS",
    "IMAGENET143_CLASS_RANGE",
    "MNIST5K_SPLIT_SEED",
    "SPLITS",
    "BatchStream",
    "DatasetInfo",
    "build_imagenet143",
    "dataset_info",
    "fixed_indices",
    "load_split",
]

SPLITS = ("train", "test")
_DEFAULTS: dict[str, Any] = {
    "name": "mnist5k",
    "root": "resources/data",
    "download": False,
    "resolution": 32,
    "augment": "none",
    "noise": True,
    "cache_dir": "resources/cache",
}


@dataclass(frozen=True)
class DatasetInfo:
    """Static description of a dataset, enough to build the models.

    ``resolution`` is the side length (pixels) of the square images that :func:`load_split` returns.
    """

    name: str
    n_classes: int
    channels: int
    resolution: int
    class_names: tuple[str, ...]


def _cfg(data_cfg: dict) -> tuple[dict[str, Any], DatasetSpec]:
    cfg = {**_DEFAULTS, **(data_cfg or {})}
    spec = dataset_spec(cfg["name"])
    res = cfg["resolution"]
    if not isinstance(res, int) or isinstance(res, bool) or res < 8:
        raise ValueError(f"data.resolution: must be an integer >= 8, got {res!r}")
    if spec.resolutions is not None and res not in spec.resolutions:
        raise ValueError(
            f"data.resolution: {spec.name} exists at {', '.join(f'{r} px' for r in spec.resolutions)} only, "
            f"got {res}; set data.resolution: {spec.resolutions[0]}"
        )
    return cfg, spec


def dataset_info(data_cfg: dict) -> DatasetInfo:
    """Describe the dataset named by ``data_cfg["name"]`` without loading its images (its module's
    ``info``; e.g. ``imagenet143`` names its classes by the folders of the built tree when
    ``data.root`` holds one, else by the 0-based ILSVRC2012 indices ``"151"`` ... ``"293"``)."""
    cfg, spec = _cfg(data_cfg)
    return importlib.import_module(spec.module).info(cfg)


def load_split(data_cfg: dict, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Load one split of a dataset whole, on the CPU (its module's ``load``).

    Args:
        data_cfg: the ``data:`` config section.
        split: ``"train"`` or ``"test"`` (for imagenet143, ``"test"`` is the built ``val/`` folder).

    Returns:
        ``(images, labels)``: images ``torch.uint8`` ``(N, C, R, R)`` in [0, 255] with
        ``R = data.resolution``; labels ``torch.int64`` ``(N,)`` in ``[0, n_classes)``.
    """
    cfg, spec = _cfg(data_cfg)
    if split not in SPLITS:
        raise ValueError(f"split: unknown split {split!r}; allowed values: {', '.join(SPLITS)}")
    return importlib.import_module(spec.module).load(cfg, split)
