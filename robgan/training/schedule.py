"""Learning-rate schedules as pure functions of the iteration (so a resumed run needs no state)."""

from __future__ import annotations

from collections.abc import Mapping


def milestones(sched: Mapping, total: int) -> list[int]:
    """Iterations at which a ``step`` schedule multiplies the learning rate by ``factor``."""
    if sched.get("kind", "constant") != "step":
        return []
    every = int(sched.get("every", 0))
    if every > 0:
        return list(range(every, total, every))
    return sorted(int(m) for m in sched.get("milestones", []) if 0 < int(m) < total)


def lr_factor(sched: Mapping, iteration: int, total: int) -> float:
    """Multiplier of the base learning rate at 0-based ``iteration`` of ``total``.

    constant → 1; step → factor^(number of milestones ≤ iteration); linear → 1 until ``start``,
    then linearly down to 0 at ``total``.
    """
    kind = sched.get("kind", "constant")
    if kind == "constant":
        return 1.0
    if kind == "step":
        n = sum(1 for m in milestones(sched, total) if m <= iteration)
        return float(sched.get("factor", 0.5)) ** n
    if kind == "linear":
        start = int(sched.get("start", 0))
        if iteration < start:
            return 1.0
        return max(0.0, 1.0 - (iteration - start) / max(1, total - start))
    raise ValueError(f"unknown schedule kind '{kind}' (allowed: constant, step, linear)")


def resets_optimizer(sched: Mapping, iteration: int, total: int) -> bool:
    """True at a milestone of a ``step`` schedule with ``reset_optimizer`` (the authors' code
    re-creates Adam when it halves the learning rate)."""
    return bool(sched.get("reset_optimizer", False)) and iteration in milestones(sched, total)


def eps_factor(warmup: int, iteration: int) -> float:
    """Fraction of the attack's eps (and step size) at 0-based ``iteration`` of an eps warm-up of
    ``warmup`` updates: (iteration + 1) / warmup, capped at 1; 1 when ``warmup`` is 0."""
    if warmup <= 0:
        return 1.0
    return min(1.0, (iteration + 1) / warmup)


def ema_decay(decay: float, updates: int) -> float:
    """Decay of the generator's weight average after ``updates`` (>= 1) generator updates:
    ``min(decay, (1 + updates) / (10 + updates))``, TensorFlow's ``ExponentialMovingAverage`` with
    ``num_updates`` (the ramp keeps the first, untrained weights from dominating a short run's
    average: 0.18 after the first update, 0.9 after 80, ``decay`` = 0.99 from 890 on)."""
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"train.g_ema must be in [0, 1), got {decay}")
    return min(decay, (1.0 + updates) / (10.0 + updates))
