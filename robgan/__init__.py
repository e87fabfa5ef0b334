"""robgan-repro: a reproducibility suite for Rob-GAN (Liu & Hsieh, CVPR 2019).

Public API for notebooks and outside evaluation: :func:`load_run`, :func:`load_classifier`,
:func:`load_generator`. Images are float tensors in [0,1], shape (N, C, H, W).
"""

__version__ = "0.1.0"

from robgan.api import RunError, load_classifier, load_discriminator, load_generator, load_run  # noqa: E402

__all__ = ["RunError", "__version__", "load_classifier", "load_discriminator", "load_generator", "load_run"]
