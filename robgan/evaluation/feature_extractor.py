"""The feature extractors of IS/FID in torch-fidelity, and how images and settings are handed to it.

Two extractors, each dataset's named by its registry entry (:data:`robgan.registry.DATASETS`):
torch-fidelity's Inception-v3 (``"inception-v3-compat"``) for RGB datasets and, for mnist5k, the small
digit CNN (:class:`robgan.evaluation.reference_cnn.ReferenceCNN`) registered with
torch-fidelity as ``"mnist-cnn"``. Their values are *not* comparable: every record names the extractor
(``metric_label``). Images go to torch-fidelity as uint8 RGB (:func:`to_rgb_u8`, :class:`UInt8Images`)
and :func:`fidelity_kwargs` holds every setting of ``torch_fidelity.calculate_metrics``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from robgan.config import ConfigError
from robgan.evaluation.reference_cnn import CLASSIFIER_FILE, load_classifier

MNIST_EXTRACTOR = "mnist-cnn"
INCEPTION_EXTRACTOR = "inception-v3-compat"
#: torch-fidelity layers used for each extractor: IS on logits, FID on the penultimate features.
FEATURE_LAYERS = {
    MNIST_EXTRACTOR: {"isc": "logits_unbiased", "fid": "feat"},
    INCEPTION_EXTRACTOR: {"isc": "logits_unbiased", "fid": "2048"},
}
METRIC_LABELS = {
    MNIST_EXTRACTOR: "IS/FID (MNIST-CNN features)",
    INCEPTION_EXTRACTOR: "IS/FID (Inception-v3, torch-fidelity)",
}
INCEPTION_WEIGHTS_SOURCE = ("torch-fidelity download (pt_inception-2015-12-05, "
                            "weights-inception-2015-12-05-6726825d.pth)")


def extractor_for(dataset: str) -> str:
    """The feature extractor of a dataset: its registry entry's (:data:`robgan.registry.DATASETS`)."""
    from robgan.registry import dataset_spec

    return dataset_spec(dataset).extractor


# --------------------------------------------------------------------------------------------------
# the mnist5k CNN as a torch-fidelity extractor


def _feature_extractor_class():
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.helpers import vassert

    class MnistCNNFeatureExtractor(FeatureExtractorBase):
        """torch-fidelity feature extractor ``"mnist-cnn"`` around a trained :class:`ReferenceCNN`.

        Input: uint8 ``(N, 3, H, W)`` (grayscale repeated to RGB, as torch-fidelity passes every image);
        the channels are averaged back to one, scaled to [0,1] and resized to the CNN's resolution
        when needed. Features: ``"feat"`` (N, feat_dim) penultimate layer (FID), ``"logits_unbiased"``
        and ``"logits"`` (N, n_classes), identical because the class head has no bias (IS).
        Weights: ``feature_extractor_weights_path`` = a ``classifier.pt`` (required).
        """

        def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
            super().__init__(name, features_list)
            vassert(feature_extractor_weights_path is not None,
                    "feature extractor 'mnist-cnn' needs feature_extractor_weights_path=<reference dir>/"
                    f"{CLASSIFIER_FILE} (written by `robgan train-reference`)")
            self.cnn = load_classifier(feature_extractor_weights_path)
            self.resolution = int(self.cnn.config["resolution"])

        def forward(self, x):
            vassert(torch.is_tensor(x) and x.dtype == torch.uint8, "Expecting image as torch.Tensor with dtype=uint8")
            vassert(x.dim() == 4 and x.shape[1] in (1, 3), f"Input is not Bx3xHxW (or Bx1xHxW): {tuple(x.shape)}")
            x = x.float().mean(dim=1, keepdim=True) / 255
            if x.shape[-2:] != (self.resolution, self.resolution):
                x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False,
                                  antialias=True)
            feat, logits = self.cnn(x)
            out = {"feat": feat, "logits_unbiased": logits, "logits": logits}
            return tuple(out[name].float() for name in self.features_list)

        @staticmethod
        def get_provided_features_list():
            return "feat", "logits_unbiased", "logits"

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return {"isc": "logits_unbiased", "fid": "feat", "kid": "feat", "prc": "feat"}[metric]

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)

    return MnistCNNFeatureExtractor


