"""Judge the paper's claims (SPEC §9, ``config/paper_claims.yaml``) from records: ``claims.md`` + ``claims.json``.

Verdicts: ``holds`` / ``fails`` / ``inconclusive`` / ``not evaluated in this experiment``.

Verdict rules (pure functions below, unit-tested):

- A comparison "A > B" is judged on ``Δ = mean(A) − mean(B)`` over seeds and its standard error SE
  (:func:`robgan.report.aggregate.difference`: the larger of the seed SE — paired over shared seeds,
  else Welch — and the measurement SE — binomial SE ``sqrt(p(1−p)/N)`` of an accuracy on N examples,
  the split std of an Inception score; with one seed only the measurement SE exists):
  holds if ``Δ > k·SE``, fails if ``Δ < −k·SE``, inconclusive otherwise (``k = verdict_rules.k_se``,
  default 2) — :func:`verdict_greater`.
- "A ≤ B" (AutoAttack vs PGD): holds if ``Δ ≤ 0``, fails if ``Δ > k·SE``, else inconclusive —
  :func:`verdict_at_most`.
- "at every ε" / "for every pair": fails if any part fails, holds if all hold, else inconclusive —
  :func:`combine_all`.
- "reaches a given IS sooner": target = ``target_is_fraction`` × the baseline's final mean IS; the
  snapshots bracket each seed's crossing in ``(lo, hi]`` (last snapshot below the target, first at or
  above it; never reached: ``(run length, inf)``) along seconds or iterations. Holds if the
  candidate's mean ``hi`` ≤ the baseline's mean ``lo`` (it had crossed before the baseline can have),
  fails in the mirror case, inconclusive when the brackets overlap; with ≥ 2 seeds each the difference
  of the ``hi`` means must also exceed k seed SE — :func:`verdict_time_to_target`.
- Missing data for a label the experiment config trains → inconclusive ("missing data"); a label or
  dataset the experiment does not have at all → "not evaluated in this experiment", with the reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from robgan import provenance as prov
from robgan.report.aggregate import (
    EPS_ATOL,
    EXTRACTOR_NAMES,
    Difference,
    Estimate,
    Frames,
    autoattack_estimate,
    binomial_se,
    difference,
    eps_header,
    expected_labels,
    fidelity_point,
    is_estimate,
    pgd_at_autoattack_eps,
    pgd_estimate,
    sort_labels,
    unique_eps,
)

HOLDS, FAILS, INCONCLUSIVE, NOT_EVALUATED = "holds", "fails", "inconclusive", "not evaluated in this experiment"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, NOT_EVALUATED)
TESTS = ("pgd_every_eps", "gap_smaller", "time_to_target", "final_is_greater", "autoattack_le_pgd",
         "autoattack_greater")
DEFAULT_CLAIMS = Path(__file__).resolve().parents[2] / "config" / "paper_claims.yaml"


class ClaimsConfigError(ValueError):
    """``paper_claims.yaml`` is malformed; the message names the field."""


# --------------------------------------------------------------------------------------------------
# pure verdict rules


def verdict_greater(diff: float, se: float, k: float = 2.0) -> str:
    """Verdict of "A > B" from ``Δ = A − B`` and its SE (see the module docstring)."""
    if diff is None or not np.isfinite(diff) or se is None or not np.isfinite(se):
        return INCONCLUSIVE
    if diff > k * se:
        return HOLDS
    if diff < -k * se:
        return FAILS
    return INCONCLUSIVE


def verdict_at_most(diff: float, se: float, k: float = 2.0) -> str:
    """Verdict of "A ≤ B" from ``Δ = A − B``: holds if Δ ≤ 0, fails if Δ > k·SE, else inconclusive."""
    if diff is None or not np.isfinite(diff):
        return INCONCLUSIVE
    if diff <= 0:
        return HOLDS
    if se is not None and np.isfinite(se) and diff > k * se:
        return FAILS
    return INCONCLUSIVE


def combine_all(verdicts: Sequence[str]) -> str:
    """"For every ...": fails if any fails, holds if all hold, else inconclusive (also when empty)."""
    verdicts = list(verdicts)
    if any(v == FAILS for v in verdicts):
        return FAILS
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    return INCONCLUSIVE


@dataclass(frozen=True)
class TimeVerdict:
    verdict: str
    diff: float          # mean(t_slow) − mean(t_fast) of the hitting snapshots: positive = fast is sooner
    reason: str


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


def verdict_time_to_target(fast: Mapping[int, tuple[float, float]], slow: Mapping[int, tuple[float, float]],
                           k: float = 2.0) -> TimeVerdict:
    """Is "fast" sooner to the target than "slow"? Per seed ``(lo, hi]`` intervals from :func:`hit_interval`.

    With ``L``/``H`` the means over seeds of ``lo``/``hi`` (``H = inf`` if a seed never reaches it):
    holds if ``H_fast ≤ L_slow`` (fast has crossed before slow can have), fails if ``H_slow ≤ L_fast``,
    inconclusive otherwise (the snapshots cannot tell). When both reach the target in every seed and
    both have ≥ 2 seeds, the difference of the ``hi`` means must also exceed ``k`` seed SE.
    """
    if not fast or not slow:
        return TimeVerdict(INCONCLUSIVE, math.nan, "missing data")
    lo_f, hi_f = (float(np.mean([v[i] for v in fast.values()])) for i in (0, 1))
    lo_s, hi_s = (float(np.mean([v[i] for v in slow.values()])) for i in (0, 1))
    diff = hi_s - hi_f if np.isfinite(hi_s) or np.isfinite(hi_f) else math.nan
    se_ok, se_txt = True, ""
    if np.isfinite(hi_f) and np.isfinite(hi_s):
        d = difference(Estimate({s: v[1] for s, v in slow.items()}), Estimate({s: v[1] for s, v in fast.items()}))
        if np.isfinite(d.se):
            se_ok = abs(d.diff) > k * d.se
            se_txt = f"; |Δ| {'>' if se_ok else '≤'} {k:g}·seed SE = {k * d.se:.1f} ({d.rule})"
    if hi_f <= lo_s:
        if se_ok:
            return TimeVerdict(HOLDS, diff, "the candidate had reached the target by a snapshot at which the "
                               f"baseline had not{se_txt}")
        return TimeVerdict(INCONCLUSIVE, diff, f"sooner at the snapshots, but within the seed noise{se_txt}")
    if hi_s <= lo_f:
        if se_ok:
            return TimeVerdict(FAILS, diff, "the baseline had reached the target by a snapshot at which the "
                               f"candidate had not{se_txt}")
        return TimeVerdict(INCONCLUSIVE, diff, f"later at the snapshots, but within the seed noise{se_txt}")
    return TimeVerdict(INCONCLUSIVE, diff, "the crossing intervals between snapshots overlap: the snapshots "
                       "cannot tell which is sooner")


# --------------------------------------------------------------------------------------------------
# the claims file


def load_claims(path: str | Path | None = None) -> dict[str, Any]:
    """Read and check ``paper_claims.yaml`` (default: the repository's ``config/paper_claims.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_CLAIMS
    if not path.is_file():
        raise ClaimsConfigError(f"claims file {path} does not exist (pass --claims config/paper_claims.yaml)")
    with open(path) as fh:
        doc = yaml.safe_load(fh) or {}
    check_claims(doc, str(path))
    return doc


def check_claims(doc: Mapping[str, Any], where: str = "paper_claims.yaml") -> None:
    def need(cond: bool, fieldname: str, msg: str) -> None:
        if not cond:
            raise ClaimsConfigError(f"{where}: '{fieldname}' {msg}")

    need(isinstance(doc.get("claims"), list) and doc["claims"], "claims", "must be a non-empty list")
    rules = doc.get("verdict_rules", {}) or {}
    for key in ("k_se", "target_is_fraction"):
        if key in rules:
            need(isinstance(rules[key], (int, float)) and rules[key] > 0, f"verdict_rules.{key}",
                 "must be a positive number")
    ids = set()
    for i, claim in enumerate(doc["claims"]):
        for key in ("id", "statement", "source", "parts"):
            need(key in claim, f"claims[{i}].{key}", "is required")
        for j, part in enumerate(claim["parts"]):
            at = f"claims[{i}].parts[{j}]"
            for key in ("id", "statement", "direction", "test", "paper_value"):
                need(key in part, f"{at}.{key}", "is required (paper_value may be null)")
            need(part["test"] in TESTS, f"{at}.test", f"must be one of {', '.join(TESTS)}")
            need(part["id"] not in ids, f"{at}.id", "is a duplicate")
            ids.add(part["id"])
            if part["test"] != "autoattack_le_pgd":
                pairs = part.get("pairs")
                need(isinstance(pairs, list) and pairs and all(isinstance(p, list) and len(p) == 2 for p in pairs),
                     f"{at}.pairs", "must be a list of [better, worse] label pairs")
            if part["test"] == "time_to_target":
                need(part.get("axis") in ("train_seconds", "iteration"), f"{at}.axis",
                     "must be train_seconds or iteration")


# --------------------------------------------------------------------------------------------------
# evaluation


@dataclass
class PartResult:
    """The judgement of one claim part."""

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
    evidence: list[str] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)


