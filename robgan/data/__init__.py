"""Datasets as uint8 tensors, the resumable augmenting batch stream, and the ImageNet-143 builder.

Every dataset is returned whole as ``(images, labels)``: images ``torch.uint8`` ``(N, C, H, W)`` in
[0, 255] at ``data.resolution``, labels ``torch.int64`` ``(N,)`` in ``[0, n_classes)``. Conversion to
float [0,1], augmentation and noise happen per batch in :class:`BatchStream`.

``data_cfg`` is the ``data:`` section of a resolved config (``workflow/schemas/config.schema.yaml``):
``name`` (mnist5k | cifar10 | imagenet143), ``root``, ``download``, ``resolution``, ``augment``,
``noise``, ``cache_dir``. Missing keys take the schema defaults.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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

DATASETS = ("mnist5k", "cifar10", "imagenet143")
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


def _cfg(data_cfg: dict) -> dict[str, Any]:
    cfg = {**_DEFAULTS, **(data_cfg or {})}
    if cfg["name"] not in DATASETS:
        raise ValueError(f"data.name: unknown dataset {cfg['name']!r}; allowed values: {', '.join(DATASETS)}")
    res = cfg["resolution"]
    if not isinstance(res, int) or isinstance(res, bool) or res < 8:
        raise ValueError(f"data.resolution: must be an integer >= 8, got {res!r}")
    if cfg["name"] in ("mnist5k", "cifar10") and res != 32:
        raise ValueError(
            f"data.resolution: {cfg['name']} exists at 32 px only, got {res}; set data.resolution: 32"
        )
    return cfg


def dataset_info(data_cfg: dict) -> DatasetInfo:
    """Describe the dataset named by ``data_cfg["name"]`` without loading its images.

    For ``imagenet143`` the class names are the class folders of the built tree (``"000_n02085620"``, ...)
    when ``data.root`` holds one, else the 0-based ILSVRC2012 indices ``"151"`` ... ``"293"``.
    """
    cfg = _cfg(data_cfg)
    name = cfg["name"]
    if name == "mnist5k":
        return DatasetInfo(name, 10, 1, 32, tuple(str(d) for d in range(10)))
    if name == "cifar10":
        from robgan.data.cifar10 import CIFAR10_CLASSES

        return DatasetInfo(name, 10, 3, 32, CIFAR10_CLASSES)
    from robgan.data.imagenet143 import imagenet143_class_names

    names = imagenet143_class_names(cfg["root"])
    return DatasetInfo(name, len(names), 3, cfg["resolution"], names)


def load_split(data_cfg: dict, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Load one split of a dataset whole, on the CPU.

    Args:
        data_cfg: the ``data:`` config section.
        split: ``"train"`` or ``"test"`` (for imagenet143, ``"test"`` is the built ``val/`` folder).

    Returns:
        ``(images, labels)``: images ``torch.uint8`` ``(N, C, R, R)`` in [0, 255] with
        ``R = data.resolution``; labels ``torch.int64`` ``(N,)`` in ``[0, n_classes)``.
    """
    cfg = _cfg(data_cfg)
    if split not in SPLITS:
        raise ValueError(f"split: unknown split {split!r}; allowed values: {', '.join(SPLITS)}")
    name = cfg["name"]
    if name == "mnist5k":
        from robgan.data.mnist5k import load_mnist5k

        return load_mnist5k(split)
    if name == "cifar10":
        from robgan.data.cifar10 import load_cifar10

        return load_cifar10(cfg["root"], split, download=bool(cfg["download"]))
    from robgan.data.imagenet143 import load_imagenet143

    return load_imagenet143(cfg["root"], split, resolution=cfg["resolution"], cache_dir=cfg["cache_dir"])
