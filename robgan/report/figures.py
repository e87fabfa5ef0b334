"""Figures rendered from records (PNG + PDF each), with the Agg canvas (no display, no pyplot state).

Every figure has a one-line title naming what it shows, the dataset and the experiment; the protocol,
the pixel scale and how to read it are in its caption (``workflow/report/<name>.rst``) and in
``docs/outputs.md``. A method has the same colour and marker in every figure (:func:`method_color`,
:func:`method_marker`). A value over seeds is drawn as the mean and its 90 % t-interval over seeds
(:func:`seed_interval`; with one seed the point alone).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from robgan import provenance as prov
from robgan.registry import FIGURES, LABELS, generator_labels, sample_grid_name
from robgan.report.aggregate import (
    EPS_ATOL,
    EXTRACTOR_NAMES,
    Frames,
    autoattack_estimate,
    sort_labels,
    unique_eps,
    worst_case,
)
from robgan.report.stats import t_ppf

# One colour per label, fixed across figures: the Okabe–Ito palette (distinct for colour-blind readers
# too), so that the labels an ablation compares (robgan vs robgan_ft vs robgan_ft_nofake, acgan vs
# acgan_newloss, robgan vs robgan_oldloss) never share a hue. Unknown labels take the spare colours.
# Data only: the order of labels is robgan.registry.LABELS.
METHOD_COLORS = {
    "advtrain": "#0072B2", "robgan": "#000000", "robgan_ft": "#D55E00", "robgan_ft_nofake": "#CC79A7",
    "sngan": "#009E73", "acgan": "#56B4E9", "acgan_newloss": "#E69F00", "robgan_oldloss": "#999933",
}
METHOD_MARKERS = {
    "advtrain": "o", "robgan": "^", "robgan_ft": "s", "robgan_ft_nofake": "D", "sngan": "o", "acgan": "v",
    "acgan_newloss": "P", "robgan_oldloss": "X",
}
_SPARE_COLORS = ("#882255", "#44AA99", "#332288", "#117733", "#AA4499", "#661100")
#: The paper's main robustness comparison (Rob-GAN w/ FT vs Madry's adversarial training): the left
#: panel of the accuracy-vs-ε figure; every other classifier (with robgan_ft as the reference the
#: ablations compare with) is drawn in the right one.
MAIN_COMPARISON = ("advtrain", "robgan_ft")
#: Level of the interval over seeds drawn as bands and error bars.
CI_LEVEL = 0.90


def method_color(label: str) -> str:
    if label in METHOD_COLORS:
        return METHOD_COLORS[label]
    return _SPARE_COLORS[sum(map(ord, label)) % len(_SPARE_COLORS)]


def method_marker(label: str) -> str:
    return METHOD_MARKERS.get(label, "o")


def seed_interval(values: Iterable[float], level: float = CI_LEVEL) -> tuple[float, float, float, int]:
    """``(mean, lo, hi, n)`` of the finite ``values`` (one per seed): the two-sided ``level`` t-interval
    of the mean, ``mean ± t_{(1+level)/2, n−1} · s/√n``; ``lo = hi = mean`` for one value (no interval
    from one seed) and NaNs for none."""
    v = np.asarray([float(x) for x in values if np.isfinite(float(x))], dtype=float)
    if not v.size:
        return math.nan, math.nan, math.nan, 0
    mean = float(v.mean())
    if v.size == 1:
        return mean, mean, mean, 1
    half = t_ppf(0.5 + level / 2, v.size - 1) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return mean, mean - half, mean + half, int(v.size)


def _new_figure(width: float = 6.4, height: float = 4.2) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, out_stem: str | Path) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.pdf`` atomically; returns the paths."""
    out_stem = Path(out_stem)
    paths = []
    for fmt, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Creator": None,
                                                             "Producer": None})):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata=meta)
        path = out_stem.with_name(out_stem.name + f".{fmt}")
        prov.atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    return paths


def _title(frames: Frames, what: str) -> str:
    """The one-line title: ``<what> — <dataset>, experiment <experiment>``."""
    return f"{what} — {frames.dataset}, experiment {frames.experiment}"


