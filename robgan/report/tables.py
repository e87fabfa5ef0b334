"""Tables rendered from records: tidy CSV (one number per cell), GitHub Markdown and booktabs LaTeX.

Every table is a :class:`Table`: display headers and cells (Markdown/LaTeX), notes (protocol, pixel
scale, what a cell means) and a tidy frame (the CSV: ``mean``, ``std``, ``n`` in separate columns,
accuracies as fractions in [0,1]). Display cells show accuracies in %, ``mean ± std (n=seeds)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from robgan import provenance as prov
from robgan.report.aggregate import (
    EPS_ATOL,
    EXTRACTOR_NAMES,
    GENERATOR_LABELS,
    STANDARD_AUTOATTACK,
    Estimate,
    Frames,
    autoattack_estimate,
    difference,
    eps_header,
    equal_budgets,
    fidelity_point,
    is_estimate,
    pgd_at_autoattack_eps,
    pgd_estimate,
    sort_labels,
    summarise,
    unique_eps,
)

SCALE_NOTE = ("Every ε is in [0,1] pixel units; in parentheses ε·255 and the authors' [-1,1] value (2ε). "
              "The pixel scale of the δ values in the paper's own tables is UNKNOWN (SPEC §4): check it "
              "before comparing with the paper.")
# (name, baseline label, variant label): each ablation compares variant − baseline.
ABLATIONS = (
    ("fine-tuning (without → with)", "robgan", "robgan_ft"),
    ("fake data in fine-tuning (λ=0 → λ>0)", "robgan_ft_nofake", "robgan_ft"),
    ("loss, no attacker (old → new)", "acgan", "acgan_newloss"),
    ("loss, with attacker (old → new)", "robgan_oldloss", "robgan"),
    ("attacker, new loss (without → with)", "acgan_newloss", "robgan"),
)
TABLE_NAMES = ("robust_accuracy", "robust_accuracy_strong", "autoattack", "generation", "ablation")


@dataclass
class Table:
    """A rendered table: display part (``columns``, ``rows`` of strings) and the tidy frame (CSV)."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    tidy: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    align: list[str] | None = None  # "l" / "r" per column; default: first left, the rest right


# --------------------------------------------------------------------------------------------------
# cell formatting


def fmt_stat(mean: float, std: float, n: int, scale: float = 1.0, digits: int = 1) -> str:
    """``mean ± std (n=k)``; ``mean (n=1)`` for one seed; ``n/a`` without data."""
    if n == 0 or mean is None or not np.isfinite(mean):
        return "n/a"
    if n == 1 or not np.isfinite(std):
        return f"{mean * scale:.{digits}f} (n={n})"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f} (n={n})"


def fmt_estimate(est: Estimate, scale: float = 1.0, digits: int = 1, split_std: bool = False) -> str:
    """As :func:`fmt_stat`; with ``split_std`` a one-seed IS shows its split std."""
    if split_std and est.n == 1:
        (seed,) = est.values
        return (f"{est.values[seed] * scale:.{digits}f} (split std {est.noise[seed] * scale:.{digits}f}; "
                f"n=1)")
    return fmt_stat(est.mean, est.std, est.n, scale, digits)


def fmt_diff(diff: float, se: float, scale: float = 1.0, digits: int = 1) -> str:
    if diff is None or not np.isfinite(diff):
        return "n/a"
    se_txt = f" ± {se * scale:.{digits}f}" if np.isfinite(se) else " (no spread)"
    return f"{diff * scale:+.{digits}f}{se_txt}"


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


