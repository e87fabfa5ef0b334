"""Evaluation of finished runs: PGD sweeps, AutoAttack, train/test gap, local Lipschitz value, sanity flags.

Modules: :mod:`.robustness` (PGD sweeps, gap, Lipschitz; the shared evaluation subset and protocol
helpers), :mod:`.autoattack` (AutoAttack cascade via ``pyautoattack``), :mod:`.flags` (pure sanity
checks), :mod:`.cli` (``robgan eval ...``). Every command writes one record
(``robgan.report.records``); see ``docs/architecture.md``.
"""

from __future__ import annotations

from typing import Any

# Imported lazily: the `robgan` command imports robgan.evaluation.cli to build its parser, which must
# not import torch (tests/test_cli.py).
_EXPORTS = {
    "noise_tolerance": "robgan.evaluation.flags",
    **{name: "robgan.evaluation.robustness" for name in (
        "PAPER", "PGDProtocol", "SweepResult", "eval_subset", "input_gradient_norms", "pgd_sweep", "robust_correct")},
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'robgan.evaluation' has no attribute '{name}'")