def _suptitle(fig: Figure, text: str) -> None:
    """A one-line figure title (details belong in the caption, not in the image)."""
    if "\n" in text:
        raise ValueError(f"a figure title is one line (details go to its caption): {text!r}")
    fig.suptitle(text, fontsize=10)


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _band(ax, x, mean, lo, hi, color, label, linestyle="-", marker="o", markersize=3,
          bounds: tuple[float | None, float | None] | None = None) -> None:
    """The mean line and its interval ``[lo, hi]`` as a band, cut at ``bounds`` (the metric's range:
    three seeds' t-interval can reach past it) when given."""
    ax.plot(x, mean, linestyle=linestyle, marker=marker, markersize=markersize, color=color, label=label)
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    if bounds is not None:
        lo, hi = np.clip(lo, *bounds), np.clip(hi, *bounds)
    if len(x) > 1 and np.any(hi > lo):
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, linewidth=0)


def _curve_over_seeds(df: pd.DataFrame, key: str, xcol: str, ycol: str) -> pd.DataFrame:
    """Per ``key`` value (e.g. iteration): mean x, and the mean of y with its :func:`seed_interval`
    (columns ``x``, ``mean``, ``lo``, ``hi``, ``n``), sorted by ``key``."""
    out = []
    for _, g in df.groupby(key, sort=True):
        mean, lo, hi, n = seed_interval(g[ycol])
        out.append({"x": float(g[xcol].mean()), "mean": mean, "lo": lo, "hi": hi, "n": n})
    return pd.DataFrame(out, columns=["x", "mean", "lo", "hi", "n"])


#: Accuracies in %: a whisker is cut at 0 and 100 (three seeds' t-interval can reach past them).
ACCURACY_RANGE = (0.0, 100.0)


def _errorbar(ax, x: Sequence[float], stats: Sequence[tuple[float, float, float, int]], color,
              bounds: tuple[float, float] | None = None, **kw):
    """Points ``stats[i] = (mean, lo, hi, n)`` at ``x`` with their interval as whiskers (none for n = 1),
    cut at ``bounds`` (the metric's range) when given."""
    m = np.array([s[0] for s in stats], dtype=float)
    lo = np.array([s[1] for s in stats], dtype=float)
    hi = np.array([s[2] for s in stats], dtype=float)
    if bounds is not None:
        lo, hi = np.clip(lo, *bounds), np.clip(hi, *bounds)
    err = np.array([m - lo, hi - m], dtype=float)
    return ax.errorbar(x, m, yerr=err if np.any(err > 0) else None, color=color, capsize=2, elinewidth=0.9, **kw)


# --------------------------------------------------------------------------------------------------
# generation curves


#: Generator metrics drawn under IS / FID when the records hold them (older records do not):
#: column → short axis label (the caption says what each is). The within-class recall panel shows
#: the collapse floor.
EXTRA_PANELS = {
    "is": {"recall": "recall (prc)", "intra_recall": "intra-class recall"},
    "fid": {"intra_fid": "intra-class FID", "kid_mean": "KID"},
}
#: Panels drawn on a log y axis (FID-like metrics span orders of magnitude over training).
LOG_PANELS = frozenset({"fid", "intra_fid"})
#: The range a metric can take (IS >= 1; recalls are fractions): a t-interval over three seeds can
#: reach past it, and its band is cut at the bounds (the captions say so).
PANEL_RANGE = {"is_mean": (1.0, None), "recall": (0.0, 1.0), "intra_recall": (0.0, 1.0)}
_TARGET_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1)))


