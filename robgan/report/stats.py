"""Pure statistics of the report: per-seed estimates, the standard error of a difference, Student-t.

No verdict words here (:mod:`robgan.report.verdicts` turns these numbers into verdicts); numpy and the
standard library only. The model behind :func:`difference` (docs/architecture.md, "Verdicts"):

- a quantity is measured once per training seed; its seed-to-seed spread is the training variance,
  which only several seeds can estimate;
- an accuracy is also subject to the sampling error of its test images. Every seed is scored on the
  same images (``eval.index_seed``), so that error is common to all seeds: it is counted **once**
  (never divided by the number of seeds). Two methods scored on the same images are paired: the
  records keep each image's outcome (``correct``), so the error of ``p_A − p_B`` is computed exactly
  from the per-image differences ``d_i = ā_i − b̄_i`` (``ā_i``: A's outcome on image i averaged over
  A's seeds): ``var = (mean(d²) − mean(d)²) / N`` (the plug-in variance, as the binomial SE
  ``p(1−p)/N`` of one accuracy). Terms of several image sets (a train − test gap) add per set, each
  image set's signed per-image sum taken exactly. An accuracy without per-image outcomes has no
  test-set SE (NaN): the claims refuse such records;
- the degrees of freedom are those of the seed part alone (paired: n − 1; Welch–Satterthwaite over
  the two seed variances): the test-set part enters the SE but never raises the df, so no estimated
  variance is treated as known to gain degrees of freedom;
- when every seed gives the same value (a seed variance of 0, up to float rounding) a t statistic would
  divide by a variance estimated as 0: the p-values come from an exact permutation test over the seeds instead
  (:func:`exact_seed_p`; paired: sign flips of the per-seed differences, else a relabelling of the
  seeds), combined with the test-set part's normal test by taking the larger p-value (both must reject);
- an Inception score is computed from fresh generated samples per seed: its measurement noise (the
  split std) is independent across seeds and already part of the seed spread.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Binomial", "Difference", "Estimate", "binomial_se", "ci_half_width", "difference", "exact_seed_p",
           "frechet_var", "holm_adjust", "one_sided_p", "p_greater", "paired_test_var", "seeds_needed",
           "sign_flip_p", "summarise", "t_ppf", "t_sf"]


def summarise(values: Iterable[float]) -> dict[str, float]:
    """``{"mean", "std", "n", "min", "max"}`` of finite values (std: ddof 1, NaN for n < 2)."""
    arr = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    n = int(arr.size)
    if n == 0:
        return {"mean": math.nan, "std": math.nan, "n": 0, "min": math.nan, "max": math.nan}
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if n > 1 else math.nan, "n": n,
            "min": float(arr.min()), "max": float(arr.max())}


def binomial_se(p: float, n: int) -> float:
    """Standard error of an accuracy ``p`` measured on ``n`` independent examples."""
    return math.sqrt(max(p * (1.0 - p), 0.0) / n) if n > 0 else math.nan


def frechet_var(p: float, q: float) -> float:
    """Largest variance of one image's ``1[A right] − 1[B right]`` that accuracies ``p`` (A) and ``q`` (B)
    on the same images allow: ``min(p, 1−q) + min(1−p, q) − (p − q)²``. Not used by :func:`difference`
    (which uses the per-image outcomes); kept to show how loose the bound was (tests, docs)."""
    return max(min(p, 1.0 - q) + min(1.0 - p, q) - (p - q) ** 2, 0.0)


# --------------------------------------------------------------------------------------------------
# estimates


@dataclass(frozen=True)
class Binomial:
    """An accuracy inside an estimate: ``sign · p`` measured on the ``n`` images ``images``.

    ``images`` names the image set (``"<split>/<index_seed>/<n>"``); two terms with the same non-empty
    name were scored on the same images and are paired. ``p``: the accuracy per seed. ``outcomes``:
    per seed, the ``0``/``1`` string of per-image outcomes (the record's ``correct``; empty for records
    that predate them). ``split_size``: images in the split (0 = unknown): ``n == split_size`` means
    the whole split is used.
    """

    images: str
    n: int
    p: Mapping[int, float]
    sign: int = 1
    outcomes: Mapping[int, str] = field(default_factory=dict)
    split_size: int = 0

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.p.values()))) if self.p else math.nan

    @property
    def has_outcomes(self) -> bool:
        """Every seed's per-image outcomes are known (``n`` characters each)."""
        return bool(self.p) and all(len(self.outcomes.get(s) or "") == self.n for s in self.p)

    def image_means(self) -> np.ndarray:
        """float ``(n,)``: each image's outcome averaged over the seeds (needs :attr:`has_outcomes`)."""
        rows = [np.frombuffer(self.outcomes[s].encode(), dtype=np.uint8) - ord("0") for s in sorted(self.p)]
        return np.mean(np.stack(rows).astype(float), axis=0)

    @property
    def whole_split(self) -> bool:
        return self.split_size > 0 and self.n >= self.split_size


