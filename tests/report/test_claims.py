"""Claim verdicts on records: the claims file, the fixture's verdicts, the golden cases of each verdict rule
(one seed, t at the right df, Holm across ε, minimum effect), checks apart from claims, claims.md/json."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from robgan.config import load_config
from robgan.report import claims as C
from robgan.report import verdicts as V
from robgan.report.aggregate import build_frames, load_records
from robgan.report.checks import evaluate_checks

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PAPER_CLAIMS = Path(__file__).resolve().parents[2] / "config" / "paper_claims.yaml"
# seconds per iteration measured alone: robgan 0.1, sngan 0.08, acgan_newloss 0.07 (the time claims' cost)
COST = json.loads((FIXTURES / "cost_probe.json").read_text())


@pytest.fixture(scope="module")
def frames():
    return build_frames(load_records(FIXTURES / "records"))


@pytest.fixture(scope="module")
def cfg():
    return load_config(FIXTURES / "config.yaml")


@pytest.fixture(scope="module")
def doc():
    return C.load_claims(PAPER_CLAIMS)


def _verdicts(frames, doc, cfg) -> dict[str, str]:
    return {r.id: r.verdict for r in C.evaluate_claims(frames, doc, cfg, cost=COST)}


def _with_frames(frames, **replace):
    fr = copy.copy(frames)
    for k, v in replace.items():
        setattr(fr, k, v)
    return fr


def _swap_labels(df, a, b):
    df = df.copy()
    df["label"] = df["label"].map(lambda x: b if x == a else a if x == b else x)
    return df



def _paper_pgd(frames, values, n=10**6):
    """``frames.pgd`` with the paper-protocol rows of ``values``' labels replaced: ``values[label][eps]`` is
    the accuracy of seeds 0, 1, ... measured on ``n`` shared images (the first round(acc·n) right)."""
    pgd = frames.pgd
    keep = pgd[~(pgd["label"].isin(list(values)) & (pgd["protocol"] == "paper"))]
    rows = []
    for label, by_eps in values.items():
        tmpl = pgd[(pgd["label"] == label) & (pgd["protocol"] == "paper")].iloc[0].to_dict()
        for eps, accs in by_eps.items():
            for seed, acc in enumerate(accs):
                k = round(acc * n)  # per-image outcomes: the first k images right (strongly paired)
                rows.append({**tmpl, "seed": seed, "eps": eps, "eps_pm1": 2 * eps, "n": n,
                             "n_correct": k, "accuracy": acc, "images": f"test/0/{n}",
                             "correct": "1" * k + "0" * (n - k), "split_size": 0})
    return pd.concat([keep, pd.DataFrame(rows)], ignore_index=True)


def _seed0(frames):
    return _with_frames(frames, **{k: getattr(frames, k)[getattr(frames, k)["seed"] == 0]
                                   for k in ("pgd", "autoattack", "autoattack_meta", "fidelity", "gap", "lipschitz",
                                             "flags")})


# ---------------------------------------------------------------------------------------------- paper_claims.yaml


def test_paper_claims_file_lists_the_claims_and_the_checks_apart(doc):
    assert [c["id"] for c in doc["claims"]] == [f"claim{i}" for i in range(1, 7)]
    parts = [p for c in doc["claims"] for p in c["parts"]]
    assert [p["id"] for p in parts] == ["claim1", "claim2a", "claim2b", "claim3", "claim4a", "claim4b", "claim4c",
                                        "claim5a", "claim5b", "claim5c", "claim5d", "claim6b", "claim6c"]
    assert [c["id"] for c in doc["checks"]] == ["autoattack_le_pgd", "pgd_near_autoattack", "monotone_in_eps",
                                               "large_eps_near_zero", "strong_le_paper", "within_class_diversity"]
    for c in doc["claims"]:
        assert c["statement"] and all(p["direction"] for p in c["parts"])
        for p in c["parts"]:   # null, or a number with the table or figure it comes from named in source
            value, source = p["paper_value"], p.get("source", c["source"])
            assert value is None or (isinstance(value, (int, float)) and C.NAMED_SOURCE.search(source)), p["id"]
    assert "SPEC" not in PAPER_CLAIMS.read_text()
    assert doc["verdict_rules"] == {"alpha": 0.05, "power": 0.8, "min_effect": {"accuracy": 0.01,
                                                                                "inception_score": 0.1},
                                    "target_is_fraction": 0.8}


def test_paper_value_is_null_or_a_number_with_its_table_or_figure_named(doc):
    ok = copy.deepcopy(doc)
    ok["claims"][0]["parts"][0].update(paper_value=71.2, source="Table 2 of the paper")
    C.check_claims(ok)
    for value, source in ((71.2, "paper text"), ("71.2", "Table 2"), (True, "Figure 3")):
        bad = copy.deepcopy(doc)
        bad["claims"][0]["parts"][0].update(paper_value=value, source=source)
        with pytest.raises(C.ClaimsConfigError, match=r"claims\[0\]\.parts\[0\]\.paper_value"):
            C.check_claims(bad)


def test_malformed_claims_file_names_the_field(doc):
    bad = copy.deepcopy(doc)
    bad["claims"][0]["parts"][0]["test"] = "vibes"
    with pytest.raises(C.ClaimsConfigError, match=r"claims\[0\]\.parts\[0\]\.test"):
        C.check_claims(bad)
    bad["claims"][0]["parts"][0]["test"] = "autoattack_le_pgd"     # a sanity check, not a claim
    with pytest.raises(C.ClaimsConfigError, match="belong under checks"):
        C.check_claims(bad)
    bad = copy.deepcopy(doc)
    del bad["claims"][2]["parts"][0]["paper_value"]
    with pytest.raises(C.ClaimsConfigError, match="paper_value"):
        C.check_claims(bad)
    for rules, field in (({"k_se": 2.0}, "verdict_rules.k_se"), ({"alpha": 0.7}, "verdict_rules.alpha"),
                         ({"min_effect": {"accuracy": -1}}, "verdict_rules.min_effect.accuracy")):
        bad = copy.deepcopy(doc)
        bad["verdict_rules"] = rules
        with pytest.raises(C.ClaimsConfigError, match=field):
            C.check_claims(bad)


# ---------------------------------------------------------------------------------------------- fixture verdicts


def test_fixture_verdicts(frames, doc, cfg):
    assert _verdicts(frames, doc, cfg) == {
        "claim1": V.HOLDS, "claim2a": V.HOLDS,
        "claim2b": V.INCONCLUSIVE,  # +2.1 / +4.1 / +6.0 pp on 500 shared images: the test-set SE is too large
        "claim3": V.HOLDS,
        # every seed crosses in the same snapshot brackets: robgan (0, 150] x 0.1 s, sngan (300, 450] x 0.08 s,
        # a lead in [+9, +36] s on every seed, so only the exact sign test applies: p = 1/8
        "claim4a": V.INCONCLUSIVE,
        "claim4b": V.INCONCLUSIVE,  # lead in [150, 450] on every seed: an exact sign test, p = 1/8, not SE 0
        "claim4c": V.NOT_EVALUATED,
        "claim5a": V.HOLDS, "claim5b": V.HOLDS,
        # robgan (0, 150] x 0.1 s = (0, 15] s, acgan_newloss (150, 300] x 0.07 s = (10.5, 21] s: they overlap
        "claim5c": "tie within snapshot resolution (15.0 s)",
        "claim5d": V.INCONCLUSIVE,  # ahead at every snapshot, but the snapshots bound the lead only by 0
        # 200 AutoAttack images: +7.7 pp holds with the exact paired SE (the Fréchet bound left it
        # inconclusive); +4.0 pp (robgan_ft vs robgan_ft_nofake) does not
        "claim6b": V.HOLDS, "claim6c": V.INCONCLUSIVE,
    }


def _without_outcomes(frames):
    """The frames as records written before per-image outcomes would give them."""
    cols = {"pgd": ["correct"], "autoattack": ["correct"], "gap": ["correct_clean", "correct_adv"],
            "autoattack_meta": ["pgd_paper_correct", "pgd_strong_correct"]}
    return _with_frames(frames, **{k: getattr(frames, k).assign(**{c: None for c in v}) for k, v in cols.items()})


def test_records_without_per_image_outcomes_are_not_judged(frames, doc, cfg):
    res = {r.id: r for r in C.evaluate_claims(_without_outcomes(frames), doc, cfg, cost=COST)}
    for pid in ("claim1", "claim2a", "claim2b", "claim3", "claim6b", "claim6c"):
        assert res[pid].verdict == V.NOT_JUDGED, pid
        assert res[pid].reason.startswith("records predate per-image outcomes (re-run the evaluation"), pid
        assert "robgan_ft seed 0, robgan_ft seed 1, robgan_ft seed 2" in res[pid].reason, pid   # which records
    assert res["claim5a"].verdict == V.HOLDS       # IS claims need no per-image outcomes


def test_claim2a_names_its_extra_budget_and_its_control(frames, doc, cfg):
    res = {r.id: r for r in C.evaluate_claims(frames, doc, cfg, cost=COST)}
    cav = res["claim2a"].caveats[0]
    # the fixture config: robgan 600 D updates, 38.4k real images; robgan_ft 200 more of each kind
    assert cav.startswith("robgan_ft had 200 more D updates and 12,800 more real images (800 D updates, "
                          "51.2k real images vs 600 D updates, 38.4k real images)")
    assert "than robgan" in cav and "claim2b" in cav and "λ = 0" in cav
    assert not any("claim2b" in c for c in res["claim2b"].caveats)


def test_claim3_regime_not_reached_when_no_gap_exceeds_the_level(frames, doc, cfg):
    gap = frames.gap.copy()
    train = gap["split"] == "train"                 # train accuracy = test accuracy + 2 points: gaps of 2 pp
    test_acc = gap[~train].set_index(["label", "seed"])["accuracy_adv"]
    gap.loc[train, "accuracy_adv"] = [test_acc[(lab, s)] + 0.02 for lab, s in zip(gap[train]["label"],
                                                                                   gap[train]["seed"], strict=True)]
    r = next(r for r in C.evaluate_claims(_with_frames(frames, gap=gap), doc, cfg, cost=COST) if r.id == "claim3")
    assert r.verdict == V.REGIME_NOT_REACHED and "exceeds 10.0 pp" in r.reason
    assert "advtrain 2.0 pp" in r.reason and r.evidence and r.seeds_needed is None
    # the fixture's advtrain gap is 14.2 pp: the regime is reached and the claim judged
    assert _verdicts(frames, doc, cfg)["claim3"] == V.HOLDS


def test_every_verdict_shows_its_test_delta_interval_p_seeds_and_images(frames, doc, cfg):
    res = {r.id: r for r in C.evaluate_claims(frames, doc, cfg, cost=COST)}
    items = {"claim1": 500, "claim3": 500, "claim5a": 2000, "claim6b": 200, "claim4a": 0}
    for r in res.values():
        if r.verdict == V.NOT_EVALUATED:
            continue
        h = r.result
        assert r.test_description and "α = 0.05" in r.test_description, r.id
        assert h["n_seeds_a"] == 3 and h["n_seeds_b"] == 3, r.id
        assert math.isfinite(h["diff"]) and math.isfinite(h["p_value_part"]), r.id
        assert h["ci_low"] <= h["diff"] <= h["ci_high"], r.id
        if r.id in items:
            assert h["n_items"] == items[r.id], r.id
    c1 = res["claim1"]                        # every ε holds: the part's p-value is the largest one
    assert c1.result["p_value_part"] == pytest.approx(max(c["p_value"] for c in c1.comparisons))
    assert c1.result["p_value_part"] < 0.05 and c1.result["ci_low"] > 0
    assert all("test-set SE counted once" in c["test"] for c in c1.comparisons)


def test_one_seed_is_indicative(frames, doc, cfg):
    one = _seed0(frames)
    res = {r.id: r for r in C.evaluate_claims(one, doc, cfg, cost=COST)}
    for r in res.values():
        if r.id == "claim4c":
            assert r.verdict == V.NOT_EVALUATED
            continue
        assert r.verdict == V.INDICATIVE, (r.id, r.verdict)
        assert "1 run: seed variance unknown" in r.reason and math.isfinite(r.result["diff"]), r.id
        assert any("Δ = " in e for e in r.evidence), r.id
    # even a 10-point difference on one seed is not "holds"
    big = _paper_pgd(one, {"advtrain": {e: [0.5] for e in (0.05, 0.1, 0.2)},
                           "robgan_ft": {e: [0.6] for e in (0.05, 0.1, 0.2)}})
    assert _verdicts(_with_frames(one, pgd=big), doc, cfg)["claim1"] == V.INDICATIVE


def test_delta_2_7_points_with_t_2_22_at_df_2_is_inconclusive(frames, doc, cfg):
    c = 0.027 / 2.22 * math.sqrt(3)          # sd of the paired differences that gives t = 2.22 over 3 seeds
    pgd = _paper_pgd(frames, {"advtrain": {e: [0.6, 0.6, 0.6] for e in (0.05, 0.1, 0.2)},
                              "robgan_ft": {e: [0.627 - c, 0.627, 0.627 + c] for e in (0.05, 0.1, 0.2)}})
    r = next(r for r in C.evaluate_claims(_with_frames(frames, pgd=pgd), doc, cfg, cost=COST) if r.id == "claim1")
    assert r.verdict == V.INCONCLUSIVE                     # k = 2 standard errors said "holds"
    for comp in r.comparisons:
        assert comp["diff"] == pytest.approx(0.027, abs=1e-9)
        assert comp["diff"] / comp["se"] == pytest.approx(2.22, abs=0.01)    # 1e6 images: test-set SE ≈ 0.9e-3
        assert comp["df"] == pytest.approx(2.0, abs=0.05)
        assert comp["p_value"] == pytest.approx(0.0785, abs=2e-3)
        assert comp["seeds_needed"] == 6
    assert r.seeds_needed == 6


def test_six_eps_with_one_noisy_reversal_is_not_fails(frames, doc, cfg):
    grid = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
    c = 0.015 / 3.5 * math.sqrt(3)           # at ε = 0.15: −1.5 points with t ≈ 3.5 at df ≈ 2
    ft = {e: [0.59, 0.60, 0.61] for e in grid}
    ft[0.15] = [0.485 - c, 0.485, 0.485 + c]
    pgd = _paper_pgd(frames, {"advtrain": {e: [0.5, 0.5, 0.5] for e in grid}, "robgan_ft": ft})
    r = next(r for r in C.evaluate_claims(_with_frames(frames, pgd=pgd), doc, cfg, cost=COST) if r.id == "claim1")
    assert r.verdict == V.INCONCLUSIVE                     # "any ε fails → fails" said "fails"
    rev = next(comp for comp in r.comparisons if comp["eps"] == pytest.approx(0.15))
    assert rev["verdict"] == V.INCONCLUSIVE and "not after Holm over 6" in rev["reason"]
    assert 0.05 < rev["p_fail_holm"] < 0.3
    assert sum(comp["verdict"] == V.HOLDS for comp in r.comparisons) == 5
    ft[0.15] = [0.40, 0.401, 0.399]                         # a clear reversal fails after Holm
    pgd = _paper_pgd(frames, {"advtrain": {e: [0.5, 0.5, 0.5] for e in grid}, "robgan_ft": ft})
    assert _verdicts(_with_frames(frames, pgd=pgd), doc, cfg)["claim1"] == V.FAILS


def test_a_difference_below_the_minimum_effect_is_negligible(frames, doc, cfg):
    pgd = _paper_pgd(frames, {"advtrain": {e: [0.5, 0.52, 0.51] for e in (0.05, 0.1, 0.2)},
                              "robgan_ft": {e: [0.503, 0.524, 0.512] for e in (0.05, 0.1, 0.2)}})
    r = next(r for r in C.evaluate_claims(_with_frames(frames, pgd=pgd), doc, cfg, cost=COST) if r.id == "claim1")
    assert r.verdict == V.NEGLIGIBLE                       # 0.3 points, significant: k = 2 said "holds"
    assert all(comp["p_value"] < 0.05 and comp["ci_high"] < 0.01 for comp in r.comparisons)


def test_claim1_flips_when_advtrain_and_robgan_ft_swap(frames, doc, cfg):
    swapped = _with_frames(frames, pgd=_swap_labels(frames.pgd, "advtrain", "robgan_ft"))
    assert _verdicts(swapped, doc, cfg)["claim1"] == V.FAILS


def test_claim3_flips_when_the_gaps_swap(frames, doc, cfg):
    swapped = _with_frames(frames, gap=_swap_labels(frames.gap, "advtrain", "robgan_ft"))
    assert _verdicts(swapped, doc, cfg)["claim3"] == V.FAILS


def test_claim4_flips_when_the_generators_swap(frames, doc, cfg):
    swapped = _with_frames(frames, fidelity=_swap_labels(frames.fidelity, "robgan", "sngan"))
    v = _verdicts(swapped, doc, cfg)
    # the upper bound of the lead is −300 iterations (4b) and 24 − 600 x 0.1 = −36 s (4a) on every seed: only
    # the exact sign test applies, p = 1/8 (the wall-clock times, which varied, said "fails")
    assert v["claim4a"] == V.INCONCLUSIVE and v["claim4b"] == V.INCONCLUSIVE
    assert v["claim5b"] == V.FAILS  # sngan's final IS (now named robgan) is below robgan_oldloss's


def test_missing_data_is_inconclusive_and_absent_methods_not_evaluated(frames, doc, cfg):
    no_ft = _with_frames(frames, pgd=frames.pgd[frames.pgd["label"] != "robgan_ft"])
    res = {r.id: r for r in C.evaluate_claims(no_ft, doc, cfg, cost=COST)}
    assert res["claim1"].verdict == V.INCONCLUSIVE and "missing data" in res["claim1"].reason
    cfg2 = dict(cfg, finetune_lambdas=[0.3])  # the experiment makes no λ = 0 run
    no_nofake = _with_frames(frames, pgd=frames.pgd[frames.pgd["label"] != "robgan_ft_nofake"])
    res = {r.id: r for r in C.evaluate_claims(no_nofake, doc, cfg2, cost=COST)}
    assert res["claim2b"].verdict == V.NOT_EVALUATED and "robgan_ft_nofake" in res["claim2b"].reason


def test_autoattack_left_out_by_eval_labels_is_not_evaluated(frames, doc, cfg):
    cfg2 = copy.deepcopy(cfg)
    cfg2["eval"]["autoattack"]["labels"] = ["robgan_ft", "advtrain"]
    keep = ["robgan_ft", "advtrain"]
    sub = _with_frames(frames, autoattack=frames.autoattack[frames.autoattack["label"].isin(keep)],
                       autoattack_meta=frames.autoattack_meta[frames.autoattack_meta["label"].isin(keep)])
    res = {r.id: r for r in C.evaluate_claims(sub, doc, cfg2, cost=COST)}
    assert res["claim6c"].verdict == V.NOT_EVALUATED
    assert "eval.autoattack.labels leaves out robgan, robgan_ft_nofake" in res["claim6c"].reason
    assert res["claim6b"].verdict == _verdicts(frames, doc, cfg)["claim6b"]
    # without the subset, the same missing records are missing data
    res = {r.id: r for r in C.evaluate_claims(sub, doc, cfg, cost=COST)}
    assert res["claim6c"].verdict == V.INCONCLUSIVE and "missing data" in res["claim6c"].reason


def test_claim4c_needs_imagenet143(frames, doc, cfg):
    res = {r.id: r for r in C.evaluate_claims(frames, doc, cfg, cost=COST)}
    assert res["claim4c"].verdict == V.NOT_EVALUATED and "imagenet143" in res["claim4c"].reason
    inet = _with_frames(frames, dataset="imagenet143")
    assert _verdicts(inet, doc, cfg)["claim4c"] == V.HOLDS


def test_different_discriminator_families_are_named_in_claim4(frames, doc, cfg):
    preact = dict(cfg, model={**cfg["model"], "d_arch": "preact_resnet18"})
    res = {r.id: r for r in C.evaluate_claims(frames, doc, preact, cost=COST)}
    for pid in ("claim4a", "claim4b"):
        cav = " ".join(res[pid].caveats)
        assert "not like for like" in cav and "PreAct-ResNet-18" in cav and "SN-ResNet" in cav, pid
    assert not any("like for like" in c for c in res["claim1"].caveats)        # both use model.d_arch
    same = {r.id: r for r in C.evaluate_claims(frames, doc, cfg, cost=COST)}               # d_arch: resnet
    assert not any("like for like" in c for c in same["claim4a"].caveats)


# ---------------------------------------------------------------------------------------------- checks, files


def _cost(**seconds):
    """The fixture's cost probe with some labels' seconds per iteration replaced (None: left out)."""
    out = copy.deepcopy(COST)
    for lab, sec in seconds.items():
        if sec is None:
            out["labels"].pop(lab)
        else:
            out["labels"][lab]["seconds_per_iteration"] = sec
    return out


def test_time_claims_are_iteration_brackets_times_the_cost_measured_alone(frames, doc, cfg):
    r = {r.id: r for r in C.evaluate_claims(frames, doc, cfg, cost=COST)}["claim4a"]
    comp = r.comparisons[0]
    # robgan crosses in (0, 150] iterations x 0.1 s, sngan in (300, 450] x 0.08 s on every seed
    assert comp["intervals_a"]["1"] == pytest.approx([0.0, 15.0])
    assert comp["intervals_b"]["2"] == pytest.approx([24.0, 36.0])
    assert comp["seconds_per_iteration_a"] == 0.1 and comp["seconds_per_iteration_b"] == 0.08
    assert all(v == pytest.approx([9.0, 36.0]) for v in comp["leads"].values())
    assert (comp["lead_lower"], comp["lead_upper"], comp["diff"]) == pytest.approx((9.0, 36.0, 22.5))
    assert comp["p_value"] == pytest.approx(0.125) and comp["snapshot_resolution"] == pytest.approx(15.0)
    # the pipeline's wall-clock stays as evidence, not judged
    assert comp["wall_intervals_a"]["0"] == pytest.approx([0.0, 15.283])
    assert any(e.startswith("cost per iteration, measured alone (cost_probe: median of 3 repeats, 1 thread(s)")
               and "robgan 0.1 s, sngan 0.08 s" in e for e in r.evidence)
    assert any(e.startswith("pipeline wall-clock (evidence only") and "robgan crosses within [seed 0: (0.0 s, "
               "15.3 s]" in e for e in r.evidence)
    # robgan five times as costly per iteration: the brackets (0, 75] s and (24, 36] s overlap
    slow = {r.id: r for r in C.evaluate_claims(frames, doc, cfg, cost=_cost(robgan=0.5))}
    assert slow["claim4a"].verdict == "tie within snapshot resolution (75.0 s)"
    assert slow["claim4b"].verdict == V.INCONCLUSIVE  # iterations do not depend on the cost


def test_a_time_claim_holds_when_the_seeds_cross_in_different_brackets(frames, doc, cfg):
    fid = frames.fidelity.copy()
    sn = fid["label"] == "sngan"
    fid.loc[sn & (fid["seed"] == 1) & (fid["iteration"] == 450), "is_mean"] = 4.6  # below 4.74: (450, 600]
    fid.loc[sn & (fid["seed"] == 2) & (fid["iteration"] == 300), "is_mean"] = 4.8  # at or above: (150, 300]
    r = {r.id: r for r in C.evaluate_claims(_with_frames(frames, fidelity=fid), doc, cfg,
                                            cost=_cost(robgan=0.02))}["claim4a"]
    # robgan (0, 3] s; sngan (24, 36], (36, 48], (12, 24] s: lower bounds 21, 33, 9 s; t = 21 / (12 / √3), 2 df
    assert r.verdict == V.HOLDS
    assert [r.comparisons[0]["leads"][s][0] for s in "012"] == pytest.approx([21.0, 33.0, 9.0])
    assert r.result["p_value"] == pytest.approx(0.0468916, abs=1e-6)


def test_time_claims_without_a_cost_probe_are_not_judged(frames, doc, cfg):
    old = {r.id: r for r in C.evaluate_claims(frames, doc, cfg)}  # records that predate the cost probe
    for pid in ("claim4a", "claim5c"):
        assert old[pid].verdict == V.NOT_JUDGED, pid
        assert old[pid].reason.startswith("no cost_probe record (re-run: snakemake --cores all --configfile"), pid
    assert old["claim4b"].verdict == V.INCONCLUSIVE and old["claim5d"].verdict == V.INCONCLUSIVE  # iterations
    part = {r.id: r for r in C.evaluate_claims(frames, doc, cfg, cost=_cost(sngan=None))}["claim4a"]
    assert part.verdict == V.NOT_JUDGED
    assert part.reason.startswith("the cost_probe record has no seconds per iteration of sngan (re-run:")
    # an unlike pair stays "not comparable" whether or not its cost was measured
    five = dict(cfg, train={**cfg["train"], "method_overrides": {"sngan": {"n_dis": 5}}})
    assert {r.id: r for r in C.evaluate_claims(frames, doc, five)}["claim4a"].verdict == V.NOT_COMPARABLE


def test_generator_claims_at_different_d_steps_per_g_step_are_not_comparable(frames, doc, cfg):
    five = dict(cfg, train={**cfg["train"], "method_overrides": {"sngan": {"n_dis": 5}}})
    res = {r.id: r for r in C.evaluate_claims(frames, doc, five, cost=COST)}
    for pid in ("claim4a", "claim4b"):
        assert res[pid].verdict == V.NOT_COMPARABLE, pid
        assert "robgan: n_dis 1 vs sngan: n_dis 5" in res[pid].reason, pid
        assert res[pid].evidence and all(e.startswith("measured, but not judged") for e in res[pid].evidence)
    assert res["claim5b"].verdict == V.HOLDS and res["claim5d"].verdict == V.INCONCLUSIVE  # both n_dis 1
    assert res["claim4c"].verdict == V.NOT_EVALUATED                    # another dataset: not evaluated first


def test_claims_on_is_carry_the_collapse_check(frames, doc, cfg):
    res = {r.id: r for r in C.evaluate_claims(frames, doc, cfg, cost=COST)}
    ev = [e for e in res["claim5b"].evidence if e.startswith("within-class collapse check")]
    assert [e.split(":")[0] for e in ev] == ["within-class collapse check, robgan",
                                            "within-class collapse check, robgan_oldloss"]
    assert "records predate the check" in ev[0] and not res["claim5b"].caveats
    fid = frames.fidelity.copy()
    fid["intra_recall"] = np.where(fid["label"] == "robgan_oldloss", 0.05, 0.6)
    res = {r.id: r for r in C.evaluate_claims(_with_frames(frames, fidelity=fid), doc, cfg, cost=COST)}
    assert "seed 0 failed (intra-class recall 0.050 < 0.1" in " ".join(res["claim5b"].evidence)
    assert any("robgan_oldloss fails the within-class collapse check on seed(s) 0, 1, 2" in c
               for c in res["claim5b"].caveats)
    checks = {c.id: c for c in evaluate_checks(_with_frames(frames, fidelity=fid), doc)}
    wcd = checks["within_class_diversity"]
    assert wcd.verdict == "failed"
    assert [(lab["label"], lab["failed_seeds"]) for lab in wcd.labels if lab["failed_seeds"]] == [
        ("robgan_oldloss", [0, 1, 2])]
    fid["intra_recall"] = 0.6
    assert {c.id: c for c in evaluate_checks(_with_frames(frames, fidelity=fid), doc)}[
        "within_class_diversity"].verdict == "ok"


def test_trained_weights_beside_an_average_are_evidence_not_part_of_the_collapse_verdict(frames, doc):
    """The checks judge the evaluated generator (the weight average); the trained weights' rows
    (``fidelity_raw``) are listed as information, a collapsed one included, and change no verdict."""
    fid = frames.fidelity.copy()
    fid["intra_recall"] = 0.6
    final = fid[fid["label"] == "robgan"].sort_values("iteration").groupby("seed").tail(1).copy()
    raw = final.assign(intra_recall=0.02, class_accuracy=0.5)
    raw["intra_recall_per_class"] = [[0.02] * 10] * len(raw)
    checks = {c.id: c for c in evaluate_checks(_with_frames(frames, fidelity=fid, fidelity_raw=raw), doc)}
    wcd = checks["within_class_diversity"]
    assert wcd.verdict == "ok" and not any(lab["failed_seeds"] for lab in wcd.labels)
    info = [e for e in wcd.evidence if "trained weights" in e]
    assert [e.split(":")[0] for e in info] == ["robgan seed 0", "robgan seed 1", "robgan seed 2"]
    assert info[0] == ("robgan seed 0: trained weights (information, not gated: the gates judge the average): "
                       "within-class collapse check failed: intra-class recall 0.020 < 0.1 at iteration 600; "
                       "lowest class 0.020 (class 0): collapsed within classes (few distinct images each); "
                       "intra-class recall per class " + " ".join(f"{c}:0.020" for c in range(10)) +
                       "; class accuracy failed: final class accuracy 0.500 < 0.9 (the generator's samples do "
                       "not show their class)")
    # without trained-weights rows the evidence is what it was
    plain = {c.id: c for c in evaluate_checks(_with_frames(frames, fidelity=fid), doc)}["within_class_diversity"]
    assert plain.evidence == [e for e in wcd.evidence if "trained weights" not in e]


def test_checks_are_listed_apart_from_the_claims(frames, doc):
    checks = {c.id: c for c in evaluate_checks(frames, doc)}
    assert {k: c.verdict for k, c in checks.items()} == {
        "autoattack_le_pgd": "failed", "pgd_near_autoattack": "ok", "monotone_in_eps": "ok",
        "large_eps_near_zero": "failed", "strong_le_paper": "ok",
        "within_class_diversity": "not measured (records predate the check)"}
    aa = checks["autoattack_le_pgd"]
    failed = [(lab["label"], lab["failed_seeds"]) for lab in aa.labels if lab["failed_seeds"]]
    assert failed == [("robgan_ft_nofake", [1])]
    assert len(aa.evidence) == 4 and all("AutoAttack − paper PGD" in e for e in aa.evidence)
    flags = frames.flags.copy()
    flags["ok"] = True
    assert all(c.verdict == "ok" for c in evaluate_checks(_with_frames(frames, flags=flags), doc)
               if c.id != "within_class_diversity")  # computed from the fidelity values, not a flag
    assert evaluate_checks(_with_frames(frames, flags=flags.iloc[:0]), doc)[0].verdict == "no records"


def test_claims_md_and_json(frames, doc, cfg, tmp_path):
    results = C.evaluate_claims(frames, doc, cfg, cost=COST)
    md_path, js_path = C.write_claims(results, doc, frames, tmp_path)
    md = md_path.read_text()
    for r in results:
        assert f"### {r.id} — {r.verdict}" in md
    assert md.count("**Paper's value:** not transcribed") == len(results)
    assert md.index("## Checks") < md.index("## Verdict rules") < md.index("## claim1")
    assert "| autoattack_le_pgd | **failed** | robgan_ft_nofake: 1 |" in md
    assert "Welch–Satterthwaite" in md and "Holm" in md and "intersection–union" in md
    assert "SPEC" not in md and "claim6a" not in md
    js = json.loads(js_path.read_text())   # strict JSON: no NaN
    assert set(js) == {"experiment", "dataset", "source_paper", "verdict_rules", "rules_text", "claims", "checks",
                       "records"}
    assert [c["id"] for c in js["claims"]] == [r.id for r in results]
    assert [c["id"] for c in js["checks"]] == [c["id"] for c in doc["checks"]]
    part = js["claims"][0]
    assert {"verdict", "reason", "test_description", "result", "seeds_needed", "evidence", "comparisons",
            "caveats"} <= set(part)
    assert part["comparisons"][0]["n_seeds_a"] == 3 and part["result"]["n_items"] == 500
    assert js["verdict_rules"]["alpha"] == 0.05
    assert js["experiment"] == "fixture" and len(js["records"]) == 66
    yaml.safe_dump(js)  # plain data only
