"""The paired test-set SE from per-image outcomes, the degrees of freedom, and the exact test over seeds
when every seed gives the same value. Every expected number is worked out by hand in the comments."""

from __future__ import annotations

import math

import pytest

from robgan.report import stats as S
from robgan.report import verdicts as V

RULES = V.VerdictRules()  # alpha 0.05, power 0.8, min effect 1 accuracy point


def _est(outcomes: dict[int, str], images: str = "test/0/8", split_size: int = 0) -> S.Estimate:
    """An accuracy estimate whose seeds' per-image outcomes are ``outcomes``."""
    values = {s: c.count("1") / len(c) for s, c in outcomes.items()}
    n = len(next(iter(outcomes.values())))
    term = S.Binomial(images, n, values, 1, outcomes, split_size)
    return S.Estimate(values, {s: S.binomial_se(p, n) for s, p in values.items()}, "binomial SE", (term,), n)


def test_discordant_pairs_give_the_exact_paired_se():
    # A right on images 1-4, B on 1, 2, 5, 6: d = (0, 0, 1, 1, −1, −1, 0, 0), mean 0, mean d² = 4/8
    d = S.difference(_est({0: "11110000"}), _est({0: "11001100"}))
    assert d.diff == 0.0 and d.test_se == pytest.approx(math.sqrt(0.5 / 8))          # 0.25
    assert "exact from per-image outcomes" in d.rule
    # concordant outcomes (the same images right): no test-set error in the difference at all
    same = S.difference(_est({0: "11110000"}), _est({0: "11100000"}))
    # d = (0, 0, 0, 1, 0, 0, 0, 0): mean 1/8, mean d² 1/8, var (1/8 − 1/64)/8
    assert same.test_se == pytest.approx(math.sqrt((1 / 8 - 1 / 64) / 8))
    assert S.paired_test_var([(1, [1, 1, 0, 0]), (-1, [1, 1, 0, 0])]) == 0.0


def test_the_frechet_bound_can_be_twice_the_exact_se():
    # p_A = p_B = 1/2 with 2 discordant images of 8: d = (0, 0, 0, 1, −1, 0, 0, 0), var = 2/8 / 8
    d = S.difference(_est({0: "11110000"}), _est({0: "11101000"}))
    assert d.test_se == pytest.approx(math.sqrt(0.25 / 8))                             # 0.1768
    bound = math.sqrt(S.frechet_var(0.5, 0.5) / 8)                                    # 0.3536
    assert bound / d.test_se == pytest.approx(2.0)


def test_outcomes_are_averaged_over_seeds_image_by_image():
    # A: seeds "1100", "1010" → (1, ½, ½, 0); B: "1000" twice → (1, 0, 0, 0); d = (0, ½, ½, 0):
    # mean ¼, mean d² ⅛, var (⅛ − 1/16)/4 = 1/64 → test SE ⅛
    d = S.difference(_est({0: "1100", 1: "1010"}, "test/0/4"), _est({0: "1000", 1: "1000"}, "test/0/4"))
    assert d.diff == pytest.approx(0.25) and d.test_se == pytest.approx(0.125)


def test_every_seed_equal_falls_back_to_an_exact_test_over_seeds():
    # the example above: per-seed differences ¼, ¼ → seed variance 0. Sign flips of (¼, ¼): means ¼, 0,
    # 0, −¼ → p(Δ ≤ 0) = 1/4; the test-set part alone: z = ¼ / ⅛ = 2, p = 0.02275; the larger: 0.25
    d = S.difference(_est({0: "1100", 1: "1010"}, "test/0/4"), _est({0: "1000", 1: "1000"}, "test/0/4"))
    assert d.seed_se == 0.0 and d.exact_p == pytest.approx((0.25, 1.0))
    assert "exact permutation test over 2 seeds" in d.rule
    j = V.judge(d, RULES, 0.01, V.ACCURACY)
    assert j.verdict == V.INCONCLUSIVE and j.p_value == pytest.approx(0.25)
    assert math.isnan(j.df) and math.isnan(j.ci[0])                  # no t distribution, no interval
    assert j.seeds_needed == 5 and "2^-2" in j.needed                # 2^-5 = 0.031 < 0.05 ≤ 2^-4
    # plain values (no test-set part), three seeds all +100: before, SE 0 gave p = 0 and "holds"
    a, b = S.Estimate({0: 100.0, 1: 100.0, 2: 100.0}), S.Estimate({0: 0.0, 1: 0.0, 2: 0.0})
    d = S.difference(a, b)
    assert d.se == 0.0 and d.exact_p == pytest.approx((0.125, 1.0))                   # 2^-3
    assert S.one_sided_p(d) == pytest.approx(0.125) and S.one_sided_p(d, -1) == pytest.approx(1.0)
    assert V.judge(d, RULES).verdict == V.INCONCLUSIVE
    # unpaired (different seeds): relabellings of (1, 1, 1 | 0, 0, 0): 1 of C(6, 3) = 20 is as extreme
    a, b = S.Estimate({0: 1.0, 1: 1.0, 2: 1.0}), S.Estimate({3: 0.0, 4: 0.0, 5: 0.0})
    d = S.difference(a, b)
    assert not d.paired and d.exact_p == pytest.approx((0.05, 1.0))
    j = V.judge(d, RULES)
    assert j.verdict == V.INCONCLUSIVE and j.seeds_needed == 4        # 1/C(8, 4) = 1/70 < 0.05 = 1/C(6, 3)


