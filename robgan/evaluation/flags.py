"""Sanity flags for robustness evaluations: pure functions of accuracies → ``{"ok": bool, "detail": str}``.

A flag with ``ok: false`` is stored in the record's ``flags`` and surfaced in the report; it never
changes a number. Accuracies are fractions in [0,1] measured on ``n`` evaluation images.

Tolerance ("up to noise"): :func:`noise_tolerance` is two standard errors of a binomial proportion
at its widest (p = 1/2), i.e. ``2·sqrt(1/(4n)) = 1/sqrt(n)`` — 0.045 at n = 500, 0.01 at n = 10,000.
The worst case p is used on purpose: a flag must not fire on sampling noise alone, and the same
tolerance is then applied to every comparison (monotonicity, strong vs paper, AutoAttack vs PGD).
The comparisons are paired (same images), so this is conservative: a flag that fires is a real
inconsistency of the attack, not an unlucky draw.

Flags and what each catches:

* ``monotone_in_eps`` — the ℓ∞ balls are nested, so the true robust accuracy is non-increasing in ε;
  a measured rise of more than the tolerance means the attack got weaker as its budget grew
  (typical of a step size that is too large, or of gradient masking).
* ``large_eps_near_zero`` — at ε ≥ 0.5 every image's ball contains the uniform grey image (all
  pixels 0.5), so whatever class c the model gives that image, the true robust accuracy is at most
  the share of class c, hence at most the largest class share ``chance`` of the evaluated labels
  (1/K for balanced labels). A measured accuracy above ``chance + tolerance`` is proof that the attack
  failed (gradient masking or a broken attack). Below ε = 0.5 the same threshold is a heuristic
  expectation, and the detail says so.
* ``strong_le_paper`` — the strong protocol (random start, more steps, restarts) must not be weaker
  than the paper's 20-step protocol at any ε.
* ``autoattack_le_pgd`` — AutoAttack's final accuracy must not exceed PGD's at the same ε on the
  same images (if it does, the AutoAttack run is too cheap or misconfigured).
* ``pgd_near_autoattack`` — the converse, and the classic gradient-masking signature (Croce & Hein
  2020): PGD accuracy far *above* AutoAttack's (which includes gradient-free or random-start
  attacks) means PGD's gradients are uninformative and the PGD numbers overstate robustness.
  Fires when PGD − AutoAttack > ``max_gap`` (default 0.05) + tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Flag = dict  # {"ok": bool, "detail": str}

#: two standard errors
DEFAULT_Z = 2.0
#: PGD may exceed AutoAttack by this much (beyond noise) before ``pgd_near_autoattack`` fires
DEFAULT_MAX_PGD_GAP = 0.05


def noise_tolerance(n: int, z: float = DEFAULT_Z) -> float:
    """``z`` binomial standard errors at n examples, worst case p = 1/2: ``z·0.5/sqrt(n)``."""
    if n < 1:
        raise ValueError(f"noise_tolerance: n must be >= 1, got {n}")
    return z * 0.5 / math.sqrt(n)


def _flag(ok: bool, detail: str) -> Flag:
    return {"ok": bool(ok), "detail": detail}


def monotone_in_eps(accuracy_by_eps: Mapping[float, float], n: int, *, label: str = "") -> Flag:
    """Accuracy non-increasing in ε up to :func:`noise_tolerance`.

    Args:
        accuracy_by_eps: ``{eps: accuracy}`` (any order; the clean accuracy may be given at eps 0).
        n: number of evaluation images.
        label: prefix naming the protocol in the detail.
    """
    tol = noise_tolerance(n)
    items = sorted(accuracy_by_eps.items())
    bad = [(e0, a0, e1, a1) for (e0, a0), (e1, a1) in zip(items, items[1:], strict=False) if a1 > a0 + tol]
    prefix = f"{label}: " if label else ""
    if bad:
        parts = "; ".join(f"acc(eps={e1:g})={a1:.4f} > acc(eps={e0:g})={a0:.4f}" for e0, a0, e1, a1 in bad)
        return _flag(False, f"{prefix}accuracy rises with eps beyond tolerance {tol:.4f} (n={n}): {parts}")
    return _flag(True, f"{prefix}non-increasing over eps {[e for e, _ in items]} within tolerance "
                       f"{tol:.4f} (n={n})")


def large_eps_near_zero(accuracy: float, eps: float, n: int, chance: float) -> Flag:
    """Accuracy at a huge ε must be at most ``chance + noise_tolerance(n)``.

    Args:
        accuracy: accuracy under attack at ``eps``.
        eps: the large radius ([0,1] units).
        n: number of evaluation images.
        chance: largest class share among the evaluated labels (1/K for balanced labels); at
            ``eps >= 0.5`` it bounds the true robust accuracy (see the module docstring).
    """
    tol = noise_tolerance(n)
    limit = chance + tol
    basis = ("provable bound at eps >= 0.5: every ball holds the grey image" if eps >= 0.5
             else "heuristic below eps 0.5")
    ok = accuracy <= limit
    verdict = "attack succeeds" if ok else "attack FAILED: suspect gradient masking or a broken attack"
    return _flag(ok, f"acc(eps={eps:g})={accuracy:.4f} vs limit {limit:.4f} = largest class share "
                     f"{chance:.4f} + tolerance {tol:.4f} ({basis}); {verdict}")


def strong_le_paper(strong: Mapping[float, float], paper: Mapping[float, float], n: int) -> Flag:
    """Strong-protocol accuracy ≤ paper-protocol accuracy at every common ε, up to noise."""
    tol = noise_tolerance(n)
    common = sorted(set(strong) & set(paper))
    if not common:
        return _flag(False, "no eps evaluated with both protocols")
    bad = [e for e in common if strong[e] > paper[e] + tol]
    if bad:
        parts = "; ".join(f"eps={e:g}: strong {strong[e]:.4f} > paper {paper[e]:.4f}" for e in bad)
        return _flag(False, f"the strong attack is weaker than the paper's beyond tolerance {tol:.4f} "
                            f"(n={n}): {parts}")
    return _flag(True, f"strong <= paper + {tol:.4f} at eps {common} (n={n})")


def autoattack_le_pgd(autoattack: float, pgd: Mapping[str, float], eps: float, n: int) -> Flag:
    """AutoAttack's final accuracy ≤ every PGD protocol's accuracy at the same ε, up to noise.

    Args:
        autoattack: AutoAttack final (robust) accuracy.
        pgd: ``{protocol name: accuracy}`` on the same images at the same ``eps``.
    """
    tol = noise_tolerance(n)
    if not pgd:
        return _flag(False, "no PGD accuracy to compare with")
    bad = {k: v for k, v in pgd.items() if autoattack > v + tol}
    ref = ", ".join(f"{k} {v:.4f}" for k, v in pgd.items())
    if bad:
        return _flag(False, f"AutoAttack {autoattack:.4f} > PGD ({ref}) + tolerance {tol:.4f} at eps={eps:g} "
                            f"(n={n}): the AutoAttack run is weaker than PGD (too cheap or misconfigured)")
    return _flag(True, f"AutoAttack {autoattack:.4f} <= PGD ({ref}) + {tol:.4f} at eps={eps:g} (n={n})")


def pgd_near_autoattack(autoattack: float, pgd: Mapping[str, float], eps: float, n: int,
                        max_gap: float = DEFAULT_MAX_PGD_GAP) -> Flag:
    """PGD accuracy must not exceed AutoAttack's by more than ``max_gap + noise_tolerance(n)``."""
    tol = noise_tolerance(n)
    if not pgd:
        return _flag(False, "no PGD accuracy to compare with")
    limit = autoattack + max_gap + tol
    bad = {k: v for k, v in pgd.items() if v > limit}
    ref = ", ".join(f"{k} {v:.4f}" for k, v in pgd.items())
    if bad:
        return _flag(False, f"PGD ({ref}) exceeds AutoAttack {autoattack:.4f} by more than {max_gap:g} + "
                            f"tolerance {tol:.4f} at eps={eps:g} (n={n}): PGD overstates robustness; "
                            f"suspect gradient masking")
    return _flag(True, f"PGD ({ref}) within {max_gap:g} + {tol:.4f} of AutoAttack {autoattack:.4f} "
                       f"at eps={eps:g} (n={n})")


def all_ok(flags: Mapping[str, Flag]) -> bool:
    return all(f["ok"] for f in flags.values())


def largest_class_share(labels: Sequence[int]) -> float:
    """Share of the most frequent label (the ``chance`` argument of :func:`large_eps_near_zero`)."""
    labels = list(int(v) for v in labels)
    if not labels:
        raise ValueError("largest_class_share: no labels")
    counts: dict[int, int] = {}
    for v in labels:
        counts[v] = counts.get(v, 0) + 1
    return max(counts.values()) / len(labels)
