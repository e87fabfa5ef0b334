"""Claim verdicts: the pure rules, the fixture's verdicts, and verdicts that flip when the data flips."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import yaml

from robgan.config import load_config
from robgan.report import claims as C
from robgan.report.aggregate import Estimate, binomial_se, build_frames, difference, load_records

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PAPER_CLAIMS = Path(__file__).resolve().parents[2] / "config" / "paper_claims.yaml"


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
    return {r.id: r.verdict for r in C.evaluate_claims(frames, doc, cfg)}


def _with_frames(frames, **replace):
    fr = copy.copy(frames)
    for k, v in replace.items():
        setattr(fr, k, v)
    return fr


def _swap_labels(df, a, b):
    df = df.copy()
    df["label"] = df["label"].map(lambda x: b if x == a else a if x == b else x)
    return df


# ---------------------------------------------------------------------------------------------- pure rules


def test_verdict_greater_uses_k_standard_errors():
    assert C.verdict_greater(0.05, 0.02) == C.HOLDS
    assert C.verdict_greater(0.03, 0.02) == C.INCONCLUSIVE
    assert C.verdict_greater(-0.03, 0.02) == C.INCONCLUSIVE
    assert C.verdict_greater(-0.05, 0.02) == C.FAILS
    assert C.verdict_greater(0.05, 0.02, k=3.0) == C.INCONCLUSIVE
    assert C.verdict_greater(math.nan, 0.01) == C.INCONCLUSIVE
    assert C.verdict_greater(0.5, math.nan) == C.INCONCLUSIVE


def test_verdict_at_most():
    assert C.verdict_at_most(-0.04, 0.01) == C.HOLDS
    assert C.verdict_at_most(0.0, 0.01) == C.HOLDS
    assert C.verdict_at_most(0.01, 0.01) == C.INCONCLUSIVE
    assert C.verdict_at_most(0.05, 0.01) == C.FAILS


def test_combine_all():
    assert C.combine_all([C.HOLDS, C.HOLDS]) == C.HOLDS
    assert C.combine_all([C.HOLDS, C.INCONCLUSIVE]) == C.INCONCLUSIVE
    assert C.combine_all([C.HOLDS, C.FAILS, C.INCONCLUSIVE]) == C.FAILS
    assert C.combine_all([]) == C.INCONCLUSIVE


def test_one_seed_uses_the_binomial_standard_error():
    a = Estimate({0: 0.80}, {0: binomial_se(0.80, 1000)}, "binomial SE")
    b = Estimate({0: 0.75}, {0: binomial_se(0.75, 1000)}, "binomial SE")
    d = difference(a, b)
    want = math.sqrt(0.8 * 0.2 / 1000 + 0.75 * 0.25 / 1000)
    assert d.diff == pytest.approx(0.05) and d.se == pytest.approx(want, rel=1e-12)
    assert d.rule == "binomial SE, 1 seed"
    assert C.verdict_greater(d.diff, d.se) == C.HOLDS          # 0.05 > 2 · 0.0186
    assert C.verdict_greater(d.diff, d.se, k=3.0) == C.INCONCLUSIVE
    b2 = Estimate({0: 0.78}, {0: binomial_se(0.78, 1000)}, "binomial SE")
    d2 = difference(a, b2)
    assert C.verdict_greater(d2.diff, d2.se) == C.INCONCLUSIVE  # 0.02 < 2 SE


def test_seed_se_is_paired_and_floored_by_the_measurement_se():
    a = Estimate({0: 0.60, 1: 0.70, 2: 0.80}, {s: 0.001 for s in range(3)})
    b = Estimate({0: 0.50, 1: 0.61, 2: 0.69}, {s: 0.001 for s in range(3)})
    d = difference(a, b)
    diffs = [0.10, 0.09, 0.11]
    assert d.se == pytest.approx(0.01 / math.sqrt(3), rel=1e-9)  # std of paired differences / sqrt(3)
    assert d.diff == pytest.approx(sum(diffs) / 3)
    assert d.rule.startswith("seed SE, paired over 3 seeds")
    noisy = Estimate(a.values, {s: 0.05 for s in range(3)}, "binomial SE")
    assert difference(noisy, Estimate(b.values, {s: 0.05 for s in range(3)})).se > d.se


def test_hit_interval_and_time_to_target():
    assert C.hit_interval([100, 200, 300], [1.0, 2.0, 3.0], 2.0) == (100.0, 200.0)
    assert C.hit_interval([100, 200, 300], [2.5, 2.0, 3.0], 2.0) == (0.0, 100.0)
    assert C.hit_interval([100, 200], [1.0, 1.5], 2.0) == (200.0, math.inf)
    fast = {0: (0.0, 150.0)}
    assert C.verdict_time_to_target(fast, {0: (150.0, 300.0)}).verdict == C.HOLDS
    assert C.verdict_time_to_target({0: (150.0, 300.0)}, fast).verdict == C.FAILS
    assert C.verdict_time_to_target({0: (10.0, 20.0)}, {0: (15.0, 25.0)}).verdict == C.INCONCLUSIVE
    assert C.verdict_time_to_target(fast, {0: (600.0, math.inf)}).verdict == C.HOLDS   # never reached
    assert C.verdict_time_to_target({0: (600.0, math.inf)}, {0: (600.0, math.inf)}).verdict == C.INCONCLUSIVE
    assert C.verdict_time_to_target({}, fast).verdict == C.INCONCLUSIVE
    # several seeds: sooner at the snapshots, but the seed noise swamps the difference
    f = {0: (0.0, 10.0), 1: (0.0, 30.0)}
    s = {0: (30.0, 11.0 + 30.0), 1: (30.0, 40.0)}
    assert C.verdict_time_to_target(f, s).verdict == C.INCONCLUSIVE


# ---------------------------------------------------------------------------------------------- paper_claims.yaml


def test_paper_claims_file_lists_the_six_claims_with_null_values(doc):
    assert [c["id"] for c in doc["claims"]] == [f"claim{i}" for i in range(1, 7)]
    parts = [p for c in doc["claims"] for p in c["parts"]]
    assert [p["id"] for p in parts] == ["claim1", "claim2a", "claim2b", "claim3", "claim4a", "claim4b", "claim4c",
                                        "claim5a", "claim5b", "claim5c", "claim5d", "claim6a", "claim6b", "claim6c"]
    assert all(p["paper_value"] is None for p in parts)
    for c in doc["claims"]:
        assert c["source"].startswith(("paper text, see SPEC §8", "beyond the paper")), c["id"]
        assert c["statement"] and all(p["direction"] for p in c["parts"])


def test_malformed_claims_file_names_the_field(doc):
    bad = copy.deepcopy(doc)
    bad["claims"][0]["parts"][0]["test"] = "vibes"
    with pytest.raises(C.ClaimsConfigError, match=r"claims\[0\]\.parts\[0\]\.test"):
        C.check_claims(bad)
    bad = copy.deepcopy(doc)
    del bad["claims"][2]["parts"][0]["paper_value"]
    with pytest.raises(C.ClaimsConfigError, match="paper_value"):
        C.check_claims(bad)


# ---------------------------------------------------------------------------------------------- fixture verdicts


def test_fixture_verdicts(frames, doc, cfg):
    assert _verdicts(frames, doc, cfg) == {
        "claim1": C.HOLDS, "claim2a": C.HOLDS, "claim2b": C.HOLDS, "claim3": C.HOLDS,
        "claim4a": C.HOLDS, "claim4b": C.HOLDS, "claim4c": C.NOT_EVALUATED,
        "claim5a": C.HOLDS, "claim5b": C.HOLDS,
        "claim5c": C.INCONCLUSIVE,  # Rob-GAN's attack costs time: the wall-clock brackets overlap
        "claim5d": C.HOLDS,
        "claim6a": C.HOLDS, "claim6b": C.HOLDS,
        "claim6c": C.INCONCLUSIVE,  # robgan_ft vs robgan_ft_nofake within 2 SE on 200 AutoAttack images
    }


def test_claim1_flips_when_advtrain_and_robgan_ft_swap(frames, doc, cfg):
    swapped = _with_frames(frames, pgd=_swap_labels(frames.pgd, "advtrain", "robgan_ft"))
    v = _verdicts(swapped, doc, cfg)
    assert v["claim1"] == C.FAILS
    assert v["claim2b"] == C.FAILS  # advtrain's numbers (now named robgan_ft) are below robgan_ft_nofake's


def test_claim3_flips_when_the_gaps_swap(frames, doc, cfg):
    swapped = _with_frames(frames, gap=_swap_labels(frames.gap, "advtrain", "robgan_ft"))
    assert _verdicts(swapped, doc, cfg)["claim3"] == C.FAILS


def test_claim4_flips_when_the_generators_swap(frames, doc, cfg):
    swapped = _with_frames(frames, fidelity=_swap_labels(frames.fidelity, "robgan", "sngan"))
    v = _verdicts(swapped, doc, cfg)
    assert v["claim4a"] == C.FAILS and v["claim4b"] == C.FAILS
    assert v["claim5b"] == C.FAILS  # sngan's final IS (now named robgan) is below robgan_oldloss's


def test_claim6_fails_when_autoattack_is_weaker_than_pgd(frames, doc, cfg):
    aa = frames.autoattack.copy()
    mask = (aa["label"] == "advtrain") & (aa["stage"] == "final")
    aa.loc[mask, "accuracy"] = 0.95
    assert _verdicts(_with_frames(frames, autoattack=aa), doc, cfg)["claim6a"] == C.FAILS


def test_inconclusive_with_one_seed_and_a_gap_within_noise(frames, doc, cfg):
    pgd = frames.pgd[frames.pgd["seed"] == 0].copy()
    adv = (pgd["label"] == "advtrain") & (pgd["protocol"] == "paper")
    ft = (pgd["label"] == "robgan_ft") & (pgd["protocol"] == "paper")
    for eps in (0.05, 0.1, 0.2):
        base = 0.6
        pgd.loc[adv & (pgd["eps"] == eps), "accuracy"] = base
        pgd.loc[ft & (pgd["eps"] == eps), "accuracy"] = base + 0.01   # 1 pp on 500 images: SE ≈ 3 pp
    fr = _with_frames(frames, pgd=pgd)
    res = {r.id: r for r in C.evaluate_claims(fr, doc, cfg)}
    assert res["claim1"].verdict == C.INCONCLUSIVE
    assert "binomial SE, 1 seed" in " ".join(res["claim1"].evidence)
    pgd.loc[ft & (pgd["eps"] > 0), "accuracy"] = 0.6 + 0.10              # 10 pp: beyond 2 SE
    assert _verdicts(_with_frames(frames, pgd=pgd), doc, cfg)["claim1"] == C.HOLDS
    pgd.loc[ft & (pgd["eps"] > 0), "accuracy"] = 0.6 - 0.10
    assert _verdicts(_with_frames(frames, pgd=pgd), doc, cfg)["claim1"] == C.FAILS


def test_one_seed_is_claims_use_the_split_std(frames, doc, cfg):
    fid = frames.fidelity[frames.fidelity["seed"] == 0].copy()
    last = fid.groupby("label")["iteration"].transform("max") == fid["iteration"]
    fid.loc[last & (fid["label"] == "robgan"), "is_mean"] = 6.0
    fid.loc[last & (fid["label"] == "robgan_oldloss"), "is_mean"] = 5.9
    fid.loc[last, "is_std"] = 0.1                                          # Δ 0.1 < 2·√2·0.1
    res = {r.id: r for r in C.evaluate_claims(_with_frames(frames, fidelity=fid), doc, cfg)}
    assert res["claim5b"].verdict == C.INCONCLUSIVE
    assert "split std, 1 seed" in " ".join(res["claim5b"].evidence)
    fid.loc[last, "is_std"] = 0.01
    assert _verdicts(_with_frames(frames, fidelity=fid), doc, cfg)["claim5b"] == C.HOLDS


def test_missing_data_is_inconclusive_and_absent_methods_not_evaluated(frames, doc, cfg):
    no_ft = _with_frames(frames, pgd=frames.pgd[frames.pgd["label"] != "robgan_ft"])
    res = {r.id: r for r in C.evaluate_claims(no_ft, doc, cfg)}
    assert res["claim1"].verdict == C.INCONCLUSIVE and "missing data" in res["claim1"].reason
    cfg2 = dict(cfg, finetune_lambdas=[0.3])  # the experiment makes no λ = 0 run
    no_nofake = _with_frames(frames, pgd=frames.pgd[frames.pgd["label"] != "robgan_ft_nofake"])
    res = {r.id: r for r in C.evaluate_claims(no_nofake, doc, cfg2)}
    assert res["claim2b"].verdict == C.NOT_EVALUATED and "robgan_ft_nofake" in res["claim2b"].reason


def test_claim4c_needs_imagenet143(frames, doc, cfg):
    res = {r.id: r for r in C.evaluate_claims(frames, doc, cfg)}
    assert res["claim4c"].verdict == C.NOT_EVALUATED and "imagenet143" in res["claim4c"].reason
    inet = _with_frames(frames, dataset="imagenet143")
    assert _verdicts(inet, doc, cfg)["claim4c"] == C.HOLDS


def test_claims_md_and_json(frames, doc, cfg, tmp_path):
    results = C.evaluate_claims(frames, doc, cfg)
    md_path, js_path = C.write_claims(results, doc, frames, tmp_path)
    md = md_path.read_text()
    for r in results:
        assert f"### {r.id} — {r.verdict}" in md
    assert md.count("not transcribed") == len(results)
    assert "Verdict rules" in md and "2·SE" in md
    js = json.loads(js_path.read_text())   # strict JSON: no NaN
    assert [c["id"] for c in js["claims"]] == [r.id for r in results]
    assert js["claims"][0]["comparisons"][0]["a_n"] == 3
    assert js["experiment"] == "fixture" and len(js["records"]) == 66
    yaml.safe_dump(js)  # plain data only
