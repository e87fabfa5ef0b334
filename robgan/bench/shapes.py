"""The benchmarked problem shapes and the training contexts built for them.

One shape per dataset of :data:`robgan.registry.DATASETS`, from its entry's ``bench``
(:class:`robgan.registry.BenchShape`): the experiment config to time and whether to feed synthetic
images. ``embedded`` is the default experiment itself (``config/config.yaml``, the real embedded
digits). ``cifar10`` and ``imagenet143`` take the paper configs (their widths, D architecture, batch
sizes, attacks, augmentation) but feed **synthetic** uint8 images of the shape the dataset's module
describes (its ``info()``), so that they can be timed anywhere without the datasets; the cost of a step
does not depend on the pixel values. Adding a dataset adds its shape here with nothing else to edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from robgan import data as rdata
from robgan import registry
from robgan.config import load_config
from robgan.provenance import REPO_ROOT
from robgan.training.context import Context
from robgan.training.methods import METHODS, MethodSpec, run_label

#: Images in a synthetic dataset: enough for every batch size of the paper configs (128) many times over.
SYNTHETIC_N = 4096


@dataclass(frozen=True)
class Shape:
    """One benchmarked problem size: a dataset's :class:`robgan.registry.BenchShape`.

    Attributes:
        name: the ``--shapes`` name (``embedded`` | ``cifar10`` | ``imagenet143``).
        dataset: the ``data.name`` it stands for.
        config: experiment YAML, relative to the repository root.
        synthetic: feed synthetic uint8 images instead of loading the dataset.
    """

    name: str
    dataset: str
    config: str
    synthetic: bool

    @property
    def config_path(self) -> Path:
        return REPO_ROOT / self.config

    @property
    def description(self) -> str:
        """One line for the report, from the config and the dataset's ``info()``: e.g. ``cifar10
        32x32x3, 10 classes, ngf 64, ndf 64, config/cifar10.yaml (synthetic data)``."""
        cfg = load_config(self.config_path)
        info = rdata.dataset_info(cfg["data"])
        model = cfg["model"]
        return (f"{info.name} {info.resolution}x{info.resolution}x{info.channels}, {info.n_classes} classes, "
                f"ngf {model['ngf']}, ndf {model['ndf']}, {self.config} "
                f"({'synthetic' if self.synthetic else 'real'} data)")


def _shape(spec: registry.DatasetSpec) -> Shape:
    b = spec.bench
    return Shape(b.name, spec.name, b.config, b.synthetic)


SHAPES: dict[str, Shape] = {spec.bench.name: _shape(spec) for spec in registry.DATASETS.values()}


def shape_of_dataset(name: str) -> Shape:
    """The shape a config's ``data.name`` is benchmarked by (for device-hour projections)."""
    return _shape(registry.dataset_spec(name))


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
    """The dataset description a synthetic shape stands for: its module's ``info()`` of the config's
    ``data`` section (no dataset on disk needed)."""
    if cfg["data"]["name"] != shape.dataset:
        raise ValueError(f"shape '{shape.name}' stands for dataset '{shape.dataset}', but its config "
                         f"{shape.config} has data.name '{cfg['data']['name']}'")
    return rdata.dataset_info(cfg["data"])


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
                else f"real {shape.dataset} training split")