def robust_accuracy_table(frames: Frames, protocol: str = "paper") -> Table:
    """Methods × ε accuracy under ``protocol`` (``paper`` or ``strong``), plus the clean accuracy."""
    pgd = frames.pgd
    labels = sort_labels(pgd["label"].unique()) if len(pgd) else []
    sel = pgd[pgd["protocol"] == protocol]
    grid = [e for e in unique_eps(sel["eps"]) if e > EPS_ATOL]
    has_clean = bool((pgd["protocol"] == "clean").any())
    columns = ["method", "clean", *[eps_header(e) for e in grid]]
    rows, tidy = [], []
    for label in labels:
        cells = [label]
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
            })
        rows.append(cells)
    title = (f"Accuracy (%) under ℓ∞ PGD, {protocol} protocol — {frames.dataset}, "
             f"experiment {frames.experiment}")
    notes = [
        "Cells: accuracy in %, mean ± sample std over seeds (n = number of seeds); clean = no attack.",
        _describe_protocol(pgd, protocol) + ("." if len(pgd) else ""),
        SCALE_NOTE,
    ]
    bad = [f"{label}: {flags}" for label in labels for flags in [failed_flags(frames, label, ("pgd",))[0]] if flags]
    notes.append("Failed sanity flags (ok = false) of the pgd records: " + ("; ".join(bad) if bad else "none") + ".")
    if protocol == "paper":
        notes.insert(2, "The paper protocol is the authors' evaluation (20 steps of ε/5, no random start, "
                        "no restarts); see robust_accuracy_strong for a stronger attack.")
    if not labels:
        notes.insert(0, "No pgd records: nothing to show.")
    name = "robust_accuracy" if protocol == "paper" else f"robust_accuracy_{protocol}"
    return Table(name, title, columns, rows, pd.DataFrame(tidy, columns=_ROBUST_COLS), notes)


_ROBUST_COLS = ["label", "protocol", "eps", "eps_pm1", "eps_255", "steps", "step_size", "restarts",
                "random_start", "n_examples", "mean", "std", "n", "min", "max"]


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


def autoattack_table(frames: Frames) -> Table:
    """Per method at the AutoAttack ε: clean, paper-PGD, strong-PGD and AutoAttack accuracy."""
    meta, aa = frames.autoattack_meta, frames.autoattack
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
            strong, src_s = pgd_at_autoattack_eps(frames, label, "strong", eps)
            version, custom = autoattack_version(mm)
            flags, n_checked = failed_flags(frames, label)
            flags_txt = flags or ("none" if n_checked else "no flags recorded")

            def cell(est: Estimate, src: str) -> str:
                txt = fmt_estimate(est, 100.0, 1)
                return f"{txt} [from autoattack record]" if src == "autoattack record settings" else txt

            rows.append([label, eps_header(eps), fmt_estimate(clean, 100.0, 1), cell(paper, src_p),
                         cell(strong, src_s), fmt_estimate(aa_est, 100.0, 1), version, flags_txt])
            common = {"label": label, "eps": eps, "eps_pm1": 2 * eps, "autoattack_version": "/".join(
                sorted(set(mm["version"]))), "autoattack_attacks": "|".join(sorted(set(mm["attacks"]))),
                "custom_subset": custom, "failed_flags": flags, "n_examples_autoattack": int(mm["n_examples"].min())}
            for metric, est, src in (("clean", clean, "autoattack record"), ("pgd_paper", paper, src_p),
                                     ("pgd_strong", strong, src_s), ("autoattack", aa_est, "autoattack record")):
                s = summarise(est.values.values())
                tidy.append({**common, "metric": metric, "mean": s["mean"], "std": s["std"], "n": s["n"],
                             "min": s["min"], "max": s["max"], "source": src})
    columns = ["method", "ε (AutoAttack)", "clean (%)", "PGD, paper protocol (%)", "PGD, strong protocol (%)",
               "AutoAttack (%)", "AutoAttack version / attacks", "failed sanity flags"]
    notes = [
        "Cells: accuracy in %, mean ± sample std over seeds (n = number of seeds); clean and AutoAttack on "
        "the AutoAttack subset, PGD on the pgd records' evaluation set at the same ε.",
        "PGD values come from the pgd records at the AutoAttack ε; '[from autoattack record]' marks values "
        "taken from the autoattack record's own settings; 'n/a' = that ε is in neither.",
        "'custom subset' = not the standard AutoAttack (apgd-ce, apgd-t, fab-t, square): a weaker attack.",
        "Failed sanity flags (gradient-masking checks with ok = false) are listed as kind:name (seeds).",
        SCALE_NOTE,
    ]
    if not rows:
        notes.insert(0, "No autoattack records: nothing to show.")
    title = f"AutoAttack vs PGD — {frames.dataset}, experiment {frames.experiment}"
    align = ["l", "l", "r", "r", "r", "r", "l", "l"]
    return Table("autoattack", title, columns, rows, pd.DataFrame(tidy, columns=_AA_COLS), notes, align)


