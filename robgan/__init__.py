"""robgan-repro: a reproducibility suite for Rob-GAN (Liu & Hsieh, CVPR 2019).

Public API for notebooks and outside evaluation: :func:`load_run`, :func:`load_classifier`,
:func:`load_generator`. Images are float tensors in [0,1], shape (N, C, H, W).

The API is imported lazily so that light modules (``robgan.config``) load without torch: the
Snakemake workflow imports them at every start.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["RunError", "__version__", "load_classifier", "load_discriminator", "load_generator", "load_run"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from robgan import api

        return getattr(api, name)
    raise AttributeError(f"module 'robgan' has no attribute '{name}'")
