"""Class-conditional ResNet generator (SN-GAN family, as in the Rob-GAN authors' code)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import RESIDUAL_GAIN, ConditionalBatchNorm2d, xavier_init

__all__ = ["ResNetGenerator", "generator_plan"]

# Width of the 4×4 seed feature map, in units of ngf; each block halves it (never below ngf).
_TOP_MULT = 16
# Number of channel-halving blocks: 16·ngf → ngf.
_MIN_BLOCKS = 4


def generator_plan(ngf: int, resolution: int, bottom_width: int = 4) -> tuple[tuple[int, int, bool], ...]:
    """The generator's residual blocks as ``(in_channels, out_channels, upsample)`` triples.

    ``k = log2(resolution / bottom_width)`` blocks upsample ×2. There are ``max(k, 4)`` blocks; widths
    start at ``16·ngf`` and halve every block down to ``ngf`` (then stay there). Non-upsampling blocks
    come last, at full resolution. Hence (ngf = 64, bottom_width = 4):

    - 64 px: 1024→512↑, 512→256↑, 256→128↑, 128→64↑ (the authors' / SN-GAN 64-px generator);
    - 32 px: 1024→512↑, 512→256↑, 256→128↑, 128→64 (no upsampling), the "3 up-blocks + one block
      without upsampling" of the spec.
    """
    ratio = resolution // bottom_width if bottom_width > 0 else 0
    if bottom_width < 1 or resolution % bottom_width or ratio < 2 or ratio & (ratio - 1):
        raise ValueError(
            f"resolution must be bottom_width · 2^k with k >= 1, got resolution={resolution}, "
            f"bottom_width={bottom_width}"
        )
    n_up = ratio.bit_length() - 1
    n_blocks = max(n_up, _MIN_BLOCKS)
    widths = [ngf * max(_TOP_MULT >> i, 1) for i in range(n_blocks + 1)]
    return tuple((widths[i], widths[i + 1], i < n_up) for i in range(n_blocks))


class GeneratorBlock(nn.Module):
    """Residual block: CBN(y), ReLU, [nearest ×2], conv3×3, CBN(y), ReLU, conv3×3; shortcut
    [nearest ×2] + 1×1 conv (identity when channels and size are unchanged)."""

    def __init__(self, in_ch: int, out_ch: int, n_classes: int, upsample: bool) -> None:
        super().__init__()
        self.upsample = upsample
        self.b1 = ConditionalBatchNorm2d(in_ch, n_classes)
        self.c1 = xavier_init(nn.Conv2d(in_ch, out_ch, 3, padding=1), RESIDUAL_GAIN)
        self.b2 = ConditionalBatchNorm2d(out_ch, n_classes)
        self.c2 = xavier_init(nn.Conv2d(out_ch, out_ch, 3, padding=1), RESIDUAL_GAIN)
        self.c_sc = xavier_init(nn.Conv2d(in_ch, out_ch, 1)) if (in_ch != out_ch or upsample) else None

    def _up(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="nearest") if self.upsample else x

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.c1(self._up(F.relu(self.b1(x, y))))
        h = self.c2(F.relu(self.b2(h, y)))
        sc = self._up(x)
        if self.c_sc is not None:
            sc = self.c_sc(sc)
        return h + sc


class ResNetGenerator(nn.Module):
    """Class-conditional ResNet generator with conditional batch norm.

    ``z`` (N, z_dim) ~ N(0, I) → linear to ``bottom_width² · 16·ngf`` → reshape to
    (N, 16·ngf, bottom_width, bottom_width) → residual blocks of :func:`generator_plan` → BN, ReLU,
    conv3×3 to ``channels``, tanh → mapped to [0, 1] as ``(t + 1) / 2``.

    Args:
        n_classes: number of classes (labels in ``[0, n_classes)``).
        z_dim: latent size.
        ngf: base width (the paper's 64).
        resolution: output side; must be ``bottom_width · 2^k`` (32 and 64 are the paper's settings).
        channels: output image channels (1 or 3).
        bottom_width: side of the seed feature map.

    ``forward(z, y)``: ``z`` float (N, z_dim), ``y`` int64 (N,) → images float
    (N, channels, resolution, resolution) in [0, 1].

    Reference (docs/architecture.md, "Models"): the Rob-GAN authors' ``gen_models/resnet_32.py`` and
    ``resnet_64.py`` ``ResNetGenerator(ch=ngf)``, which has the same layers and parameter count
    (12,272,515 at ngf = 64, z_dim = 128, 10 classes, either resolution); at 64 px it is also
    sngan_projection's ``gen_models/resnet_64.py``. Block hidden width = output width, every layer
    with a bias, affine final BN, as in both. Differences, none in the parameters:

    - biases start at zero (sngan_projection's Chainer default; the authors' PyTorch port keeps
      PyTorch's default uniform bias initialisation);
    - running averages use PyTorch's momentum 0.1, which is sngan_projection's ``decay=0.9``; the
      authors' port passes 0.9 as PyTorch's ``momentum`` to its conditional BNs (running statistics ≈
      the last batch's). Only eval-mode (running-statistics) sampling sees this. The eps are the
      authors' (2e-5 in the conditional BNs, PyTorch's 1e-5 in the final BN);
    - sngan_projection's CIFAR generator (``gen_models/resnet_32.py``, ``ch=256``: three up-blocks
      at constant width 256) is not built: the SN-GAN baseline uses this generator, so that the
      generation comparison differs in the discriminator and its training only.
    """

    def __init__(
        self,
        n_classes: int,
        z_dim: int = 128,
        ngf: int = 64,
        resolution: int = 32,
        channels: int = 3,
        bottom_width: int = 4,
    ) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.z_dim = z_dim
        self.ngf = ngf
        self.resolution = resolution
        self.channels = channels
        self.bottom_width = bottom_width
        self.plan = generator_plan(ngf, resolution, bottom_width)
        top = self.plan[0][0]
        self.l1 = xavier_init(nn.Linear(z_dim, bottom_width * bottom_width * top))
        self.blocks = nn.ModuleList(GeneratorBlock(i, o, n_classes, up) for i, o, up in self.plan)
        last = self.plan[-1][1]
        self.bn_out = nn.BatchNorm2d(last)
        self.conv_out = xavier_init(nn.Conv2d(last, channels, 3, padding=1))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (N, {self.z_dim}), got {tuple(z.shape)}")
        if y.shape != (z.shape[0],):
            raise ValueError(f"y must have shape ({z.shape[0]},), got {tuple(y.shape)}")
        h = self.l1(z).reshape(z.shape[0], -1, self.bottom_width, self.bottom_width)
        for block in self.blocks:
            h = block(h, y)
        t = torch.tanh(self.conv_out(F.relu(self.bn_out(h))))
        # The networks live in [-1, 1] (as the authors' code); everything between modules is [0, 1].
        return (t + 1) / 2