def test_exact_seed_p_on_unequal_values():
    # paired differences (3, 1): sign-flip means 2, 1, −1, −2 → p(Δ ≤ 0) = 1/4, p(Δ ≥ 0) = 1
    assert S.exact_seed_p({0: 3.0, 1: 1.0}, {0: 0.0, 1: 0.0}) == pytest.approx((0.25, 1.0))


def test_one_exact_test_over_paired_seeds_serves_the_differences_and_the_time_leads():
    # sign flips of (3, 1): means 2, 1, −1, −2; of (2, 0): 1, 1, −1, −1 (a zero does not count)
    assert S.sign_flip_p([3.0, 1.0]) == pytest.approx((0.25, 1.0))
    assert S.sign_flip_p([2.0, 0.0]) == pytest.approx((0.5, 1.0))
    assert S.sign_flip_p([-1.0, -1.0, -1.0]) == pytest.approx((1.0, 0.125))
    # ±1 values: the exact sign test, P(Bin(3, ½) ≥ 2) = 4/8
    assert S.sign_flip_p([1.0, 1.0, -1.0]) == pytest.approx((0.5, 0.875))
    with pytest.raises(ValueError):
        S.sign_flip_p([math.inf, 1.0])
    # exact_seed_p (paired) and lead_p (no variation, or an infinite lead) are that one test
    assert S.exact_seed_p({0: 5.0, 1: 5.0, 2: 5.0}, {0: 1.0, 1: 1.0, 2: 1.0}) == S.sign_flip_p([4.0, 4.0, 4.0])
    assert V.lead_p([7.0, 7.0, 7.0])[0] == S.sign_flip_p([1.0, 1.0, 1.0])[0] == pytest.approx(0.125)
    assert V.lead_p([math.inf, 5.0, -3.0])[:2] == (pytest.approx(0.5), "exact sign test over 3 seeds")
    assert V.lead_p([4.0])[0] == pytest.approx(0.5)


def test_df_do_not_gain_from_the_test_set_part():
    # three seeds, paired differences 0.05, 0.06, 0.04 plus a test-set part: df stay n − 1 = 2
    a = _est({s: "1" * k + "0" * (100 - k) for s, k in ((0, 80), (1, 82), (2, 81))}, "test/0/100")
    b = _est({s: "1" * k + "0" * (100 - k) for s, k in ((0, 75), (1, 76), (2, 77))}, "test/0/100")
    d = S.difference(a, b)
    assert d.test_se > 0 and d.df == pytest.approx(2.0)
    j = V.judge(d, RULES, 0.01, V.ACCURACY)
    assert j.p_value == pytest.approx(S.t_sf(d.diff / d.se, 2.0), rel=1e-12)
    # Welch: the df of the two seed variances alone, (va/3 + vb/2)² / ((va/3)²/2 + (vb/2)²/1)
    a = S.Estimate({0: 1.0, 1: 2.0, 2: 3.0})
    b = S.Estimate({5: 1.0, 6: 1.5})
    va, vb = 1.0 / 3, 0.125 / 2
    assert S.difference(a, b).df == pytest.approx((va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 1))


def test_records_without_outcomes_have_no_test_set_se_and_are_not_judged():
    values = {0: 0.8, 1: 0.82}
    old = S.Estimate(values, {}, "binomial SE", (S.Binomial("test/0/500", 500, values),), 500)
    new = _est({0: "1" * 400 + "0" * 100, 1: "1" * 405 + "0" * 95}, "test/0/500")
    d = S.difference(new, old)
    assert d.missing_outcomes and math.isnan(d.test_se) and "outcomes missing" in d.rule
    j = V.judge(d, RULES, 0.01, V.ACCURACY)
    assert j.verdict == V.NOT_JUDGED and "re-run the evaluation" in j.reason


def test_to_decide_says_when_the_whole_test_set_is_already_used():
    # Δ 0.4 points on 1,000 images: the test-set SE alone forbids it whatever the seeds
    def pair(split_size):
        a = _est({s: "1" * (800 + s) + "0" * (200 - s) for s in range(3)}, "test/0/1000", split_size)
        b = _est({s: "0" * 4 + "1" * (796 - s) + "0" * (200 + s) for s in range(3)}, "test/0/1000", split_size)
        return V.judge(S.difference(a, b), RULES, 0.01, V.ACCURACY)

    whole = pair(1000)
    assert whole.verdict == V.INCONCLUSIVE and whole.seeds_needed is None
    assert "not decidable on this dataset: all 1000 test images used" in whole.needed
    part = pair(5000)
    assert "more test images are needed" in part.needed and "n_examples" in part.needed
