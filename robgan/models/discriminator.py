"""ResNet discriminator (SN-GAN family, as in the Rob-GAN authors' code) with AC or projection head.

The topology, widths and bias convention are those of the reference code (see docs/architecture.md,
"Models"): the Rob-GAN authors' PyTorch ``dis_models/resnet_32.py`` / ``resnet_64.py`` ``ResNetAC`` and
pfnet-research/sngan_projection's ``dis_models/snresnet_32.py`` / ``snresnet_64.py``
``SNResNetProjectionDiscriminator``. Both codebases share one residual block (``dis_models/resblocks.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import RESIDUAL_GAIN, DiscriminatorHead, avg_pool2, maybe_spectral_norm, xavier_init

__all__ = ["POOLS", "RESOLUTIONS", "ClassifierView", "ResNetDiscriminator", "check_input", "discriminator_plan"]

# Resolutions with a reference discriminator (dis_models/resnet_{32,64}.py, snresnet_{32,64}.py).
RESOLUTIONS = (32, 64)
# Global pooling of the last feature map. "sum" is the reference code's (SN-GAN, Rob-GAN). "mean" is the
# same function class (sum = 64·mean at 32 px, absorbed by the head's weights) but a different
# parameterisation of the head's scale, which under Adam divides the head's effective step by the map
# size: docs/architecture.md says when the embedded configs use it and why.
POOLS = ("sum", "mean")


def discriminator_plan(ndf: int, resolution: int, channels: int = 3) -> tuple[tuple[int, int, bool], ...]:
    """The discriminator's blocks as ``(in_channels, out_channels, downsample)`` triples.

    The first triple is the "optimized" block (its input is the image, ``channels`` wide). ``ndf`` is the
    reference code's ``ch`` of the Rob-GAN authors' ``ResNetAC(ch=...)``:

    - 32 px (``dis_models/resnet_32.py``, = SN-GAN's CIFAR discriminator): every block is ``2·ndf``
      wide; optimized block to 16×16, one down-block to 8×8, two blocks at 8×8. sngan_projection's
      ``snresnet_32.SNResNetProjectionDiscriminator(ch=128)`` names that width ``ch`` itself, so its
      ``ch = 2·ndf``: ndf = 64 gives width 128 in both papers' 32-px discriminators.
    - 64 px (``dis_models/resnet_64.py``, = ``snresnet_64.py``, ``ch = ndf`` in both): widths
      ndf·(1, 2, 4, 8, 16), every block halves the side, 64 → 2×2.

    Raises ``ValueError`` for another resolution (there is no reference discriminator to follow).
    """
    if resolution == 32:
        w = 2 * ndf
        return ((channels, w, True), (w, w, True), (w, w, False), (w, w, False))
    if resolution == 64:
        widths = [channels] + [ndf * m for m in (1, 2, 4, 8, 16)]
        return tuple((i, o, True) for i, o in zip(widths[:-1], widths[1:], strict=True))
    raise ValueError(
        f"ResNetDiscriminator supports resolution {' or '.join(map(str, RESOLUTIONS))} "
        f"(the reference discriminators), got {resolution}"
    )


def check_input(x: torch.Tensor, channels: int, resolution: int) -> None:
    """Raise ``ValueError`` unless ``x`` is (N, channels, resolution, resolution).

    The global *sum* pooling makes the logit scale depend on the spatial size, so a wrong-size input
    would silently give wrong-scale logits rather than an error."""
    if x.dim() != 4 or tuple(x.shape[1:]) != (channels, resolution, resolution):
        raise ValueError(
            f"expected images of shape (N, {channels}, {resolution}, {resolution}) in [0, 1], "
            f"got {tuple(x.shape)}"
        )


def _conv(in_ch: int, out_ch: int, ksize: int, gain: float, bias: bool, spectral_norm: bool) -> nn.Module:
    conv = nn.Conv2d(in_ch, out_ch, ksize, padding=ksize // 2, bias=bias)
    return maybe_spectral_norm(xavier_init(conv, gain), spectral_norm)


class OptimizedDiscriminatorBlock(nn.Module):
    """First block: conv3×3 in→out, ReLU, conv3×3 out→out, avg-pool 2; shortcut avg-pool 2 then 1×1 conv.

    No activation before the first conv, since the input is the image itself. ``bias``: whether the
    convolutions have a bias (the Rob-GAN authors' PyTorch code: no; sngan_projection's Chainer links:
    yes)."""

    def __init__(self, in_ch: int, out_ch: int, spectral_norm: bool, bias: bool = False) -> None:
        super().__init__()
        self.c1 = _conv(in_ch, out_ch, 3, RESIDUAL_GAIN, bias, spectral_norm)
        self.c2 = _conv(out_ch, out_ch, 3, RESIDUAL_GAIN, bias, spectral_norm)
        self.c_sc = _conv(in_ch, out_ch, 1, 1.0, bias, spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = avg_pool2(self.c2(F.relu(self.c1(x))))
        return h + self.c_sc(avg_pool2(x))


class DiscriminatorBlock(nn.Module):
    """ReLU, conv3×3 in→in, ReLU, conv3×3 in→out, [avg-pool 2]; shortcut 1×1 conv in→out then
    [avg-pool 2] (identity when channels and size are unchanged).

    The hidden width is the block's *input* width, as in the reference ``dis_models/resblocks.py``
    ``Block`` (``hidden_channels = in_channels``). ``bias`` as in :class:`OptimizedDiscriminatorBlock`."""

    def __init__(
        self, in_ch: int, out_ch: int, downsample: bool, spectral_norm: bool, bias: bool = False
    ) -> None:
        super().__init__()
        self.downsample = downsample
        self.c1 = _conv(in_ch, in_ch, 3, RESIDUAL_GAIN, bias, spectral_norm)
        self.c2 = _conv(in_ch, out_ch, 3, RESIDUAL_GAIN, bias, spectral_norm)
        self.c_sc = (
            _conv(in_ch, out_ch, 1, 1.0, bias, spectral_norm) if (in_ch != out_ch or downsample) else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Not in-place: x is reused by the shortcut.
        h = self.c2(F.relu(self.c1(F.relu(x))))
        sc = self.c_sc(x) if self.c_sc is not None else x
        if self.downsample:
            h, sc = avg_pool2(h), avg_pool2(sc)
        return h + sc


class ResNetDiscriminator(nn.Module):
    """BatchNorm-free ResNet discriminator with an AC or projection head.

    x in [0, 1] → ``x·2 − 1`` → the blocks of :func:`discriminator_plan` → ReLU → global **sum**
    pooling over H, W (SN-GAN) → head. At 32 px the pooled map is 8×8, at 64 px 2×2.

    Args:
        n_classes: number of classes.
        ndf: base width, the Rob-GAN authors' ``ch`` (the paper's 64; :func:`discriminator_plan` gives
            the widths, ``2·ndf`` everywhere at 32 px).
        resolution: input side, 32 or 64.
        channels: input image channels.
        spectral_norm: wrap every conv / linear / embedding with spectral normalisation (SN-GAN).
        head: ``"ac"`` (real/fake logit + class logits; Rob-GAN, AC-GAN, adversarial training) or
            ``"projection"`` (SN-GAN's projection discriminator).
        conv_bias: the convolutions have biases. ``False`` in the Rob-GAN authors' PyTorch code
            (``bias=False``); ``True`` in sngan_projection (Chainer's ``Convolution2D`` has a bias
            unless ``nobias=True``).
        adv_bias: the 1-unit real/fake linear has a bias. ``True`` in the Rob-GAN code (``nn.Linear``)
            and in ``snresnet_64.py``; ``False`` in ``snresnet_32.py`` (``SNLinear(..., nobias=True)``).
            The class linear of the AC head always has one; the projection embedding never does.
        pool: global pooling, ``"sum"`` (the reference) or ``"mean"`` (see :data:`POOLS`).

    ``forward(x, y=None)``: x float (N, channels, resolution, resolution) in [0, 1], y int64 (N,).
    head "ac" → ``(s (N,), c (N, n_classes))`` (y ignored); head "projection" → ``s (N,)``, y required.
    No batch statistics anywhere, so an example's output never depends on the rest of the batch.
    """

    def __init__(
        self,
        n_classes: int,
        ndf: int = 64,
        resolution: int = 32,
        channels: int = 3,
        spectral_norm: bool = False,
        head: str = "ac",
        conv_bias: bool = False,
        adv_bias: bool = True,
        pool: str = "sum",
    ) -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"model.d_pool must be one of {list(POOLS)}, got {pool!r}")
        self.pool = pool
        self.n_classes = n_classes
        self.ndf = ndf
        self.resolution = resolution
        self.channels = channels
        self.spectral_norm = spectral_norm
        self.plan = discriminator_plan(ndf, resolution, channels)
        (in0, out0, _), *rest = self.plan
        blocks: list[nn.Module] = [OptimizedDiscriminatorBlock(in0, out0, spectral_norm, conv_bias)]
        for in_ch, out_ch, down in rest:
            blocks.append(DiscriminatorBlock(in_ch, out_ch, down, spectral_norm, conv_bias))
        self.blocks = nn.Sequential(*blocks)
        self.head = head
        self.heads = DiscriminatorHead(
            self.num_features, n_classes, kind=head, spectral_norm=spectral_norm, adv_bias=adv_bias
        )

    @property
    def num_features(self) -> int:
        """Width F of the pooled features fed to the head."""
        return self.plan[-1][1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``h`` (N, F) of images ``x`` in [0, 1]; the head's input."""
        check_input(x, self.channels, self.resolution)
        h = F.relu(self.blocks(x * 2 - 1))
        return h.sum(dim=(2, 3)) if self.pool == "sum" else h.mean(dim=(2, 3))

    def forward(
        self, x: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.features(x), y)


class ClassifierView(nn.Module):
    """The class head of an AC discriminator, seen as an image classifier.

    ``forward(x)``: x float (N, C, H, W) in [0, 1] → class logits (N, n_classes), exactly ``d(x)[1]``.
    It owns no parameters of its own: it shares ``d``'s (under the ``discriminator.`` prefix), so
    attacks and evaluation code can treat any AC discriminator as a plain classifier.

    Raises ``ValueError`` if ``d`` does not have an AC head (a projection discriminator has no class
    logits). With ``channels_last`` the input is converted to the channels-last memory format before
    D (put D's weights in that format too: ``d.to(memory_format=torch.channels_last)``); the logits are
    the same up to floating-point summation order.
    """

    def __init__(self, d: nn.Module, channels_last: bool = False) -> None:
        super().__init__()
        head = getattr(d, "head", None)
        if head != "ac":
            raise ValueError(
                f"ClassifierView needs a discriminator with head='ac' (class logits), got head={head!r} "
                f"on {type(d).__name__}"
            )
        self.discriminator = d
        self.n_classes: int = d.n_classes
        self.channels_last = bool(channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.discriminator(x)[1]
