"""Figures rendered from records (PNG + PDF each), with the Agg canvas (no display, no pyplot state).

Every figure names the dataset, the experiment, the protocol and the pixel scale in its title; a
method has the same colour in every figure (:func:`method_color`). Curves over seeds are the mean
line and a min–max band.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from robgan import provenance as prov
from robgan.registry import FIGURES, LABELS, generator_labels
from robgan.report.aggregate import (
    EPS_ATOL,
    EXTRACTOR_NAMES,
    Frames,
    autoattack_estimate,
    sort_labels,
    unique_eps,
    worst_case,
)

# One colour per label, fixed across figures (tab10); unknown labels take the remaining colours. Data
# only: the order of labels is robgan.registry.LABELS.
METHOD_COLORS = {
    "advtrain": "#1f77b4", "robgan": "#d62728", "robgan_ft": "#ff7f0e", "robgan_ft_nofake": "#8c564b",
    "sngan": "#2ca02c", "acgan": "#9467bd", "acgan_newloss": "#e377c2", "robgan_oldloss": "#7f7f7f",
}
_SPARE_COLORS = ("#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39")
SCALE_TEXT = "ε in [0,1] pixel units (authors' [-1,1] value = 2ε)"


def method_color(label: str) -> str:
    if label in METHOD_COLORS:
        return METHOD_COLORS[label]
    return _SPARE_COLORS[sum(map(ord, label)) % len(_SPARE_COLORS)]


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


def _title(frames: Frames, what: str, protocol: str) -> str:
    return f"{what}\n{frames.dataset}, experiment {frames.experiment}; {protocol}"


def _suptitle(fig: Figure, text: str) -> None:
    """A title wrapped to the figure width (about 13 characters per inch at 9 pt)."""
    width = max(40, int(fig.get_figwidth() * 13))
    lines = [textwrap.fill(line, width) for line in text.split("\n")]
    fig.suptitle("\n".join(lines), fontsize=9)


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _band(ax, x, mean, lo, hi, color, label, linestyle="-", marker="o") -> None:
    ax.plot(x, mean, linestyle=linestyle, marker=marker, markersize=3, color=color, label=label)
    if len(x) > 1 and np.any(np.asarray(hi) > np.asarray(lo)):
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, linewidth=0)


def _curve_over_seeds(df: pd.DataFrame, key: str, xcol: str, ycol: str) -> pd.DataFrame:
    """Per ``key`` value (e.g. iteration): mean x, and mean/min/max of y over seeds."""
    g = df.groupby(key)
    return pd.DataFrame({"x": g[xcol].mean(), "mean": g[ycol].mean(), "lo": g[ycol].min(), "hi": g[ycol].max(),
                         "n": g[ycol].count()}).reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# generation curves


#: Generator metrics drawn under IS / FID when the records hold them (older records do not):
#: column → axis label. The within-class recall panel shows the collapse floor.
EXTRA_PANELS = {
    "is": {"recall": "recall (torch-fidelity prc), higher is more diverse",
           "intra_recall": "intra-class recall, higher is more diverse within classes"},
    "fid": {"intra_fid": "intra-class FID, lower is better", "kid_mean": "KID, lower is better"},
}


def fidelity_figure(frames: Frames, metric: str, axis: str,
                    targets: Sequence[tuple[str, float]] = ()) -> Figure:
    """IS or FID (``metric`` in {"is", "fid"}) vs ``axis`` in {"time", "iter"}, one line per generator.

    Below it, one panel per further generator metric of :data:`EXTRA_PANELS` that the records hold
    (IS: recall and intra-class recall with the collapse floor; FID: intra-class FID and KID).
    ``targets``: ``(text, IS)`` horizontal lines on the IS panel (the time-to-target claims' targets).
    """
    from robgan.evaluation.acceptance import MIN_INTRA_RECALL

    fid = frames.fidelity
    exts = [e for e in EXTRACTOR_NAMES if e in set(fid["extractor"])] + sorted(
        set(fid["extractor"]) - set(EXTRACTOR_NAMES))
    ycol, yname = ("is_mean", "Inception score") if metric == "is" else ("fid", "FID")
    panels = [(ycol, f"{yname}" + (", higher is better" if metric == "is" else ", lower is better"))]
    panels += [(c, name) for c, name in EXTRA_PANELS[metric].items()
               if c in fid and pd.to_numeric(fid[c], errors="coerce").notna().any()]
    fig = _new_figure(6.4 * max(1, len(exts)), 4.4 + 3.0 * (len(panels) - 1))
    grid = fig.subplots(len(panels), max(1, len(exts)), squeeze=False)
    xcol = "train_seconds" if axis == "time" else "iteration"
    xlabel = "training time (s, as logged by each run)" if axis == "time" else "generator iterations"
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
                n = int(c["n"].max()) if len(c) else 0
                _band(ax, c["x"], c["mean"], c["lo"], c["hi"], method_color(label), f"{label} (n={n})")
            if ycol_i == "is_mean":
                for text, value in targets:
                    ax.axhline(value, color="0.3", linestyle="--", linewidth=0.9)
                    ax.annotate(text, (0.01, value), xycoords=("axes fraction", "data"), fontsize=7, color="0.3",
                                va="bottom")
            if ycol_i == "intra_recall":
                ax.axhline(MIN_INTRA_RECALL, color="tab:red", linestyle=":", linewidth=1.0)
                ax.annotate(f"collapse floor {MIN_INTRA_RECALL:g}", (0.01, MIN_INTRA_RECALL),
                            xycoords=("axes fraction", "data"), fontsize=7, color="tab:red", va="bottom")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{name.split(',')[0]} ({EXTRACTOR_NAMES.get(ext, ext)})" + name[len(name.split(',')[0]):],
                          fontsize=8)
            ax.grid(alpha=0.3)
            if row == 0:
                ax.legend(fontsize=8)
    what = f"{yname} vs {'training time' if axis == 'time' else 'iterations'}: SN-GAN vs Rob-GAN and ablations"
    proto = (f"IS/FID with {', '.join(EXTRACTOR_NAMES.get(e, e) for e in exts) or 'n/a'}; mean over seeds, "
             "band = min–max" + ("; x = mean logged time at each snapshot" if axis == "time" else "")
             + ("; dashed: time-to-target IS" if targets and metric == "is" else ""))
    _suptitle(fig, _title(frames, what, proto))
    return fig


# --------------------------------------------------------------------------------------------------
# robustness


def accuracy_vs_eps_figure(frames: Frames) -> Figure:
    """Accuracy vs ε: paper protocol solid, strong dashed, AutoAttack as stars; a colour per classifier."""
    from matplotlib.lines import Line2D

    pgd, aa = frames.pgd, frames.autoattack
    fig = _new_figure(7.6, 6.0)
    ax = fig.subplots()
    if not len(pgd) and not len(aa):
        _no_data(ax, "no pgd or autoattack records")
    labels = sort_labels(set(pgd["label"]) | set(aa["label"]))
    method_handles = []
    for label in labels:
        color = method_color(label)
        clean = pgd[(pgd["label"] == label) & (pgd["protocol"] == "clean")]
        n_seeds = int(pgd[pgd["label"] == label]["seed"].nunique())
        for protocol, ls in (("paper", "-"), ("strong", "--")):
            sel = pgd[(pgd["label"] == label) & (pgd["protocol"] == protocol)]
            if not len(sel):
                continue
            sel = pd.concat([clean.assign(eps=0.0), sel[sel["eps"] > EPS_ATOL]]) if len(clean) else sel
            sel = sel.assign(eps_key=sel["eps"].round(6))
            c = _curve_over_seeds(sel, "eps_key", "eps", "accuracy")
            _band(ax, c["x"], 100 * c["mean"], 100 * c["lo"], 100 * c["hi"], color, None, linestyle=ls,
                  marker="o" if protocol == "paper" else "s")
        meta = frames.autoattack_meta[frames.autoattack_meta["label"] == label]
        n_aa = 0
        for eps in unique_eps(meta["eps"]):
            est = autoattack_estimate(aa, label, "final", eps)
            if est.empty:
                continue
            n_aa = max(n_aa, est.n)
            vals = 100 * np.asarray(list(est.values.values()))
            ax.errorbar([eps], [vals.mean()], yerr=[[vals.mean() - vals.min()], [vals.max() - vals.mean()]],
                        fmt="*", markersize=12, color=color, markeredgecolor="k", capsize=3, zorder=5)
            _worst_case_point(ax, frames, label, eps, color)
        seeds = f"n={n_seeds} seeds" + (f", AutoAttack n={n_aa}" if n_aa else "")
        method_handles.append(Line2D([], [], color=color, lw=2, label=f"{label} ({seeds})"))
    ax.set_xlabel("ε (ℓ∞ radius, [0,1] pixel units)")
    ax.set_ylabel("accuracy under attack (%)")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    if labels:
        top = ax.secondary_xaxis("top", functions=(lambda e: 2 * e, lambda e: e / 2))
        top.set_xlabel("ε in the authors' [-1,1] units (2ε)")
        style = [Line2D([], [], color="k", ls="-", marker="o", ms=3, label="PGD, paper protocol"),
                 Line2D([], [], color="k", ls="--", marker="s", ms=3, label="PGD, strong protocol"),
                 Line2D([], [], color="k", ls="", marker="*", ms=10, label="AutoAttack"),
                 Line2D([], [], color="k", ls="", marker="v", ms=7, label="worst case over every attack")]
        fig.legend(handles=method_handles + style, fontsize=7, loc="outside lower center", ncol=3,
                   title="method (colour) / attack (style)", title_fontsize=8)
    proto = ("PGD paper protocol solid, strong dashed, AutoAttack stars, worst case over every attack (an image "
             "counts only if none broke it) triangles; line = mean, band / whiskers = min–max over seeds; "
             + SCALE_TEXT)
    _suptitle(fig, _title(frames, "Accuracy under ℓ∞ attack vs ε", proto))
    return fig


def _worst_case_point(ax, frames: Frames, label: str, eps: float, color) -> None:
    """The worst-case robust accuracy of ``label`` at ``eps`` (:func:`robgan.report.aggregate.worst_case`),
    a triangle with min–max whiskers over seeds, slightly right of the AutoAttack star; nothing when the
    records lack per-image outcomes."""
    est = worst_case(frames, label, eps).estimate
    if est.empty:
        return
    vals = 100 * np.asarray(list(est.values.values()))
    ax.errorbar([eps * 1.02], [vals.mean()], yerr=[[vals.mean() - vals.min()], [vals.max() - vals.mean()]],
                fmt="v", markersize=7, color=color, markeredgecolor="k", capsize=2, zorder=6)


def robustness_gap_figure(frames: Frames) -> Figure:
    """Bars of adversarial accuracy on training vs test points per method (paper protocol, gap ε)."""
    gap = frames.gap
    fig = _new_figure(6.4, 4.4)
    ax = fig.subplots()
    if not len(gap):
        _no_data(ax, "no gap records")
    labels = sort_labels(gap["label"].unique()) if len(gap) else []
    width = 0.38
    for i, label in enumerate(labels):
        color = method_color(label)
        for j, split in enumerate(("train", "test")):
            vals = 100 * gap[(gap["label"] == label) & (gap["split"] == split)]["accuracy_adv"].to_numpy()
            if not vals.size:
                continue
            x = i + (j - 0.5) * width
            ax.bar(x, vals.mean(), width, color=color, alpha=1.0 if split == "train" else 0.5,
                   edgecolor="k", hatch="" if split == "train" else "//",
                   yerr=[[vals.mean() - vals.min()], [vals.max() - vals.mean()]], capsize=3)
            ax.text(x, vals.mean() + 1, f"{vals.mean():.1f}", ha="center", va="bottom", fontsize=7)
        tr = gap[(gap["label"] == label) & (gap["split"] == "train")]["accuracy_adv"].mean()
        te = gap[(gap["label"] == label) & (gap["split"] == "test")]["accuracy_adv"].mean()
        if np.isfinite(tr) and np.isfinite(te):
            ax.text(i, 3, f"gap {100 * (tr - te):+.1f} pp", ha="center", fontsize=8, color="k",
                    bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0})
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("accuracy under PGD (%)")
    # Head room above 100 % for the legend, so that it never hides a bar or its value.
    ax.set_ylim(0, 118)
    ax.set_yticks(range(0, 101, 20))
    ax.grid(axis="y", alpha=0.3)
    if labels:
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(facecolor="0.5", edgecolor="k", label="training points"),
                           Patch(facecolor="0.5", alpha=0.5, edgecolor="k", hatch="//", label="test points")],
                  fontsize=8, loc="upper center", ncol=2)
    eps = unique_eps(gap["eps"]) if len(gap) else []
    eps_txt = ", ".join(f"ε={e:.3f} ({2 * e:.3f} in [-1,1])" for e in eps) or "n/a"
    n = ", ".join(str(x) for x in sorted(set(gap["n"]))) if len(gap) else "n/a"
    proto = f"paper PGD protocol at {eps_txt}, {n} points per split; bars = mean, whiskers = min–max over seeds"
    _suptitle(fig, _title(frames, "Robustness generalisation gap: training vs test points", proto))
    return fig


def lipschitz_figure(frames: Frames) -> Figure:
    """Local Lipschitz value (input-gradient norm of the loss) vs iteration; train solid, test dashed."""
    lip = frames.lipschitz
    fig = _new_figure(6.4, 5.4)
    ax = fig.subplots()
    if not len(lip):
        _no_data(ax, "no lipschitz records")
    for label in sort_labels(lip["label"].unique()) if len(lip) else []:
        for split, ls in (("train", "-"), ("test", "--")):
            sel = lip[(lip["label"] == label) & (lip["split"] == split)]
            if not len(sel):
                continue
            c = _curve_over_seeds(sel, "iteration", "iteration", "llv")
            _band(ax, c["x"], c["mean"], c["lo"], c["hi"], method_color(label),
                  f"{label}, {split} (n={int(c['n'].max())})", linestyle=ls)
    norms = ", ".join(sorted(set(lip["norm"]))) if len(lip) else "n/a"
    ax.set_xlabel("iterations of each run at its classifier snapshots (fine-tuned runs: fine-tuning iterations)",
                  fontsize=8)
    ax.set_ylabel(f"local Lipschitz value (‖∇ₓ loss‖, {norms} norm)")
    ax.grid(alpha=0.3)
    if len(lip):
        # Below the axes: inside, a dozen entries would hide the curves.
        fig.legend(*ax.get_legend_handles_labels(), fontsize=7, loc="outside lower center", ncol=3)
    proto = (f"input-gradient norm of the classification loss ({norms} norm, images in [0,1]); line = mean, "
             "band = min–max over seeds")
    _suptitle(fig, _title(frames, "Local Lipschitz value on training (solid) vs test (dashed) points", proto))
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
    ax.set_title(textwrap.fill(title, max(40, int(fig.get_figwidth() * 13))), fontsize=9)
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
    """One grid per generator label found under ``runs_dir`` (``<label>/seed<N>/``, lowest finished seed).

    Skipped (returns []) without ``runs_dir``; labels without a generator or an unfinished run are
    skipped with a log line. ``g_sample_bn``: G's batch-norm statistics (``model.g_sample_bn``; None =
    each run's own), named in the title; with ``"batch"`` a grid is one batch.
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
        seeds = sorted((p for p in label_dir.glob("seed*") if (p / "model.pt").is_file()),
                       key=lambda p: int(p.name[4:]) if p.name[4:].isdigit() else 1 << 30)
        if not seeds:
            continue
        run_dir = seeds[0]
        if label_dir.name in LABELS and label_dir.name not in generator_labels():
            continue  # no generator of its own (fine-tuning freezes robgan's: the same samples)
        try:
            g = load_generator(run_dir, g_sample_bn=g_sample_bn)
            run = load_run(run_dir)
        except RunError as exc:
            if log:
                log.info("no sample grid for %s: %s", label_dir.name, exc)
            continue
        info = dataset_info(run.config["data"])
        title = (f"Samples of {run.label} ({run_dir.name}, final model), {info.name}, experiment "
                 f"{run.config['experiment']}; latent seed {seed}; G's batch norm: {g.g_sample_bn} statistics; "
                 f"pixels in [0,1]")
        paths += write_sample_grid(g, Path(out_dir) / f"samples_{run.label}", title, info.n_classes,
                                   info.class_names, per_class, seed, max_classes)
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
