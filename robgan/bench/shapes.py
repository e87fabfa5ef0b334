"""The benchmarked problem shapes and the training contexts built for them.

``embedded`` is the default experiment itself (``config/config.yaml``, the real embedded mnist5k
digits). ``cifar10`` and ``imagenet143`` take the paper configs (``config/cifar10.yaml``,
``config/imagenet143.yaml``: their widths, D architecture, batch sizes, attacks, augmentation) but
feed **synthetic** uint8 images of the right shape, so that they can be timed anywhere without the
datasets; the cost of a step does not depend on the pixel values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from robgan import data as rdata
from robgan.config import load_config
from robgan.data.cifar10 import CIFAR10_CLASSES
from robgan.provenance import REPO_ROOT
from robgan.training.context import Context
from robgan.training.methods import METHODS, MethodSpec, run_label

#: Images in a synthetic dataset: enough for every batch size of the paper configs (128) many times over.
SYNTHETIC_N = 4096


@dataclass(frozen=True)
class Shape:
    """One benchmarked problem size.

    Attributes:
        name: ``embedded`` | ``cifar10`` | ``imagenet143``.
        config: experiment YAML, relative to the repository root.
        synthetic: feed synthetic uint8 images instead of loading the dataset.
        description: one line for the report.
    """

    name: str
    config: str
    synthetic: bool
    description: str

    @property
    def config_path(self) -> Path:
        return REPO_ROOT / self.config


SHAPES: dict[str, Shape] = {
    "embedded": Shape("embedded", "config/config.yaml", False,
                      "mnist5k 32x32x1, quick widths (config/config.yaml, real embedded data)"),
    "cifar10": Shape("cifar10", "config/cifar10.yaml", True,
                     "CIFAR-10 32x32x3, 10 classes, ngf = ndf = 64, config/cifar10.yaml (synthetic data)"),
    "imagenet143": Shape("imagenet143", "config/imagenet143.yaml", True,
                         "ImageNet-143 64x64x3, 143 classes, ngf = ndf = 64, config/imagenet143.yaml "
                         "(synthetic data)"),
}
#: Which shape a config's ``data.name`` is benchmarked by (for GPU-hour projections).
SHAPE_OF_DATASET = {"mnist5k": "embedded", "cifar10": "cifar10", "imagenet143": "imagenet143"}


def get_shape(name: str) -> Shape:
    if name not in SHAPES:
        raise ValueError(f"unknown shape '{name}' (--shapes): choose from {', '.join(SHAPES)}")
    return SHAPES[name]


def shape_config(shape: Shape, method: str, *, performance: dict | None, overrides: list[str],
                 seed: int = 0) -> dict:
    """Resolved config of ``shape`` for ``method`` with a ``run`` section.

    ``performance``: the ``performance`` section to benchmark with (None keeps the config's own);
    ``overrides``: dotted ``--set`` overrides applied to every shape.
    """
    cfg = load_config(shape.config_path, overrides)
    if performance is not None:
        cfg["performance"] = dict(performance)
    cfg["run"] = {"method": method, "label": run_label(method, cfg), "seed": seed, "init_from": None}
    return cfg


def synthetic_info(shape: Shape, cfg: dict) -> rdata.DatasetInfo:
    """The dataset description a synthetic shape stands for (no dataset on disk needed)."""
    d = cfg["data"]
    if d["name"] == "cifar10":
        return rdata.DatasetInfo("cifar10", 10, 3, 32, CIFAR10_CLASSES)
    if d["name"] == "imagenet143":
        names = tuple(str(i) for i in range(*rdata.IMAGENET143_CLASS_RANGE))
        return rdata.DatasetInfo("imagenet143", len(names), 3, int(d["resolution"]), names)
    raise ValueError(f"shape '{shape.name}': no synthetic description of dataset '{d['name']}'")


def synthetic_data(info: rdata.DatasetInfo, n: int = SYNTHETIC_N, seed: int = 0
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniform random uint8 images ``(n, C, R, R)`` and uniform labels ``(n,)`` int64, on the CPU."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, info.channels, info.resolution, info.resolution), generator=g,
                           dtype=torch.uint8)
    labels = torch.randint(0, info.n_classes, (n,), generator=g)
    return images, labels


class BenchContext(Context):
    """A :class:`~robgan.training.context.Context` over given tensors instead of ``load_split``.

    Only the data and the dataset description differ (``tests/test_bench.py`` checks that both build the
    same state and take the same step).
    """

    def __init__(self, cfg: dict, spec: MethodSpec, device: torch.device, images: torch.Tensor,
                 labels: torch.Tensor, info: rdata.DatasetInfo) -> None:
        super().__init__(cfg, spec, device, train_data=(images, labels), info=info)


class ContextFactory:
    """Builds the training context of (shape, method), caching each shape's synthetic dataset."""

    def __init__(self, device: torch.device, *, performance: dict | None, overrides: list[str],
                 seed: int = 0) -> None:
        self.device = device
        self.performance = performance
        self.overrides = list(overrides)
        self.seed = seed
        self._data: dict[str, tuple[torch.Tensor, torch.Tensor, rdata.DatasetInfo]] = {}

    def config(self, shape: Shape, method: str) -> dict:
        return shape_config(shape, method, performance=self.performance, overrides=self.overrides,
                            seed=self.seed)

    def build(self, shape: Shape, method: str) -> Context:
        """A fresh context (freshly initialised models; ``robgan_ft`` gets an untrained generator)."""
        cfg = self.config(shape, method)
        spec = METHODS[method]
        torch.manual_seed(self.seed)  # model initialisation draws from the global RNG
        if not shape.synthetic:
            return Context(cfg, spec, self.device)
        if shape.name not in self._data:
            info = synthetic_info(shape, cfg)
            self._data[shape.name] = (*synthetic_data(info, seed=self.seed), info)
        images, labels, info = self._data[shape.name]
        return BenchContext(cfg, spec, self.device, images, labels, info)

    def data_description(self, shape: Shape) -> str:
        return (f"synthetic uniform uint8 images ({SYNTHETIC_N} examples)" if shape.synthetic
                else "real embedded mnist5k training split")
