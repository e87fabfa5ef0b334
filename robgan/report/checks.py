"""Sanity checks of the evaluation, listed apart from the paper's claims (``checks`` of ``paper_claims.yaml``).

A check is not a finding about the methods: it says whether the measurements can be trusted
(AutoAttack at least as strong as PGD, accuracy non-increasing in ε, near zero at a large ε, ...). Each
check reads one sanity flag of the records (``robgan.evaluation.flags``; docs/architecture.md, "Sanity
flags") per (label, seed); ``autoattack_le_pgd`` also shows the measured AutoAttack − PGD difference.
A check whose flag is in :data:`DERIVED` is computed from the records' values by an acceptance
threshold of :mod:`robgan.evaluation.acceptance` instead (``within_class_diversity``: the collapse
floor on each generator's final intra-class recall).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robgan.evaluation import acceptance
from robgan.report.aggregate import (
    EPS_ATOL,
    Frames,
    autoattack_estimate,
    eps_header,
    pgd_at_autoattack_eps,
    sort_labels,
    unique_eps,
)

OK, FAILED, NO_RECORDS = "ok", "failed", "no records"
NOT_MEASURED = acceptance.PREDATES


@dataclass
class CheckResult:
    """One check: its verdict (ok / failed / no records) over every label and seed, and per-label detail."""

    id: str
    statement: str
    kind: str
    flag: str
    verdict: str         # ok / failed / no records
    labels: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


def _measured_autoattack_minus_pgd(frames: Frames) -> list[str]:
    """Per label and AutoAttack ε: mean and largest per-seed AutoAttack − paper-PGD accuracy (same images
    when the autoattack record carries PGD, else the pgd records). When the labels ran different AutoAttack
    versions (``eval.autoattack.overrides``), each line names its own."""
    from robgan.report.tables import autoattack_version

    meta, lines = frames.autoattack_meta, []
    cells = [(label, eps, autoattack_version(meta[(meta["label"] == label)
                                                  & ((meta["eps"] - eps).abs() <= EPS_ATOL)])[0])
             for label in (sort_labels(meta["label"].unique()) if len(meta) else [])
             for eps in unique_eps(meta[meta["label"] == label]["eps"])]
    mixed = len({version for _, _, version in cells}) > 1
    for label, eps, version in cells:
        where = f"{label} at {eps_header(eps)}" + (f" (AutoAttack {version})" if mixed else "")
        aa = autoattack_estimate(frames.autoattack, label, "final", eps)
        pgd, src = pgd_at_autoattack_eps(frames, label, "paper", eps, prefer="autoattack")
        seeds = sorted(set(aa.values) & set(pgd.values))
        if not seeds:
            lines.append(f"{where}: no paper-PGD accuracy at the AutoAttack ε")
            continue
        d = np.asarray([aa.values[s] - pgd.values[s] for s in seeds])
        lines.append(f"{where}: AutoAttack − paper PGD ({src}) = {100 * d.mean():+.1f} pp "
                     f"mean, {100 * d.max():+.1f} pp largest over {len(seeds)} seed(s)")
    return lines


def final_fidelity_rows(frames: Frames, raw: bool = False) -> dict[tuple[str, int], dict[str, Any]]:
    """``(label, seed) → the fidelity row of its last evaluated iteration`` (NaN → None), per the first
    extractor present; ``raw``: the rows of the trained weights of weight-averaged generators
    (``frames.fidelity_raw``) instead of the evaluated generators'."""
    fid = frames.fidelity_raw if raw else frames.fidelity
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for (label, seed), g in fid.groupby(["label", "seed"]) if len(fid) else []:
        row = g.sort_values("iteration").iloc[-1].to_dict()
        out[(str(label), int(seed))] = {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                                        for k, v in row.items()}
    return out


