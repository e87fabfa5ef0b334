"""Training of the mnist5k feature CNN (:class:`robgan.evaluation.reference_cnn.ReferenceCNN`).

Adam with a one-cycle schedule, light random-affine augmentation and dropout, seeded: the same seed
gives the same CNN on the same device. ``robgan train-reference``
(:func:`robgan.evaluation.reference.build_reference`) calls it and refuses a CNN below
``eval.fidelity.reference_classifier.min_test_accuracy``.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import torch
import torch.nn.functional as F

from robgan import provenance as prov
from robgan.config import ConfigError
from robgan.evaluation.feature_extractor import MNIST_EXTRACTOR, extractor_for
from robgan.evaluation.reference_cnn import ReferenceCNN, accuracy


def _random_affine(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Light augmentation: rotation ±10°, scale ±10 %, shift ±2 px (32 px images), bilinear, zero fill."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=g) * 2 - 1) * math.radians(10)
    scale = 1 + (torch.rand(n, generator=g) * 2 - 1) * 0.1
    shift = (torch.rand(n, 2, generator=g) * 2 - 1) * (4 / x.shape[-1])  # ±2 px in [-1,1] grid units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)



def train_reference_classifier(
    data_cfg: dict,
    rc_cfg: dict,
    seed: int,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
) -> tuple[ReferenceCNN, dict[str, Any]]:
    """Train the mnist5k feature CNN on the training split; measure it on the test split.

    Args:
        data_cfg: the config's ``data`` section (must be mnist5k).
        rc_cfg: ``eval.fidelity.reference_classifier`` (``epochs``, ``batch_size``, ``lr``,
            ``min_test_accuracy``).
        seed: seeds the initialisation, the batch order and the augmentation.
        progress: tqdm bar (default: when stderr is a terminal).

    Returns:
        ``(model in eval mode, metrics)``; ``metrics`` holds ``test_accuracy``, ``train_accuracy``,
        ``epochs``, ``seed``, ``train_seconds``, ... It does **not** check ``min_test_accuracy``.
    """
    from tqdm import tqdm

    from robgan.data import dataset_info, load_split

    info = dataset_info(data_cfg)
    if extractor_for(info.name) != MNIST_EXTRACTOR:
        raise ConfigError(f"data.name: the reference CNN is for the datasets whose IS/FID extractor is "
                          f"{MNIST_EXTRACTOR!r}; {info.name!r} uses {extractor_for(info.name)!r}")
    x_train, y_train = load_split(data_cfg, "train")
    x_test, y_test = load_split(data_cfg, "test")
    device = torch.device(device)
    epochs, batch_size, lr = int(rc_cfg["epochs"]), int(rc_cfg["batch_size"]), float(rc_cfg["lr"])

    show = sys.stderr.isatty() if progress is None else progress
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    start = time.perf_counter()
    # the global RNG drives initialisation and dropout: seed it, restoring the caller's state afterwards
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        model = ReferenceCNN(n_classes=info.n_classes, resolution=info.resolution).to(device)
        g = torch.Generator().manual_seed(seed)  # batch order and augmentation
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        # one-cycle schedule peaking at 2 lr: the few epochs of this budget then converge reliably
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2 * lr, total_steps=epochs * steps_per_epoch)
        bar = tqdm(total=epochs * steps_per_epoch, desc="reference CNN", unit="step", disable=not show, leave=False)
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(x_train), generator=g)
            for i in range(0, len(x_train), batch_size):
                idx = order[i:i + batch_size]
                x = _random_affine(x_train[idx].float() / 255, g).to(device)
                loss = F.cross_entropy(model(x)[1], y_train[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
        bar.close()
    model.eval().requires_grad_(False)
    train_seconds = time.perf_counter() - start
    metrics = {
        "dataset": info.name,
        "architecture": "ReferenceCNN",
        "config": dict(model.config),
        "test_accuracy": accuracy(model, x_test, y_test, device=device),
        "train_accuracy": accuracy(model, x_train, y_train, device=device),
        "n_train": len(x_train),
        "n_test": len(x_test),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "schedule": "one-cycle, peak 2*lr",
        "augmentation": "random affine: rotation +-10 deg, scale +-10%, shift +-2 px",
        "dropout": model.config["dropout"],
        "seed": seed,
        "train_seconds": train_seconds,
        "device": prov.device_name(device),
    }
    return model, metrics