@dataclass
class Context:
    frames: Frames
    cfg: Mapping[str, Any] | None
    k: float = 2.0
    target_fraction: float = 0.8

    @property
    def expected(self) -> set[str] | None:
        return expected_labels(self.cfg)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if np.isfinite(x) else "n/a"


def _fmt_est(est: Estimate, scale: float = 100.0, unit: str = "%", digits: int = 1) -> str:
    if est.empty:
        return "no data"
    vals = est.values
    if est.n == 1:
        (s,) = vals
        noise = est.noise.get(s, math.nan)
        extra = f" ± {noise * scale:.{digits}f} {est.noise_kind}" if np.isfinite(noise) else ""
        return f"{est.mean * scale:.{digits}f}{unit}{extra} (n=1 seed)"
    return f"{est.mean * scale:.{digits}f} ± {est.std * scale:.{digits}f}{unit} (n={est.n} seeds)"


def _fmt_diff(d: Difference, scale: float, unit: str, k: float, digits: int = 1) -> str:
    if not np.isfinite(d.diff):
        return "Δ n/a"
    se = f"SE {d.se * scale:.{digits}f}{unit} ({d.rule}), margin {k:g}·SE = {k * d.se * scale:.{digits}f}{unit}" \
        if np.isfinite(d.se) else "no spread"
    return f"Δ = {d.diff * scale:+.{digits}f}{unit}, {se}"


