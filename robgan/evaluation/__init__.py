"""Evaluation of finished runs: PGD sweeps, AutoAttack, train/test gap, local Lipschitz value, IS/FID,
sanity flags.

Modules, one job each:

* :mod:`.context` — opening a finished run: its checkpoints (the one snapshot lister), the "run
  unfinished" and "not a classifier" errors, its classifier, the fixed evaluation images;
* :mod:`.robustness` — the computations: PGD protocols and sweeps over ε, the gap's clean/robust
  pair, input-gradient norms (local Lipschitz value);
* :mod:`.commands` — the ``pgd``, ``gap`` and ``lipschitz`` records; :mod:`.autoattack` — the
  AutoAttack cascade (``pyautoattack``) and its record;
* :mod:`.fidelity` — IS/FID (pure metrics and the ``fidelity`` record); :mod:`.reference` — the
  reference directory (statistics files, ``metrics.json``); :mod:`.reference_cnn` — the mnist5k
  feature CNN; :mod:`.reference_training` — its training; :mod:`.feature_extractor` — the
  torch-fidelity extractors;
* :mod:`.flags` — pure sanity checks; :mod:`.cli` and :mod:`.fidelity_cli` — ``robgan eval ...`` and
  ``robgan train-reference``.

Every command writes one record (``robgan.records``); see ``docs/architecture.md``.
"""

from __future__ import annotations

from typing import Any

# Imported lazily: the `robgan` command imports robgan.evaluation.cli to build its parser, which must
# not import torch (tests/test_cli.py).
_EXPORTS = {
    "noise_tolerance": "robgan.evaluation.flags",
    **{name: "robgan.evaluation.robustness" for name in (
        "PAPER", "PGDProtocol", "SweepResult", "input_gradient_norms", "pgd_sweep", "robust_correct")},
    **{name: "robgan.evaluation.context" for name in (
        "RunUnfinishedError", "eval_subset", "open_run", "run_checkpoints")},
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'robgan.evaluation' has no attribute '{name}'")
