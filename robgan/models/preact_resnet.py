"""BatchNorm-free pre-activation ResNet-18 discriminator (the CIFAR-10 option of the authors' history).

Follows the Rob-GAN authors' ``dis_models/preact_resnet.py`` ``PreActResNet18()`` (see
docs/architecture.md, "Models"); the differences are listed in :class:`PreActResNet18Discriminator`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .discriminator import check_input
from .layers import DiscriminatorHead

__all__ = ["PreActResNet18Discriminator"]

_SLOPE = 0.2
_STAGE_MULTS = (1, 2, 4, 8)
_STAGE_STRIDES = (1, 2, 2, 2)
_BLOCKS_PER_STAGE = 2


class PreActBlock(nn.Module):
    """Pre-activation basic block without BN: a = lrelu(x); out = conv3×3(lrelu(conv3×3_s(a))) + sc,
    where sc = 1×1 conv (stride s) of ``a`` when the shape changes, else ``x`` (He et al. 2016).

    As the reference block: convolutions without bias, the two 3×3 ones Kaiming-normal initialised
    (``mode="fan_out"``), the 1×1 shortcut with PyTorch's default initialisation."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.c2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        for conv in (self.c1, self.c2):
            nn.init.kaiming_normal_(conv.weight, mode="fan_out")
        self.c_sc = (
            nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False) if (stride != 1 or in_ch != out_ch) else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.leaky_relu(x, _SLOPE)
        sc = self.c_sc(a) if self.c_sc is not None else x
        h = self.c2(F.leaky_relu(self.c1(a), _SLOPE))
        return h + sc


class PreActResNet18Discriminator(nn.Module):
    """BN-free pre-activation ResNet-18 discriminator with AC heads (leaky ReLU 0.2).

    x in [0, 1] → ``x·2 − 1`` → conv3×3 (channels → ndf, no bias) → 4 stages × 2 pre-activation blocks,
    widths ``ndf·(1, 2, 4, 8)``, strides (1, 2, 2, 2) → global **mean** pooling over H, W (no activation
    before it) → real/fake linear (1 unit) + class linear (n_classes), both with bias and PyTorch's
    default initialisation.

    This is the authors' ``dis_models/preact_resnet.py`` ``PreActResNet18()`` (11,164,875 parameters
    at ndf = 64, 3 channels, 10 classes), with these differences, none of which changes a parameter
    count at the reference's settings:

    - widths, input channels and resolution are arguments (the reference fixes 64…512, 3 channels);
    - the reference pools with ``avg_pool2d(out, 4)``, the mean over the 4×4 map of a 32-px input; the
      global mean here is the same at 32 px and keeps the head's input 512-wide at other resolutions.

    Args:
        n_classes: number of classes.
        ndf: base width (64 gives the standard ResNet-18 widths 64…512).
        resolution: input side (any multiple of 8; 32 for CIFAR-10).
        channels: input image channels.
        head: only ``"ac"`` is supported (a ``ValueError`` otherwise).

    ``forward(x, y=None)``: x float (N, channels, resolution, resolution) in [0, 1]; returns
    ``(s (N,), c (N, n_classes))``; ``y`` is accepted for API symmetry and ignored.
    """

    def __init__(
        self,
        n_classes: int,
        ndf: int = 64,
        resolution: int = 32,
        channels: int = 3,
        head: str = "ac",
    ) -> None:
        super().__init__()
        if head != "ac":
            raise ValueError(
                f"PreActResNet18Discriminator supports only head='ac', got {head!r}; "
                "use ResNetDiscriminator(head='projection') for a projection discriminator"
            )
        if resolution < 8 or resolution % 8:
            raise ValueError(
                f"PreActResNet18Discriminator needs a resolution that is a multiple of 8, got {resolution}"
            )
        self.n_classes = n_classes
        self.ndf = ndf
        self.resolution = resolution
        self.channels = channels
        self.head = head
        self.plan = tuple(ndf * m for m in _STAGE_MULTS)
        self.conv_in = nn.Conv2d(channels, ndf, 3, padding=1, bias=False)
        blocks: list[nn.Module] = []
        in_ch = ndf
        for width, stride in zip(self.plan, _STAGE_STRIDES, strict=True):
            for i in range(_BLOCKS_PER_STAGE):
                blocks.append(PreActBlock(in_ch, width, stride if i == 0 else 1))
                in_ch = width
        self.blocks = nn.Sequential(*blocks)
        self.heads = DiscriminatorHead(in_ch, n_classes, kind="ac", glorot=False)

    @property
    def num_features(self) -> int:
        """Width F of the pooled features fed to the heads."""
        return self.plan[-1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``h`` (N, F) of images ``x`` in [0, 1]; the heads' input."""
        check_input(x, self.channels, self.resolution)
        h = self.blocks(self.conv_in(x * 2 - 1))
        return h.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.features(x), y)