def _comparison(name: str, a_label: str, b_label: str, a: Estimate, b: Estimate, d: Difference, verdict: str,
                **extra: Any) -> dict[str, Any]:
    return {"what": name, "a": a_label, "b": b_label, "a_mean": _num(a.mean), "a_std": _num(a.std), "a_n": a.n,
            "b_mean": _num(b.mean), "b_std": _num(b.std), "b_n": b.n, "diff": _num(d.diff), "se": _num(d.se),
            "se_rule": d.rule, "verdict": verdict, **extra}


def _num(x: Any) -> Any:
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf → null, numpy scalars → Python numbers."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return _num(obj)


def _absent(ctx: Context, labels: Sequence[str], kind: str) -> tuple[str, str] | None:
    """(verdict, reason) when a label has no ``kind`` data; None when all have some."""
    df = getattr(ctx.frames, kind)
    have = set(df["label"]) if len(df) else set()
    missing = [lab for lab in labels if lab not in have]
    if not missing:
        return None
    exp = ctx.expected
    not_made = [lab for lab in missing if exp is not None and lab not in exp]
    if not_made:
        return NOT_EVALUATED, (f"the experiment config does not produce {', '.join(not_made)} "
                               f"(methods / finetune_lambdas)")
    return INCONCLUSIVE, f"missing data: no {kind} records for {', '.join(missing)}"


