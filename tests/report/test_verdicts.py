"""Pure verdict statistics and rules: Student-t, Holm, the SE of a difference, judge / combine / time to
target, seeds needed. Reference values come from statistical tables (scipy.stats.t, quoted)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robgan.report import stats as S
from robgan.report import verdicts as V

RULES = V.VerdictRules()  # alpha 0.05, power 0.8, min effect 1 accuracy point / 0.1 IS


def _prefix(p: float, n: int) -> str:
    """Per-image outcomes of accuracy ``p`` on ``n`` images: the first round(p·n) images right."""
    k = round(p * n)
    return "1" * k + "0" * (n - k)


def _acc(values: dict[int, float], n: int = 500, images: str = "test/0/500", split_size: int = 0) -> S.Estimate:
    term = S.Binomial(images, n, dict(values), 1, {s: _prefix(p, n) for s, p in values.items()}, split_size)
    return S.Estimate(values, {s: S.binomial_se(p, n) for s, p in values.items()}, "binomial SE", (term,), n)


def _plain(values: dict[int, float]) -> S.Estimate:
    return S.Estimate(values)


# ---------------------------------------------------------------------------------------------- Student t


@pytest.mark.parametrize(("q", "df", "want"), [
    (0.95, 1, 6.313751514675), (0.95, 2, 2.919985580354), (0.95, 10, 1.812461122811),
    (0.95, math.inf, 1.644853626951), (0.95, 7.3, 1.882930017956), (0.8, 3.5, 0.956758833932),
])
def test_t_quantiles_match_tables(q, df, want):
    assert S.t_ppf(q, df) == pytest.approx(want, abs=1e-8)
    assert S.t_ppf(1 - q, df) == pytest.approx(-want, abs=1e-8)


def test_t_survival_function_matches_tables():
    assert S.t_sf(2.22, 2) == pytest.approx(0.078297182867, abs=1e-9)
    assert S.t_sf(1.3, 7.3) == pytest.approx(0.116570775033, abs=1e-9)
    assert S.t_sf(0.0, 5) == pytest.approx(0.5, abs=1e-12)
    assert S.t_sf(-2.22, 2) == pytest.approx(1 - 0.078297182867, abs=1e-9)


def test_holm_adjusted_p_values():
    assert S.holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert S.holm_adjust([0.5, 0.2]) == pytest.approx([0.5, 0.4])
    adj = S.holm_adjust([0.01, math.nan])
    assert adj[0] == pytest.approx(0.01) and math.isnan(adj[1])   # NaN is not counted in the family


# ---------------------------------------------------------------------------------------------- the SE


def test_frechet_bound_values_and_that_it_bounds_the_independent_variance():
    assert S.frechet_var(0.85, 0.78) == pytest.approx(0.22 + 0.15 - 0.07 ** 2)
    assert S.frechet_var(0.5, 0.5) == pytest.approx(1.0)
    for p, q in ((0.9, 0.1), (0.3, 0.31), (0.99, 0.5), (0.0, 0.0)):
        assert S.frechet_var(p, q) >= p * (1 - p) + q * (1 - q) - 1e-12


def test_test_set_error_is_counted_once_not_divided_by_seeds():
    a = _acc({0: 0.80, 1: 0.82, 2: 0.81})                        # images right: the first 400, 410, 405
    b = _acc({0: 0.75, 1: 0.76, 2: 0.77})                        # the first 375, 380, 385
    d = S.difference(a, b)
    # per-image differences of the seed means: 1/3 on 5 images, 2/3 on 5, 1 on 15, 2/3 on 5, 1/3 on 5
    mean_d2 = (2 * 5 / 9 + 2 * 20 / 9 + 15) / 500
    test_var = (mean_d2 - 0.05 ** 2) / 500
    seed_var = 0.01 ** 2 / 3                                     # paired differences 0.05, 0.06, 0.04
    assert d.test_se == pytest.approx(math.sqrt(test_var), rel=1e-9)
    assert d.test_se == pytest.approx(0.0087876, rel=1e-4)       # the Fréchet bound said 0.0292 (3.3×)
    assert math.sqrt(S.frechet_var(0.81, 0.76) / 500) == pytest.approx(0.029240, rel=1e-4)
    assert d.seed_se == pytest.approx(math.sqrt(seed_var), rel=1e-9)
    assert d.se == pytest.approx(math.sqrt(seed_var + test_var), rel=1e-9)
    # the df are the seed part's: the test-set variance does not lift them
    assert d.paired and d.df == pytest.approx(2.0)
    # nine seeds with the same means: the test-set part stays, only the seed part shrinks
    a9 = _acc({s: a.values[s % 3] for s in range(9)})
    b9 = _acc({s: b.values[s % 3] for s in range(9)})
    assert S.difference(a9, b9).test_se == pytest.approx(d.test_se, rel=1e-9)


def test_different_images_are_not_paired():
    a = _acc({0: 0.8, 1: 0.8}, images="test/0/500")
    b = _acc({0: 0.7, 1: 0.7}, images="test/1/500")
    d = S.difference(a, b)
    assert d.test_se == pytest.approx(math.sqrt(0.8 * 0.2 / 500 + 0.7 * 0.3 / 500), rel=1e-9)
    assert "independent" in d.rule


def test_inception_scores_use_the_seed_spread_only():
    a = S.Estimate({0: 6.0, 1: 6.2}, {0: 0.1, 1: 0.1}, "split std")
    b = S.Estimate({0: 5.0, 1: 5.3}, {0: 0.1, 1: 0.1}, "split std")
    d = S.difference(a, b)
    # paired differences 1.0, 0.9: sd 0.1/√2, SE = sd/√2 = 0.05; the split stds add nothing
    assert d.test_se == 0 and d.se == pytest.approx(0.05) and d.df == pytest.approx(1)
    one = S.difference(S.Estimate({0: 6.0}, {0: 0.1}, "split std"), S.Estimate({0: 5.0}, {0: 0.2}, "split std"))
    assert one.se == pytest.approx(math.hypot(0.1, 0.2)) and math.isnan(one.df) and not one.multi_seed


def test_welch_when_the_seeds_differ():
    a, b = _plain({0: 1.0, 1: 2.0, 2: 3.0}), _plain({5: 1.0, 6: 1.5})
    d = S.difference(a, b)
    va, vb = 1.0 / 3, 0.125 / 2
    assert not d.paired and d.se == pytest.approx(math.sqrt(va + vb))
    assert d.df == pytest.approx((va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 1))


# ---------------------------------------------------------------------------------------------- judge / combine


def test_one_seed_is_indicative_whatever_the_difference():
    for diff in (0.30, -0.30, 0.001):
        j = V.judge(S.difference(_acc({0: 0.5 + diff}), _acc({0: 0.5})), RULES, 0.01, V.ACCURACY)
        assert j.verdict == V.INDICATIVE and j.reason == V.ONE_RUN
        assert j.diff == pytest.approx(diff)


def _paired_with_t(delta: float, t: float) -> tuple[S.Estimate, S.Estimate]:
    """Three seeds whose paired differences have mean ``delta`` and t statistic ``t`` (no test-set error)."""
    c = delta / t * math.sqrt(3)                                  # sd of the differences
    return _plain({0: delta - c, 1: delta, 2: delta + c}), _plain({0: 0.0, 1: 0.0, 2: 0.0})


def test_delta_2_7_points_with_t_2_22_at_df_2_is_inconclusive():
    d = S.difference(*_paired_with_t(0.027, 2.22))
    assert d.df == pytest.approx(2.0) and d.diff / d.se == pytest.approx(2.22)
    j = V.judge(d, RULES, 0.01, V.ACCURACY)
    assert j.verdict == V.INCONCLUSIVE                            # 2.22 < t_0.95,2 = 2.92 (k = 2 said "holds")
    assert j.p_value == pytest.approx(0.0783, abs=5e-4)
    assert j.ci[0] < 0 < j.ci[1]
    assert j.seeds_needed == 6 and "6 seeds per method" in j.needed
    # 6 is the smallest n with Δ ≥ (t_0.95,n−1 + t_0.8,n−1)·sqrt(s²/n): check the formula at 5 and 6
    s2 = d.seed_vars[0]
    for n, ok in ((5, False), (6, True)):
        margin = (S.t_ppf(0.95, n - 1) + S.t_ppf(0.8, n - 1)) * math.sqrt(s2 / n)
        assert (0.027 >= margin) is ok
    # the same difference with t = 3.5 holds
    assert V.judge(S.difference(*_paired_with_t(0.027, 3.5)), RULES, 0.01, V.ACCURACY).verdict == V.HOLDS


def test_minimum_effect_gives_negligible_not_holds():
    small = S.difference(*_paired_with_t(0.003, 30.0))           # significant but 0.3 points
    j = V.judge(small, RULES, 0.01, V.ACCURACY)
    assert j.p_value < 1e-3 and j.verdict == V.NEGLIGIBLE
    wide = S.difference(*_paired_with_t(0.003, 0.5))             # 0.3 points, wide interval: cannot tell
    j = V.judge(wide, RULES, 0.01, V.ACCURACY)
    assert j.verdict == V.INCONCLUSIVE and "negligible" in j.needed
    assert V.judge(S.difference(*_paired_with_t(-0.05, 10.0)), RULES, 0.01, V.ACCURACY).verdict == V.FAILS


def _j(verdict: str, diff: float, p: float, p_fail: float) -> V.Judgement:
    return V.Judgement(verdict, diff, se=0.01, df=2.0, ci=(diff - 0.02, diff + 0.02), p_value=p, p_fail=p_fail,
                       min_effect=0.01, n_a=3, n_b=3)


def test_six_eps_with_one_noisy_reversal_is_not_fails():
    parts = [_j(V.HOLDS, 0.10, 1e-4, 1 - 1e-4)] * 5 + [_j(V.FAILS, -0.015, 0.97, 0.03)]
    comb = V.combine(parts, 0.05)
    assert comb.verdict == V.INCONCLUSIVE                         # Holm: 6 · 0.03 = 0.18 > 0.05
    assert comb.parts[5].verdict == V.INCONCLUSIVE and comb.parts[5].p_fail == pytest.approx(0.18)
    strong = parts[:5] + [_j(V.FAILS, -0.05, 1 - 1e-4, 1e-4)]
    comb = V.combine(strong, 0.05)
    assert comb.verdict == V.FAILS and comb.headline == 5 and comb.parts[5].p_fail == pytest.approx(6e-4)


def test_every_eps_holds_by_intersection_union_without_correction():
    comb = V.combine([_j(V.HOLDS, 0.05, 0.03, 0.97)] * 6, 0.05)   # each p = 0.03 > 0.05 / 6, still holds
    assert comb.verdict == V.HOLDS and comb.p_value == pytest.approx(0.03)
    mixed = V.combine([_j(V.HOLDS, 0.05, 0.03, 0.97), _j(V.INCONCLUSIVE, 0.01, 0.2, 0.8)], 0.05)
    assert mixed.verdict == V.INCONCLUSIVE and mixed.headline == 1 and mixed.p_value == pytest.approx(0.2)
    one = V.Judgement(V.INDICATIVE, 0.02, n_a=1, n_b=1)
    assert V.combine([one, _j(V.HOLDS, 0.05, 0.01, 0.99)], 0.05).verdict == V.INDICATIVE
    assert V.combine([], 0.05).verdict == V.INCONCLUSIVE


# ---------------------------------------------------------------------------------------------- time to target


def test_hit_interval():
    assert V.hit_interval([100, 200, 300], [1.0, 2.0, 3.0], 2.0) == (100.0, 200.0)
    assert V.hit_interval([100, 200, 300], [2.5, 2.0, 3.0], 2.0) == (0.0, 100.0)
    assert V.hit_interval([100, 200], [1.0, 1.5], 2.0) == (200.0, math.inf)


def test_time_to_target_with_one_seed_is_indicative():
    j = V.judge_time_to_target({0: (0.0, 150.0)}, {0: (150.0, 300.0)}, RULES)
    assert j.verdict == V.INDICATIVE and "sooner at the snapshots" in j.reason
    assert (j.lower, j.upper, j.diff) == (0.0, 300.0, 150.0)           # lead in (0, 300], midpoint 150
    j = V.judge_time_to_target({0: (0.0, 150.0)}, {0: (100.0, 300.0)}, RULES)
    assert j.verdict == V.INDICATIVE and "tie within snapshot resolution (200.0 s)" in j.reason
    j = V.judge_time_to_target({0: (300.0, 450.0)}, {0: (0.0, 150.0)}, RULES)
    assert j.verdict == V.INDICATIVE and "later" in j.reason


def test_lead_bounds_golden():
    assert V.lead_bounds((0.0, 100.0), (200.0, 300.0)) == (100.0, 300.0)
    assert V.lead_bounds((100.0, 200.0), (100.0, 200.0)) == (-100.0, 100.0)   # the same bracket
    assert V.lead_bounds((450.0, math.inf), (0.0, 100.0)) == (-math.inf, -350.0)
    assert V.lead_bounds((0.0, 100.0), (450.0, math.inf)) == (350.0, math.inf)


def test_time_to_target_holds_on_the_lower_bound_fails_on_the_upper():
    steady = {0: (0.0, 100.0), 1: (0.0, 110.0), 2: (0.0, 90.0)}
    later = {0: (300.0, 450.0), 1: (320.0, 450.0), 2: (290.0, 450.0)}   # lower bounds 200, 210, 200
    j = V.judge_time_to_target(steady, later, RULES)
    assert j.verdict == V.HOLDS
    assert j.lower == pytest.approx(610 / 3) and j.upper == pytest.approx(450.0)
    assert j.diff == pytest.approx((610 / 3 + 450) / 2)                  # the midpoint
    sd = math.sqrt(((200 - 610 / 3) ** 2 * 2 + (210 - 610 / 3) ** 2) / 2)
    assert j.p_value == pytest.approx(S.t_sf((610 / 3) / (sd / math.sqrt(3)), 2), rel=1e-9)
    assert j.leads == ((0, 200.0, 450.0), (1, 210.0, 450.0), (2, 200.0, 450.0))
    late = {s: (300.0 + s, 450.0) for s in range(3)}                     # upper bounds -200, -191, -212
    f = V.judge_time_to_target(late, steady, RULES)
    assert f.verdict == V.FAILS and f.upper == pytest.approx(-201.0)
    sd = math.sqrt(((-200 + 201) ** 2 + (-191 + 201) ** 2 + (-212 + 201) ** 2) / 2)
    assert f.p_fail == pytest.approx(S.t_sf(201 / (sd / math.sqrt(3)), 2), rel=1e-9)


def test_time_to_target_identical_bounds_use_an_exact_sign_test_not_se_zero():
    # every seed's lower bound is +100: SE 0 would give p = 0; the exact sign test gives 1/2^n
    fast3, slow3 = {s: (0.0, 100.0) for s in range(3)}, {s: (200.0, 300.0) for s in range(3)}
    j = V.judge_time_to_target(fast3, slow3, RULES)
    assert j.p_value == pytest.approx(0.125) and "exact sign test over 3 seeds" in j.test
    assert j.verdict == V.INCONCLUSIVE and "candidate is ahead" in j.reason
    fast5, slow5 = {s: (0.0, 100.0) for s in range(5)}, {s: (200.0, 300.0) for s in range(5)}
    j5 = V.judge_time_to_target(fast5, slow5, RULES)
    assert j5.p_value == pytest.approx(1 / 32) and j5.verdict == V.HOLDS
    assert V.lead_p([100.0, 100.0, -5.0])[0] == pytest.approx(S.t_sf(
        (195 / 3) / (np.std([100, 100, -5], ddof=1) / math.sqrt(3)), 2))
    assert V.lead_p([0.0, 0.0, 0.0])[0] == 1.0
    assert V.lead_p([-math.inf, 5.0])[0] == 1.0


def test_time_to_target_tie_within_snapshot_resolution():
    # the claim 4b: both cross in the same 100-iteration bracket on 2 of 3 seeds
    unit = V.Unit(1.0, " iterations", 0)
    rob = {0: (100.0, 200.0), 1: (100.0, 200.0), 2: (200.0, 300.0)}
    sn = {0: (100.0, 200.0), 1: (100.0, 200.0), 2: (0.0, 100.0)}
    j = V.judge_time_to_target(rob, sn, RULES, unit)
    assert j.verdict == "tie within snapshot resolution (100 iterations)"
    assert (j.lower, j.upper) == (pytest.approx(-500 / 3), pytest.approx(100 / 3)) and "denser" in j.needed
    comb = V.combine([j], RULES.alpha)
    assert comb.verdict == j.verdict
    assert V.combine([j, j], RULES.alpha).verdict == j.verdict


def test_time_to_target_never_reaching_and_missing():
    steady = {0: (0.0, 100.0), 1: (0.0, 110.0), 2: (0.0, 90.0)}
    never = {0: (450.0, math.inf), 1: (0.0, 100.0), 2: (0.0, 100.0)}
    j = V.judge_time_to_target(never, steady, RULES)                      # the candidate cannot hold
    assert j.verdict != V.HOLDS and j.p_value == 1.0 and j.lower == -math.inf
    assert V.judge_time_to_target({}, steady, RULES).verdict == V.INCONCLUSIVE


def test_rules_come_from_the_claims_file_section():
    r = V.VerdictRules.from_mapping({"alpha": 0.01, "min_effect": {"accuracy": 0.02}})
    assert r.alpha == 0.01 and r.minimum("accuracy") == 0.02 and r.minimum("inception_score") == 0.1
    assert r.power == 0.8 and r.ci_percent == "98%"
    assert r.minimum("train_seconds") == 0.0