def fidelity_figure(frames: Frames, metric: str, axis: str,
                    targets: Sequence[tuple[str, float]] = ()) -> Figure:
    """IS or FID (``metric`` in {"is", "fid"}) vs ``axis`` in {"time", "iter"}, one line per generator.

    Below it, one panel per further generator metric of :data:`EXTRA_PANELS` that the records hold
    (IS: recall and intra-class recall with the collapse floor; FID: intra-class FID and KID). FID and
    intra-class FID are on a log axis. ``targets``: ``(text, IS)`` horizontal lines on the IS panel (the
    time-to-target claims' targets), named in the legend.
    """
    from robgan.evaluation.acceptance import MIN_INTRA_RECALL

    fid = frames.fidelity
    exts = [e for e in EXTRACTOR_NAMES if e in set(fid["extractor"])] + sorted(
        set(fid["extractor"]) - set(EXTRACTOR_NAMES))
    ycol, yname = ("is_mean", "Inception score") if metric == "is" else ("fid", "FID")
    panels = [(ycol, "IS" if metric == "is" else "FID")]
    panels += [(c, name) for c, name in EXTRA_PANELS[metric].items()
               if c in fid and pd.to_numeric(fid[c], errors="coerce").notna().any()]
    fig = _new_figure(6.4 * max(1, len(exts)), 4.4 + 2.6 * (len(panels) - 1))
    grid = fig.subplots(len(panels), max(1, len(exts)), squeeze=False, sharex="col")
    xcol = "train_seconds" if axis == "time" else "iteration"
    xlabel = "training time (s, as logged by each run)" if axis == "time" else "generator iterations (G steps)"
    if not exts:
        _no_data(grid[0][0], "no fidelity records")
    for col, ext in enumerate(exts):
        sel = fid[fid["extractor"] == ext]
        present = set(sel["label"])
        known = generator_labels(sorted(present))
        order = known + sort_labels(present - set(known))
        for row, (ycol_i, name) in enumerate(panels):
            ax = grid[row][col]
            for label in order:
                g = sel[sel["label"] == label].copy()
                g[ycol_i] = pd.to_numeric(g[ycol_i], errors="coerce")
                g = g[g[ycol_i].notna()]
                if not len(g):
                    continue
                c = _curve_over_seeds(g, "iteration", xcol, ycol_i)
                lo, hi = c["lo"], c["hi"]
                if ycol_i in LOG_PANELS:  # an interval reaching below 0 is cut at a tenth of the mean
                    lo = np.maximum(lo, c["mean"] / 10)
                n = int(c["n"].max()) if len(c) else 0
                _band(ax, c["x"], c["mean"], lo, hi, method_color(label), f"{label} (n={n})",
                      marker=method_marker(label), bounds=PANEL_RANGE.get(ycol_i))
            if ycol_i == "is_mean":
                for i, (text, value) in enumerate(targets):
                    ax.axhline(value, color="0.25", linestyle=_TARGET_STYLES[i % len(_TARGET_STYLES)],
                               linewidth=1.0, label=f"{text}")
            if ycol_i == "intra_recall":
                floor = ax.axhline(MIN_INTRA_RECALL, color="tab:red", linestyle=":", linewidth=1.0,
                                   label=f"collapse floor {MIN_INTRA_RECALL:g}")
                ax.legend(handles=[floor], fontsize=7, loc="upper left")
            if ycol_i in LOG_PANELS:
                ax.set_yscale("log")
            if row == len(panels) - 1:
                ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{name} ({EXTRACTOR_NAMES.get(ext, ext)})", fontsize=8)
            ax.grid(alpha=0.3, which="both" if ycol_i in LOG_PANELS else "major")
            if row == 0:
                ax.legend(fontsize=7)
    what = f"{yname} vs {'training time' if axis == 'time' else 'generator iterations'}"
    _suptitle(fig, _title(frames, what))
    return fig


# --------------------------------------------------------------------------------------------------
# robustness


def _eps_grid(frames: Frames, label: str) -> list[float]:
    """Every ε > 0 at which ``label`` was attacked (PGD records and AutoAttack)."""
    pgd, meta = frames.pgd, frames.autoattack_meta
    eps = list(pgd.loc[(pgd["label"] == label) & pgd["protocol"].isin(["paper", "strong"]), "eps"])
    eps += list(meta.loc[meta["label"] == label, "eps"])
    return [e for e in unique_eps(eps) if e > EPS_ATOL]


def _pgd_points(frames: Frames, label: str, protocol: str) -> tuple[list[float], list[tuple]]:
    """ε (0 = clean, when recorded) and :func:`seed_interval` of ``label``'s accuracy under ``protocol``."""
    pgd = frames.pgd
    lab = pgd[pgd["label"] == label]
    sel = lab[(lab["protocol"] == protocol) & (lab["eps"] > EPS_ATOL)]
    if not len(sel):
        return [], []
    clean = lab[lab["protocol"] == "clean"]
    xs, stats = [], []
    if len(clean):
        xs.append(0.0)
        stats.append(seed_interval(100 * clean["accuracy"]))
    for eps in unique_eps(sel["eps"]):
        xs.append(eps)
        stats.append(seed_interval(100 * sel.loc[(sel["eps"] - eps).abs() <= EPS_ATOL, "accuracy"]))
    return xs, stats