_AA_COLS = ["label", "eps", "eps_pm1", "metric", "mean", "std", "n", "min", "max", "source",
            "autoattack_version", "autoattack_attacks", "custom_subset", "failed_flags", "n_examples_autoattack"]


def extractors(frames: Frames) -> list[str]:
    present = set(frames.fidelity["extractor"]) if len(frames.fidelity) else set()
    return [e for e in EXTRACTOR_NAMES if e in present] + sorted(present - set(EXTRACTOR_NAMES))


def generation_points(frames: Frames, extractor: str) -> list[tuple[str, str, float | None, str, str]]:
    """``(point, kind, budget, short budget text, rule)`` of the generation table for one extractor."""
    fid = frames.fidelity
    labels = sort_labels(fid[fid["extractor"] == extractor]["label"].unique())
    b_it, b_s = equal_budgets(fid, labels, extractor)
    return [
        ("final", "final", None, "whole run", "the final model (last evaluated iteration)"),
        ("best over training", "best", None, "whole run",
         "the best snapshot per seed (max IS; min FID), picked after the fact"),
        ("equal iterations", "iteration", b_it, f"≤ {b_it:.0f} iterations",
         f"≤ {b_it:.0f} iterations, the largest count every generator reached; last snapshot not exceeding it"),
        ("equal wall-clock", "seconds", b_s, f"≤ {b_s:.1f} s training time",
         f"≤ {b_s:.1f} s of training time, the shortest run's total; last snapshot not exceeding it "
         "(no interpolation)"),
    ]


def generation_table(frames: Frames) -> Table:
    """Per generator: IS/FID final, best over training, and at equal iteration / wall-clock budgets."""
    fid = frames.fidelity
    exts = extractors(frames)
    labels = sort_labels(fid["label"].unique()) if len(fid) else []
    labels = [lab for lab in GENERATOR_LABELS if lab in labels] + [lab for lab in labels
                                                                    if lab not in GENERATOR_LABELS]
    columns = ["method", "point", "budget"]
    for ext in exts:
        name = EXTRACTOR_NAMES.get(ext, ext)
        columns += [f"IS ({name})", f"FID ({name})"]
    # Class accuracy of the samples (mnist5k: judged by the reference CNN); older records lack it.
    cls_exts = [ext for ext in exts
                if fid.loc[fid["extractor"] == ext, "class_accuracy"].astype(float).notna().any()]
    columns += ["class accuracy (%)"] if cls_exts else []
    rows, tidy = [], []
    points = {ext: generation_points(frames, ext) for ext in exts}
    for label in labels:
        for j, (point, kind, _budget, short, _rule) in enumerate(points[exts[0]] if exts else []):
            row = [label, point, short]
            cls_cell = None
            for ext in exts:
                _, _, budget, _, desc = points[ext][j]
                sel = fidelity_point(fid, label, ext, kind, budget)
                is_est = is_estimate(sel)
                fid_vals = {int(r.seed): float(r.fid) for r in sel.itertuples()}
                fs = summarise(fid_vals.values())
                row += [fmt_estimate(is_est, 1.0, 2, split_std=True), fmt_stat(fs["mean"], fs["std"], fs["n"], 1.0, 1)]
                si = summarise(is_est.values.values())
                base = {"label": label, "extractor": ext, "point": point,
                        "budget_iteration": budget if kind == "iteration" else np.nan,
                        "budget_seconds": budget if kind == "seconds" else np.nan,
                        "rule": desc, "iteration_mean": float(sel["iteration"].mean()) if len(sel) else np.nan,
                        "train_seconds_mean": float(sel["train_seconds"].mean()) if len(sel) else np.nan,
                        "n_samples": int(sel["n_samples"].min()) if len(sel) else np.nan}
                tidy.append({**base, "metric": "IS", "mean": si["mean"], "std": si["std"], "n": si["n"],
                             "min": si["min"], "max": si["max"],
                             "split_std": float(sel["is_std"].mean()) if len(sel) else np.nan})
                tidy.append({**base, "metric": "FID", "mean": fs["mean"], "std": fs["std"], "n": fs["n"],
                             "min": fs["min"], "max": fs["max"], "split_std": np.nan})
                if ext in cls_exts:
                    cs = summarise(float(v) for v in sel["class_accuracy"])
                    tidy.append({**base, "metric": "class_accuracy", **{k: cs[k] for k in
                                                                         ("mean", "std", "n", "min", "max")},
                                 "split_std": np.nan})
                    if ext == cls_exts[0]:  # one class-accuracy column: the first extractor that has it
                        cls_cell = fmt_stat(cs["mean"], cs["std"], cs["n"], 100.0, 1)
            rows.append(row + ([cls_cell] if cls_exts else []))
    notes = ["Cells: mean ± sample std over seeds (n = number of seeds); with one seed the IS shows its "
             "split std instead. IS higher is better, FID lower is better."]
    for ext in exts:
        pts = points[ext]
        notes.append(f"IS/FID ({EXTRACTOR_NAMES.get(ext, ext)}): " + _extractor_note(ext)
                     + f" Equal budgets: {pts[2][4]}; {pts[3][4]}.")
    if cls_exts:
        notes.append("Class accuracy: share of the samples that the reference CNN classifies as the class "
                     "they were generated for (how class-conditional the generator is; chance = 1/classes); "
                     "at 'best over training' it is the best-IS snapshot's.")
    notes.append("'best over training' selects the snapshot by the metric itself and is optimistic; "
                 "'final' is the honest number. Wall-clock is each run's logged training time; compare it "
                 "only between runs made on the same hardware.")
    if not labels:
        notes.insert(0, "No fidelity records: nothing to show.")
    title = f"Generation quality — {frames.dataset}, experiment {frames.experiment}"
    align = ["l", "l", "l"] + ["r"] * (len(columns) - 3)
    return Table("generation", title, columns, rows, pd.DataFrame(tidy, columns=_GEN_COLS), notes, align)