@dataclass(frozen=True)
class Estimate:
    """A quantity measured once per seed.

    Attributes:
        values: ``{seed: value}``.
        noise: ``{seed: measurement standard error}`` of each value (binomial SE of an accuracy, the
            split std of an Inception score), shown with one seed.
        noise_kind: what ``noise`` is (``"binomial SE"``, ``"split std"``).
        binomials: the accuracies the value is made of (an accuracy: one term; a train − test gap: two);
            empty when the measurement noise is independent across seeds (Inception scores).
        n_items: images (accuracies) or generated samples (IS) behind one seed's value; 0 = unknown.
    """

    values: Mapping[int, float]
    noise: Mapping[int, float] = field(default_factory=dict)
    noise_kind: str = "measurement SE"
    binomials: tuple[Binomial, ...] = ()
    n_items: int = 0

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return summarise(self.values.values())["mean"]

    @property
    def std(self) -> float:
        return summarise(self.values.values())["std"]

    @property
    def empty(self) -> bool:
        return self.n == 0


@dataclass(frozen=True)
class Difference:
    """``a − b`` of two estimates with its standard error.

    Attributes:
        diff: ``mean(a) − mean(b)`` over seeds.
        se: total standard error, ``sqrt(seed_se² + test_se²)``; with one seed of either, the
            measurement SE only (the seed variance is unknown).
        df: degrees of freedom of the t statistic (``inf``: normal; NaN with one seed).
        seed_se: the seed part (paired over the seeds when both have the same ≥ 2 seeds, else Welch).
        test_se: the test-set part, counted once (0 for Inception scores).
        rule: how ``se`` was obtained, in words.
        n_a, n_b: seeds of ``a`` and ``b``.
        paired: the seed part is paired.
        seed_vars: per-seed variances behind ``seed_se`` (paired: of the differences; Welch: of a and
            of b), for :func:`seeds_needed`.
        n_items: images / samples per seed (the smaller of the two; 0 = unknown).
        exact_p: ``(p(Δ ≤ 0), p(Δ ≥ 0))`` one-sided p-values of the exact test over seeds that
            replaces the t-test when every seed gives the same value (:func:`exact_seed_p`); None
            otherwise. :func:`one_sided_p` reads it.
        whole_split: every accuracy behind the test-set part uses its whole split (more images cannot
            be had on this dataset).
        missing_outcomes: an accuracy behind it has no per-image outcomes (test-set SE unknown).
    """

    diff: float
    se: float
    df: float
    seed_se: float
    test_se: float
    rule: str
    n_a: int
    n_b: int
    paired: bool = False
    seed_vars: tuple[float, ...] = ()
    n_items: int = 0
    exact_p: tuple[float, float] | None = None
    whole_split: bool = False
    missing_outcomes: bool = False

    @property
    def multi_seed(self) -> bool:
        return self.n_a >= 2 and self.n_b >= 2


def paired_test_var(terms: Sequence[tuple[int, np.ndarray]]) -> float:
    """Test-set variance of ``Σ sign · mean(vector)`` over terms scored on the same N images:
    ``var(c) / N`` (plug-in, ddof 0) of the per-image sums ``c_i = Σ sign · vector_i``.

    ``terms``: ``(sign, float (N,))`` pairs, each vector an accuracy's per-image outcomes averaged over
    its seeds. One term gives the binomial variance ``p(1−p)/N`` of its accuracy; A (sign +1) and B
    (sign −1) give the exact paired variance ``(mean(d²) − mean(d)²)/N`` of ``d_i = ā_i − b̄_i``.
    """
    c = np.sum([sign * np.asarray(v, dtype=float) for sign, v in terms], axis=0)
    return float(np.mean(c * c) - np.mean(c) ** 2) / c.size


