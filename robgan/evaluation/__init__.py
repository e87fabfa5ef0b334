"""Evaluation of finished runs: PGD sweeps, AutoAttack, train/test gap, local Lipschitz value, sanity flags.

Modules: :mod:`.robustness` (PGD sweeps, gap, Lipschitz; the shared evaluation subset and protocol
helpers), :mod:`.autoattack` (AutoAttack cascade via ``pyautoattack``), :mod:`.flags` (pure sanity
checks), :mod:`.cli` (``robgan eval ...``). Every command writes one record
(``robgan.report.records``); see ``docs/architecture.md``.
"""

from robgan.evaluation.flags import noise_tolerance
from robgan.evaluation.robustness import (
    PAPER,
    PGDProtocol,
    SweepResult,
    eval_subset,
    input_gradient_norms,
    pgd_sweep,
    robust_correct,
)

__all__ = [
    "PAPER",
    "PGDProtocol",
    "SweepResult",
    "eval_subset",
    "input_gradient_norms",
    "noise_tolerance",
    "pgd_sweep",
    "robust_correct",
]