_GEN_COLS = ["label", "extractor", "point", "budget_iteration", "budget_seconds", "rule", "metric", "mean",
             "std", "n", "min", "max", "split_std", "iteration_mean", "train_seconds_mean", "n_samples"]


def _extractor_note(ext: str) -> str:
    if ext == "mnist-cnn":
        return ("features of the small mnist5k domain classifier, not the ImageNet Inception network: "
                "not comparable with Inception-based numbers.")
    if ext == "inception-v3-compat":
        return ("torch-fidelity's TF-compatible Inception-v3 (the authors used a torchvision Inception, "
                "SPEC §6: absolute values may differ from the paper's).")
    return f"extractor '{ext}'."


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


def final_is(frames: Frames, label: str, extractor: str | None) -> Estimate:
    if extractor is None:
        return Estimate({})
    return is_estimate(fidelity_point(frames.fidelity, label, extractor, "final"))


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
                row += [fmt_estimate(b, 100.0, 1), fmt_estimate(a, 100.0, 1), fmt_diff(d.diff, d.se, 100.0, 1)]
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
        "SE of Δ: the larger of the seed SE (paired over shared seeds, else Welch) and the measurement SE "
        "(binomial SE of the accuracies; split std of the IS); with one seed only the measurement SE exists. "
        "The CSV names the rule per cell.",
        "'—': the label trains no generator (fine-tuned classifiers) or has no fidelity record.",
        SCALE_NOTE,
    ]
    title = f"Ablations — {frames.dataset}, experiment {frames.experiment}"
    align = ["l", "l"] + ["r"] * 6
    return Table("ablation", title, columns, rows, pd.DataFrame(tidy, columns=_ABL_COLS), notes, align)


_ABL_COLS = ["ablation", "baseline", "variant", "metric", "eps", "extractor", "baseline_mean", "baseline_std",
             "baseline_n", "variant_mean", "variant_std", "variant_n", "diff", "se", "se_rule"]


def build_tables(frames: Frames, cfg: Mapping[str, Any] | None = None,
                 ablation_eps_override: float | None = None) -> list[Table]:
    eps = ablation_eps(frames, cfg, ablation_eps_override)
    return [robust_accuracy_table(frames, "paper"), robust_accuracy_table(frames, "strong"),
            autoattack_table(frames), generation_table(frames), ablation_table(frames, eps)]