def _test_var(a: Estimate, b: Estimate) -> tuple[float, str]:
    """Variance of the test-set error of ``mean(a) − mean(b)`` (counted once) and how it was paired:
    the terms are grouped by image set (a term of ``b`` enters with the opposite sign), each group's
    variance from its per-image outcomes (:func:`paired_test_var`), groups independent. NaN when a
    term has no per-image outcomes."""
    groups: dict[str, list[Binomial]] = {}
    signed = [(t, t.sign) for t in a.binomials] + [(u, -u.sign) for u in b.binomials]
    for i, (t, sign) in enumerate(signed):
        key = f"{t.images}|{t.n}" if t.images else f"#{i}"
        groups.setdefault(key, []).append(replace(t, sign=sign))
    if not all(t.has_outcomes for g in groups.values() for t in g):
        return math.nan, "per-image outcomes missing: test-set SE unknown"
    var, how = 0.0, set()
    for g in groups.values():
        var += paired_test_var([(t.sign, t.image_means()) for t in g])
        how.add("same images: paired, exact from per-image outcomes" if len(g) > 1
                else "different images: independent")
    return var, "; ".join(sorted(how))


def difference(a: Estimate, b: Estimate) -> Difference:
    """Difference of means ``a − b`` and its standard error (see the module docstring).

    - Seed part (≥ 2 seeds each): paired, ``var(a_s − b_s)/n`` with ``n − 1`` df, when both have the
      same seeds; else Welch, ``s_a²/n_a + s_b²/n_b`` with the Welch–Satterthwaite df of those two terms.
    - Test-set part: for accuracies, the variance of the test-set error of the difference, counted once,
      exact from the per-image outcomes (NaN without them).
    - ``se² = seed part + test part``; ``df`` = the seed part's df (the test part adds none).
    - Every seed the same (seed variance 0): ``exact_p`` from :func:`exact_seed_p` (and the test-set
      part), which :func:`one_sided_p` uses instead of the t-test.
    - One seed of either: ``se`` = the test-set SE (accuracies) or ``sqrt(noise_a² + noise_b²)`` (IS),
      ``df`` NaN: the seed variance is unknown.
    NaN when either estimate is empty.
    """
    n_items = min([e.n_items for e in (a, b) if e.n_items] or [0])
    if a.empty or b.empty:
        return Difference(math.nan, math.nan, math.nan, math.nan, math.nan, "missing data", a.n, b.n,
                          n_items=n_items)
    diff = a.mean - b.mean
    shared = bool(a.binomials) and bool(b.binomials)
    test_var, test_how = _test_var(a, b) if shared else (0.0, "")
    terms_all = a.binomials + b.binomials
    extra = {"n_items": n_items, "whole_split": shared and all(t.whole_split for t in terms_all),
             "missing_outcomes": shared and not math.isfinite(test_var)}
    test_txt = f" + test-set SE counted once ({test_how})" if shared else ""
    if a.n < 2 or b.n < 2:
        if shared:
            se = math.sqrt(test_var)
            rule = f"1 run: test-set SE only ({test_how})"
        else:
            na, nb = (float(np.mean(np.square(list(e.noise.values())))) if e.noise else math.nan for e in (a, b))
            se = math.sqrt(na / a.n + nb / b.n)
            rule = f"1 run: {a.noise_kind} only"
        return Difference(diff, se, math.nan, math.nan, math.sqrt(test_var), rule, a.n, b.n, **extra)
    if set(a.values) == set(b.values):
        seeds = sorted(a.values)
        d = np.asarray([a.values[s] - b.values[s] for s in seeds])
        v = float(d.var(ddof=1))
        terms, paired, seed_vars = [(v / len(d), len(d) - 1)], True, (v,)
        rule = f"paired t over {len(d)} seeds{test_txt}"
    else:
        va, vb = a.std ** 2, b.std ** 2
        terms, paired, seed_vars = [(va / a.n, a.n - 1), (vb / b.n, b.n - 1)], False, (va, vb)
        rule = f"Welch t over {a.n} + {b.n} seeds{test_txt}"
    seed_var = sum(t for t, _ in terms)
    se = math.sqrt(seed_var + test_var)
    denom = sum(t * t / k for t, k in terms)
    df = seed_var ** 2 / denom if denom > 0 else math.inf
    exact = None
    if _all_equal(a.values, b.values, paired):
        p_up, p_down = exact_seed_p(a.values, b.values)
        if test_var > 0:  # the test-set error must be overcome too: the larger p-value of the two tests
            z = diff / math.sqrt(test_var)
            p_up, p_down = max(p_up, t_sf(z, math.inf)), max(p_down, t_sf(-z, math.inf))
        exact = (p_up, p_down)
        how = "sign flips of the per-seed differences" if paired else "relabellings of the seeds"
        rule = (f"every seed gives the same {'difference' if paired else 'value'}: exact permutation test "
                f"over {a.n}{'' if paired else f' + {b.n}'} seeds ({how}){test_txt}")
    return Difference(diff, se, df, math.sqrt(seed_var), math.sqrt(test_var), rule, a.n, b.n, paired, seed_vars,
                      exact_p=exact, **extra)


