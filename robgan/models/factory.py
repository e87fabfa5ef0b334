"""Build the models of a run from its resolved config (``cfg["model"]``) and the dataset description."""

from __future__ import annotations

from typing import Any, Protocol

from torch import nn

from .discriminator import ResNetDiscriminator
from .generator import ResNetGenerator
from .preact_resnet import PreActResNet18Discriminator

__all__ = ["AC_METHODS", "D_ARCHS", "METHODS", "build_discriminator", "build_generator"]

D_ARCHS = ("resnet", "preact_resnet18")
# Every method except the SN-GAN baseline trains an AC discriminator (real/fake + class heads).
AC_METHODS = ("advtrain", "robgan", "robgan_ft", "acgan", "acgan_newloss", "robgan_oldloss")
METHODS = ("sngan", *AC_METHODS)


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
    """The discriminator a training ``method`` uses.

    - ``"sngan"``: :class:`ResNetDiscriminator` with spectral norm and a projection head, whatever
      ``model.d_arch`` says (the SN-GAN baseline is defined by that architecture);
    - every other method (:data:`AC_METHODS`): ``model.d_arch`` (``"resnet"`` →
      :class:`ResNetDiscriminator`, ``"preact_resnet18"`` → :class:`PreActResNet18Discriminator`), AC
      head, no spectral norm.

    Reads ``model_cfg["ndf"]`` and ``model_cfg["d_arch"]``. Raises ``ValueError`` naming the field for an
    unknown method or architecture.
    """
    d_arch = _get(model_cfg, "d_arch")
    if d_arch not in D_ARCHS:
        raise ValueError(f"model.d_arch must be one of {list(D_ARCHS)}, got {d_arch!r}")
    if method not in METHODS:
        raise ValueError(f"unknown training method {method!r} (run.method); expected one of {list(METHODS)}")
    ndf = int(_get(model_cfg, "ndf"))
    common = {
        "n_classes": info.n_classes,
        "ndf": ndf,
        "resolution": info.resolution,
        "channels": info.channels,
    }
    if method == "sngan":
        return ResNetDiscriminator(**common, spectral_norm=True, head="projection")
    if d_arch == "resnet":
        return ResNetDiscriminator(**common, spectral_norm=False, head="ac")
    return PreActResNet18Discriminator(**common, head="ac")