# --------------------------------------------------------------------------------------------------
# rendering


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(table: Table) -> str:
    """GitHub-flavoured Markdown: a bold title line, the pipe table, then the notes as a list."""
    align = table.align or ["l"] + ["r"] * (len(table.columns) - 1)
    sep = ["---" if a == "l" else "---:" for a in align]
    lines = [f"**{_md_escape(table.title)}**", "",
             "| " + " | ".join(_md_escape(c) for c in table.columns) + " |",
             "|" + "|".join(sep) + "|"]
    for row in table.rows:
        lines.append("| " + " | ".join(_md_escape(c) for c in row) + " |")
    if not table.rows:
        lines.append("| " + " | ".join(["—"] * len(table.columns)) + " |")
    lines.append("")
    lines += [f"- {_md_escape(n)}" for n in table.notes]
    lines.append("- Generated by `robgan report` from evaluation records; do not edit by hand.")
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_UNICODE = (("ℓ∞", r"$\ell_\infty$"), ("ℓ", r"$\ell$"), ("∞", r"$\infty$"), ("ε", r"$\varepsilon$"),
                  ("δ", r"$\delta$"),
                  ("±", r"$\pm$"), ("≤", r"$\le$"), ("≥", r"$\ge$"), ("λ", r"$\lambda$"), ("Δ", r"$\Delta$"),
                  ("→", r"$\to$"), ("·", r"$\cdot$"), ("×", r"$\times$"), ("−", r"$-$"), ("—", "---"),
                  ("–", "--"), ("§", r"\S{}"), ("√", r"$\surd$"), ("<", r"$<$"), (">", r"$>$"))


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and map the symbols the tables use (ε, ±, ℓ∞, ...) to math; any other
    non-ASCII character is dropped to ``?`` so that the output compiles with plain pdflatex."""
    out = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))
    for src, dst in _LATEX_UNICODE:
        out = out.replace(src, dst)
    return "".join(ch if ch.isascii() else "?" for ch in out)


def to_latex(table: Table) -> str:
    """A ``table`` float with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``)."""
    align = table.align or ["l"] + ["r"] * (len(table.columns) - 1)
    lines = [f"% {latex_escape(table.title)}",
             "% Generated by `robgan report` from evaluation records; do not edit by hand. Needs booktabs.",
             r"\begin{table}[htbp]", r"  \centering", r"  \footnotesize",
             f"  \\caption{{{latex_escape(table.title)}}}", f"  \\label{{tab:{table.name}}}",
             f"  \\begin{{tabular}}{{{''.join(align)}}}", r"    \toprule",
             "    " + " & ".join(latex_escape(c) for c in table.columns) + r" \\", r"    \midrule"]
    for row in table.rows:
        lines.append("    " + " & ".join(latex_escape(c) for c in row) + r" \\")
    lines += [r"    \bottomrule", r"  \end{tabular}"]
    if table.notes:
        lines.append(r"  \par\smallskip")
        lines.append(r"  \parbox{\linewidth}{\scriptsize")
        lines += [f"    {latex_escape(n)}\\par" for n in table.notes]
        lines.append("  }")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    return table.tidy.to_csv(index=False, float_format="%.6g", lineterminator="\n")


def write_table(table: Table, out_dir: str | Path) -> list[Path]:
    """Write ``<name>.csv``, ``<name>.md`` and ``<name>.tex`` atomically into ``out_dir``."""
    out_dir = Path(out_dir)
    paths = []
    for ext, text in (("csv", to_csv(table)), ("md", to_markdown(table)), ("tex", to_latex(table))):
        path = out_dir / f"{table.name}.{ext}"
        prov.atomic_write_text(path, text)
        paths.append(path)
    return paths


def write_tables(frames: Frames, out_dir: str | Path, cfg: Mapping[str, Any] | None = None,
                 ablation_eps_override: float | None = None) -> list[Path]:
    paths: list[Path] = []
    for table in build_tables(frames, cfg, ablation_eps_override):
        paths += write_table(table, out_dir)
    return paths