def _all_equal(a: Mapping[int, float], b: Mapping[int, float], paired: bool) -> bool:
    """Every seed gives the same value: the same paired difference, or (unpaired) the same value within
    each method — up to float rounding (1e-12 relative)."""
    groups = [[a[s] - b[s] for s in a]] if paired else [list(a.values()), list(b.values())]
    scale = 1.0 + max(abs(v) for v in [*a.values(), *b.values()])
    return all(max(g) - min(g) <= 1e-12 * scale for g in groups)


def sign_flip_p(d: Sequence[float]) -> tuple[float, float]:
    """Exact one-sided p-values ``(p(Δ ≤ 0), p(Δ ≥ 0))`` of the mean of paired per-seed values ``d``: the
    share of the ``2^n`` sign flips of ``d`` whose mean is at least (at most) the observed one.

    The one exact test over paired seeds: :func:`exact_seed_p` runs it on per-seed differences,
    :func:`robgan.report.verdicts.lead_p` on the signs of per-seed leads (on ±1 values it is the exact
    sign test: ``P(Bin(n, ½) ≥ #positive)`` without zeros). ``n`` identical positive values give
    ``2^−n`` (3 seeds: 0.125), never 0.
    """
    import itertools

    v = np.asarray(d, dtype=float)
    if v.size == 0 or not np.isfinite(v).all():
        raise ValueError(f"sign_flip_p needs finite values, got {list(v)}")
    obs, tol = float(v.mean()), 1e-12 * (1.0 + float(np.abs(v).max()))
    means = np.asarray([float(np.mean(v * np.asarray(signs))) for signs in
                        itertools.product((1.0, -1.0), repeat=v.size)])
    return float(np.mean(means >= obs - tol)), float(np.mean(means <= obs + tol))


def exact_seed_p(a: Mapping[int, float], b: Mapping[int, float]) -> tuple[float, float]:
    """Exact one-sided p-values ``(p(Δ ≤ 0), p(Δ ≥ 0))`` of ``Δ = mean(a) − mean(b)`` over the seeds.

    Same seeds (paired): :func:`sign_flip_p` of the per-seed differences. Different seeds: the share of
    the ``C(n_a + n_b, n_a)`` relabellings of the pooled values whose difference of means is at least
    (at most) the observed one. The smallest p-value n paired seeds can give is ``2^−n`` (3 seeds: 0.125).
    """
    import itertools

    if set(a) == set(b):
        return sign_flip_p([a[s] - b[s] for s in sorted(a)])
    tol = 1e-12
    pooled = np.asarray([*a.values(), *b.values()], dtype=float)
    na = len(a)
    obs = float(pooled[:na].mean() - pooled[na:].mean())
    means = []
    for pick in itertools.combinations(range(pooled.size), na):
        mask = np.zeros(pooled.size, dtype=bool)
        mask[list(pick)] = True
        means.append(float(pooled[mask].mean() - pooled[~mask].mean()))
    means = np.asarray(means)
    return float(np.mean(means >= obs - tol)), float(np.mean(means <= obs + tol))


