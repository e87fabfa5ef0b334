"""Verdict rules: a :class:`~robgan.report.stats.Difference` (or crossing times) → a verdict word.

Pure functions, unit-tested; docs/architecture.md ("Verdicts") states the same rules for readers.

Words: ``holds`` / ``fails`` / ``inconclusive`` / ``negligible`` / ``indicative`` /
``not evaluated in this experiment`` / ``not judged`` (accuracy records without per-image outcomes) /
``regime not reached`` (claim 3: no method's train−test gap exceeds the part's ``regime_gap``).

- One comparison "A > B" with ``Δ = mean(A) − mean(B)`` (:func:`judge`):
  fewer than 2 seeds of either → **indicative** (Δ shown, "1 run: seed variance unknown"); else a
  one-sided Student-t test at level α with the degrees of freedom of the SE
  (:func:`robgan.report.stats.difference`): **holds** when ``p(Δ ≤ 0) < α`` and ``Δ ≥ m``, the minimum
  effect of the quantity; **fails** when ``p(Δ ≥ 0) < α`` and ``Δ ≤ −m``; **negligible** when the
  ``1 − 2α`` interval lies inside ``(−m, m)`` (two one-sided tests); else **inconclusive**, with the
  seeds the measured variance would need (:func:`robgan.report.stats.seeds_needed`).
- A family ("at every ε", several pairs; :func:`combine`): **holds** when every comparison holds
  (intersection–union: no correction; its p-value is the largest); **fails** when some comparison fails
  after Holm's correction of the ``p(Δ ≥ 0)`` across the family; **negligible** when all are;
  **indicative** when a comparison has one seed; else **inconclusive**.
- "Reaches the target sooner" (:func:`judge_time_to_target`): the snapshots bracket each seed's crossing
  in ``(lo, hi]``; the candidate's lead per seed is at least ``d = lo_baseline − hi_candidate``. Holds
  when ``mean(d) > 0`` by the one-sided t-test, fails when the mirror lead ``lo_candidate −
  hi_baseline`` is > 0 by the same test; one seed → indicative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from robgan.report.stats import (
    Difference,
    Estimate,
    ci_half_width,
    difference,
    holm_adjust,
    one_sided_p,
    p_greater,
    seeds_needed,
    t_ppf,
)

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"
NEGLIGIBLE, INDICATIVE, NOT_EVALUATED = "negligible", "indicative", "not evaluated in this experiment"
NOT_JUDGED, REGIME_NOT_REACHED = "not judged", "regime not reached"
ONE_RUN = "1 run: seed variance unknown"
NO_OUTCOMES = ("records predate per-image outcomes (re-run the evaluation: snakemake --cores all --forcerun "
               "eval_pgd eval_gap eval_autoattack --configfile <the experiment's config>)")
MAX_SEEDS = 1000


@dataclass(frozen=True)
class Unit:
    """How a quantity is printed: ``value · scale`` with ``digits`` decimals and a ``suffix``."""

    scale: float = 1.0
    suffix: str = ""
    digits: int = 2

    def __call__(self, x: float, sign: bool = False) -> str:
        if x is None or not np.isfinite(x):
            return "n/a"
        return f"{x * self.scale:{'+' if sign else ''}.{self.digits}f}{self.suffix}"


ACCURACY, SCORE = Unit(100.0, " pp", 1), Unit(1.0, "", 2)


@dataclass(frozen=True)
class VerdictRules:
    """``verdict_rules`` of ``config/paper_claims.yaml``.

    Attributes:
        alpha: level of every one-sided test (the intervals shown are ``1 − 2α``).
        power: power of the "seeds needed" calculation.
        min_effect: smallest difference that counts, per quantity (``accuracy`` as a fraction,
            ``inception_score``); a quantity not listed has none.
        target_is_fraction: time-to-target claims aim at this × the baseline's final mean IS.
    """

    alpha: float = 0.05
    power: float = 0.8
    min_effect: Mapping[str, float] = field(default_factory=lambda: {"accuracy": 0.01, "inception_score": 0.1})
    target_is_fraction: float = 0.8

    @classmethod
    def from_mapping(cls, rules: Mapping[str, Any] | None) -> VerdictRules:
        rules = dict(rules or {})
        base = cls()
        return cls(alpha=float(rules.get("alpha", base.alpha)), power=float(rules.get("power", base.power)),
                   min_effect={**base.min_effect, **{k: float(v) for k, v in (rules.get("min_effect") or {}).items()}},
                   target_is_fraction=float(rules.get("target_is_fraction", base.target_is_fraction)))

    def minimum(self, quantity: str) -> float:
        return float(self.min_effect.get(quantity, 0.0))

    @property
    def ci_percent(self) -> str:
        return f"{100 * (1 - 2 * self.alpha):g}%"


@dataclass(frozen=True)
class Judgement:
    """The verdict of one comparison "A > B" (or of a family: see :class:`Combined`).

    ``diff``/``se``/``df``/``ci`` as in :class:`~robgan.report.stats.Difference` (``ci``: the ``1 − 2α``
    interval); ``p_value``: one-sided, ``H0: Δ ≤ 0``; ``p_fail``: one-sided, ``H0: Δ ≥ 0`` (Holm-adjusted
    once the family is combined); ``n_a``/``n_b``: seeds; ``n_items``: images or samples per seed;
    ``test``: the test in words; ``reason``: why this verdict; ``seeds_needed``/``needed``: for an
    inconclusive multi-seed comparison, the seeds per method its measured variance would need.
    """

    verdict: str
    diff: float
    se: float = math.nan
    df: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)
    p_value: float = math.nan
    p_fail: float = math.nan
    min_effect: float = 0.0
    n_a: int = 0
    n_b: int = 0
    n_items: int = 0
    test: str = ""
    reason: str = ""
    seeds_needed: int | None = None
    needed: str = ""


def _needed(d: Difference, rules: VerdictRules, m: float, unit: Unit) -> tuple[int | None, str]:
    """Seeds per method the measured variance needs to decide (see :func:`seeds_needed`)."""
    size = abs(d.diff)
    target, goal = (size, f"detect Δ = {unit(d.diff, True)}") if size >= m or m == 0 else (
        m - size, f"show |Δ| < {unit(m)} (negligible)")
    if not target > 0:
        return None, "Δ = 0: no number of seeds decides it"
    if d.exact_p is not None:
        return _exact_needed(d, rules)
    n = seeds_needed(target, d.seed_vars, d.test_se ** 2, rules.alpha, rules.power, d.paired, MAX_SEEDS)
    if n is None:
        z = t_ppf(1.0 - rules.alpha, math.inf) + t_ppf(rules.power, math.inf)
        if target < z * d.test_se:
            return None, (f"no number of seeds would {goal}: the test-set SE counted once ({unit(d.test_se)}) "
                          f"is too large; {_more_images(d)}")
        return None, f"more than {MAX_SEEDS} seeds per method would be needed to {goal}"
    return n, (f"with the measured variance, about {n} seeds per method would {goal} at α = {rules.alpha:g} "
               f"with power {rules.power:g}")


def _more_images(d: Difference) -> str:
    """What more test images would take: nothing on this dataset when the whole split is used."""
    if d.whole_split:
        return f"not decidable on this dataset: all {d.n_items} test images used"
    return (f"more test images are needed ({d.n_items} per seed now; raise eval.*.n_examples up to the "
            "split's size)")


def _exact_needed(d: Difference, rules: VerdictRules) -> tuple[int | None, str]:
    """Seeds per method at which the exact test over seeds can reach α at all (every seed the same)."""
    if d.paired:
        n = next(k for k in range(1, MAX_SEEDS) if 0.5 ** k < rules.alpha)
        best = f"{d.n_a} paired seeds give at best p = 2^-{d.n_a} = {0.5 ** d.n_a:.3g}"
    else:
        n = next(k for k in range(1, MAX_SEEDS) if 1.0 / math.comb(2 * k, k) < rules.alpha)
        best = f"{d.n_a} + {d.n_b} seeds give at best p = 1/C({d.n_a + d.n_b}, {d.n_a}) = " \
               f"{1.0 / math.comb(d.n_a + d.n_b, d.n_a):.3g}"
    return n, (f"every seed gives the same value, so only the exact test over seeds applies: {best}; at least "
               f"{n} seeds per method can reach α = {rules.alpha:g}")


def judge(d: Difference, rules: VerdictRules, m: float = 0.0, unit: Unit = SCORE) -> Judgement:
    """Verdict of "A > B" from ``d = difference(A, B)`` and the minimum effect ``m`` (module docstring)."""
    base = {"diff": d.diff, "se": d.se, "df": d.df, "min_effect": m, "n_a": d.n_a, "n_b": d.n_b,
            "n_items": d.n_items, "test": d.rule}
    if not np.isfinite(d.diff):
        return Judgement(INCONCLUSIVE, **base, reason="missing data")
    if not d.multi_seed:
        return Judgement(INDICATIVE, **base, reason=ONE_RUN)
    if d.missing_outcomes:
        return Judgement(NOT_JUDGED, **base, reason=NO_OUTCOMES)
    p, p_fail = one_sided_p(d, +1), one_sided_p(d, -1)
    half = ci_half_width(d.se, d.df, rules.alpha) if d.exact_p is None else math.nan
    if d.exact_p is not None:  # an exact test over seeds: no t distribution, no df
        base["df"] = math.nan
    ci = (d.diff - half, d.diff + half)
    base.update(ci=ci, p_value=p, p_fail=p_fail)
    a, mm = rules.alpha, unit(m)
    if p < a and d.diff >= m:
        return Judgement(HOLDS, **base, reason=f"p = {p:.3g} < α = {a:g} and Δ ≥ the minimum effect {mm}")
    if p_fail < a and d.diff <= -m:
        return Judgement(FAILS, **base, reason=f"p(Δ ≥ 0) = {p_fail:.3g} < α = {a:g} and Δ ≤ −{mm}")
    if m > 0 and np.isfinite(half) and -m < ci[0] and ci[1] < m:
        return Judgement(NEGLIGIBLE, **base, reason=f"the {rules.ci_percent} interval lies inside ±{mm}, the "
                         "minimum effect (two one-sided tests)")
    why = (f"significant, but |Δ| < the minimum effect {mm}" if min(p, p_fail) < a
           else f"p = {p:.3g} ≥ α = {a:g}")
    n, needed = _needed(d, rules, m, unit)
    return Judgement(INCONCLUSIVE, **base, reason=why, seeds_needed=n, needed=needed)


@dataclass(frozen=True)
class Combined:
    """The verdict of a family of comparisons (:func:`combine`).

    ``parts``: the comparisons, with ``p_fail`` Holm-adjusted and a lone "fails" that does not survive
    Holm turned inconclusive; ``headline``: index of the deciding comparison (fails: the smallest
    adjusted ``p_fail``; indicative: the smallest Δ; else the largest ``p_value``, the IUT p-value);
    ``seeds_needed``: the largest need among inconclusive comparisons (every one must hold).
    """

    verdict: str
    parts: list[Judgement]
    headline: int | None
    p_value: float
    reason: str
    seeds_needed: int | None = None


def combine(parts: Sequence[Judgement], alpha: float) -> Combined:
    """"For every ε / pair": intersection–union for holds, Holm across the family for fails."""
    parts = list(parts)
    if not parts:
        return Combined(INCONCLUSIVE, [], None, math.nan, "no comparison could be made")
    adj = holm_adjust([j.p_fail for j in parts])
    out = []
    for j, pf in zip(parts, adj, strict=True):
        if j.verdict in (HOLDS, NEGLIGIBLE, INCONCLUSIVE, FAILS) and np.isfinite(pf):
            if pf < alpha and j.diff <= -j.min_effect:
                j = replace(j, verdict=FAILS, p_fail=pf, reason=f"Holm-adjusted p(Δ ≥ 0) = {pf:.3g} < α = {alpha:g} "
                            f"over {sum(np.isfinite(adj))} comparisons")
            elif j.verdict == FAILS:
                j = replace(j, verdict=INCONCLUSIVE, p_fail=pf, reason=f"fails alone (p(Δ ≥ 0) = {j.p_fail:.3g}) "
                            f"but not after Holm over {sum(np.isfinite(adj))} comparisons (adjusted {pf:.3g})")
            else:
                j = replace(j, p_fail=pf)
        out.append(j)
    words = [j.verdict for j in out]
    ps = [j.p_value for j in out]
    p_iut = max(ps) if all(np.isfinite(ps)) else math.nan
    k = len(out)
    if FAILS in words:
        i = min((i for i, j in enumerate(out) if j.verdict == FAILS), key=lambda i: out[i].p_fail)
        verdict, head, why = FAILS, i, f"{words.count(FAILS)} of {k} comparisons fail after Holm's correction"
    elif all(w == HOLDS for w in words):
        verdict, head = HOLDS, int(np.argmax(ps))
        why = f"all {k} comparisons hold (intersection–union test: no correction; its p-value is the largest)"
    elif all(w == NEGLIGIBLE for w in words):
        verdict, head, why = NEGLIGIBLE, int(np.argmax(ps)), f"all {k} differences are negligible"
    elif INDICATIVE in words:
        verdict, p_iut = INDICATIVE, math.nan
        head = min(range(k), key=lambda i: out[i].diff if np.isfinite(out[i].diff) else math.inf)
        why = f"{ONE_RUN}; Δ > 0 in {sum(j.diff > 0 for j in out)} of {k} comparisons"
    else:
        finite = [i for i in range(k) if np.isfinite(ps[i])]
        verdict, head = INCONCLUSIVE, max(finite, key=lambda i: ps[i]) if finite else 0
        counts = ", ".join(f"{words.count(w)} {w}" for w in (HOLDS, NEGLIGIBLE, INCONCLUSIVE) if words.count(w))
        why = f"not every comparison holds ({counts})"
    needs = [j.seeds_needed for j in out if j.verdict == INCONCLUSIVE]
    need = max(needs) if verdict == INCONCLUSIVE and needs and all(n is not None for n in needs) else None
    return Combined(verdict, out, head, p_iut, out[0].reason if k == 1 else why, need)


# --------------------------------------------------------------------------------------------------
# time to target


def hit_interval(xs: Sequence[float], ys: Sequence[float], target: float) -> tuple[float, float]:
    """Where the curve crosses ``target``, as far as the snapshots tell: ``(lo, hi]`` with ``hi`` the x of
    the first snapshot with ``y ≥ target`` and ``lo`` the x of the snapshot before it (0 when it is the
    first). A curve that never reaches the target gives ``(last x, inf)``."""
    pts = sorted(zip(xs, ys, strict=True))
    prev = 0.0
    for x, y in pts:
        if y >= target:
            return prev, float(x)
        prev = float(x)
    return prev, math.inf


def judge_time_to_target(fast: Mapping[int, tuple[float, float]], slow: Mapping[int, tuple[float, float]],
                         rules: VerdictRules, unit: Unit = Unit(1.0, " s", 1)) -> Judgement:
    """Is "fast" sooner to the target than "slow"? Per-seed ``(lo, hi]`` brackets from :func:`hit_interval`.

    ``Δ`` = mean over seeds of the smallest lead the snapshots allow, ``lo_slow − hi_fast`` (positive:
    fast had crossed by a snapshot at which slow had not). Holds when the one-sided t-test finds that
    lead > 0; fails when it finds the mirror lead ``lo_fast − hi_slow`` > 0; else inconclusive. A seed
    that never reaches the target makes its lead −∞ (that direction cannot be shown). One seed of
    either → indicative.
    """
    if not fast or not slow:
        return Judgement(INCONCLUSIVE, math.nan, reason="missing data")
    lead = Estimate({s: v[0] for s, v in slow.items()}), Estimate({s: v[1] for s, v in fast.items()})
    mirror = Estimate({s: v[0] for s, v in fast.items()}), Estimate({s: v[1] for s, v in slow.items()})
    never_f = [s for s, v in fast.items() if not np.isfinite(v[1])]
    never_s = [s for s, v in slow.items() if not np.isfinite(v[1])]
    d = difference(*lead) if not never_f else None
    e = difference(*mirror) if not never_s else None
    diff = d.diff if d is not None else -math.inf
    n_a, n_b = len(fast), len(slow)
    base = {"n_a": n_a, "n_b": n_b}
    if n_a < 2 or n_b < 2:
        if diff >= 0:
            how = "sooner at the snapshots"
        elif e is not None and e.diff >= 0:
            how = "later at the snapshots"
        else:
            how = "the crossing brackets overlap: the snapshots cannot tell"
        return Judgement(INDICATIVE, diff, **base, test="1 run per method: crossing brackets only",
                         reason=f"{how}; {ONE_RUN}")
    if d is None and e is None:
        return Judgement(INCONCLUSIVE, diff, **base, reason=f"the candidate never reached the target in seed(s) "
                         f"{', '.join(map(str, never_f))} and the baseline in seed(s) {', '.join(map(str, never_s))}")
    p = p_greater(d.diff, d.se, d.df) if d is not None else 1.0
    pf = p_greater(e.diff, e.se, e.df) if e is not None else 1.0
    ci = (math.nan, math.nan)
    if d is not None:
        half = ci_half_width(d.se, d.df, rules.alpha)
        ci = (d.diff - half, d.diff + half)
    ref = d if d is not None else e
    base.update(se=ref.se, df=ref.df, ci=ci, p_value=p, p_fail=pf, test=f"lead per seed: {ref.rule}")
    never = f" (never reached by {'the candidate' if never_f else 'the baseline'} in seed(s) " \
            f"{', '.join(map(str, never_f or never_s))})" if never_f or never_s else ""
    a = rules.alpha
    if p < a:
        return Judgement(HOLDS, diff, **base, reason=f"the candidate's lead is > 0: p = {p:.3g} < α = {a:g}{never}")
    if pf < a:
        return Judgement(FAILS, diff, **base, reason=f"the baseline's lead is > 0: p = {pf:.3g} < α = {a:g}{never}")
    denser = "denser snapshots, not more seeds, would be needed"
    for lead_d, who in ((d, "candidate"), (e, "baseline")):
        if lead_d is not None and lead_d.diff > 0 and lead_d.se > 0:
            n, needed = _needed(lead_d, rules, 0.0, unit)
            return Judgement(INCONCLUSIVE, diff, **base, reason=f"the {who}'s lead is not significant "
                             f"(p = {min(p, pf):.3g} ≥ α){never}", seeds_needed=n, needed=needed)
        if lead_d is not None and lead_d.diff >= 0:
            return Judgement(INCONCLUSIVE, diff, **base, needed=denser, reason=f"the {who} is ahead at the "
                             f"snapshots, but they bound its mean lead only by {unit(lead_d.diff)}{never}")
    return Judgement(INCONCLUSIVE, diff, **base, reason=f"the crossing brackets overlap{never}", needed=denser)


def rules_text(rules: VerdictRules) -> list[str]:
    """The rules in words, for ``claims.md``."""
    a, ci, pw = rules.alpha, rules.ci_percent, rules.power
    mins = ", ".join(f"{k.replace('_', ' ')} {v * (100 if k == 'accuracy' else 1):g}"
                     f"{' point(s)' if k == 'accuracy' else ''}" for k, v in rules.min_effect.items())
    return [
        f"One run per method: **{INDICATIVE}** (Δ shown; {ONE_RUN}); never holds or fails.",
        f"≥ 2 seeds per method: one-sided Student-t test of Δ = mean(A) − mean(B) at α = {a:g}. The seed "
        "part of the SE is paired when both methods have the same seeds, else Welch; the degrees of freedom "
        "are the seed part's (n − 1 paired; Welch–Satterthwaite over the two seed variances): the test-set "
        "part below adds to the SE but no degrees of freedom. When every seed gives the same value (seed "
        "variance 0) the t-test is replaced by an exact permutation test over the seeds (sign flips of the "
        "paired differences, else relabellings; n paired seeds give at best p = 2^−n), and the larger of its "
        "p-value and the test-set part's normal p-value is used.",
        "Accuracies: every seed is scored on the same test images, so their sampling error does not shrink "
        "with seeds and is added once. Two methods scored on the same images are paired image by image: "
        "with d_i = (A's outcome on image i averaged over A's seeds) − (the same for B), the test-set "
        "variance is (mean(d²) − mean(d)²)/N, exact from the records' per-image outcomes. Records without "
        f"per-image outcomes are **{NOT_JUDGED}** (re-run the evaluation). Inception scores use fresh "
        "samples per seed: their noise is part of the seed spread.",
        f"Minimum effects ({mins}): holds needs p < α and Δ ≥ the minimum; fails needs p(Δ ≥ 0) < α and "
        f"Δ ≤ −minimum; **{NEGLIGIBLE}** when the {ci} interval (Δ ± t_(1−α, df)·SE) lies inside ±minimum; "
        f"else **{INCONCLUSIVE}**.",
        "\"At every ε\" / several pairs: holds when every comparison holds (intersection–union, no "
        "correction); fails when a comparison fails after Holm's correction across the family; else "
        "inconclusive (or indicative / negligible when every comparison is).",
        f"\"Reaches a given IS sooner\": target = {rules.target_is_fraction:g} × the baseline's final mean IS; "
        "the snapshots bracket each seed's crossing (last snapshot below, first at or above; no "
        "interpolation); the lead per seed is at least (baseline's last snapshot below) − (candidate's first "
        "at or above); the same one-sided t-test on that lead, and on the mirror lead for fails.",
        f"An inconclusive claim with ≥ 2 seeds shows n, the smallest number of seeds per method with "
        f"|Δ| ≥ (t_(1−α, ν) + t_(power, ν))·√(s²/n + m²) at α = {a:g}, power = {pw:g}: s² the measured "
        "variance of one seed's difference (paired; s_A² + s_B² unpaired), m the test-set SE counted once, "
        "ν the seed part's df. A difference below the minimum effect counts the distance to it. When m "
        "alone is too large, more test images would decide it — or nothing on this dataset when all its "
        "test images are already used (said so).",
        "Missing records → inconclusive; a method or dataset the experiment does not have → not evaluated "
        "in this experiment. Sanity checks of the evaluation are listed apart, under Checks.",
    ]
