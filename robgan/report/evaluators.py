"""Records → the comparisons behind each claim part: one evaluator per ``test`` of ``paper_claims.yaml``.

An evaluator reads the frames (:mod:`robgan.report.aggregate`), builds the per-seed estimates of the
methods a part compares and judges each comparison with :mod:`robgan.report.verdicts`;
:func:`evaluate_part` combines them into the part's verdict and evidence lines.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robgan.registry import configured_labels
from robgan.report.aggregate import (
    EPS_ATOL,
    EXTRACTOR_NAMES,
    Frames,
    accuracy_estimate,
    autoattack_estimate,
    eps_header,
    expected_labels,
    fidelity_point,
    has_outcomes,
    is_estimate,
    pgd_estimate,
    unique_eps,
)
from robgan.report.checks import collapse_evidence
from robgan.report.methods import budget, budget_text, unlike_discriminators, unlike_n_dis
from robgan.report.stats import Estimate, difference
from robgan.report.verdicts import (
    ACCURACY,
    INCONCLUSIVE,
    INDICATIVE,
    NO_OUTCOMES,
    NOT_COMPARABLE,
    NOT_EVALUATED,
    NOT_JUDGED,
    REGIME_NOT_REACHED,
    SCORE,
    Judgement,
    Unit,
    VerdictRules,
    combine,
    hit_interval,
    judge,
    judge_time_to_target,
)

ACC_VALUE = Unit(100.0, "%", 1)
TESTS = ("pgd_every_eps", "gap_smaller", "time_to_target", "final_is_greater", "autoattack_greater")


@dataclass
class PartResult:
    """The judgement of one claim part (``claims.json`` holds it field by field)."""

    id: str
    claim: str
    statement: str
    direction: str
    test: str
    source: str
    datasets: list[str] | None
    paper_value: Any
    verdict: str
    reason: str
    test_description: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    seeds_needed: int | None = None
    evidence: list[str] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)


@dataclass
class Context:
    """What every evaluator reads: the record frames, the resolved config, the verdict rules and the
    cost probe (``results/<experiment>/cost_probe.json``, :mod:`robgan.cost_probe`; None when the
    experiment's records predate it)."""

    frames: Frames
    cfg: Mapping[str, Any] | None
    rules: VerdictRules = field(default_factory=VerdictRules)
    cost: Mapping[str, Any] | None = None


@dataclass
class Item:
    """One comparison: where it is made, the estimates in words, its judgement and JSON fields."""

    where: str
    text: str
    judgement: Judgement
    unit: Unit
    meta: dict[str, Any]


@dataclass
class Outcome:
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    test: str = ""
    absent: tuple[str, str] | None = None
    override: tuple[str, str] | None = None  # (verdict, reason) that replaces the combined one; evidence kept
    caveats: list[str] = field(default_factory=list)


def fmt_est(est: Estimate, unit: Unit = ACC_VALUE) -> str:
    """``85.0% (n=3 seeds, sd 0.6%)``; one seed shows its measurement noise instead."""
    if est.empty:
        return "no data"
    if est.n == 1:
        (s,) = est.values
        noise = est.noise.get(s, math.nan)
        extra = f", {est.noise_kind} {unit(noise)}" if np.isfinite(noise) else ""
        return f"{unit(est.mean)} (1 seed{extra})"
    return f"{unit(est.mean)} (n={est.n} seeds, sd {unit(est.std)})"


def describe(j: Judgement, unit: Unit, rules: VerdictRules) -> str:
    """One judgement in words: Δ, interval, p-value, test and verdict."""
    if j.verdict == INDICATIVE:
        se = f" (measurement SE {unit(j.se)})" if np.isfinite(j.se) else ""
        return f"Δ = {unit(j.diff, True)}{se}; {j.reason} → {INDICATIVE}"
    if not np.isfinite(j.diff) and not np.isfinite(j.p_value):
        return f"{j.reason} → {j.verdict}"
    ci = f", {rules.ci_percent} CI [{unit(j.ci[0], True)}, {unit(j.ci[1], True)}]" if np.isfinite(j.ci[0]) else ""
    df = "" if math.isnan(j.df) else "; df ∞" if math.isinf(j.df) else "; df > 1000" if j.df > 1000 \
        else f"; df {j.df:.1f}"
    need = f"; {j.needed}" if j.needed else ""
    return (f"Δ = {unit(j.diff, True)}{ci}, p = {j.p_value:.3g} (one-sided; {j.test}{df}) → {j.verdict}: "
            f"{j.reason}{need}")


def _meta(what: str, a_lab: str, b_lab: str, a: Estimate | None, b: Estimate | None, **extra: Any) -> dict:
    out = {"what": what, "a": a_lab, "b": b_lab}
    for key, est in (("a", a), ("b", b)):
        if est is not None:
            out.update({f"{key}_mean": est.mean, f"{key}_std": est.std, f"{key}_n": est.n})
    return {**out, **extra}


def _compare(ctx: Context, what: str, where: str, a_lab: str, b_lab: str, a: Estimate, b: Estimate,
             quantity: str, unit: Unit, value_unit: Unit, **extra: Any) -> Item:
    j = judge(difference(a, b), ctx.rules, ctx.rules.minimum(quantity), unit)
    text = f"{a_lab} {fmt_est(a, value_unit)} vs {b_lab} {fmt_est(b, value_unit)}"
    return Item(where, text, j, unit, _meta(what, a_lab, b_lab, a, b, quantity=quantity, **extra))


def _missing(where: str, why: str) -> Item:
    return Item(where, why, Judgement(INCONCLUSIVE, math.nan, reason=why), SCORE, {"what": where})


def _pairs(part: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(str(a), str(b)) for a, b in part.get("pairs", [])]


def _absent(ctx: Context, labels: Sequence[str], kind: str, name: str | None = None) -> tuple[str, str] | None:
    """(verdict, reason) when a label has no ``kind`` data; None when all have some."""
    df = getattr(ctx.frames, kind)
    have = set(df["label"]) if len(df) else set()
    missing = [lab for lab in labels if lab not in have]
    if not missing:
        return None
    exp = expected_labels(ctx.cfg)
    not_made = [lab for lab in missing if exp is not None and lab not in exp]
    if not_made:
        return NOT_EVALUATED, (f"the experiment config does not produce {', '.join(not_made)} "
                               f"(methods / finetune_lambdas)")
    chosen = configured_labels(ctx.cfg, name or kind)
    left_out = [lab for lab in missing if chosen is not None and lab not in chosen]
    if left_out:
        return NOT_EVALUATED, (f"eval.{name or kind}.labels leaves out {', '.join(left_out)} "
                               f"(evaluated: {', '.join(chosen) or 'none'})")
    return INCONCLUSIVE, f"missing data: no {name or kind} records for {', '.join(missing)}"


def _common_eps(a: Sequence[float], b: Sequence[float]) -> list[float]:
    return [e for e in a if e > EPS_ATOL and any(abs(e - f) <= EPS_ATOL for f in b)]


def eval_pgd_every_eps(ctx: Context, part: Mapping[str, Any], protocol: str = "paper") -> Outcome:
    pairs = _pairs(part)
    out = Outcome(test=f"one-sided t-test of the {protocol}-protocol PGD accuracy at each ε > 0")
    out.absent = _absent(ctx, sorted({lab for p in pairs for lab in p}), "pgd")
    if out.absent:
        return out
    pgd = ctx.frames.pgd
    for a_lab, b_lab in pairs:
        common = _common_eps(*(unique_eps(pgd[(pgd["label"] == lab) & (pgd["protocol"] == protocol)]["eps"])
                               for lab in (a_lab, b_lab)))
        if not common:
            out.items.append(_missing(f"{a_lab} vs {b_lab}", f"no common ε > 0 under the {protocol} protocol"))
        for eps in common:
            a, b = pgd_estimate(pgd, a_lab, protocol, eps), pgd_estimate(pgd, b_lab, protocol, eps)
            out.items.append(_compare(ctx, f"{protocol} PGD accuracy", eps_header(eps), a_lab, b_lab, a, b,
                                      "accuracy", ACCURACY, ACC_VALUE, eps=eps))
    return out


def _gap_estimate(ctx: Context, label: str) -> tuple[Estimate, float]:
    """Per-seed gap (train − test adversarial accuracy) and its ε (NaN when the records mix ε)."""
    gap = ctx.frames.gap[ctx.frames.gap["label"] == label]
    eps = unique_eps(gap["eps"])
    tr, te = (gap[gap["split"] == s].set_index("seed") for s in ("train", "test"))
    seeds = sorted(set(tr.index) & set(te.index))
    train = accuracy_estimate(tr.loc[seeds].reset_index(), "accuracy_adv", "n", +1)
    test = accuracy_estimate(te.loc[seeds].reset_index(), "accuracy_adv", "n", -1)
    values = {s: train.values[s] - test.values[s] for s in seeds}
    noise = {s: math.hypot(train.noise[s], test.noise[s]) for s in seeds}
    est = Estimate(values, noise, "binomial SE", train.binomials + test.binomials, train.n_items)
    return est, (eps[0] if len(eps) == 1 else math.nan)


def eval_gap_smaller(ctx: Context, part: Mapping[str, Any]) -> Outcome:
    pairs = _pairs(part)
    out = Outcome(test="one-sided t-test of gap(B) − gap(A), gap = train − test adversarial accuracy "
                       "(paper protocol, each split's images shared by every seed)")
    out.absent = _absent(ctx, sorted({lab for p in pairs for lab in p}), "gap")
    if out.absent:
        return out
    for a_lab, b_lab in pairs:
        (ga, eps_a), (gb, eps_b) = _gap_estimate(ctx, a_lab), _gap_estimate(ctx, b_lab)
        if not (np.isfinite(eps_a) and np.isfinite(eps_b) and abs(eps_a - eps_b) <= EPS_ATOL):
            out.items.append(_missing(f"{a_lab} vs {b_lab}", "the gap records use different or mixed ε"))
            continue
        gap_unit = Unit(100.0, " pp", 1)
        item = _compare(ctx, "train−test gap (b − a)", f"{eps_header(eps_a)}, gap({b_lab}) − gap({a_lab})", b_lab,
                        a_lab, gb, ga, "accuracy", ACCURACY, gap_unit, eps=eps_a)
        out.items.append(item)
    out.override = _regime_not_reached(ctx, part)
    return out


def _regime_not_reached(ctx: Context, part: Mapping[str, Any]) -> tuple[str, str] | None:
    """(``regime not reached``, why) when the part sets ``regime_gap`` and no method's mean train − test
    gap exceeds it: the claim is about closing a generalisation gap that this experiment does not have."""
    level = part.get("regime_gap")
    if level is None:
        return None
    labels = sorted({lab for p in _pairs(part) for lab in p})
    gaps = {lab: _gap_estimate(ctx, lab)[0].mean for lab in labels}
    if any(not np.isfinite(g) or g > float(level) for g in gaps.values()):
        return None
    unit = Unit(100.0, " pp", 1)
    shown = ", ".join(f"{lab} {unit(g)}" for lab, g in gaps.items())
    return REGIME_NOT_REACHED, (f"no method's train−test gap of adversarial accuracy exceeds {unit(float(level))} "
                                f"(mean over seeds: {shown}): the claim is about narrowing a generalisation gap "
                                "that this experiment's classifiers do not have")


def _extractor(ctx: Context) -> str | None:
    fid = ctx.frames.fidelity
    present = list(dict.fromkeys(fid["extractor"])) if len(fid) else []
    for ext in EXTRACTOR_NAMES:
        if ext in present:
            return ext
    return present[0] if present else None


def eval_final_is_greater(ctx: Context, part: Mapping[str, Any]) -> Outcome:
    pairs = _pairs(part)
    out = Outcome(test="one-sided t-test of the final Inception score (fixed samples: every seed and method "
                       "draws the same latents and labels (the record's sample_seed); each generator's sampling "
                       "noise is part of the seed spread)")
    out.absent = _absent(ctx, sorted({lab for p in pairs for lab in p}), "fidelity")
    if out.absent:
        return out
    ext = _extractor(ctx)
    evidence, out.caveats = collapse_evidence(ctx.frames, sorted({lab for p in pairs for lab in p}))
    out.notes += evidence
    for a_lab, b_lab in pairs:
        a = is_estimate(fidelity_point(ctx.frames.fidelity, a_lab, ext, "final"))
        b = is_estimate(fidelity_point(ctx.frames.fidelity, b_lab, ext, "final"))
        out.items.append(_compare(ctx, "final IS", f"final IS ({EXTRACTOR_NAMES.get(ext, ext)})", a_lab, b_lab, a,
                                  b, "inception_score", SCORE, SCORE, extractor=ext))
    return out


#: What a time claim without the cost probe needs (records of a run that predates it).
RERUN_COST_PROBE = ("re-run: snakemake --cores all --configfile <the experiment's config>, which runs the "
                    "cost_probe rule and then the report; the training logs' wall-clock seconds depend on the "
                    "jobs that shared the cores and are not judged")
NO_COST_PROBE = f"no cost_probe record ({RERUN_COST_PROBE})"


def _seconds_per_iteration(ctx: Context, labels: Sequence[str]) -> tuple[dict[str, float], tuple[str, str] | None]:
    """Each label's measured seconds per iteration (:mod:`robgan.cost_probe`), or (``not judged``, why)."""
    from robgan.cost_probe import seconds_per_iteration

    if not ctx.cost:
        return {}, (NOT_JUDGED, NO_COST_PROBE)
    cost = {lab: seconds_per_iteration(ctx.cost, lab) for lab in labels}
    missing = sorted(lab for lab, c in cost.items() if c is None)
    if missing:
        return {}, (NOT_JUDGED, f"the cost_probe record has no seconds per iteration of {', '.join(missing)} "
                    f"({RERUN_COST_PROBE})")
    return {lab: float(c) for lab, c in cost.items() if c is not None}, None


def _scaled(bracket: tuple[float, float], factor: float) -> tuple[float, float]:
    """An iteration bracket ``(lo, hi]`` in seconds at ``factor`` seconds per iteration (∞ stays ∞)."""
    return bracket[0] * factor, bracket[1] * factor


def eval_time_to_target(ctx: Context, part: Mapping[str, Any]) -> Outcome:
    """Time to a target IS along ``axis``: ``iteration`` (generator iterations), or ``train_seconds``:
    each seed's iteration bracket × its method's seconds per iteration measured alone (the cost probe),
    a cost that does not depend on what ran beside the job; the pipeline's wall-clock brackets (the
    snapshots' ``train_seconds``) stay in the evidence."""
    pairs = _pairs(part)
    axis = part["axis"]
    timed = axis == "train_seconds"
    unit = Unit(1.0, " s", 1) if timed else Unit(1.0, " iterations", 0)
    along = "seconds at each method's cost per iteration measured alone" if timed else "generator iterations"
    out = Outcome(test=f"each seed's lead in {along} is an interval from the snapshot brackets; one-sided test "
                       "of its lower bound (holds) and of its upper bound (fails), exact sign test when the bounds "
                       "do not vary")
    labels = sorted({lab for p in pairs for lab in p})
    out.absent = _absent(ctx, labels, "fidelity")
    if out.absent:
        return out
    cost: dict[str, float] = {}
    if timed:
        cost, out.absent = _seconds_per_iteration(ctx, labels)
        if out.absent:
            return out
        probe = ctx.cost or {}
        out.notes.append("cost per iteration, measured alone (cost_probe: median of "
                         f"{probe.get('repeats', '?')} repeats, {probe.get('threads', '?')} thread(s), "
                         f"{probe.get('device', '?')}, torch {probe.get('torch', '?')}): "
                         + ", ".join(f"{lab} {cost[lab]:.4g} s" for lab in labels))
    ext = _extractor(ctx)
    fid = ctx.frames.fidelity[ctx.frames.fidelity["extractor"] == ext]
    frac = ctx.rules.target_is_fraction
    for fast, slow in pairs:
        slow_final = is_estimate(fidelity_point(fid, slow, ext, "final"))
        target = frac * slow_final.mean
        iv: dict[str, dict[int, tuple[float, float]]] = {}
        wall: dict[str, dict[int, tuple[float, float]]] = {}
        for lab in (fast, slow):
            rows = fid[fid["label"] == lab].groupby("seed")
            iv[lab] = {int(seed): hit_interval(g["iteration"].tolist(), g["is_mean"].tolist(), target)
                       for seed, g in rows}
            if timed:
                wall[lab] = {int(seed): hit_interval(g["train_seconds"].tolist(), g["is_mean"].tolist(), target)
                             for seed, g in rows}
                iv[lab] = {seed: _scaled(b, cost[lab]) for seed, b in iv[lab].items()}
        out.notes.append(f"target IS = {frac:g} × {slow}'s final IS {fmt_est(slow_final, SCORE)} = {target:.2f} "
                         f"({EXTRACTOR_NAMES.get(ext, ext)})")
        for lab in (fast, slow):
            out.notes.append(f"{lab} crosses the target within [{_brackets(iv[lab], unit)}] (between the last "
                             "snapshot below it and the first at or above it"
                             + (f"; iterations × {cost[lab]:.4g} s)" if timed else ")"))
        if timed:
            for lab in (fast, slow):
                out.notes.append(f"pipeline wall-clock (evidence only: it depends on the jobs that shared the "
                                 f"cores): {lab} crosses within [{_brackets(wall[lab], unit)}]")
        j = judge_time_to_target(iv[fast], iv[slow], ctx.rules, unit)
        meta = {"what": f"time to target IS along {axis}", "a": fast, "b": slow, "target_is": target,
                "intervals_a": {str(k): list(v) for k, v in iv[fast].items()},
                "intervals_b": {str(k): list(v) for k, v in iv[slow].items()}, "quantity": axis,
                "lead_lower": j.lower, "lead_upper": j.upper, "lead_midpoint": j.diff,
                "snapshot_resolution": j.resolution,
                "leads": {str(s): [lo, hi] for s, lo, hi in j.leads}}
        if timed:
            meta.update(seconds_per_iteration_a=cost[fast], seconds_per_iteration_b=cost[slow],
                        wall_intervals_a={str(k): list(v) for k, v in wall[fast].items()},
                        wall_intervals_b={str(k): list(v) for k, v in wall[slow].items()})
        per_seed = "; ".join(f"seed {s} [{unit(lo, True)}, {unit(hi, True)}]" for s, lo, hi in j.leads)
        text = (f"lead of {fast} per seed {per_seed}; mean bounds [{unit(j.lower, True)}, {unit(j.upper, True)}], "
                f"midpoint {unit(j.diff, True)} ({len(iv[fast])} vs {len(iv[slow])} seeds)")
        out.items.append(Item(f"lead of {fast} over {slow}", text, j, unit, meta))
    return out


def _brackets(iv: Mapping[int, tuple[float, float]], unit: Unit) -> str:
    """``seed 0: (lo, hi], seed 1: not by lo`` of per-seed crossing brackets."""
    return ", ".join(f"seed {s}: ({unit(lo)}, {unit(hi)}]" if np.isfinite(hi) else f"seed {s}: not by {unit(lo)}"
                     for s, (lo, hi) in sorted(iv.items()))


def is_targets(frames: Frames, claims_doc: Mapping[str, Any]) -> list[tuple[str, float]]:
    """``(text, IS)`` of every time-to-target claim's target (one per baseline), for the IS figures."""
    rules = VerdictRules.from_mapping(claims_doc.get("verdict_rules"))
    ctx = Context(frames, None, rules)
    ext = _extractor(ctx)
    out: dict[str, float] = {}
    for claim in claims_doc.get("claims") or []:
        for part in claim.get("parts") or []:
            if part.get("test") != "time_to_target" or ext is None:
                continue
            for _, slow in _pairs(part):
                final = is_estimate(fidelity_point(frames.fidelity, slow, ext, "final"))
                if not final.empty and np.isfinite(final.mean):
                    out[slow] = rules.target_is_fraction * final.mean
    return [(f"target {rules.target_is_fraction:g} × {slow}'s final IS = {v:.2f}", v) for slow, v in out.items()]


def eval_autoattack_greater(ctx: Context, part: Mapping[str, Any]) -> Outcome:
    pairs = _pairs(part)
    out = Outcome(test="one-sided t-test of the AutoAttack accuracy at each common AutoAttack ε")
    out.absent = _absent(ctx, sorted({lab for p in pairs for lab in p}), "autoattack_meta", "autoattack")
    if out.absent:
        return out
    meta = ctx.frames.autoattack_meta
    for a_lab, b_lab in pairs:
        common = _common_eps(*(unique_eps(meta[meta["label"] == lab]["eps"]) for lab in (a_lab, b_lab)))
        if not common:
            out.items.append(_missing(f"{a_lab} vs {b_lab}", "no common AutoAttack ε"))
        for eps in common:
            a = autoattack_estimate(ctx.frames.autoattack, a_lab, "final", eps)
            b = autoattack_estimate(ctx.frames.autoattack, b_lab, "final", eps)
            out.items.append(_compare(ctx, "AutoAttack accuracy", f"AutoAttack at {eps_header(eps)}", a_lab, b_lab,
                                      a, b, "accuracy", ACCURACY, ACC_VALUE, eps=eps))
    return out


EVALUATORS: dict[str, Callable[[Context, Mapping[str, Any]], Outcome]] = {
    "pgd_every_eps": eval_pgd_every_eps,
    "gap_smaller": eval_gap_smaller,
    "time_to_target": eval_time_to_target,
    "final_is_greater": eval_final_is_greater,
    "autoattack_greater": eval_autoattack_greater,
}
_FLAG_KINDS = {"pgd_every_eps": ("pgd",), "gap_smaller": ("gap",), "autoattack_greater": ("autoattack",),
               "time_to_target": ("fidelity",), "final_is_greater": ("fidelity",)}


def _flag_caveats(ctx: Context, labels: Sequence[str], kinds: Sequence[str]) -> list[str]:
    fl = ctx.frames.flags
    bad = fl[fl["label"].isin(labels) & fl["kind"].isin(kinds) & ~fl["ok"].astype(bool)]
    return [f"sanity flag {r.kind}:{r.flag} failed for {r.label} seed {r.seed} ({r.detail})" for r in bad.itertuples()]


def _comparison_json(item: Item) -> dict[str, Any]:
    j = item.judgement
    return {**item.meta, "diff": j.diff, "se": j.se, "df": j.df, "ci_low": j.ci[0], "ci_high": j.ci[1],
            "p_value": j.p_value, "p_fail_holm": j.p_fail, "min_effect": j.min_effect, "n_seeds_a": j.n_a,
            "n_seeds_b": j.n_b, "n_items": j.n_items, "test": j.test, "verdict": j.verdict, "reason": j.reason,
            "seeds_needed": j.seeds_needed, "needed": j.needed}


# accuracy tests: (frame, accuracy column, rows used) whose per-image outcomes the paired SE needs
_OUTCOME_FRAMES = {"pgd_every_eps": ("pgd", "accuracy"), "gap_smaller": ("gap", "accuracy_adv"),
                   "autoattack_greater": ("autoattack", "accuracy")}


def _without_outcomes(ctx: Context, part: Mapping[str, Any]) -> tuple[str, str] | None:
    """(``not judged``, why) when an accuracy record the part compares predates per-image outcomes."""
    if part["test"] not in _OUTCOME_FRAMES:
        return None
    kind, col = _OUTCOME_FRAMES[part["test"]]
    df = getattr(ctx.frames, kind)
    labels = sorted({lab for p in _pairs(part) for lab in p})
    old = sorted({f"{r.label} seed {r.seed}" for r in df[df["label"].isin(labels)].itertuples()
                  if not has_outcomes(df.loc[[r.Index]], col)})
    if not old:
        return None
    return NOT_JUDGED, f"{NO_OUTCOMES}; {kind} records without them: {', '.join(old)}"


def _budget_caveat(ctx: Context, part: Mapping[str, Any]) -> str | None:
    """The caveat of a part whose better method had more training than the one it is compared with
    (``control``: the part that gives both the same extra budget)."""
    control = part.get("control")
    if not control:
        return None
    better, worse = _pairs(part)[0]
    bb, bw = budget(ctx.cfg, better), budget(ctx.cfg, worse)
    if bb and bw:
        extra = (f"{bb['d_updates'] - bw['d_updates']:,} more D updates and "
                 f"{bb['real_images'] - bw['real_images']:,} more real images ({budget_text(bb)} vs "
                 f"{budget_text(bw)})")
    else:
        extra = "more D updates and more real images (its fine-tuning run)"
    return (f"{better} had {extra} than {worse}: a win here can come from the extra budget alone; "
            f"{control} compares {better} with a fine-tuning of the same budget without fake data "
            "(λ = 0) and is the control for what the fake data add")


#: Tests that compare generators: their pairs must train at the same D steps per G step.
GENERATOR_TESTS = ("time_to_target", "final_is_greater")


def _not_comparable(ctx: Context, part: Mapping[str, Any]) -> str | None:
    """The reason a generator comparison is not like for like in this experiment (else None)."""
    if part["test"] not in GENERATOR_TESTS:
        return None
    reasons = [r for a, b in _pairs(part) if (r := unlike_n_dis(ctx.cfg, [a, b]))]
    return "; ".join(reasons) or None


def evaluate_part(ctx: Context, part: Mapping[str, Any], base: Mapping[str, Any]) -> PartResult:
    """Judge one claim part (``base``: the fields of :class:`PartResult` that the claims file gives)."""
    out = EVALUATORS[part["test"]](ctx, part)
    labels = sorted({lab for p in _pairs(part) for lab in p})
    if not out.absent:
        out.absent = _without_outcomes(ctx, part)
    unfair = _not_comparable(ctx, part)
    # an unlike pair is not comparable whatever is measured: that reason wins over a missing cost probe
    if unfair and (not out.absent or out.absent[1] == NO_COST_PROBE):
        evidence = out.notes + [f"{i.where}: {i.text}; {describe(i.judgement, i.unit, ctx.rules)}" for i in out.items]
        return PartResult(**base, verdict=NOT_COMPARABLE, reason=unfair, test_description=out.test,
                          evidence=["measured, but not judged: " + e for e in evidence],
                          comparisons=[_comparison_json(i) for i in out.items], caveats=out.caveats)
    if out.absent:
        return PartResult(**base, verdict=out.absent[0], reason=out.absent[1], test_description=out.test)
    comb = combine([i.judgement for i in out.items], ctx.rules.alpha)
    for item, j in zip(out.items, comb.parts, strict=True):
        item.judgement = j
    evidence = out.notes + [f"{i.where}: {i.text}; {describe(i.judgement, i.unit, ctx.rules)}" for i in out.items]
    result: dict[str, Any] = {}
    if comb.headline is not None:
        head = out.items[comb.headline]
        j, u = head.judgement, head.unit
        ci_text = f"[{u(j.ci[0], True)}, {u(j.ci[1], True)}]" if np.isfinite(j.ci[0]) else ""
        at = f"ε={head.meta['eps']:.3f}" if "eps" in head.meta else ""
        result = {**_comparison_json(head), "at": at, "ci_level": 1 - 2 * ctx.rules.alpha,
                  "p_value_part": comb.p_value, "diff_text": u(j.diff, True), "ci_text": ci_text}
    caveats = out.caveats + _flag_caveats(ctx, labels, _FLAG_KINDS[part["test"]])
    unlike = unlike_discriminators(ctx.cfg, labels)
    if unlike:
        caveats.insert(0, unlike)
    extra_budget = _budget_caveat(ctx, part)
    if extra_budget:
        caveats.insert(0, extra_budget)
    alpha, m = ctx.rules.alpha, ""
    if part["test"] in ("pgd_every_eps", "gap_smaller", "autoattack_greater", "final_is_greater"):
        q = "inception_score" if part["test"] == "final_is_greater" else "accuracy"
        unit = SCORE if q == "inception_score" else ACCURACY
        m = f", minimum effect {unit(ctx.rules.minimum(q))}"
    family = f"; family of {len(out.items)}: holds at every one (intersection–union), fails at one after Holm" \
        if len(out.items) > 1 else ""
    test = f"{out.test}, α = {alpha:g}{m}{family}"
    verdict, reason = out.override or (comb.verdict, comb.reason)
    if out.override and result:
        result["needed"] = ""
    return PartResult(**base, verdict=verdict, reason=reason, test_description=test, result=result,
                      seeds_needed=None if out.override else comb.seeds_needed, evidence=evidence,
                      comparisons=[_comparison_json(i) for i in out.items], caveats=caveats)
