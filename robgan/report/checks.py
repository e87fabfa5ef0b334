"""Sanity checks of the evaluation, listed apart from the paper's claims (``checks`` of ``paper_claims.yaml``).

A check is not a finding about the methods: it says whether the measurements can be trusted
(AutoAttack at least as strong as PGD, accuracy non-increasing in ε, near zero at a large ε, ...). Each
check reads one sanity flag of the records (``robgan.evaluation.flags``; docs/architecture.md, "Sanity
flags") per (label, seed); ``autoattack_le_pgd`` also shows the measured AutoAttack − PGD difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robgan.report.aggregate import (
    Frames,
    autoattack_estimate,
    eps_header,
    pgd_at_autoattack_eps,
    sort_labels,
    unique_eps,
)

OK, FAILED, NO_RECORDS = "ok", "failed", "no records"


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
    when the autoattack record carries PGD, else the pgd records)."""
    meta, lines = frames.autoattack_meta, []
    for label in sort_labels(meta["label"].unique()) if len(meta) else []:
        for eps in unique_eps(meta[meta["label"] == label]["eps"]):
            aa = autoattack_estimate(frames.autoattack, label, "final", eps)
            pgd, src = pgd_at_autoattack_eps(frames, label, "paper", eps, prefer="autoattack")
            seeds = sorted(set(aa.values) & set(pgd.values))
            if not seeds:
                lines.append(f"{label} at {eps_header(eps)}: no paper-PGD accuracy at the AutoAttack ε")
                continue
            d = np.asarray([aa.values[s] - pgd.values[s] for s in seeds])
            lines.append(f"{label} at {eps_header(eps)}: AutoAttack − paper PGD ({src}) = {100 * d.mean():+.1f} pp "
                         f"mean, {100 * d.max():+.1f} pp largest over {len(seeds)} seed(s)")
    return lines


def evaluate_checks(frames: Frames, claims_doc: Mapping[str, Any]) -> list[CheckResult]:
    """Every check of ``claims_doc["checks"]`` on ``frames``."""
    fl = frames.flags
    out = []
    for chk in claims_doc.get("checks") or []:
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
