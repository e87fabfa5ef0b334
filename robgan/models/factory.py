"""Build the models of a run from its resolved config (``cfg["model"]``) and the dataset description."""

from __future__ import annotations

from typing import Any, Protocol

from torch import nn

from robgan.registry import method_info

from .discriminator import ResNetDiscriminator
from .generator import ResNetGenerator
from .preact_resnet import PreActResNet18Discriminator

__all__ = ["D_ARCHS", "build_discriminator", "build_generator"]

D_ARCHS = ("resnet", "preact_resnet18")


class _DatasetInfoLike(Protocol):
    n_classes: int
    channels: int
    resolution: int


def _get(model_cfg: dict[str, Any], key: str) -> Any:
    try:
        return model_cfg[key]
    except KeyError:
        raise ValueError(
            f"model.{key} is missing from the model config; set it (see workflow/schemas/config.schema.yaml)"
        ) from None


def build_generator(model_cfg: dict[str, Any], info: _DatasetInfoLike) -> ResNetGenerator:
    """The class-conditional ResNet generator for ``info``'s classes, channels and resolution.

    Reads ``model_cfg["z_dim"]`` and ``model_cfg["ngf"]``; ``info`` is a ``robgan.data.DatasetInfo``
    (anything with ``n_classes``, ``channels``, ``resolution``)."""
    return ResNetGenerator(
        n_classes=info.n_classes,
        z_dim=int(_get(model_cfg, "z_dim")),
        ngf=int(_get(model_cfg, "ngf")),
        resolution=info.resolution,
        channels=info.channels,
    )


def build_discriminator(model_cfg: dict[str, Any], info: _DatasetInfoLike, method: str) -> nn.Module:
    """The discriminator a training ``method`` uses, as its reference code builds it.

    The method's head and spectral norm come from ``robgan.registry.METHODS``:

    - spectrally normalised (``"sngan"``): :class:`ResNetDiscriminator` with spectral norm and the
      method's head (projection), whatever ``model.d_arch`` says (the SN-GAN baseline is defined by
      that architecture), with sngan_projection's bias convention: Chainer links have a bias unless
      ``nobias=True``, so every convolution has one, and the real/fake linear too except at 32 px
      (``snresnet_32.py``: ``SNLinear(ch, 1, nobias=True)``);
    - every other method (AC head, no spectral norm): ``model.d_arch`` (``"resnet"`` →
      :class:`ResNetDiscriminator` with the Rob-GAN authors' bias-free convolutions,
      ``"preact_resnet18"`` → :class:`PreActResNet18Discriminator`).

    ``model.ndf`` is the Rob-GAN authors' ``ch``; sngan_projection's 32-px ``ch`` is ``2·ndf`` (see
    :func:`robgan.models.discriminator.discriminator_plan`), so ndf = 64 gives both papers' widths.
    Reads ``model_cfg["ndf"]`` and ``model_cfg["d_arch"]``. Raises ``ValueError`` naming the field for an
    unknown method or architecture.
    """
    d_arch = _get(model_cfg, "d_arch")
    if d_arch not in D_ARCHS:
        raise ValueError(f"model.d_arch must be one of {list(D_ARCHS)}, got {d_arch!r}")
    spec = method_info(method)
    common = {
        "n_classes": info.n_classes,
        "ndf": int(_get(model_cfg, "ndf")),
        "resolution": info.resolution,
        "channels": info.channels,
    }
    # model.d_pool is for the AC discriminators: under spectral norm the head cannot rescale a mean-pooled
    # output, so the SN-GAN discriminator always sums, as its reference does (docs/architecture.md).
    pool = str(model_cfg.get("d_pool", "sum"))
    if spec.spectral_norm:
        return ResNetDiscriminator(
            **common, spectral_norm=True, head=spec.d_head, conv_bias=True, adv_bias=info.resolution != 32,
        )
    if d_arch == "resnet":
        return ResNetDiscriminator(**common, spectral_norm=False, head=spec.d_head, pool=pool)
    return PreActResNet18Discriminator(**common, head=spec.d_head)
