"""A finished run opened for evaluation: its checkpoints, its classifier and the fixed evaluation images.

Every evaluation (``robgan eval pgd|autoattack|gap|lipschitz|fidelity``) goes through this module to

* refuse a run without ``model.pt`` (the completion marker, written last): :func:`finished_model`
  raises :class:`RunUnfinishedError`;
* list the checkpoints it measures: :func:`run_checkpoints` (the snapshots ``snapshots/iter_*.pt``
  of ``robgan.api.snapshots`` in iteration order, then ``model.pt``; the last snapshot, which holds
  the same weights as ``model.pt``, is left out);
* refuse a run without a classifier (:class:`NotAClassifierError`, ``sngan``) and load its classifier
  (:func:`open_run` → :class:`EvalContext`);
* draw the evaluation images: ``robgan.data.fixed_indices(N_split, n, eval.index_seed)``
  (:func:`eval_subset`) — the same images for every method (and nested: a smaller n is a prefix).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from robgan.api import RunError

log = logging.getLogger("robgan.evaluation")

#: the completion marker of a run directory
MODEL_FILE = "model.pt"


class NotAClassifierError(RuntimeError):
    """The run has no classifier (``sngan``'s projection discriminator is not one)."""


class RunUnfinishedError(RunError):
    """The run directory has no ``model.pt``: its training has not finished."""


# --------------------------------------------------------------------------------------------------
# checkpoints


class Checkpoint(NamedTuple):
    """A model file of a run and the training progress it holds."""

    path: Path
    iteration: int
    train_seconds: float

    @classmethod
    def read(cls, path: str | Path) -> Checkpoint:
        """The ``iteration`` and ``train_seconds`` stored in a snapshot or ``model.pt``."""
        from robgan.provenance import torch_load

        payload = torch_load(path, map_location="cpu")
        return cls(Path(path), int(payload["iteration"]), float(payload["train_seconds"]))


def finished_model(run_dir: str | Path) -> Path:
    """``run_dir/model.pt``; raises :class:`RunUnfinishedError` when the run has not finished."""
    run_dir = Path(run_dir)
    path = run_dir / MODEL_FILE
    if not path.is_file():
        raise RunUnfinishedError(f"{path} does not exist: the run in {run_dir} is unfinished "
                                 f"(rerun its `robgan train` command to resume it)")
    return path


def run_checkpoints(run_dir: str | Path, *, with_snapshots: bool = True) -> list[Checkpoint]:
    """The checkpoints an evaluation measures: the snapshots (optional) in iteration order, then ``model.pt``.

    The training loop writes its last snapshot and ``model.pt`` from the same weights, so the snapshot
    with ``model.pt``'s iteration is left out. Raises :class:`RunUnfinishedError` without ``model.pt``.
    """
    from robgan.api import snapshots

    final = Checkpoint.read(finished_model(run_dir))
    snaps = [Checkpoint.read(p) for p in snapshots(run_dir)] if with_snapshots else []
    return [c for c in snaps if c.iteration != final.iteration] + [final]


def checkpoint_info(path: str | Path) -> dict[str, Any]:
    """The record's checkpoint section for a model file (its ``iteration`` and ``train_seconds``)."""
    from robgan.records import checkpoint_section

    ckpt = Checkpoint.read(path)
    return checkpoint_section(ckpt.path.name, ckpt.iteration, ckpt.train_seconds)


# --------------------------------------------------------------------------------------------------
# the evaluation images


def to_unit(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 [0,255] → float32 [0,1] (no noise, no augmentation: evaluation sees the data as is)."""
    return images_u8.float().div_(255.0)


def eval_subset(data_cfg: Mapping[str, Any], split: str, n: int, index_seed: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fixed evaluation subset of a split.

    Returns:
        ``(x, y, idx)``: images float [0,1] ``(m,C,H,W)``, labels int64 ``(m,)``, indices into the
        split int64 ``(m,)``, with ``m = min(n, len(split))``; on the CPU.
    """
    from robgan.data import fixed_indices, load_split

    images, labels = load_split(dict(data_cfg), split)
    idx = fixed_indices(int(labels.shape[0]), int(n), int(index_seed))
    if idx.numel() < n:
        log.warning("%s split has only %d images; evaluating %d instead of %d", split, idx.numel(),
                    idx.numel(), n)
    return to_unit(images[idx]), labels[idx].clone(), idx


# --------------------------------------------------------------------------------------------------
# the run's classifier


@dataclass
class EvalContext:
    """A run opened for evaluation: its classifier, the evaluation config, device, checkpoint section."""

    run_dir: Path
    run: Any  # robgan.api.Run
    cfg: dict  # resolved evaluation config (the `eval` section is used; data/model come from the run)
    device: torch.device
    model: nn.Module
    checkpoint: dict

    @property
    def eval_cfg(self) -> dict:
        return self.cfg["eval"]

    @property
    def data_cfg(self) -> dict:
        return self.run.config["data"]

    @property
    def n_classes(self) -> int:
        from robgan.data import dataset_info

        return dataset_info(self.data_cfg).n_classes


def check_classifier(run_dir: str | Path) -> None:
    """Raise :class:`NotAClassifierError` for runs whose discriminator is not a classifier (sngan)."""
    from robgan import registry
    from robgan.api import load_run
    from robgan.training.methods import get_method

    run = load_run(run_dir)
    if not get_method(run.method).has_classifier:
        raise NotAClassifierError(
            f"{run.method}'s projection discriminator is not a classifier: there is nothing to evaluate "
            f"in {run.dir} (robustness evaluations apply to {', '.join(registry.classifier_labels())})")


def channels_last_of(cfg: Mapping[str, Any]) -> bool:
    """Whether evaluations run the classifier in channels-last format (``performance.channels_last``)."""
    return bool(cfg.get("performance", {}).get("channels_last", False))


def bf16_attacks_of(cfg: Mapping[str, Any], device: torch.device | str) -> bool:
    """Whether the PGD evaluations (sweep, gap) attack under bf16 autocast: ``performance.bf16_attacks``
    and a device that computes bf16 natively (:func:`robgan.provenance.bf16_supported`)."""
    from robgan.provenance import bf16_supported

    return bool(cfg.get("performance", {}).get("bf16_attacks", False)) and bf16_supported(torch.device(device))


def attack_precision_text(bf16: bool) -> str:
    """``settings.attack_precision`` of a PGD or gap record."""
    return ("bf16 autocast in the attack's forward/backward (objective, gradient sign and images float32); "
            "every verdict (correct or not) in float32" if bf16 else "float32")


def load_run_classifier(ctx: EvalContext, checkpoint: str | Path | None = None) -> nn.Module:
    """The run's classifier (``model.pt`` or ``checkpoint``) on ``ctx.device``, in eval mode, in the
    memory format of ``performance.channels_last``."""
    from robgan.api import load_classifier

    return load_classifier(ctx.run_dir, ctx.device, checkpoint=checkpoint, channels_last=channels_last_of(ctx.cfg))


def open_run(run_dir: str | Path, cfg: Mapping[str, Any], device: torch.device | str,
             *, load_model: bool = True) -> EvalContext:
    """Open a finished run for evaluation (raises :class:`NotAClassifierError` for sngan and
    :class:`RunUnfinishedError` without ``model.pt``)."""
    from robgan.api import load_run

    run_dir = Path(run_dir)
    check_classifier(run_dir)
    run = load_run(run_dir)
    model_path = finished_model(run_dir)
    device = torch.device(device)
    for key in ("name", "resolution"):
        if key in cfg.get("data", {}) and cfg["data"][key] != run.config["data"][key]:
            log.warning("evaluation config has data.%s=%r but the run was trained with %r; evaluating on "
                        "the run's data", key, cfg["data"][key], run.config["data"][key])
    ctx = EvalContext(run_dir, run, dict(cfg), device, None, checkpoint_info(model_path))
    if load_model:
        ctx.model = load_run_classifier(ctx)
    return ctx