def _flag_caveats(ctx: Context, labels: Sequence[str], kinds: Sequence[str]) -> list[str]:
    fl = ctx.frames.flags
    bad = fl[fl["label"].isin(labels) & fl["kind"].isin(kinds) & ~fl["ok"].astype(bool)]
    return [f"sanity flag {r.kind}:{r.flag} failed for {r.label} seed {r.seed} ({r.detail})" for r in bad.itertuples()]


def _pairs(part: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(str(a), str(b)) for a, b in part.get("pairs", [])]


def eval_pgd_every_eps(ctx: Context, part: Mapping[str, Any], protocol: str = "paper") -> tuple[str, str, list, list]:
    pairs = _pairs(part)
    labels = sorted({lab for p in pairs for lab in p})
    absent = _absent(ctx, labels, "pgd")
    if absent:
        return absent[0], absent[1], [], []
    pgd = ctx.frames.pgd
    verdicts, evidence, comps = [], [], []
    for a_lab, b_lab in pairs:
        grids = [unique_eps(pgd[(pgd["label"] == lab) & (pgd["protocol"] == protocol)]["eps"])
                 for lab in (a_lab, b_lab)]
        common = [e for e in grids[0] if e > EPS_ATOL and any(abs(e - f) <= EPS_ATOL for f in grids[1])]
        if not common:
            verdicts.append(INCONCLUSIVE)
            evidence.append(f"{a_lab} vs {b_lab}: no common ε > 0 under the {protocol} protocol")
            continue
        for eps in common:
            a, b = pgd_estimate(pgd, a_lab, protocol, eps), pgd_estimate(pgd, b_lab, protocol, eps)
            d = difference(a, b)
            v = verdict_greater(d.diff, d.se, ctx.k)
            verdicts.append(v)
            evidence.append(f"{eps_header(eps)}: {a_lab} {_fmt_est(a)} vs {b_lab} {_fmt_est(b)}; "
                            f"{_fmt_diff(d, 100, ' pp', ctx.k)} → {v}")
            comps.append(_comparison(f"{protocol} PGD accuracy", a_lab, b_lab, a, b, d, v, eps=eps))
    verdict = combine_all(verdicts)
    n_hold = sum(v == HOLDS for v in verdicts)
    reason = (f"{n_hold} of {len(verdicts)} comparisons hold (rule: every one must hold; any failure fails "
              f"the claim)")
    return verdict, reason, evidence, comps


def _gap_estimate(ctx: Context, label: str) -> tuple[Estimate, float]:
    gap = ctx.frames.gap[ctx.frames.gap["label"] == label]
    values, noise = {}, {}
    eps = unique_eps(gap["eps"])
    for seed, g in gap.groupby("seed"):
        tr, te = g[g["split"] == "train"], g[g["split"] == "test"]
        if not len(tr) or not len(te):
            continue
        p_tr, p_te = float(tr["accuracy_adv"].iloc[0]), float(te["accuracy_adv"].iloc[0])
        values[int(seed)] = p_tr - p_te
        noise[int(seed)] = math.hypot(binomial_se(p_tr, int(tr["n"].iloc[0])), binomial_se(p_te, int(te["n"].iloc[0])))
    return Estimate(values, noise, "binomial SE"), (eps[0] if len(eps) == 1 else math.nan)


