"""The report's tables, built from records: robust accuracy (paper and strong PGD), AutoAttack vs PGD,
ablations, and (from :mod:`robgan.report.generation_table`) generation quality.

Every table is a :class:`~robgan.report.table_format.Table` (rendered to CSV / Markdown / LaTeX by
:mod:`robgan.report.table_format`). Display cells show accuracies in %, ``mean ± std (n=seeds)``. Given
the experiment config, the robustness tables state each method's training budget
(:func:`robgan.registry.training_budget`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from robgan.registry import strong_pgd_configured, tables_of
from robgan.report.aggregate import (
    EPS_ATOL,
    EXTRACTOR_NAMES,
    STANDARD_AUTOATTACK,
    Frames,
    WorstCase,
    autoattack_estimate,
    eps_header,
    pgd_at_autoattack_eps,
    pgd_estimate,
    sort_labels,
    unique_eps,
    worst_case,
)
from robgan.report.generation_table import extractors, final_is, generation_table
from robgan.report.methods import budget, budget_text
from robgan.report.stats import Estimate, difference, summarise
from robgan.report.table_format import SCALE_NOTE, Table, fmt_diff, fmt_estimate, write_table

# (name, baseline label, variant label): each ablation compares variant − baseline.
ABLATIONS = (
    ("fine-tuning (without → with)", "robgan", "robgan_ft"),
    ("fake data in fine-tuning (λ=0 → λ>0)", "robgan_ft_nofake", "robgan_ft"),
    ("loss, no attacker (old → new)", "acgan", "acgan_newloss"),
    ("loss, with attacker (old → new)", "robgan_oldloss", "robgan"),
    ("attacker, new loss (without → with)", "acgan_newloss", "robgan"),
)


def _stats_columns(prefix: str, est: Estimate) -> dict[str, Any]:
    s = summarise(est.values.values())
    return {f"{prefix}mean": s["mean"], f"{prefix}std": s["std"], f"{prefix}n": s["n"]}


def _describe_protocol(pgd: pd.DataFrame, protocol: str) -> str:
    """``paper protocol: 20 steps of 0.2·ε, 1 restart, no random start`` from the rows themselves."""
    sel = pgd[(pgd["protocol"] == protocol) & (pgd["eps"] > EPS_ATOL)]
    if not len(sel):
        return f"{protocol} protocol: no rows"
    combos = sorted({(int(r.steps), round(float(r.step_size) / float(r.eps), 3), int(r.restarts),
                      bool(r.random_start)) for r in sel.itertuples()})
    texts = [f"{s} steps of {f:g}·ε, {r} restart{'s' if r != 1 else ''}, "
             f"{'random start' if rs else 'no random start'}" for s, f, r, rs in combos]
    n_ex = sorted({int(x) for x in sel["n"]})
    varies = " (varies across records)" if len(combos) > 1 else ""
    return (f"{protocol} protocol: ℓ∞ PGD on the class cross-entropy, {' / '.join(texts)}{varies}; "
            f"{'/'.join(map(str, n_ex))} test images per seed")


# --------------------------------------------------------------------------------------------------
# tables


def _budget_note(cfg: Mapping[str, Any] | None, labels: Sequence[str]) -> str:
    if not cfg:
        return "Training budgets: unknown (no experiment config given)."
    return ("Training budget of each classifier (D updates and real images over its whole history; "
            "fine-tuned classifiers include their co-training): "
            + "; ".join(f"{lab} {budget_text(budget(cfg, lab))}" for lab in labels) + ".")


def robust_accuracy_table(frames: Frames, protocol: str = "paper", cfg: Mapping[str, Any] | None = None) -> Table:
    """Methods × ε accuracy under ``protocol`` (``paper`` or ``strong``), plus the clean accuracy and each
    method's training budget (from ``cfg``; ``n/a`` without it)."""
    pgd = frames.pgd
    labels = sort_labels(pgd["label"].unique()) if len(pgd) else []
    sel = pgd[pgd["protocol"] == protocol]
    grid = [e for e in unique_eps(sel["eps"]) if e > EPS_ATOL]
    has_clean = bool((pgd["protocol"] == "clean").any())
    columns = ["method", "training budget", "clean", *[eps_header(e) for e in grid]]
    rows, tidy = [], []
    for label in labels:
        b = budget(cfg, label) or {}
        cells = [label, budget_text(b)]
        points = [("clean", 0.0)] + [(protocol, e) for e in grid]
        for proto, eps in points:
            if proto == "clean" and not has_clean:  # fall back on the protocol's own ε = 0 rows
                est = pgd_estimate(pgd, label, protocol, 0.0)
            else:
                est = pgd_estimate(pgd, label, proto, eps)
            cells.append(fmt_estimate(est, 100.0, 1))
            s = summarise(est.values.values())
            rsel = pgd[(pgd["label"] == label) & (pgd["protocol"] == proto)]
            if proto != "clean":
                rsel = rsel[(rsel["eps"] - eps).abs() <= EPS_ATOL]
            first = rsel.iloc[0] if len(rsel) else None
            tidy.append({
                "label": label, "protocol": proto, "eps": eps, "eps_pm1": 2 * eps, "eps_255": eps * 255,
                "steps": int(first["steps"]) if first is not None else np.nan,
                "step_size": float(first["step_size"]) if first is not None else np.nan,
                "restarts": int(first["restarts"]) if first is not None else np.nan,
                "random_start": bool(first["random_start"]) if first is not None else np.nan,
                "n_examples": int(rsel["n"].min()) if len(rsel) else np.nan,
                "mean": s["mean"], "std": s["std"], "n": s["n"], "min": s["min"], "max": s["max"],
                "d_updates": b.get("d_updates", np.nan), "real_images": b.get("real_images", np.nan),
            })
        rows.append(cells)
        if protocol == "paper":
            wc_cells, wc_tidy = _worst_case_row(frames, label, grid, b)
            rows.append(wc_cells)
            tidy += wc_tidy
    title = (f"Accuracy (%) under ℓ∞ PGD, {protocol} protocol — {frames.dataset}, "
             f"experiment {frames.experiment}")
    notes = [
        "Cells: accuracy in %, mean ± sample std over seeds (n = number of seeds); clean = no attack.",
        "Training budget: D (classifier) updates and real images over the classifier's whole history "
        "(fine-tuned classifiers include their co-training); compare methods at equal budgets only.",
        _describe_protocol(pgd, protocol) + ("." if len(pgd) else ""),
        SCALE_NOTE,
    ]
    bad = [f"{label}: {flags}" for label in labels for flags in [failed_flags(frames, label, ("pgd",))[0]] if flags]
    notes.append("Failed sanity flags (ok = false) of the pgd records: " + ("; ".join(bad) if bad else "none") + ".")
    if protocol == "paper":
        stronger = ("see robust_accuracy_strong for a stronger attack" if strong_pgd_configured(cfg) else
                    "this experiment runs no strong PGD protocol (eval.pgd.strong: null): AutoAttack and the worst "
                    "case over attacks are the stronger reference")
        notes.insert(2, "The paper protocol is the authors' evaluation (20 steps of ε/5, no random start, "
                        f"no restarts); {stronger}.")
        notes.insert(3, WORST_CASE_ROW_NOTE)
    if not labels:
        notes.insert(0, "No pgd records: nothing to show.")
    name = "robust_accuracy" if protocol == "paper" else f"robust_accuracy_{protocol}"
    return Table(name, title, columns, rows, pd.DataFrame(tidy, columns=_ROBUST_COLS), notes,
                 ["l", "l"] + ["r"] * (len(columns) - 2))


