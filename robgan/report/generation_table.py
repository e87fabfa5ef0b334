"""The generation table: IS / FID of every generator at its final model, its best snapshot and at equal
iteration and wall-clock budgets; the discriminator each generator trained against and the sampling
mode of the generators (``model.g_sample_bn``), so that a comparison says whether it is like for like.

A generator trained with a weight average (``train.g_ema``) is the average in every row, as in every
other evaluation and figure and in the gates; one more row under its "final" row, ``final (trained
weights)``, shows the trained weights of the same final model on the same samples (the records'
``results_raw``; "not measured" for records written before they were), for information.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from robgan.registry import generator_labels
from robgan.report.aggregate import (
    EXTRACTOR_NAMES,
    Frames,
    equal_budgets,
    fidelity_point,
    is_estimate,
    sort_labels,
)
from robgan.report.methods import discriminator, g_ema, g_sample_text, unlike_discriminators
from robgan.report.stats import Estimate, summarise
from robgan.report.table_format import Table, fmt_estimate, fmt_stat


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


def generation_table(frames: Frames, cfg: Mapping[str, Any] | None = None) -> Table:
    """Per generator: IS/FID final, best over training, and at equal iteration / wall-clock budgets; the
    discriminator each trained against and the generator's sampling mode (from ``cfg``)."""
    fid = frames.fidelity
    exts = extractors(frames)
    present = sort_labels(fid["label"].unique()) if len(fid) else []
    labels = generator_labels(present)
    labels += [lab for lab in present if lab not in labels]
    columns = ["method", "discriminator", "point", "budget"]
    for ext in exts:
        name = EXTRACTOR_NAMES.get(ext, ext)
        columns += [f"IS ({name})", f"FID ({name})"]
    # Class accuracy of the samples (mnist5k: judged by the reference CNN); older records lack it.
    cls_exts = [ext for ext in exts
                if fid.loc[fid["extractor"] == ext, "class_accuracy"].astype(float).notna().any()]
    columns += ["class accuracy (%)"] if cls_exts else []
    # Generator metrics of the field, where the records hold them (older records do not): first extractor.
    extra = [(col, name, scale, digits) for col, name, scale, digits in EXTRA_METRICS
             if exts and fid.loc[fid["extractor"] == exts[0], col].astype(float).notna().any()]
    columns += [name for _, name, _, _ in extra]
    rows, tidy = [], []
    points = {ext: generation_points(frames, ext) for ext in exts}
    raw = frames.fidelity_raw
    averaged = {lab: g_ema(cfg, lab) for lab in labels}
    averaged = {lab: v for lab, v in averaged.items() if v is not None or (len(raw) and (raw["label"] == lab).any())}
    for label in labels:
        for j, (point, kind, _budget, short, _rule) in enumerate(points[exts[0]] if exts else []):
            disc = discriminator(cfg, label)
            row = [label, disc[1] if disc else "n/a", point, short]
            cls_cell = None
            for ext in exts:
                _, _, limit, _, desc = points[ext][j]
                sel = fidelity_point(fid, label, ext, kind, limit)
                is_est = is_estimate(sel)
                fid_vals = {int(r.seed): float(r.fid) for r in sel.itertuples()}
                fs = summarise(fid_vals.values())
                row += [fmt_estimate(is_est, 1.0, 2, split_std=True), fmt_stat(fs["mean"], fs["std"], fs["n"], 1.0, 1)]
                si = summarise(is_est.values.values())
                base = {"label": label, "extractor": ext, "point": point,
                        "budget_iteration": limit if kind == "iteration" else np.nan,
                        "budget_seconds": limit if kind == "seconds" else np.nan,
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
            extra_cells = []
            for col, _name, scale, digits in extra:
                _, _, limit, _, desc = points[exts[0]][j]
                sel = fidelity_point(fid, label, exts[0], kind, limit)
                st = summarise(float(v) for v in sel[col].astype(float) if np.isfinite(v))
                extra_cells.append(fmt_stat(st["mean"], st["std"], st["n"], scale, digits) if st["n"] else "n/a")
                tidy.append({"label": label, "extractor": exts[0], "point": point,
                             "budget_iteration": limit if kind == "iteration" else np.nan,
                             "budget_seconds": limit if kind == "seconds" else np.nan, "rule": desc,
                             "iteration_mean": float(sel["iteration"].mean()) if len(sel) else np.nan,
                             "train_seconds_mean": float(sel["train_seconds"].mean()) if len(sel) else np.nan,
                             "n_samples": int(sel["n_samples"].min()) if len(sel) else np.nan, "metric": col,
                             **{k: st[k] for k in ("mean", "std", "n", "min", "max")}, "split_std": np.nan})
            rows.append(row + ([cls_cell] if cls_exts else []) + extra_cells)
            if kind == "final" and label in averaged:
                raw_row, raw_tidy = _trained_weights_row(raw, label, row[:2], exts, cls_exts, extra)
                rows.append(raw_row)
                tidy += raw_tidy
    notes = ["Cells: mean ± sample std over seeds (n = number of seeds); with one seed the IS shows its "
             "split std instead. IS higher is better, FID lower is better.",
             f"Sampling: {g_sample_text(cfg)}; the same for every generator and every IS/FID number."]
    unlike = unlike_discriminators(cfg, labels)
    if unlike:
        notes.append(f"Discriminators: {unlike}.")
    for ext in exts:
        pts = points[ext]
        notes.append(f"IS/FID ({EXTRACTOR_NAMES.get(ext, ext)}): " + _extractor_note(ext)
                     + f" Equal budgets: {pts[2][4]}; {pts[3][4]}.")
    if cls_exts:
        notes.append("Class accuracy: share of the samples that the reference CNN classifies as the class "
                     "they were generated for (how class-conditional the generator is; chance = 1/classes); "
                     "at 'best over training' it is the best-IS snapshot's.")
    if extra:
        notes.append("Generator metrics of the field (features of the IS/FID extractor): intra-class FID (FID of "
                     "each class's samples against that class's real images, mean over classes; lower is better), "
                     "precision and recall (torch-fidelity, k = 3) and intra-class recall (each class's first 50 "
                     "samples against its real images, mean over classes; the within-class collapse check's "
                     "measure: a generator that ignores its noise scores 0). docs/generator_metrics.md.")
    if averaged:
        decays = sorted({f"{v:g}" for v in averaged.values() if v is not None})
        notes.append(f"Weight average ({', '.join(sorted(averaged))}: train.g_ema"
                     f"{' ' + ', '.join(decays) if decays else ''}): every row of these generators measures "
                     "the moving average of the generator's weights, the generator that every other evaluation "
                     "and figure uses and that the class-accuracy floor and the within-class collapse check "
                     f"judge. '{TRAINED_POINT}' measures the trained weights of the same final model (model.pt's "
                     "generator_raw) on the same samples, for information: no claim or gate reads it. 'not "
                     "measured': its records were written before the trained weights were measured (re-run "
                     "the fidelity evaluation).")
    notes.append("'best over training' selects the snapshot by the metric itself and is optimistic; "
                 "'final' is the honest number. Wall-clock is each run's logged training time; compare it "
                 "only between runs made on the same hardware.")
    if not labels:
        notes.insert(0, "No fidelity records: nothing to show.")
    title = f"Generation quality — {frames.dataset}, experiment {frames.experiment}"
    align = ["l", "l", "l", "l"] + ["r"] * (len(columns) - 4)
    return Table("generation", title, columns, rows, pd.DataFrame(tidy, columns=_GEN_COLS), notes, align)


#: The point of the row that shows a weight-averaged generator's trained weights (final model only).
TRAINED_POINT = "final (trained weights)"
NOT_MEASURED = "not measured"


def _trained_weights_row(raw: pd.DataFrame, label: str, head: list[str], exts: list[str], cls_exts: list[str],
                         extra: list[tuple[str, str, float, int]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The ``final (trained weights)`` row of ``label`` (cells from its ``fidelity_raw`` rows, "not measured"
    where its records hold none) and its tidy rows; ``head``: the label's method and discriminator cells."""
    rule = ("the trained weights of the final model (model.pt generator_raw), beside their weight average "
            "(train.g_ema); information, not judged")
    row, tidy, cls_cell = [*head, TRAINED_POINT, "whole run"], [], NOT_MEASURED
    for i, ext in enumerate(exts):
        sel = fidelity_point(raw, label, ext, "final") if len(raw) else raw
        base = {"label": label, "extractor": ext, "point": TRAINED_POINT, "budget_iteration": np.nan,
                "budget_seconds": np.nan, "rule": rule,
                "iteration_mean": float(sel["iteration"].mean()) if len(sel) else np.nan,
                "train_seconds_mean": float(sel["train_seconds"].mean()) if len(sel) else np.nan,
                "n_samples": int(sel["n_samples"].min()) if len(sel) else np.nan}
        if not len(sel):
            row += [NOT_MEASURED, NOT_MEASURED]
            continue
        is_est = is_estimate(sel)
        si, fs = summarise(is_est.values.values()), summarise(float(v) for v in sel["fid"])
        row += [fmt_estimate(is_est, 1.0, 2, split_std=True), fmt_stat(fs["mean"], fs["std"], fs["n"], 1.0, 1)]
        tidy.append({**base, "metric": "IS", **{k: si[k] for k in ("mean", "std", "n", "min", "max")},
                     "split_std": float(sel["is_std"].mean())})
        tidy.append({**base, "metric": "FID", **{k: fs[k] for k in ("mean", "std", "n", "min", "max")},
                     "split_std": np.nan})
        metrics = [("class_accuracy", 100.0, 1)] if ext in cls_exts else []
        metrics += [(col, scale, digits) for col, _, scale, digits in extra] if i == 0 else []
        for col, scale, digits in metrics:
            st = summarise(float(v) for v in sel[col].astype(float) if np.isfinite(v))
            if not st["n"]:
                continue
            tidy.append({**base, "metric": col, **{k: st[k] for k in ("mean", "std", "n", "min", "max")},
                         "split_std": np.nan})
            if col == "class_accuracy" and ext == cls_exts[0]:
                cls_cell = fmt_stat(st["mean"], st["std"], st["n"], scale, digits)
    extra_cells = []
    for col, _name, scale, digits in extra:
        hit = [t for t in tidy if t["metric"] == col and t["extractor"] == exts[0]]
        extra_cells.append(fmt_stat(hit[0]["mean"], hit[0]["std"], hit[0]["n"], scale, digits) if hit
                           else NOT_MEASURED)
    return row + ([cls_cell] if cls_exts else []) + extra_cells, tidy


#: (fidelity column, table column, scale, decimals) of the generator metrics of the field.
EXTRA_METRICS = (("intra_fid", "intra-class FID", 1.0, 1), ("kid_mean", "KID (×100)", 100.0, 2),
                 ("precision", "precision", 1.0, 2), ("recall", "recall", 1.0, 2),
                 ("intra_recall", "intra-class recall", 1.0, 2))

_GEN_COLS = ["label", "extractor", "point", "budget_iteration", "budget_seconds", "rule", "metric", "mean",
             "std", "n", "min", "max", "split_std", "iteration_mean", "train_seconds_mean", "n_samples"]


def _extractor_note(ext: str) -> str:
    if ext == "mnist-cnn":
        return ("features of the small mnist5k domain classifier, not the ImageNet Inception network: "
                "not comparable with Inception-based numbers.")
    if ext == "inception-v3-compat":
        return ("torch-fidelity's TF-compatible Inception-v3 (the authors used a torchvision Inception: "
                "absolute values may differ from the paper's).")
    return f"extractor '{ext}'."


def final_is(frames: Frames, label: str, extractor: str | None) -> Estimate:
    if extractor is None:
        return Estimate({})
    return is_estimate(fidelity_point(frames.fidelity, label, extractor, "final"))
