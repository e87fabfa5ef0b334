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
  in ``(lo, hi]``; the candidate's lead per seed is the interval ``[lo_baseline − hi_candidate,
  hi_baseline − lo_candidate]``. Holds when the lower bounds are > 0 by the one-sided test
  (:func:`lead_p`: t over seeds, exact sign test when they do not vary), fails when the upper
  bounds are < 0 by the mirror test; else "tie within snapshot resolution (N)" when the mean interval
  contains 0, or inconclusive; one seed → indicative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from robgan.report.stats import (
    Difference,
    ci_half_width,
    holm_adjust,
    one_sided_p,
    p_greater,
    seeds_needed,
    sign_flip_p,
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
    elif all(w.startswith(TIE) for w in words):
        verdict, head = words[0] if len(set(words)) == 1 else TIE, 0
        why = out[0].reason if k == 1 else f"all {k} comparisons tie within the snapshots' resolution"
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


TIE = "tie within snapshot resolution"
NOT_COMPARABLE = "not comparable in this experiment"


@dataclass(frozen=True)
class TimeJudgement(Judgement):
    """A :class:`Judgement` of "reaches the target sooner" with the lead's bounds.

    ``lower``/``upper``: the mean over seeds of each seed's smallest and largest lead the snapshots
    allow; ``diff`` is their midpoint; ``resolution``: the widest crossing bracket (the snapshot spacing).
    """

    lower: float = math.nan
    upper: float = math.nan
    resolution: float = math.nan
    leads: tuple[tuple[int, float, float], ...] = ()


def lead_bounds(fast: tuple[float, float], slow: tuple[float, float]) -> tuple[float, float]:
    """``[lower, upper]`` of one seed's lead ``t_slow − t_fast`` from the crossing brackets ``(lo, hi]`` of
    :func:`hit_interval`: ``lower = lo_slow − hi_fast``, ``upper = hi_slow − lo_fast`` (−∞ / +∞ when the
    candidate / the baseline never reaches the target)."""
    return slow[0] - fast[1], slow[1] - fast[0]


def lead_p(values: Sequence[float]) -> tuple[float, str, float, float]:
    """``(p, test, se, df)`` of "mean(values) > 0" over seeds: Student-t with ``n − 1`` df; when the values
    do not vary (SE 0), with one seed, or with an infinite value, the exact sign test instead: the one
    exact test over paired seeds, :func:`robgan.report.stats.sign_flip_p`, on the values' signs
    (``P(Bin(n, ½) ≥ #positive)``, ½ⁿ when all are positive), never p = 0 from identical values; a −∞
    value makes the direction unshowable (p = 1)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n == 0 or np.isneginf(v).any():
        return 1.0, "not testable (a seed never reaches the target)", math.nan, math.nan
    if np.isposinf(v).any() or n < 2 or float(np.std(v, ddof=1)) == 0.0:
        return sign_flip_p(np.sign(v))[0], f"exact sign test over {n} seeds", math.nan, math.nan
    se = float(np.std(v, ddof=1) / math.sqrt(n))
    return p_greater(float(v.mean()), se, n - 1), f"one-sided t-test over {n} seeds (paired)", se, n - 1.0


def judge_time_to_target(fast: Mapping[int, tuple[float, float]], slow: Mapping[int, tuple[float, float]],
                         rules: VerdictRules, unit: Unit = Unit(1.0, " s", 1)) -> TimeJudgement:
    """Is "fast" sooner to the target than "slow"? Per-seed ``(lo, hi]`` brackets from :func:`hit_interval`.

    Each shared seed's lead is the interval :func:`lead_bounds`; the summary is the mean lower bound, the
    mean upper bound and their midpoint (``diff``; the finite bound when the other is infinite).
    **Holds** when the lower bounds are > 0 by :func:`lead_p` at α; **fails** when the upper bounds
    are < 0 by the same (mirror) test; else a
    **tie within snapshot resolution (N)** when the mean interval contains 0 (the snapshots cannot tell
    the two apart), or **inconclusive**. One seed of either → indicative.
    """
    seeds = sorted(set(fast) & set(slow))
    finite = [v[1] - v[0] for br in (fast, slow) for v in br.values() if np.isfinite(v[1])]
    res = max(finite) if finite else math.nan
    if not seeds:
        return TimeJudgement(INCONCLUSIVE, math.nan, reason="missing data (no seed shared by both methods)",
                             n_a=len(fast), n_b=len(slow), resolution=res)
    leads = tuple((s, *lead_bounds(fast[s], slow[s])) for s in seeds)
    low, up = [x[1] for x in leads], [x[2] for x in leads]
    lower, upper = float(np.mean(low)), float(np.mean(up))
    # the midpoint; with one bound infinite (a seed never reaches the target) the finite bound
    mid = ((lower + upper) / 2 if np.isfinite(lower) and np.isfinite(upper) else
           upper if np.isfinite(upper) else lower if np.isfinite(lower) else math.nan)
    tie = f"{TIE} ({unit(res)})"
    base = {"n_a": len(fast), "n_b": len(slow), "lower": lower, "upper": upper, "resolution": res, "leads": leads}
    if len(fast) < 2 or len(slow) < 2:  # the bounds are exclusive: lower = 0 still means sooner
        how = ("sooner at the snapshots" if lower >= 0 else "later at the snapshots" if upper <= 0
               else f"the crossing brackets overlap: {tie}")
        return TimeJudgement(INDICATIVE, mid, **base, test="1 run per method: crossing brackets only",
                             reason=f"{how}; {ONE_RUN}")
    p, test, se, df = lead_p(low)
    p_fail, test_fail, se_up, df_up = lead_p([-u for u in up])
    # the 1 − 2α interval of the lead: the lower bound's interval low end to the upper bound's high end
    ci = (lower - (ci_half_width(se, df, rules.alpha) if np.isfinite(se) else 0.0),
          upper + (ci_half_width(se_up, df_up, rules.alpha) if np.isfinite(se_up) else 0.0))
    base.update(se=se, df=df, p_value=p, p_fail=p_fail, ci=ci,
                test=f"lower bound of the lead: {test}; upper bound (mirror): {test_fail}")
    a = rules.alpha
    if p < a:
        return TimeJudgement(HOLDS, mid, **base, reason=f"the lower bound of the lead is > 0: p = {p:.3g} < α = {a:g}")
    if p_fail < a:
        return TimeJudgement(FAILS, mid, **base, reason=f"the upper bound of the lead is < 0: p = {p_fail:.3g} < "
                             f"α = {a:g}")
    denser = f"snapshots denser than every {unit(res)} (the crossing brackets' width)"
    if lower < 0 < upper:
        return TimeJudgement(tie, mid, **base, needed=f"{denser} would be needed to separate the two; more seeds "
                             "would not", reason=f"the mean lead lies in ({unit(lower, True)}, "
                             f"{unit(upper, True)}), which contains 0: the snapshots cannot tell the two apart")
    who = "candidate" if lower >= 0 else "baseline"
    return TimeJudgement(INCONCLUSIVE, mid, **base, needed=f"more seeds, or {denser}, would be needed to decide",
                         reason=f"the {who} is ahead at the snapshots on average, but the test over seeds does "
                         f"not show it (p = {min(p, p_fail):.3g} ≥ α = {a:g})")


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
        f"per-image outcomes are **{NOT_JUDGED}** (re-run the evaluation). Inception scores use "
        "fixed samples: every seed and method draws the same latents and class labels (the fidelity "
        "record's sample_seed), so two generators are compared on the same inputs; each generator's "
        "sampling noise is part of its seed spread.",
        f"Minimum effects ({mins}): holds needs p < α and Δ ≥ the minimum; fails needs p(Δ ≥ 0) < α and "
        f"Δ ≤ −minimum; **{NEGLIGIBLE}** when the {ci} interval (Δ ± t_(1−α, df)·SE) lies inside ±minimum; "
        f"else **{INCONCLUSIVE}**.",
        "\"At every ε\" / several pairs: holds when every comparison holds (intersection–union, no "
        "correction); fails when a comparison fails after Holm's correction across the family; else "
        "inconclusive (or indicative / negligible when every comparison is).",
        f"\"Reaches a given IS sooner\": target = {rules.target_is_fraction:g} × the baseline's final mean IS; "
        "the snapshots bracket each seed's crossing (last snapshot below, first at or above; no "
        "interpolation), so each seed's lead is an interval [baseline's last below − candidate's first at "
        "or above, baseline's first at or above − candidate's last below]; the summary shows the mean of "
        "both bounds and their midpoint. Holds when the lower bounds are > 0 by a one-sided t-test over "
        "seeds, fails when the upper bounds are < 0 by the mirror test (an exact sign test replaces the "
        f"t-test when every seed's bound is the same, never SE 0); else **{TIE} (N)** when the mean "
        "interval contains 0, or inconclusive. Only pairs trained at the same number of D steps per G step "
        f"are compared (else **{NOT_COMPARABLE}**, with the reason).",
        f"An inconclusive claim with ≥ 2 seeds shows n, the smallest number of seeds per method with "
        f"|Δ| ≥ (t_(1−α, ν) + t_(power, ν))·√(s²/n + m²) at α = {a:g}, power = {pw:g}: s² the measured "
        "variance of one seed's difference (paired; s_A² + s_B² unpaired), m the test-set SE counted once, "
        "ν the seed part's df. A difference below the minimum effect counts the distance to it. When m "
        "alone is too large, more test images would decide it — or nothing on this dataset when all its "
        "test images are already used (said so).",
        "Missing records → inconclusive; a method or dataset the experiment does not have → not evaluated "
        "in this experiment. Sanity checks of the evaluation are listed apart, under Checks.",
    ]