def worst_case_curve(frames: Frames, label: str) -> tuple[list[float], list[tuple], list[int]]:
    """The worst-case robust accuracy of ``label`` (%) over its ε grid (:func:`_eps_grid`), from
    :func:`robgan.report.aggregate.worst_case` at each ε on every attacked image (``images="all"``: an
    image counts only if every attack run on it at that ε left it correct, AutoAttack where its ε
    matches): ``(eps, seed_interval per ε, images per ε)``; ε whose records lack per-image outcomes are
    left out (all of them for old records)."""
    xs, stats, ns = [], [], []
    for eps in _eps_grid(frames, label):
        wc = worst_case(frames, label, eps, images="all")
        if wc.estimate.empty:
            continue
        xs.append(eps)
        stats.append(seed_interval(100 * np.asarray(list(wc.estimate.values.values()))))
        ns.append(wc.n)
    return xs, stats, ns


def _accuracy_panel(ax, frames: Frames, labels: Sequence[str]) -> dict[str, bool]:
    """Draw ``labels`` on ``ax``: paper PGD solid, worst case over attacks dashed (hollow markers),
    strong PGD dotted for labels without per-image outcomes, AutoAttack stars. Points of different
    methods are shifted sideways a little so that their whiskers do not hide each other. Returns which
    attack styles were drawn."""
    from matplotlib.lines import Line2D

    drawn = {"paper": False, "worst": False, "strong": False, "autoattack": False}
    grids = [e for lab in labels for e in [0.0, *_eps_grid(frames, lab)]]
    steps = np.diff(unique_eps(grids)) if len(unique_eps(grids)) > 1 else np.array([0.1])
    dodge = 0.3 * float(steps.min()) / max(1, len(labels))  # between methods; half of it: PGD vs worst case
    handles = []
    for i, label in enumerate(labels):
        color, marker = method_color(label), method_marker(label)
        shift = (i - (len(labels) - 1) / 2) * dodge
        xs, stats = _pgd_points(frames, label, "paper")
        if xs:
            _errorbar(ax, np.asarray(xs) + shift, stats, color, ACCURACY_RANGE, fmt="-", marker=marker, markersize=4)
            drawn["paper"] = True
        wx, wstats, _ = worst_case_curve(frames, label)
        if wx:
            _errorbar(ax, np.asarray(wx) + shift + dodge / 2, wstats, color, ACCURACY_RANGE, fmt="--", marker=marker,
                      markersize=5, markerfacecolor="white")
            drawn["worst"] = True
        else:
            sx, sstats = _pgd_points(frames, label, "strong")
            if sx:
                _errorbar(ax, np.asarray(sx) + shift + dodge / 2, sstats, color, ACCURACY_RANGE, fmt=":",
                          marker=marker, markersize=4, markerfacecolor="white")
                drawn["strong"] = True
        meta = frames.autoattack_meta[frames.autoattack_meta["label"] == label]
        for eps in unique_eps(meta["eps"]):
            est = autoattack_estimate(frames.autoattack, label, "final", eps)
            if est.empty:
                continue
            _errorbar(ax, [eps + shift], [seed_interval(100 * np.asarray(list(est.values.values())))], color,
                      ACCURACY_RANGE, fmt="*", markersize=12, markeredgecolor="k", zorder=5)
            drawn["autoattack"] = True
        n = int(frames.pgd.loc[frames.pgd["label"] == label, "seed"].nunique())
        seeds = f"{n} seed{'s' if n != 1 else ''}"
        handles.append(Line2D([], [], color=color, marker=marker, lw=1.5, label=f"{label} ({seeds})"))
    ax.set_xlabel("ε (ℓ∞ radius, [0,1] pixel units)")
    if len(labels) > len(MAIN_COMPARISON):  # the ablations span the whole range; the main pair is zoomed
        ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="lower left")
        top = ax.secondary_xaxis("top", functions=(lambda e: 2 * e, lambda e: e / 2))
        top.set_xlabel("2ε (the authors' [-1,1] units)", fontsize=8)
    return drawn


