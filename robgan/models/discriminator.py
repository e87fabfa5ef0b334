"""ResNet discriminator (SN-GAN family, as in the Rob-GAN authors' code) with AC or projection head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import RESIDUAL_GAIN, DiscriminatorHead, avg_pool2, maybe_spectral_norm, xavier_init

__all__ = ["ClassifierView", "ResNetDiscriminator", "check_input", "discriminator_plan"]

# Widths are ndf · 2^i, capped so that deep (≥128 px) variants do not explode in size.
_MAX_MULT = 16


def discriminator_plan(ndf: int, resolution: int) -> tuple[int, ...]:
    """Output widths of the discriminator blocks (the first is the "optimized" block).

    Every block halves the resolution, until the map is 2×2 (``log2(resolution) - 1`` blocks), and
    widths double from ``ndf`` (capped at ``16·ndf``). Hence (ndf = 64):

    - 64 px: 64, 128, 256, 512, 1024 (the authors' / SN-GAN 64-px discriminator);
    - 32 px: 64, 128, 256, 512 (the same rule one block shallower, 32→16→8→4→2).
    """
    if resolution < 4 or resolution & (resolution - 1):
        raise ValueError(f"discriminator resolution must be a power of two >= 4, got {resolution}")
    n_blocks = resolution.bit_length() - 2
    return tuple(ndf * min(2**i, _MAX_MULT) for i in range(n_blocks))


def check_input(x: torch.Tensor, channels: int, resolution: int) -> None:
    """Raise ``ValueError`` unless ``x`` is (N, channels, resolution, resolution).

    The global *sum* pooling makes the logit scale depend on the spatial size, so a wrong-size input
    would silently give wrong-scale logits rather than an error."""
    if x.dim() != 4 or tuple(x.shape[1:]) != (channels, resolution, resolution):
        raise ValueError(
            f"expected images of shape (N, {channels}, {resolution}, {resolution}) in [0, 1], "
            f"got {tuple(x.shape)}"
        )


class OptimizedDiscriminatorBlock(nn.Module):
    """First block: conv3×3, ReLU, conv3×3, avg-pool 2; shortcut avg-pool 2 then 1×1 conv.

    No activation before the first conv, since the input is the image itself."""

    def __init__(self, in_ch: int, out_ch: int, spectral_norm: bool) -> None:
        super().__init__()
        self.c1 = maybe_spectral_norm(
            xavier_init(nn.Conv2d(in_ch, out_ch, 3, padding=1), RESIDUAL_GAIN), spectral_norm
        )
        self.c2 = maybe_spectral_norm(
            xavier_init(nn.Conv2d(out_ch, out_ch, 3, padding=1), RESIDUAL_GAIN), spectral_norm
        )
        self.c_sc = maybe_spectral_norm(xavier_init(nn.Conv2d(in_ch, out_ch, 1)), spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = avg_pool2(self.c2(F.relu(self.c1(x))))
        return h + self.c_sc(avg_pool2(x))


class DiscriminatorBlock(nn.Module):
    """ReLU, conv3×3, ReLU, conv3×3, [avg-pool 2]; shortcut 1×1 conv then [avg-pool 2] (identity when
    channels and size are unchanged)."""

    def __init__(self, in_ch: int, out_ch: int, downsample: bool, spectral_norm: bool) -> None:
        super().__init__()
        self.downsample = downsample
        self.c1 = maybe_spectral_norm(
            xavier_init(nn.Conv2d(in_ch, out_ch, 3, padding=1), RESIDUAL_GAIN), spectral_norm
        )
        self.c2 = maybe_spectral_norm(
            xavier_init(nn.Conv2d(out_ch, out_ch, 3, padding=1), RESIDUAL_GAIN), spectral_norm
        )
        self.c_sc = (
            maybe_spectral_norm(xavier_init(nn.Conv2d(in_ch, out_ch, 1)), spectral_norm)
            if (in_ch != out_ch or downsample)
            else None
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

    x in [0, 1] → ``x·2 − 1`` → optimized block → residual down-blocks (widths from
    :func:`discriminator_plan`) → ReLU → global **sum** pooling over H, W (SN-GAN) → head.

    Args:
        n_classes: number of classes.
        ndf: base width (the paper's 64).
        resolution: input side, a power of two (32 and 64 are the paper's settings).
        channels: input image channels.
        spectral_norm: wrap every conv / linear / embedding with spectral normalisation (SN-GAN).
        head: ``"ac"`` (real/fake logit + class logits; Rob-GAN, AC-GAN, adversarial training) or
            ``"projection"`` (SN-GAN's projection discriminator).

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
    ) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.ndf = ndf
        self.resolution = resolution
        self.channels = channels
        self.spectral_norm = spectral_norm
        self.plan = discriminator_plan(ndf, resolution)
        blocks: list[nn.Module] = [OptimizedDiscriminatorBlock(channels, self.plan[0], spectral_norm)]
        for in_ch, out_ch in zip(self.plan[:-1], self.plan[1:], strict=True):
            blocks.append(DiscriminatorBlock(in_ch, out_ch, downsample=True, spectral_norm=spectral_norm))
        self.blocks = nn.Sequential(*blocks)
        self.head = head
        self.heads = DiscriminatorHead(self.plan[-1], n_classes, kind=head, spectral_norm=spectral_norm)

    @property
    def num_features(self) -> int:
        """Width F of the pooled features fed to the head."""
        return self.plan[-1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``h`` (N, F) of images ``x`` in [0, 1]; the head's input."""
        check_input(x, self.channels, self.resolution)
        h = self.blocks(x * 2 - 1)
        return F.relu(h).sum(dim=(2, 3))

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