def eval_gap_smaller(ctx: Context, part: Mapping[str, Any]) -> tuple[str, str, list, list]:
    pairs = _pairs(part)
    absent = _absent(ctx, sorted({lab for p in pairs for lab in p}), "gap")
    if absent:
        return absent[0], absent[1], [], []
    verdicts, evidence, comps = [], [], []
    for a_lab, b_lab in pairs:
        (ga, eps_a), (gb, eps_b) = _gap_estimate(ctx, a_lab), _gap_estimate(ctx, b_lab)
        if not (np.isfinite(eps_a) and np.isfinite(eps_b) and abs(eps_a - eps_b) <= EPS_ATOL):
            verdicts.append(INCONCLUSIVE)
            evidence.append(f"{a_lab} vs {b_lab}: the gap records use different or mixed ε")
            continue
        d = difference(gb, ga)  # claim: gap(a) < gap(b)  ⇔  gap(b) − gap(a) > 0
        v = verdict_greater(d.diff, d.se, ctx.k)
        verdicts.append(v)
        evidence.append(f"{eps_header(eps_a)}, paper protocol: gap(train − test adversarial accuracy) "
                        f"{a_lab} {_fmt_est(ga, unit=' pp')} vs {b_lab} {_fmt_est(gb, unit=' pp')}; "
                        f"gap({b_lab}) − gap({a_lab}): {_fmt_diff(d, 100, ' pp', ctx.k)} → {v}")
        comps.append(_comparison("train−test gap (b − a)", b_lab, a_lab, gb, ga, d, v, eps=eps_a))
    return combine_all(verdicts), "the gap difference must exceed the margin for every pair", evidence, comps


def _extractor(ctx: Context) -> str | None:
    fid = ctx.frames.fidelity
    present = list(dict.fromkeys(fid["extractor"])) if len(fid) else []
    for ext in EXTRACTOR_NAMES:
        if ext in present:
            return ext
    return present[0] if present else None


def eval_final_is_greater(ctx: Context, part: Mapping[str, Any]) -> tuple[str, str, list, list]:
    pairs = _pairs(part)
    absent = _absent(ctx, sorted({lab for p in pairs for lab in p}), "fidelity")
    if absent:
        return absent[0], absent[1], [], []
    ext = _extractor(ctx)
    verdicts, evidence, comps = [], [], []
    for a_lab, b_lab in pairs:
        a = is_estimate(fidelity_point(ctx.frames.fidelity, a_lab, ext, "final"))
        b = is_estimate(fidelity_point(ctx.frames.fidelity, b_lab, ext, "final"))
        d = difference(a, b)
        v = verdict_greater(d.diff, d.se, ctx.k)
        verdicts.append(v)
        evidence.append(f"final IS ({EXTRACTOR_NAMES.get(ext, ext)}): {a_lab} {_fmt_est(a, 1, '', 2)} vs "
                        f"{b_lab} {_fmt_est(b, 1, '', 2)}; {_fmt_diff(d, 1, '', ctx.k, 2)} → {v}")
        comps.append(_comparison("final IS", a_lab, b_lab, a, b, d, v, extractor=ext))
    return combine_all(verdicts), "the IS difference must exceed the margin for every pair", evidence, comps