def accuracy_vs_eps_figure(frames: Frames) -> Figure:
    """Accuracy vs ε in two panels: the main comparison (:data:`MAIN_COMPARISON`) and the ablations
    (every other classifier, with ``robgan_ft`` as their reference). Per method: paper PGD (solid), the
    worst case over every attack (dashed; :func:`worst_case_curve`), AutoAttack (stars); strong PGD
    (dotted) only for records without per-image outcomes. Mean and 90 % t-interval over seeds."""
    from matplotlib.lines import Line2D

    pgd, aa = frames.pgd, frames.autoattack
    labels = sort_labels(set(pgd["label"]) | set(aa["label"]))
    main = [lb for lb in labels if lb in MAIN_COMPARISON]
    ablations = [lb for lb in labels if lb != "advtrain"]
    fig = _new_figure(12.0, 5.6)
    axes = fig.subplots(1, 2)
    drawn: dict[str, bool] = {}
    for ax, panel, title in ((axes[0], main, "Rob-GAN w/ FT vs Madry's adversarial training"),
                             (axes[1], ablations, "ablations (Rob-GAN w/ FT as reference)")):
        ax.set_title(title, fontsize=9)
        if not panel:
            _no_data(ax, "no pgd or autoattack records of these classifiers")
            continue
        for k, v in _accuracy_panel(ax, frames, panel).items():
            drawn[k] = drawn.get(k, False) or v
    for ax in axes:
        ax.set_ylabel("accuracy under attack (%)")
    styles = {"paper": Line2D([], [], color="k", ls="-", marker="o", ms=4, label="PGD, paper protocol"),
              "worst": Line2D([], [], color="k", ls="--", marker="o", ms=5, mfc="white",
                              label="worst case over every attack"),
              "strong": Line2D([], [], color="k", ls=":", marker="o", ms=4, mfc="white",
                               label="PGD, strong protocol (no per-image outcomes: no worst case)"),
              "autoattack": Line2D([], [], color="k", ls="", marker="*", ms=10, label="AutoAttack")}
    handles = [h for k, h in styles.items() if drawn.get(k)]
    if handles:
        fig.legend(handles=handles, fontsize=8, loc="outside lower center", ncol=len(handles))
    _suptitle(fig, _title(frames, "Accuracy under ℓ∞ attack vs ε"))
    return fig


def robustness_gap_figure(frames: Frames) -> Figure:
    """Left: adversarial accuracy on training and test points per method; right: each method's gap
    (train − test, per seed) with its 90 % t-interval over seeds, around a zero line (paper PGD, gap ε)."""
    gap = frames.gap
    fig = _new_figure(10.0, 4.4)
    ax_acc, ax_gap = fig.subplots(1, 2)
    labels = sort_labels(gap["label"].unique()) if len(gap) else []
    if not labels:
        _no_data(ax_acc, "no gap records")
        _no_data(ax_gap, "no gap records")
    for i, label in enumerate(labels):
        color, marker = method_color(label), method_marker(label)
        sel = gap[gap["label"] == label]
        per_split = {split: sel[sel["split"] == split].set_index("seed")["accuracy_adv"] for split in ("train", "test")}
        for j, (split, fill) in enumerate((("train", color), ("test", "white"))):
            vals = per_split[split]
            if len(vals):
                _errorbar(ax_acc, [i + (j - 0.5) * 0.25], [seed_interval(100 * vals)], color, ACCURACY_RANGE,
                          fmt=marker, markersize=7, markerfacecolor=fill)
        both = per_split["train"].index.intersection(per_split["test"].index)
        if len(both):
            diffs = 100 * (per_split["train"].loc[both] - per_split["test"].loc[both])
            st = seed_interval(diffs)
            _errorbar(ax_gap, [i], [st], color, fmt=marker, markersize=7)
            ax_gap.annotate(f"{st[0]:+.1f} (n={st[3]})", (i, st[2]), textcoords="offset points", xytext=(0, 4),
                            ha="center", fontsize=7)
    for ax in (ax_acc, ax_gap):
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.grid(axis="y", alpha=0.3)
    ax_gap.axhline(0.0, color="0.3", linewidth=0.9)
    ax_gap.margins(y=0.15)  # room for the values written above the whiskers
    ax_acc.set_ylabel("accuracy under PGD (%)")
    ax_gap.set_ylabel("gap: train − test accuracy (pp)")
    ax_acc.set_title("training (filled) vs test (hollow) points", fontsize=9)
    ax_gap.set_title("robustness generalisation gap", fontsize=9)
    eps = unique_eps(gap["eps"]) if len(gap) else []
    eps_txt = ", ".join(f"ε={e:.3f}" for e in eps) or "n/a"
    _suptitle(fig, _title(frames, f"Robustness gap under PGD at {eps_txt}"))
    return fig


