"""How the generator's batch norm normalises when G makes samples (``model.g_sample_bn``).

``"batch"``: every BN layer normalises with the statistics of the batch being generated, as in the
authors' code (their generator is never put in eval mode when it samples fine-tuning fakes or IS
images); the running statistics are neither used nor updated. ``"running"``: eval-mode BN with the
running statistics accumulated in training. Each image of a ``"batch"`` sample depends on the rest of
its batch, so callers fix the batch size they generate with.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn

G_SAMPLE_BN_MODES = ("batch", "running")


@contextlib.contextmanager
def bn_statistics(module: nn.Module, mode: str) -> Iterator[nn.Module]:
    """Run ``module``'s batch-norm layers with ``mode`` statistics inside the block, then restore them.

    ``"batch"`` puts each BN layer in training mode with ``track_running_stats`` off, so it normalises
    with batch statistics and leaves ``running_mean`` / ``running_var`` / ``num_batches_tracked``
    untouched; ``"running"`` puts each BN layer in eval mode. Other layers keep their mode, and every
    BN layer's ``training`` and ``track_running_stats`` are restored on exit (also on an error).
    """
    if mode not in G_SAMPLE_BN_MODES:
        raise ValueError(f"BN sampling mode must be one of {', '.join(G_SAMPLE_BN_MODES)} "
                         f"(model.g_sample_bn), got {mode!r}")
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m, m.training, m.track_running_stats) for m in layers]
    try:
        for m in layers:
            m.training = mode == "batch"
            if mode == "batch":
                m.track_running_stats = False
        yield module
    finally:
        for m, training, track in saved:
            m.training, m.track_running_stats = training, track
