"""Building blocks shared by the generator and the discriminators.

Everything here is resolution-agnostic: the model classes compose these pieces according to their
constructor arguments (one class per concept, never one class per image size).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

__all__ = [
    "ConditionalBatchNorm2d",
    "DiscriminatorHead",
    "HEADS",
    "maybe_spectral_norm",
    "xavier_init",
]

HEADS = ("ac", "projection")

# SN-GAN (Miyato et al.) initialises residual-branch convolutions with Glorot-uniform gain sqrt(2)
# (they are followed by ReLUs) and shortcuts, first/last layers and heads with gain 1.
RESIDUAL_GAIN = math.sqrt(2.0)


def xavier_init(module: nn.Module, gain: float = 1.0) -> nn.Module:
    """Glorot-uniform initialise ``module.weight`` with ``gain`` and zero its bias (if any); returns it.

    Must be called *before* :func:`maybe_spectral_norm`, which snapshots the weight it wraps.
    """
    nn.init.xavier_uniform_(module.weight, gain=gain)
    bias = getattr(module, "bias", None)
    if bias is not None:
        nn.init.zeros_(bias)
    return module


def maybe_spectral_norm(module: nn.Module, enabled: bool) -> nn.Module:
    """Wrap ``module`` (conv / linear / embedding) with spectral normalisation when ``enabled``.

    Uses ``torch.nn.utils.parametrizations.spectral_norm`` (one power iteration per training-mode
    forward) rather than the legacy hook-based ``torch.nn.utils.spectral_norm``: the legacy version keeps
    a non-leaf ``weight`` tensor on the module after a training forward, which makes ``copy.deepcopy``
    fail (needed e.g. for EMA/frozen copies); the parametrization's ``state_dict`` holds only plain
    tensors (``parametrizations.weight.original``, ``..._u``, ``..._v``) and loads with
    ``torch.load(weights_only=True)``.
    """
    if not enabled:
        return module
    return parametrizations.spectral_norm(module)


class ConditionalBatchNorm2d(nn.Module):
    """Class-conditional batch norm: ``γ_y · BN(x) + β_y`` with per-class learned γ and β.

    Args:
        num_features: channel count ``C``.
        n_classes: number of classes; ``γ`` starts at 1 and ``β`` at 0 for every class, so at
            initialisation the layer equals plain (affine-free) batch norm.
        eps: added to the variance; 2e-5 as in both reference implementations (the Rob-GAN authors'
            ``layers/cat_cond_bn.py`` and sngan_projection's Chainer batch normalisation).

    Shapes: ``x`` float ``(N, C, H, W)`` (any memory format), ``y`` int64 ``(N,)`` in ``[0, n_classes)``;
    returns ``(N, C, H, W)``.
    """

    def __init__(self, num_features: int, n_classes: int, eps: float = 2e-5) -> None:
        super().__init__()
        self.num_features = num_features
        self.n_classes = n_classes
        self.bn = nn.BatchNorm2d(num_features, eps=eps, affine=False)
        self.gamma = nn.Embedding(n_classes, num_features)
        self.beta = nn.Embedding(n_classes, num_features)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self.bn(x)
        shape = (x.shape[0], self.num_features, 1, 1)
        return self.gamma(y).reshape(shape) * out + self.beta(y).reshape(shape)


class DiscriminatorHead(nn.Module):
    """Output head on pooled discriminator features ``h`` (N, F).

    ``kind="ac"``: ``adv`` linear (1 unit, real/fake logit) and ``cls`` linear (``n_classes`` logits);
    ``forward(h, y)`` returns ``(s (N,), c (N, n_classes))`` and ignores ``y``.

    ``kind="projection"`` (Miyato & Koyama 2018): ``s = adv(h) + <embed(y), h>``; ``forward(h, y)``
    returns ``s (N,)`` and raises ``ValueError`` when ``y`` is None.

    ``adv_bias``: whether ``adv`` has a bias (``cls`` always has one, ``embed`` never). ``glorot``:
    Glorot-uniform weights, as both ResNet references, and zero biases (sngan_projection's Chainer
    default; the Rob-GAN port keeps PyTorch's default bias draw, an initial-value difference only);
    ``False`` keeps PyTorch's default initialisation (the authors' PreAct-ResNet heads).
    """

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        kind: str = "ac",
        spectral_norm: bool = False,
        adv_bias: bool = True,
        glorot: bool = True,
    ) -> None:
        super().__init__()
        if kind not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {kind!r}")
        self.kind = kind
        self.n_classes = n_classes

        def make(layer: nn.Module) -> nn.Module:
            return maybe_spectral_norm(xavier_init(layer) if glorot else layer, spectral_norm)

        self.adv = make(nn.Linear(in_features, 1, bias=adv_bias))
        if kind == "ac":
            self.cls = make(nn.Linear(in_features, n_classes))
        else:
            self.embed = make(nn.Embedding(n_classes, in_features))

    def forward(
        self, h: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        s = self.adv(h)[:, 0]
        if self.kind == "ac":
            return s, self.cls(h)
        if y is None:
            raise ValueError(
                "a projection discriminator needs the labels: call D(x, y) with y int64 (N,); "
                "only head='ac' discriminators accept y=None"
            )
        return s + (self.embed(y) * h).sum(dim=1)


def avg_pool2(x: torch.Tensor) -> torch.Tensor:
    """2×2 average pooling (halves H and W)."""
    return F.avg_pool2d(x, 2)
