"""Models of the Rob-GAN reproduction (SN-GAN ResNet family). All take and return images in [0, 1].

- :class:`ResNetGenerator`: class-conditional generator with :class:`ConditionalBatchNorm2d`.
- :class:`ResNetDiscriminator`: BN-free ResNet discriminator, AC or projection head, optional
  spectral norm.
- :class:`PreActResNet18Discriminator`: BN-free pre-activation ResNet-18 with AC heads.
- :class:`ClassifierView`: an AC discriminator's class head as a classifier.
- :func:`build_generator`, :func:`build_discriminator`: construction from the resolved config.
"""

from .discriminator import ClassifierView, ResNetDiscriminator
from .factory import build_discriminator, build_generator
from .generator import ResNetGenerator
from .layers import ConditionalBatchNorm2d
from .preact_resnet import PreActResNet18Discriminator

__all__ = [
    "ClassifierView",
    "ConditionalBatchNorm2d",
    "PreActResNet18Discriminator",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "build_discriminator",
    "build_generator",
]