def eval_time_to_target(ctx: Context, part: Mapping[str, Any]) -> tuple[str, str, list, list]:
    pairs = _pairs(part)
    absent = _absent(ctx, sorted({lab for p in pairs for lab in p}), "fidelity")
    if absent:
        return absent[0], absent[1], [], []
    axis = part["axis"]
    unit = "s" if axis == "train_seconds" else " iterations"
    ext = _extractor(ctx)
    fid = ctx.frames.fidelity[ctx.frames.fidelity["extractor"] == ext]
    verdicts, evidence, comps = [], [], []
    for fast, slow in pairs:
        slow_final = is_estimate(fidelity_point(fid, slow, ext, "final"))
        target = ctx.target_fraction * slow_final.mean
        iv: dict[str, dict[int, tuple[float, float]]] = {}
        for lab in (fast, slow):
            iv[lab] = {int(seed): hit_interval(g[axis].tolist(), g["is_mean"].tolist(), target)
                       for seed, g in fid[fid["label"] == lab].groupby("seed")}
        tv = verdict_time_to_target(iv[fast], iv[slow], ctx.k)
        verdicts.append(tv.verdict)
        evidence.append(f"target IS = {ctx.target_fraction:g} × {slow}'s final IS "
                        f"{_fmt_est(slow_final, 1, '', 2)} = {target:.2f} ({EXTRACTOR_NAMES.get(ext, ext)})")
        for lab in (fast, slow):
            txt = ", ".join(f"seed {s}: ({lo:.1f}, {hi:.1f}]" if np.isfinite(hi) else f"seed {s}: not by {lo:.1f}"
                            for s, (lo, hi) in sorted(iv[lab].items()))
            evidence.append(f"{lab} crosses the target within [{txt}] ({'s' if unit == 's' else 'iterations'}; "
                            "between the last snapshot below it and the first at or above it)")
        diff = f"{tv.diff:+.1f}{unit}" if np.isfinite(tv.diff) else "n/a"
        evidence.append(f"{slow} − {fast}, first snapshots at or above the target: {diff}; {tv.reason} → "
                        f"{tv.verdict}")
        comps.append({"what": f"time to target IS along {axis}", "a": fast, "b": slow, "target_is": _num(target),
                      "intervals_a": {str(k): list(v) for k, v in iv[fast].items()},
                      "intervals_b": {str(k): list(v) for k, v in iv[slow].items()},
                      "diff": _num(tv.diff), "verdict": tv.verdict, "rule": tv.reason})
    reason = comps[0]["rule"] if len(comps) == 1 else "the candidate must reach the target sooner for every pair"
    return combine_all(verdicts), reason, evidence, comps


def eval_autoattack_le_pgd(ctx: Context, part: Mapping[str, Any]) -> tuple[str, str, list, list]:
    meta = ctx.frames.autoattack_meta
    if not len(meta):
        return INCONCLUSIVE, "missing data: no autoattack records", [], []
    verdicts, evidence, comps = [], [], []
    for label in sort_labels(meta["label"].unique()):
        for eps in unique_eps(meta[meta["label"] == label]["eps"]):
            aa = autoattack_estimate(ctx.frames.autoattack, label, "final", eps)
            # same images as AutoAttack when the record carries them (paired), else the pgd records
            pgd, src = pgd_at_autoattack_eps(ctx.frames, label, "paper", eps, prefer="autoattack")
            if pgd.empty:
                verdicts.append(INCONCLUSIVE)
                evidence.append(f"{label} at {eps_header(eps)}: no paper-PGD accuracy at the AutoAttack ε → "
                                f"{INCONCLUSIVE}")
                continue
            d = difference(aa, pgd)
            v = verdict_at_most(d.diff, d.se, ctx.k)
            verdicts.append(v)
            evidence.append(f"{label} at {eps_header(eps)}: AutoAttack {_fmt_est(aa)} vs paper PGD {_fmt_est(pgd)} "
                            f"({src}); {_fmt_diff(d, 100, ' pp', ctx.k)} → {v}")
            comps.append(_comparison("AutoAttack − paper PGD accuracy", label, label, aa, pgd, d, v, eps=eps,
                                     pgd_source=src))
    return combine_all(verdicts), "AutoAttack accuracy must not exceed paper-PGD accuracy for any method", \
        evidence, comps