def lipschitz_offsets(frame: pd.DataFrame) -> pd.Series:
    """x position of each row of a frame with ``label``, ``seed``, ``iteration``: the iteration, and for a
    fine-tuned label (``from_run`` in the registry) the iteration plus the last iteration of its
    co-training run of the same seed, so that fine-tuning is drawn after it (as in the training curves)."""
    x = frame["iteration"].astype(float).copy()
    last = frame.groupby(["label", "seed"])["iteration"].max()
    for (label, seed), idx in frame.groupby(["label", "seed"]).groups.items():
        info = LABELS.get(label)
        base = info.info.from_run if info is not None else None
        if base is not None and (base, seed) in last.index:
            x.loc[idx] += float(last[(base, seed)])
    return x


def lipschitz_figure(frames: Frames) -> Figure:
    """Local Lipschitz value (input-gradient norm of the loss) vs iteration; train solid, test dashed;
    fine-tuning after its co-training run."""
    lip = frames.lipschitz
    fig = _new_figure(6.4, 5.4)
    ax = fig.subplots()
    if not len(lip):
        _no_data(ax, "no lipschitz records")
    else:
        lip = lip.assign(x=lipschitz_offsets(lip))
    for label in sort_labels(lip["label"].unique()) if len(lip) else []:
        for split, ls in (("train", "-"), ("test", "--")):
            sel = lip[(lip["label"] == label) & (lip["split"] == split)]
            if not len(sel):
                continue
            c = _curve_over_seeds(sel, "x", "x", "llv")
            _band(ax, c["x"], c["mean"], c["lo"], c["hi"], method_color(label),
                  f"{label}, {split} (n={int(c['n'].max())})", linestyle=ls, marker=method_marker(label),
                  bounds=(0.0, None))  # a gradient norm
    norms = ", ".join(sorted(set(lip["norm"]))) if len(lip) else "n/a"
    ax.set_xlabel("iteration (fine-tuning continues its co-training run)")
    ax.set_ylabel(f"local Lipschitz value (‖∇ₓ loss‖, {norms})")
    ax.grid(alpha=0.3)
    if len(lip):
        # Below the axes: inside, a dozen entries would hide the curves.
        fig.legend(*ax.get_legend_handles_labels(), fontsize=7, loc="outside lower center", ncol=3)
    _suptitle(fig, _title(frames, "Local Lipschitz value, training (solid) vs test (dashed)"))
    return fig


# --------------------------------------------------------------------------------------------------
# samples


def sample_grid(generator, n_classes: int, per_class: int = 8, seed: int = 0, max_classes: int = 20,
                device: str = "cpu") -> np.ndarray:
    """Images of ``generator`` as one array: a row per class (at most ``max_classes``), ``per_class`` columns.

    ``generator(z (N, z_dim), y (N,)) → (N, C, H, W)`` in [0,1] with a ``z_dim`` attribute; ``z`` comes
    from a ``torch.Generator`` seeded with ``seed``, so the grid is the same at every call.
    Returns float ``(rows·(H+1), per_class·(W+1), C)`` in [0,1] (C = 1 or 3; a white line after each image).
    """
    import torch

    rows = min(n_classes, max_classes)
    g = torch.Generator(device="cpu").manual_seed(seed)
    z = torch.randn(rows * per_class, int(generator.z_dim), generator=g).to(device)
    y = torch.arange(rows).repeat_interleave(per_class).to(device)
    with torch.no_grad():
        x = generator(z, y).float().clamp(0, 1).cpu()
    x = torch.nn.functional.pad(x, (0, 1, 0, 1), value=1.0)  # a white 1-pixel line between images
    n, c, h, w = x.shape
    grid = x.reshape(rows, per_class, c, h, w).permute(0, 3, 1, 4, 2).reshape(rows * h, per_class * w, c)
    return grid.numpy()


def samples_figure(grid: np.ndarray, title: str, class_names: Sequence[str] | None = None) -> Figure:
    """A sample grid (:func:`sample_grid`) with a one-line ``title`` and the class names on the left."""
    rows = len(class_names) if class_names else 1
    h, w = grid.shape[:2]
    fig = _new_figure(max(3.0, 6.0 * w / max(h, w)), max(3.0, 6.0 * h / max(h, w)) + 0.6)
    ax = fig.subplots()
    img = grid[..., 0] if grid.shape[-1] == 1 else grid
    ax.imshow(img, cmap="gray" if grid.shape[-1] == 1 else None, vmin=0, vmax=1, interpolation="nearest")
    if class_names:
        ax.set_yticks([(i + 0.5) * h / rows for i in range(rows)], list(class_names), fontsize=7)
        ax.set_ylabel("class (one row each)")
    else:
        ax.set_yticks([])
    ax.set_xticks([])
    if "\n" in title:
        raise ValueError(f"a figure title is one line (details go to its caption): {title!r}")
    ax.set_title(title, fontsize=8)
    return fig