_EXTRACTOR_CLASS: list = []


def register_mnist_extractor():
    """Register ``"mnist-cnn"`` with torch-fidelity (idempotent); returns the extractor class."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if MNIST_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
        if not _EXTRACTOR_CLASS:
            _EXTRACTOR_CLASS.append(_feature_extractor_class())
        register_feature_extractor(MNIST_EXTRACTOR, _EXTRACTOR_CLASS[0])
    return FEATURE_EXTRACTORS_REGISTRY[MNIST_EXTRACTOR]


# --------------------------------------------------------------------------------------------------
# Inception weights, inputs and settings of torch-fidelity


def inception_weights(fid_cfg: dict) -> tuple[str | None, str]:
    """``(path or None, source description)`` of the Inception weights; a configured path must exist."""
    path = fid_cfg.get("inception_weights")
    if path is None:
        return None, INCEPTION_WEIGHTS_SOURCE
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(
            f"config error at 'eval.fidelity.inception_weights': file '{path}' does not exist. Set it to a local "
            f"copy of torch-fidelity's Inception weights (weights-inception-2015-12-05-6726825d.pth) or to null to "
            f"let torch-fidelity download them (needs internet); fix it in your config or with "
            f"--set eval.fidelity.inception_weights=PATH.")
    return str(p.resolve()), f"local file {p.resolve()}"


class UInt8Images(torch.utils.data.Dataset):
    """A torch Dataset over a uint8 ``(N, C, H, W)`` tensor, as torch-fidelity wants its inputs."""

    def __init__(self, images_u8: torch.Tensor):
        if images_u8.dtype != torch.uint8 or images_u8.dim() != 4:
            raise ValueError(f"UInt8Images: expected uint8 (N,C,H,W), got {images_u8.dtype} {tuple(images_u8.shape)}")
        self.images = images_u8

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def to_rgb_u8(images: torch.Tensor) -> torch.Tensor:
    """float [0,1] or uint8 ``(N, 1|3, H, W)`` → uint8 ``(N, 3, H, W)`` (grayscale repeated), on the CPU."""
    if images.dtype != torch.uint8:
        images = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    images = images.cpu()
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    if images.shape[1] != 3:
        raise ValueError(f"to_rgb_u8: expected 1 or 3 channels, got {images.shape[1]}")
    return images.contiguous()


def fidelity_kwargs(
    extractor: str,
    *,
    cuda: bool,
    batch_size: int,
    splits: int,
    rng_seed: int,
    weights_path: str | None,
    cache_root: str | Path,
    reference_cache_name: str,
    verbose: bool,
) -> dict[str, Any]:
    """Keyword arguments of ``torch_fidelity.calculate_metrics`` (without ``input1``/``input2``).

    IS on ``feature_layer_isc`` and FID on ``feature_layer_fid`` of ``extractor`` in one pass; the
    second input (the training split) is named ``reference_cache_name`` so that its features and FID
    statistics are read from ``cache_root``; ``save_cpu_ram`` keeps data loading in-process.
    """
    if extractor not in FEATURE_LAYERS:
        raise ValueError(f"unknown feature extractor {extractor!r}; known: {', '.join(FEATURE_LAYERS)}")
    if extractor == MNIST_EXTRACTOR and weights_path is None:
        raise ValueError("the mnist-cnn extractor needs weights_path (the reference dir's classifier.pt)")
    layers = FEATURE_LAYERS[extractor]
    return {
        "isc": True,
        "fid": True,
        "feature_extractor": extractor,
        "feature_layer_isc": layers["isc"],
        "feature_layer_fid": layers["fid"],
        "feature_extractor_weights_path": weights_path,
        "isc_splits": int(splits),
        "samples_shuffle": True,
        "rng_seed": int(rng_seed),
        "cuda": bool(cuda),
        "batch_size": int(batch_size),
        "save_cpu_ram": True,
        "cache": True,
        "cache_root": str(cache_root),
        "input1_cache_name": None,
        "input2_cache_name": reference_cache_name,
        "verbose": bool(verbose),
    }