def eval_autoattack_greater(ctx: Context, part: Mapping[str, Any]) -> tuple[str, str, list, list]:
    pairs = _pairs(part)
    absent = _absent(ctx, sorted({lab for p in pairs for lab in p}), "autoattack_meta")
    if absent:
        return absent[0], absent[1].replace("autoattack_meta", "autoattack"), [], []
    meta = ctx.frames.autoattack_meta
    verdicts, evidence, comps = [], [], []
    for a_lab, b_lab in pairs:
        eps_a = unique_eps(meta[meta["label"] == a_lab]["eps"])
        eps_b = unique_eps(meta[meta["label"] == b_lab]["eps"])
        common = [e for e in eps_a if any(abs(e - f) <= EPS_ATOL for f in eps_b)]
        if not common:
            verdicts.append(INCONCLUSIVE)
            evidence.append(f"{a_lab} vs {b_lab}: no common AutoAttack ε")
            continue
        for eps in common:
            a = autoattack_estimate(ctx.frames.autoattack, a_lab, "final", eps)
            b = autoattack_estimate(ctx.frames.autoattack, b_lab, "final", eps)
            d = difference(a, b)
            v = verdict_greater(d.diff, d.se, ctx.k)
            verdicts.append(v)
            evidence.append(f"AutoAttack at {eps_header(eps)}: {a_lab} {_fmt_est(a)} vs {b_lab} {_fmt_est(b)}; "
                            f"{_fmt_diff(d, 100, ' pp', ctx.k)} → {v}")
            comps.append(_comparison("AutoAttack accuracy", a_lab, b_lab, a, b, d, v, eps=eps))
    return combine_all(verdicts), "every ordering must hold under AutoAttack", evidence, comps


EVALUATORS = {
    "pgd_every_eps": eval_pgd_every_eps,
    "gap_smaller": eval_gap_smaller,
    "time_to_target": eval_time_to_target,
    "final_is_greater": eval_final_is_greater,
    "autoattack_le_pgd": eval_autoattack_le_pgd,
    "autoattack_greater": eval_autoattack_greater,
}
_FLAG_KINDS = {"pgd_every_eps": ("pgd",), "gap_smaller": ("gap",), "autoattack_le_pgd": ("pgd", "autoattack"),
               "autoattack_greater": ("autoattack",), "time_to_target": ("fidelity",),
               "final_is_greater": ("fidelity",)}


def evaluate_claims(frames: Frames, claims_doc: Mapping[str, Any],
                    cfg: Mapping[str, Any] | None = None) -> list[PartResult]:
    """Judge every claim part of ``claims_doc`` (a loaded ``paper_claims.yaml``) on ``frames``."""
    check_claims(claims_doc)
    rules = claims_doc.get("verdict_rules", {}) or {}
    ctx = Context(frames, cfg, float(rules.get("k_se", 2.0)), float(rules.get("target_is_fraction", 0.8)))
    out = []
    for claim in claims_doc["claims"]:
        for part in claim["parts"]:
            base = {"id": part["id"], "claim": claim["id"], "statement": part["statement"],
                    "direction": part["direction"], "test": part["test"],
                    "source": part.get("source", claim["source"]), "datasets": claim.get("datasets"),
                    "paper_value": part.get("paper_value")}
            need = part.get("requires_dataset")
            if need and frames.dataset != need:
                out.append(PartResult(**base, verdict=NOT_EVALUATED,
                                      reason=f"needs {need}; this experiment's dataset is {frames.dataset}"))
                continue
            verdict, reason, evidence, comps = EVALUATORS[part["test"]](ctx, part)
            labels = sorted({lab for p in _pairs(part) for lab in p}) or sorted(set(frames.autoattack_meta["label"]))
            caveats = _flag_caveats(ctx, labels, _FLAG_KINDS[part["test"]])
            out.append(PartResult(**base, verdict=verdict, reason=reason, evidence=evidence, comparisons=comps,
                                  caveats=caveats))
    return out


# --------------------------------------------------------------------------------------------------
# rendering


def _paper_value_text(value: Any) -> str:
    return "not transcribed (null in config/paper_claims.yaml)" if value is None else str(value)