WORST_CASE_ROW = "worst case over attacks"
WORST_CASE_ROW_NOTE = (
    f"Rows '<method>, {WORST_CASE_ROW}': per seed and ε, an image counts as robust only if every attack "
    "run on it at that ε left it correct (paper PGD, strong PGD and, where its ε matches, AutoAttack on "
    "its subset), on the PGD images, from the records' per-image outcomes (robgan.report.aggregate."
    "worst_case, images='all'); 'n/a (no per-image outcomes)': the records predate them.")


def _worst_case_row(frames: Frames, label: str, grid: Sequence[float],
                    b: Mapping[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The worst-case row of ``label`` in the robust-accuracy table: a cell per ε of ``grid``
    (:func:`~robgan.report.aggregate.worst_case` on every attacked image) and its tidy rows
    (protocol ``worst_case``; steps and step size NaN)."""
    cells = [f"{label}, {WORST_CASE_ROW}", "", "—"]
    tidy = []
    for eps in grid:
        worst = worst_case(frames, label, eps, images="all")
        cells.append(fmt_estimate(worst.estimate, 100.0, 1) if not worst.estimate.empty
                     else "n/a (no per-image outcomes)" if worst.missing else "n/a")
        s = summarise(worst.estimate.values.values())
        tidy.append({"label": label, "protocol": "worst_case", "eps": eps, "eps_pm1": 2 * eps, "eps_255": eps * 255,
                     "steps": np.nan, "step_size": np.nan, "restarts": np.nan, "random_start": np.nan,
                     "n_examples": worst.n if worst.n else np.nan, "mean": s["mean"], "std": s["std"], "n": s["n"],
                     "min": s["min"], "max": s["max"], "d_updates": b.get("d_updates", np.nan),
                     "real_images": b.get("real_images", np.nan)})
    return cells, tidy


_ROBUST_COLS = ["label", "protocol", "eps", "eps_pm1", "eps_255", "steps", "step_size", "restarts",
                "random_start", "n_examples", "mean", "std", "n", "min", "max", "d_updates", "real_images"]


def failed_flags(frames: Frames, label: str, kinds: Sequence[str] = ("pgd", "autoattack")) -> tuple[str, int]:
    """``"name (seeds 1, 2); ..."`` of flags with ok = false for ``label``; and how many were checked."""
    fl = frames.flags[(frames.flags["label"] == label) & frames.flags["kind"].isin(kinds)]
    bad = fl[~fl["ok"].astype(bool)]
    parts = []
    for (kind, name), g in bad.groupby(["kind", "flag"], sort=True):
        seeds = ", ".join(str(s) for s in sorted(g["seed"].unique()))
        parts.append(f"{kind}:{name} (seed{'s' if g['seed'].nunique() > 1 else ''} {seeds})")
    return "; ".join(parts), len(fl)


def autoattack_version(meta_rows: pd.DataFrame) -> tuple[str, bool]:
    """``("custom subset: apgd-ce, apgd-t (version custom)", True)`` or ``("standard (...)", False)``.

    A custom subset is any run that is not the standard version with the standard attacks, or that its
    record marks ``cheap_subset``."""
    versions = sorted(set(meta_rows["version"]))
    attacks = sorted(set(meta_rows["attacks"]))
    version = "/".join(versions)
    atk = " | ".join(a.replace(",", ", ") for a in attacks)
    standard_set = ",".join(STANDARD_AUTOATTACK)
    custom = (versions != ["standard"] or any(a not in ("unknown", standard_set) for a in attacks)
              or bool(meta_rows["cheap_subset"].any()))
    if custom:
        return f"custom subset: {atk} (version {version})", True
    return f"standard ({atk})", False


def autoattack_table(frames: Frames, cfg: Mapping[str, Any] | None = None) -> Table:
    """Per method at the AutoAttack ε: clean, paper-PGD, strong-PGD and AutoAttack accuracy (and, in the
    notes, each method's training budget from ``cfg``)."""
    meta, aa = frames.autoattack_meta, frames.autoattack
    has_strong = strong_pgd_configured(cfg)  # eval.pgd.strong null: no strong-PGD column
    rows, tidy = [], []
    for label in sort_labels(meta["label"].unique()) if len(meta) else []:
        m = meta[meta["label"] == label]
        for eps in unique_eps(m["eps"]):
            mm = m[(m["eps"] - eps).abs() <= EPS_ATOL]
            seeds = set(mm["seed"])
            a = aa[(aa["label"] == label) & aa["seed"].isin(seeds)]
            clean = Estimate({int(r.seed): float(r.accuracy) for r in a[a["stage"] == "clean"].itertuples()})
            aa_est = autoattack_estimate(aa, label, "final", eps)
            paper, src_p = pgd_at_autoattack_eps(frames, label, "paper", eps)
            strong, src_s = pgd_at_autoattack_eps(frames, label, "strong", eps) if has_strong else (None, "")
            version, custom = autoattack_version(mm)
            flags, n_checked = failed_flags(frames, label)
            flags_txt = flags or ("none" if n_checked else "no flags recorded")

            def cell(est: Estimate, src: str) -> str:
                txt = fmt_estimate(est, 100.0, 1)
                return f"{txt} [from autoattack record]" if src == "autoattack record settings" else txt

            worst = worst_case(frames, label, eps)
            rows.append([label, eps_header(eps), fmt_estimate(clean, 100.0, 1), cell(paper, src_p),
                         *([cell(strong, src_s)] if has_strong else []), fmt_estimate(aa_est, 100.0, 1),
                         worst_case_cell(worst), version, flags_txt])
            common = {"label": label, "eps": eps, "eps_pm1": 2 * eps, "autoattack_version": "/".join(
                sorted(set(mm["version"]))), "autoattack_attacks": "|".join(sorted(set(mm["attacks"]))),
                "custom_subset": custom, "failed_flags": flags, "n_examples_autoattack": int(mm["n_examples"].min())}
            metrics = (("clean", clean, "autoattack record"), ("pgd_paper", paper, src_p),
                       *([("pgd_strong", strong, src_s)] if has_strong else []),
                       ("autoattack", aa_est, "autoattack record"),
                       ("worst_case", worst.estimate, "per-image outcomes of: "
                        + ", ".join(worst.attacks) + f" (first {worst.n} images)"))
            for metric, est, src in metrics:
                s = summarise(est.values.values())
                tidy.append({**common, "metric": metric, "mean": s["mean"], "std": s["std"], "n": s["n"],
                             "min": s["min"], "max": s["max"], "source": src})
    columns = ["method", "ε (AutoAttack)", "clean (%)", "PGD, paper protocol (%)",
               *(["PGD, strong protocol (%)"] if has_strong else []),
               "AutoAttack (%)", "worst case over attacks (%)", "AutoAttack version / attacks", "failed sanity flags"]
    notes = [
        "Cells: accuracy in %, mean ± sample std over seeds (n = number of seeds); clean and AutoAttack on "
        "the AutoAttack subset, PGD on the pgd records' evaluation set at the same ε.",
        "PGD values come from the pgd records at the AutoAttack ε; '[from autoattack record]' marks values "
        "taken from the autoattack record's own settings; 'n/a' = that ε is in neither.",
        "'custom subset' = not the standard AutoAttack (apgd-ce, apgd-t, fab-t, square): a weaker attack.",
        WORST_CASE_NOTE,
        "Failed sanity flags (gradient-masking checks with ok = false) are listed as kind:name (seeds).",
        SCALE_NOTE,
    ]
    if len({r[-2] for r in rows}) > 1:  # the version column
        notes.append("The rows ran different AutoAttack versions (the config's eval.autoattack.overrides, per "
                     "classifier; column 'AutoAttack version / attacks'): compare AutoAttack accuracies only "
                     "between rows of one version.")
    if rows:
        notes.append(_budget_note(cfg, [r[0] for r in rows]))
    else:
        notes.insert(0, "No autoattack records: nothing to show.")
    title = f"AutoAttack vs PGD — {frames.dataset}, experiment {frames.experiment}"
    align = ["l", "l", *["r"] * (len(columns) - 4), "l", "l"]
    return Table("autoattack", title, columns, rows, pd.DataFrame(tidy, columns=_AA_COLS), notes, align)


WORST_CASE_NOTE = (
    "Worst case over attacks: an image counts as robust only if no attack run on it at that ε broke it "
    "(paper PGD, strong PGD where the experiment runs it — from the pgd records and the autoattack record's "
    "own PGD — and AutoAttack), "
    "RobustBench's practice; computed per seed from the records' per-image outcomes on the images common "
    "to every attack: the AutoAttack subset (the first n of the evaluation order, which the PGD image set "
    "starts with). 'n/a (no per-image outcomes)': the records predate them (re-run the evaluation).")


def worst_case_cell(worst: WorstCase) -> str:
    """The worst-case cell: mean ± std over seeds and, when the images are fewer than a record's, how many."""
    if worst.estimate.empty:
        return "n/a (no per-image outcomes)" if worst.missing else "n/a"
    return f"{fmt_estimate(worst.estimate, 100.0, 1)} on {worst.n} images"


_AA_COLS = ["label", "eps", "eps_pm1", "metric", "mean", "std", "n", "min", "max", "source",
            "autoattack_version", "autoattack_attacks", "custom_subset", "failed_flags", "n_examples_autoattack"]


def ablation_eps(frames: Frames, cfg: Mapping[str, Any] | None, override: float | None = None) -> float | None:
    """ε of the ablation table: ``override``, else the AutoAttack records' ε (when they agree), else the
    config's ``eval.autoattack.eps``."""
    if override is not None:
        return float(override)
    eps = unique_eps(frames.autoattack_meta["eps"]) if len(frames.autoattack_meta) else []
    if len(eps) == 1:
        return eps[0]
    if cfg is not None:
        return float(cfg.get("eval", {}).get("autoattack", {}).get("eps", math.nan))
    return None


def ablation_table(frames: Frames, eps: float | None) -> Table:
    """Each ablation: paper-PGD accuracy at ``eps`` and final IS of baseline and variant, and Δ ± SE."""
    exts = extractors(frames)
    ext = exts[0] if exts else None
    ext_name = EXTRACTOR_NAMES.get(ext, ext) if ext else "n/a"
    present = set(frames.pgd["label"]) | set(frames.fidelity["label"])
    rows, tidy = [], []
    for name, base, var in ABLATIONS:
        if base not in present and var not in present:
            continue
        row = [name, f"{base} → {var}"]
        for metric in ("pgd_accuracy", "final_is"):
            if metric == "pgd_accuracy":
                b, a = (pgd_estimate(frames.pgd, lab, "paper", eps) if eps is not None else Estimate({})
                        for lab in (base, var))
                d = difference(a, b)
                delta = (f"{100 * d.diff:+.1f} (SE n/a: no per-image outcomes)" if d.missing_outcomes
                         else fmt_diff(d.diff, d.se, 100.0, 1))
                row += [fmt_estimate(b, 100.0, 1), fmt_estimate(a, 100.0, 1), delta]
            else:
                b, a = final_is(frames, base, ext), final_is(frames, var, ext)
                d = difference(a, b)
                row += [fmt_estimate(e, 1.0, 2, split_std=True) if not e.empty else "—" for e in (b, a)]
                row.append(fmt_diff(d.diff, d.se, 1.0, 2) if not (a.empty or b.empty) else "—")
            tidy.append({"ablation": name, "baseline": base, "variant": var, "metric": metric,
                         "eps": eps if metric == "pgd_accuracy" else np.nan,
                         "extractor": ext if metric == "final_is" else "",
                         **_stats_columns("baseline_", b), **_stats_columns("variant_", a),
                         "diff": d.diff, "se": d.se, "se_rule": d.rule})
        rows.append(row)
    eps_txt = eps_header(eps) if eps is not None and np.isfinite(eps) else "n/a"
    columns = ["ablation", "baseline → variant", f"PGD acc. baseline (%), {eps_txt}", "PGD acc. variant (%)",
               "Δ acc. ± SE (pp)", f"final IS baseline ({ext_name})", "final IS variant", "Δ IS ± SE"]
    notes = [
        f"Accuracy: paper PGD protocol at {eps_txt} (the AutoAttack ε unless configured otherwise); "
        "cells mean ± sample std over seeds (n = seeds). Δ = variant − baseline.",
        "SE of Δ as in claims.md: the seed SE (paired over the same seeds, else Welch) plus, for accuracies, "
        "the test-set SE of the shared images counted once (exact from the per-image outcomes; n/a for "
        "records that predate them); with "
        "one seed only the measurement SE exists (binomial SE; split std of the IS): the seed variance is "
        "unknown. The CSV names the rule per cell.",
        "'—': the label trains no generator (fine-tuned classifiers) or has no fidelity record.",
        SCALE_NOTE,
    ]
    title = f"Ablations — {frames.dataset}, experiment {frames.experiment}"
    align = ["l", "l"] + ["r"] * 6
    return Table("ablation", title, columns, rows, pd.DataFrame(tidy, columns=_ABL_COLS), notes, align)


_ABL_COLS = ["ablation", "baseline", "variant", "metric", "eps", "extractor", "baseline_mean", "baseline_std",
             "baseline_n", "variant_mean", "variant_std", "variant_n", "diff", "se", "se_rule"]


def _ablation_builder(frames: Frames, cfg: Mapping[str, Any] | None, eps_override: float | None) -> Table:
    return ablation_table(frames, ablation_eps(frames, cfg, eps_override))


#: Every table of the report, by its name in :data:`robgan.registry.TABLES` (which orders them and
#: names the files): ``builder(frames, cfg, ablation_eps_override) -> Table``. Adding a table: its name
#: there, its builder here (tests/report/test_tables.py checks the two agree).
TABLE_BUILDERS: dict[str, Callable[[Frames, Mapping[str, Any] | None, float | None], Table]] = {
    "robust_accuracy": lambda frames, cfg, _eps: robust_accuracy_table(frames, "paper", cfg),
    "robust_accuracy_strong": lambda frames, cfg, _eps: robust_accuracy_table(frames, "strong", cfg),
    "autoattack": lambda frames, cfg, _eps: autoattack_table(frames, cfg),
    "generation": lambda frames, cfg, _eps: generation_table(frames, cfg),
    "ablation": _ablation_builder,
}


def build_tables(frames: Frames, cfg: Mapping[str, Any] | None = None,
                 ablation_eps_override: float | None = None) -> list[Table]:
    """Every table that ``cfg`` writes (:func:`robgan.registry.tables_of`: all of
    :data:`robgan.registry.TABLES` but the strong-protocol table when ``eval.pgd.strong`` is null), in that
    order, built by :data:`TABLE_BUILDERS`."""
    return [TABLE_BUILDERS[name](frames, cfg, ablation_eps_override) for name in tables_of(cfg)]


def write_tables(frames: Frames, out_dir: str | Path, cfg: Mapping[str, Any] | None = None,
                 ablation_eps_override: float | None = None) -> list[Path]:
    paths: list[Path] = []
    for table in build_tables(frames, cfg, ablation_eps_override):
        paths += write_table(table, out_dir)
    return paths