def collapse_check(frames: Frames, chk: Mapping[str, Any]) -> CheckResult:
    """The within-class collapse check: :func:`robgan.evaluation.acceptance.collapse_check` of every
    generator's final fidelity row; "not measured (records predate the check)" when no record holds
    intra-class recall."""
    rows = final_fidelity_rows(frames)
    labels, evidence, measured = [], [], 0
    for label in sort_labels({lab for lab, _ in rows}):
        seeds = sorted(s for lab, s in rows if lab == label)
        results = {s: acceptance.collapse_check(rows[(label, s)]) for s in seeds}
        failed = [s for s, (st, _) in results.items() if st == acceptance.FAILED]
        measured += sum(st != acceptance.NOT_MEASURED for st, _ in results.values())
        labels.append({"label": label, "seeds": seeds, "failed_seeds": failed,
                       "details": [f"seed {s}: {results[s][1]}" for s in failed]})
        evidence += [f"{label} seed {s}: {d}" for s, (st, d) in results.items() if st != acceptance.FAILED]
    verdict = (NO_RECORDS if not labels else FAILED if any(lab["failed_seeds"] for lab in labels)
               else OK if measured else NOT_MEASURED)
    # the trained weights beside a weight average: information, never part of the verdict
    raw = final_fidelity_rows(frames, raw=True)
    for label in sort_labels({lab for lab, _ in raw}):
        for seed in sorted(s for lab, s in raw if lab == label):
            row = raw[(label, seed)]
            evidence.append(f"{label} seed {seed}: {acceptance.trained_weights_note(str(row['method']), row)}")
    floor = (f"floor {acceptance.MIN_INTRA_RECALL} on the final intra-class recall (calibration: "
             "docs/generator_metrics.md)")
    return CheckResult(chk["id"], chk["statement"], chk["kind"], chk["flag"], verdict, labels,
                       [floor] + evidence if labels else evidence)


def collapse_evidence(frames: Frames, labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(evidence, caveats)`` of the collapse check for the generators a claim on IS compares: one line
    per label (each seed's status), and a caveat per label that fails it."""
    rows = final_fidelity_rows(frames)
    evidence, caveats = [], []
    for label in labels:
        res = {s: acceptance.collapse_check(rows[(lab, s)]) for lab, s in sorted(rows) if lab == label}
        if not res:
            continue
        evidence.append(f"within-class collapse check, {label}: " + "; ".join(
            f"seed {s}: {d}" if st == acceptance.NOT_MEASURED else f"seed {s} {st} ({d})"
            for s, (st, d) in res.items()))
        bad = [s for s, (st, _) in res.items() if st == acceptance.FAILED]
        if bad:
            caveats.append(f"{label} fails the within-class collapse check on seed(s) {', '.join(map(str, bad))}: "
                           "its IS is that of a generator that draws few distinct images per class")
    return evidence, caveats


#: Checks computed from record values by an acceptance threshold (flag name → evaluator).
DERIVED = {"within_class_diversity": collapse_check}


def evaluate_checks(frames: Frames, claims_doc: Mapping[str, Any]) -> list[CheckResult]:
    """Every check of ``claims_doc["checks"]`` on ``frames``."""
    fl = frames.flags
    out = []
    for chk in claims_doc.get("checks") or []:
        if chk["flag"] in DERIVED:
            out.append(DERIVED[chk["flag"]](frames, chk))
            continue
        sel = fl[(fl["kind"] == chk["kind"]) & (fl["flag"] == chk["flag"])] if len(fl) else fl
        labels = []
        for label in sort_labels(sel["label"].unique()) if len(sel) else []:
            g = sel[sel["label"] == label]
            bad = g[~g["ok"].astype(bool)]
            labels.append({"label": label, "seeds": sorted(int(s) for s in g["seed"].unique()),
                           "failed_seeds": sorted(int(s) for s in bad["seed"].unique()),
                           "details": [f"seed {int(r.seed)}: {r.detail}" for r in bad.itertuples()]})
        verdict = NO_RECORDS if not labels else FAILED if any(lab["failed_seeds"] for lab in labels) else OK
        evidence = _measured_autoattack_minus_pgd(frames) if chk["flag"] == "autoattack_le_pgd" else []
        out.append(CheckResult(chk["id"], chk["statement"], chk["kind"], chk["flag"], verdict, labels, evidence))
    return out