def rules_text(claims_doc: Mapping[str, Any]) -> list[str]:
    rules = claims_doc.get("verdict_rules", {}) or {}
    k = float(rules.get("k_se", 2.0))
    frac = float(rules.get("target_is_fraction", 0.8))
    return [
        f"A difference Δ = mean(A) − mean(B) over seeds counts when |Δ| > {k:g}·SE: holds if Δ > {k:g}·SE, "
        f"fails if Δ < −{k:g}·SE, else inconclusive.",
        "SE = the larger of the seed SE (paired over shared seeds, else Welch) and the measurement SE "
        "(binomial SE √(p(1−p)/N) of an accuracy on N examples; the split std of an Inception score). With "
        "one seed only the measurement SE exists.",
        f"\"A ≤ B\" (AutoAttack vs PGD): holds if Δ ≤ 0, fails if Δ > {k:g}·SE, else inconclusive.",
        "\"At every ε\" / several pairs: fails if any comparison fails, holds if all hold, else inconclusive.",
        f"\"Reaches a given IS sooner\": target = {frac:g} × the baseline's final mean IS; the snapshots bracket "
        "each seed's crossing between the last snapshot below the target and the first at or above it (no "
        "interpolation). Holds if the candidate had crossed (mean over seeds) by the point where the baseline "
        "was still below; fails in the mirror case; inconclusive if the brackets overlap. With ≥ 2 seeds each, "
        f"the difference must also exceed {k:g}·seed SE.",
        "Missing records → inconclusive; a method or dataset the experiment does not have → not evaluated "
        "in this experiment.",
    ]


def to_markdown(results: Sequence[PartResult], claims_doc: Mapping[str, Any], frames: Frames) -> str:
    lines = [f"# Claims of Rob-GAN judged on experiment `{frames.experiment}` ({frames.dataset})", "",
             f"Paper: {claims_doc.get('source_paper', 'Liu & Hsieh, CVPR 2019')}.",
             f"Generated by `robgan report` from {len(frames.files)} evaluation records; nothing is copied by "
             "hand. Every ε is in [0,1] pixel units (the authors' [-1,1] value, 2ε, in parentheses).", "",
             "## Summary", "", "| claim | verdict | direction tested |", "|---|---|---|"]
    for r in results:
        lines.append(f"| {r.id} | **{r.verdict}** | {r.direction.replace('|', '/')} |")
    lines += ["", "## Verdict rules", ""] + [f"- {t}" for t in rules_text(claims_doc)]
    parents = {}
    for claim in claims_doc["claims"]:
        parents[claim["id"]] = claim
    current = None
    for r in results:
        if r.claim != current:
            current = r.claim
            c = parents[r.claim]
            ds = ", ".join(c["datasets"]) if c.get("datasets") else "UNKNOWN"
            lines += ["", f"## {c['id']}: {c['statement']}", "", f"Paper's datasets: {ds}. Source: {c['source']}."]
        lines += ["", f"### {r.id} — {r.verdict}", "",
                  f"- **Statement:** {r.statement}", f"- **Direction tested:** {r.direction}",
                  f"- **Paper's value:** {_paper_value_text(r.paper_value)}",
                  f"- **Verdict:** **{r.verdict}** — {r.reason}."]
        if r.evidence:
            lines.append("- **Evidence:**")
            lines += [f"  - {e}" for e in r.evidence]
        if r.caveats:
            lines.append("- **Caveats:**")
            lines += [f"  - {c}" for c in r.caveats]
    return "\n".join(lines) + "\n"


def to_json(results: Sequence[PartResult], claims_doc: Mapping[str, Any], frames: Frames) -> dict[str, Any]:
    return {
        "experiment": frames.experiment, "dataset": frames.dataset,
        "source_paper": claims_doc.get("source_paper"),
        "verdict_rules": dict(claims_doc.get("verdict_rules", {}) or {}),
        "rules_text": rules_text(claims_doc),
        "claims": [_clean(asdict(r)) for r in results],
        "records": [str(p) for p in frames.files],
    }


def write_claims(results: Sequence[PartResult], claims_doc: Mapping[str, Any], frames: Frames,
                 out_dir: str | Path) -> list[Path]:
    out_dir = Path(out_dir)
    md, js = out_dir / "claims.md", out_dir / "claims.json"
    prov.atomic_write_text(md, to_markdown(results, claims_doc, frames))
    prov.atomic_write_text(js, json.dumps(_clean(to_json(results, claims_doc, frames)), indent=2,
                                          allow_nan=False) + "\n")
    return [md, js]