def write_sample_grid(generator, out_stem: str | Path, title: str, n_classes: int,
                      class_names: Sequence[str] | None = None, per_class: int = 8, seed: int = 0,
                      max_classes: int = 20) -> list[Path]:
    """Render and save a sample grid (PNG + PDF) of ``generator``; see :func:`sample_grid`."""
    grid = sample_grid(generator, n_classes, per_class, seed, max_classes)
    rows = min(n_classes, max_classes)
    names = list(class_names)[:rows] if class_names else [str(i) for i in range(rows)]
    if rows < n_classes:
        title += f" (first {rows} of {n_classes} classes)"
    fig = samples_figure(grid, title, names)
    return save_figure(fig, out_stem)


def write_sample_grids(runs_dir: str | Path | None, out_dir: str | Path, frames: Frames, seed: int = 0,
                       per_class: int = 8, max_classes: int = 20, log=None,
                       g_sample_bn: str | None = None) -> list[Path]:
    """One grid per finished generator run under ``runs_dir`` (``<label>/seed<N>/``), every seed:
    ``samples_<label>_seed<N>.{png,pdf}`` (:func:`sample_grid_name`), all from latent seed ``seed``.

    Skipped (returns []) without ``runs_dir``; labels without a generator, unfinished runs and runs
    whose generator cannot be loaded are skipped with a log line. ``g_sample_bn``: G's batch-norm
    statistics (``model.g_sample_bn``; None = each run's own); with ``"batch"`` a grid is one batch.
    """
    if runs_dir is None:
        return []
    from robgan.api import RunError, load_generator, load_run
    from robgan.data import dataset_info

    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"--runs {runs_dir} does not exist")
    paths: list[Path] = []
    for label_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        if label_dir.name in LABELS and label_dir.name not in generator_labels():
            continue  # no generator of its own (fine-tuning freezes robgan's: the same samples)
        seed_dirs = sorted((p for p in label_dir.glob("seed*") if p.name[4:].isdigit() and (p / "model.pt").is_file()),
                           key=lambda p: int(p.name[4:]))
        for run_dir in seed_dirs:
            try:
                g = load_generator(run_dir, g_sample_bn=g_sample_bn)
                run = load_run(run_dir)
            except RunError as exc:
                if log:
                    log.info("no sample grid for %s/%s: %s", label_dir.name, run_dir.name, exc)
                continue
            info = dataset_info(run.config["data"])
            seed_k = int(run_dir.name[4:])
            title = f"Samples of {run.label}, seed {seed_k} — {info.name}, experiment {run.config['experiment']}"
            paths += write_sample_grid(g, Path(out_dir) / sample_grid_name(run.label, seed_k), title,
                                       info.n_classes, info.class_names, per_class, seed, max_classes)
    return paths


def write_figures(frames: Frames, out_dir: str | Path, targets: Sequence[tuple[str, float]] = ()) -> list[Path]:
    """Every record-based figure (:data:`robgan.registry.FIGURES`) into ``out_dir`` (PNG + PDF each);
    ``targets``: the time-to-target IS lines of the IS figures (:func:`robgan.report.evaluators.is_targets`)."""
    out_dir = Path(out_dir)
    makers: Mapping[str, Any] = {
        "is_vs_time": lambda: fidelity_figure(frames, "is", "time", targets),
        "is_vs_iter": lambda: fidelity_figure(frames, "is", "iter", targets),
        "fid_vs_time": lambda: fidelity_figure(frames, "fid", "time"),
        "fid_vs_iter": lambda: fidelity_figure(frames, "fid", "iter"),
        "accuracy_vs_eps": lambda: accuracy_vs_eps_figure(frames),
        "robustness_gap": lambda: robustness_gap_figure(frames),
        "lipschitz": lambda: lipschitz_figure(frames),
    }
    paths: list[Path] = []
    for name in FIGURES:
        paths += save_figure(makers[name](), out_dir / name)
    return paths
