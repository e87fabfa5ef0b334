"""Load finished runs from their directories alone (as RobustBench's ``load_model``).

>>> clf = robgan.load_classifier("results/quick/runs/robgan_ft/seed0")
>>> logits = clf(images)            # images float in [0,1], (N,C,H,W) -> (N, n_classes)
>>> g = robgan.load_generator("results/quick/runs/robgan/seed0")
>>> x = g(torch.randn(8, g.z_dim), torch.arange(8) % g.n_classes)   # (8,C,H,W) in [0,1]

A generator samples with the batch-norm statistics of its run's ``model.g_sample_bn`` (``batch``: those
of each batch it generates, as the authors' code; ``running``: eval mode); ``g.g_sample_bn`` says which.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from torch import nn

from robgan.provenance import torch_load

#: Key of a checkpoint's trained generator weights when its ``generator`` is their moving average
#: (``train.g_ema``; :meth:`robgan.training.context.Context.model_payload`).
RAW_GENERATOR = "generator_raw"


class RunError(RuntimeError):
    """The run directory is missing, unfinished, or has no such model."""


@dataclass(frozen=True)
class Run:
    """A run directory's resolved config and manifest."""

    dir: Path
    config: dict
    manifest: dict

    @property
    def method(self) -> str:
        return self.config["run"]["method"]

    @property
    def label(self) -> str:
        return self.config["run"]["label"]

    @property
    def seed(self) -> int:
        return int(self.config["run"]["seed"])

    @property
    def g_sample_bn(self) -> str:
        """The run's ``model.g_sample_bn`` (the schema default for runs that predate the field)."""
        from robgan.config import load_schema

        return (self.config["model"].get("g_sample_bn")
                or load_schema()["properties"]["model"]["properties"]["g_sample_bn"]["default"])


def load_run(run_dir: str | Path) -> Run:
    """Read ``config.yaml`` and ``manifest.json`` of a run directory."""
    d = Path(run_dir)
    cfg_path = d / "config.yaml"
    if not cfg_path.is_file():
        raise RunError(f"{d} is not a run directory (no config.yaml); produce one with `robgan train`")
    with open(cfg_path) as fh:
        cfg = yaml.safe_load(fh)
    man_path = d / "manifest.json"
    manifest = json.loads(man_path.read_text()) if man_path.is_file() else {}
    return Run(d, cfg, manifest)


def _weights(run: Run, checkpoint: str | Path | None, map_location) -> dict:
    path = Path(checkpoint) if checkpoint is not None else run.dir / "model.pt"
    if not path.is_absolute() and not path.exists():
        path = run.dir / path
    if not path.is_file():
        raise RunError(f"{path} does not exist: the run in {run.dir} is unfinished "
                       f"(rerun its `robgan train` command to resume it)")
    return torch_load(path, map_location=map_location)


def load_discriminator(run_dir: str | Path, device: str | torch.device = "cpu",
                       checkpoint: str | Path | None = None) -> nn.Module:
    """The run's discriminator (eval mode), mapping images in [0,1] to its heads' outputs."""
    from robgan.data import dataset_info
    from robgan.models import build_discriminator

    run = load_run(run_dir)
    state = _weights(run, checkpoint, device)
    d = build_discriminator(run.config["model"], dataset_info(run.config["data"]), run.method)
    d.load_state_dict(state["discriminator"])
    return d.to(device).eval()