def one_sided_p(d: Difference, direction: int = 1) -> float:
    """One-sided p-value of ``H0: Δ ≤ 0`` (``direction`` +1) or ``H0: Δ ≥ 0`` (−1): the exact test over
    seeds when ``d`` has one (:attr:`Difference.exact_p`), else the t-test (:func:`p_greater`)."""
    if d.exact_p is not None:
        return d.exact_p[0 if direction > 0 else 1]
    return p_greater(direction * d.diff, d.se, d.df)


# --------------------------------------------------------------------------------------------------
# Student t


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """``P(T > t)`` for Student's t with ``df`` (> 0, may be fractional; ``inf`` = normal)."""
    if math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    if math.isinf(df):
        return 0.5 * math.erfc(t / math.sqrt(2.0))
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def t_ppf(q: float, df: float) -> float:
    """Quantile ``t`` with ``P(T ≤ t) = q`` (bisection on :func:`t_sf`; |error| < 1e-10)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"t_ppf: q must be in (0, 1), got {q}")
    if q < 0.5:
        return -t_ppf(1.0 - q, df)
    lo, hi = 0.0, 1.0
    while t_sf(hi, df) > 1.0 - q:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_sf(mid, df) > 1.0 - q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


def p_greater(diff: float, se: float, df: float) -> float:
    """One-sided p-value of ``H0: Δ ≤ 0`` against ``Δ > 0`` from ``diff``, its ``se`` and ``df``."""
    if not (np.isfinite(diff) and np.isfinite(se)) or math.isnan(df):
        return math.nan
    if se == 0.0:
        return 0.0 if diff > 0 else 1.0 if diff < 0 else 0.5
    return t_sf(diff / se, df)


def ci_half_width(se: float, df: float, alpha: float) -> float:
    """Half-width of the two-sided ``1 − 2α`` interval, ``t_{1−α, df} · se`` (matches one-sided tests at α)."""
    if not (np.isfinite(se) and df > 0):
        return math.nan
    return t_ppf(1.0 - alpha, df) * se


def holm_adjust(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given; NaN stays NaN and is not counted)."""
    idx = [i for i, p in enumerate(pvalues) if np.isfinite(p)]
    k = len(idx)
    out = [math.nan] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda j: pvalues[j])):
        running = max(running, min(1.0, (k - rank) * pvalues[i]))
        out[i] = running
    return out


# --------------------------------------------------------------------------------------------------
# seeds needed


def seeds_needed(distance: float, seed_vars: Sequence[float], test_var: float, alpha: float, power: float,
                 paired: bool, n_max: int = 1000) -> int | None:
    """Smallest number of seeds per method ``n ≥ 2`` at which the measured variances give
    ``distance ≥ (t_{1−α, ν(n)} + t_{power, ν(n)}) · se(n)``, with ``se(n)² = Σ v_i/n + test_var`` and
    ``ν(n)`` the Welch–Satterthwaite df of the seed terms alone (``n − 1`` per term; the test-set part
    adds none, as in :func:`difference`). That is: a one-sided t-test at level α
    detects a true difference of ``distance`` with probability ≈ ``power`` (the usual normal shift
    approximation of the non-central t). None when no ``n ≤ n_max`` suffices — always the case when
    the test-set part alone is too large: ``distance < (z_{1−α} + z_power) · sqrt(test_var)``.
    ``paired`` is informational: a paired design has one variance term, an unpaired one two.
    """
    del paired
    if not (np.isfinite(distance) and distance > 0) or not seed_vars:
        return None
    z = t_ppf(1.0 - alpha, math.inf) + t_ppf(power, math.inf)
    if distance < z * math.sqrt(test_var):
        return None
    for n in range(2, n_max + 1):
        terms = [v / n for v in seed_vars]
        var = sum(terms) + test_var
        denom = sum(t * t / (n - 1) for t in terms)
        df = sum(terms) ** 2 / denom if denom > 0 else math.inf
        if distance >= (t_ppf(1.0 - alpha, df) + t_ppf(power, df)) * math.sqrt(var):
            return n
    return None