def load_classifier(run_dir: str | Path, device: str | torch.device = "cpu",
                    checkpoint: str | Path | None = None, *, channels_last: bool = False) -> nn.Module:
    """The run's classifier in eval mode: images float [0,1] (N,C,H,W) → class logits (N, K).

    ``checkpoint`` selects a snapshot (``snapshots/iter_0000500.pt``) instead of ``model.pt``.
    ``channels_last`` runs the convolutions in the channels-last memory format (faster on CPUs and
    GPUs alike; the evaluations follow the config's ``performance.channels_last``).
    Raises ``RunError`` for runs without a classifier (``sngan``: its projection D is not one).
    """
    from robgan import registry
    from robgan.models import ClassifierView
    from robgan.training.methods import get_method

    run = load_run(run_dir)
    if not get_method(run.method).has_classifier:
        raise RunError(f"{run.dir} is a '{run.method}' run: its discriminator has a projection head and is "
                       f"not a classifier; use a run of {', '.join(registry.classifier_labels())}")
    d = load_discriminator(run_dir, device, checkpoint)
    if channels_last:
        d = d.to(memory_format=torch.channels_last)
    return ClassifierView(d, channels_last=channels_last).eval()


class _Sampler(nn.Module):
    """Wraps a generator with its latent size, class count and BN sampling mode (``g_sample_bn``)."""

    def __init__(self, g: nn.Module, z_dim: int, n_classes: int, g_sample_bn: str):
        super().__init__()
        from robgan.training.sampling import G_SAMPLE_BN_MODES

        if g_sample_bn not in G_SAMPLE_BN_MODES:
            raise ValueError(f"g_sample_bn must be one of {', '.join(G_SAMPLE_BN_MODES)}, got {g_sample_bn!r}")
        self.g, self.z_dim, self.n_classes, self.g_sample_bn = g, z_dim, n_classes, g_sample_bn

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from robgan.training.sampling import bn_statistics

        with bn_statistics(self.g, self.g_sample_bn):
            return self.g(z, y)


def load_generator(run_dir: str | Path, device: str | torch.device = "cpu",
                   checkpoint: str | Path | None = None, *, g_sample_bn: str | None = None,
                   channels_last: bool = False, raw: bool = False) -> nn.Module:
    """The run's generator: ``(z (N, z_dim), y (N,)) → images [0,1] (N,C,H,W)``, with no graph needed.

    ``g_sample_bn``: how its batch norm normalises, ``"batch"`` (statistics of each generated batch,
    the authors' sampling: an image then depends on its batch) or ``"running"`` (eval mode); None =
    the run's ``model.g_sample_bn`` (the schema default for runs that predate the field). Either way
    the running statistics are never updated. ``channels_last`` puts G's weights in the channels-last
    memory format (its convolutions and upsampling ~2x faster on a CPU; the evaluations follow the
    config's ``performance.channels_last``). The returned module (eval mode) has ``z_dim``,
    ``n_classes`` and ``g_sample_bn`` attributes. ``raw``: the trained weights (``generator_raw``) of a
    run trained with ``train.g_ema``, instead of their moving average, which is the run's generator
    everywhere else. Raises ``RunError`` for runs without a generator (``advtrain``), and with ``raw``
    for a checkpoint without trained weights apart from its generator (no ``train.g_ema``).
    """
    from robgan.data import dataset_info
    from robgan.models import build_generator
    from robgan.training.methods import get_method

    run = load_run(run_dir)
    if not get_method(run.method).has_generator:
        raise RunError(f"{run.dir} is a '{run.method}' run, which trains no generator")
    state = _weights(run, checkpoint, device)
    if raw and RAW_GENERATOR not in state:
        raise RunError(f"{checkpoint or run.dir / 'model.pt'} holds no {RAW_GENERATOR}: its run trained without "
                       "train.g_ema, so its generator is the trained weights")
    info = dataset_info(run.config["data"])
    g = build_generator(run.config["model"], info)
    g.load_state_dict(state[RAW_GENERATOR if raw else "generator"])
    if channels_last:
        g = g.to(memory_format=torch.channels_last)
    return _Sampler(g, int(run.config["model"]["z_dim"]), info.n_classes,
                    g_sample_bn or run.g_sample_bn).to(device).eval()


def snapshots(run_dir: str | Path) -> list[Path]:
    """The run's snapshot files in iteration order."""
    return sorted((Path(run_dir) / "snapshots").glob("iter_*.pt"))
