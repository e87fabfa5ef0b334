"""Convergence of training: the runs' own training logs (``runs/<label>/seed<N>/train_log.csv``) drawn as
``figures/training_curves.{png,pdf}``.

A training log has one row per ``log_every`` iterations with the **mean over that window** of each
logged value: ``loss_d``/``loss_g`` (GANs), ``loss`` (adversarial training, fine-tuning), and the
accuracy of the discriminator's class head on the real batch it trains on (``acc_real``: PGD-attacked
for robgan and robgan_oldloss, clean for acgan and acgan_newloss) or of the classifier on its
PGD-attacked batch (``acc_adv``: advtrain and fine-tuning). SN-GAN logs no accuracy (no class head).

Fine-tuning runs continue the co-training run of the same seed: their iterations are drawn after the
last logged iteration of that run, so a fine-tuned curve continues robgan's (as in the Lipschitz figure).

One panel per kind of loss, never two kinds on one axis: SN-GAN's hinge loss, the AC-GAN loss (old),
Rob-GAN's new loss (each with D solid and G dashed) and the classifiers' cross-entropy; then the class
accuracy. An iteration is one generator step (after ``n_dis`` discriminator steps, named in the legend)
for a GAN, one optimiser step for a classifier.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from robgan.registry import LABELS
from robgan.report.aggregate import sort_labels
from robgan.report.figures import _band, _curve_over_seeds, _new_figure, _no_data, _suptitle, method_color, save_figure
from robgan.report.methods import n_dis

LOG_NAME = "train_log.csv"
#: Kind of loss (the GAN step's ``loss_kind``; ``ce`` for classifiers) → panel title. One panel each.
#: Every loss drawn is >= 0 (BCE, cross-entropy with non-negative weights, the hinge D loss) but the
#: hinge G loss (-mean D(fake)): their bands are cut at 0.
LOSS_PANELS = {
    "hinge": "hinge loss (SN-GAN)",
    "old": "AC-GAN loss (old)",
    "new": "Rob-GAN's new loss",
    "ce": "cross-entropy on the attacked batch",
}
ACCURACY_PANEL = ("class accuracy on the training batch", ("acc_real", "acc_adv"))
XLABEL = "iteration (GAN: G step after n_dis D steps; classifier: optimiser step)"


def loss_kind(label: str) -> str | None:
    """``hinge`` / ``old`` / ``new`` (a GAN's loss, from its training step) or ``ce`` (a classifier's
    cross-entropy); None for a label the registry does not know."""
    info = LABELS.get(label)
    if info is None:
        return None
    from robgan.training.methods import STEPS  # torch: only when a figure is drawn

    step = STEPS[info.method][1]
    return getattr(step, "loss_kind", None) or "ce"


def load_train_logs(runs_dir: str | Path) -> pd.DataFrame:
    """Every ``<label>/seed<N>/train_log.csv`` under ``runs_dir`` as one frame: columns ``label``,
    ``seed``, ``iteration``, ``x`` (iteration, fine-tuning offset by its co-training run's last logged
    iteration), ``train_seconds`` and the logged values (NaN where a run does not log one). Empty
    (no rows) when there is no log. Raises ValueError for a log whose iterations do not strictly
    increase."""
    runs_dir = Path(runs_dir)
    frames = []
    for path in sorted(runs_dir.glob(f"*/seed*/{LOG_NAME}")):
        seed_txt = path.parent.name[4:]
        if not seed_txt.isdigit():
            continue
        df = pd.read_csv(path)
        if df.empty:
            continue
        if not df["iteration"].is_monotonic_increasing or df["iteration"].duplicated().any():
            raise ValueError(f"{path}: iterations are not strictly increasing (a log appended to an earlier "
                             f"run's?). Fix: rerun that training into an empty directory, or keep the last "
                             f"row of each iteration.")
        df.insert(0, "seed", int(seed_txt))
        df.insert(0, "label", path.parent.parent.name)
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["label", "seed", "iteration", "x", "train_seconds"])
    out = pd.concat(frames, ignore_index=True)
    out["x"] = out["iteration"].astype(float)
    last = out.groupby(["label", "seed"])["iteration"].max()
    for label in set(out["label"]):
        info = LABELS.get(label)
        base = info.info.from_run if info is not None else None
        if base is None:
            continue
        for seed in set(out.loc[out["label"] == label, "seed"]):
            offset = last.get((base, seed))
            if offset is not None:
                out.loc[(out["label"] == label) & (out["seed"] == seed), "x"] += float(offset)
    return out


def _legend_name(label: str, n: int, cfg: Mapping[str, Any] | None) -> str:
    k = n_dis(cfg, label) if cfg else None
    return f"{label} ({'' if k is None else f'n_dis {k}, '}n={n})"


def training_curves_figure(logs: pd.DataFrame, dataset: str, experiment: str,
                           cfg: Mapping[str, Any] | None = None) -> Figure:
    """One panel per kind of loss present (:data:`LOSS_PANELS`; GANs: D loss solid, G loss dashed) and
    the class accuracy on the training batch; one colour per label (mean over seeds, band = 90 %
    t-interval over seeds). ``cfg``: the experiment config, for the D steps per G step in the legend."""
    present = set(logs["label"]) if len(logs) else set()
    known = [lb for lb in LABELS if lb in present]
    order = known + sort_labels(present - set(known))
    kinds = {lb: loss_kind(lb) for lb in order}
    panels = [k for k in LOSS_PANELS if k in kinds.values()]
    n_panels = len(panels) + 1
    cols = min(3, n_panels)
    rows = -(-n_panels // cols)
    fig = _new_figure(5.2 * cols, 3.9 * rows + 0.3)
    axes = list(fig.subplots(rows, cols, squeeze=False).flat)
    for ax in axes[n_panels:]:
        ax.set_axis_off()
    for ax, kind in zip(axes, panels, strict=False):
        for label in order:
            if kinds[label] != kind:
                continue
            sel = logs[logs["label"] == label]
            cols_styles = (("loss", "-"),) if kind == "ce" else (("loss_d", "-"), ("loss_g", "--"))
            for col, ls in cols_styles:
                if col not in sel or not sel[col].notna().any():
                    continue
                c = _curve_over_seeds(sel[sel[col].notna()], "iteration", "x", col)
                name = _legend_name(label, int(c["n"].max()), cfg) if ls == "-" else None
                _band(ax, c["x"], c["mean"], c["lo"], c["hi"], method_color(label), name, linestyle=ls, marker="",
                      bounds=None if (kind, col) == ("hinge", "loss_g") else (0.0, None))
        if kind != "ce":
            from matplotlib.lines import Line2D

            handles, names = ax.get_legend_handles_labels()
            handles += [Line2D([], [], color="k", ls="-", label="D loss"), Line2D([], [], color="k", ls="--",
                                                                                  label="G loss")]
            ax.legend(handles=handles, fontsize=7)
        else:
            ax.legend(fontsize=7)
        ax.set_title(LOSS_PANELS[kind], fontsize=9)
        ax.set_ylabel("training loss (window mean)")
    ax = axes[len(panels)]
    title, columns = ACCURACY_PANEL
    drawn = 0
    for label in order:
        sel = logs[logs["label"] == label]
        col = next((c for c in columns if c in sel and sel[c].notna().any()), None)
        if col is None:
            continue
        c = _curve_over_seeds(sel[sel[col].notna()], "iteration", "x", col)
        _band(ax, c["x"], c["mean"], c["lo"], c["hi"], method_color(label),
              f"{label}: {col} (n={int(c['n'].max())})", marker="", bounds=(0.0, 1.0))
        drawn += 1
    if drawn:
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("accuracy (window mean)")
        ax.legend(fontsize=7)
    else:
        _no_data(ax, "no training log with " + " / ".join(columns))
    for ax in axes[:n_panels]:
        if ax.has_data():
            ax.set_xlabel(XLABEL, fontsize=8)
            ax.grid(alpha=0.3)
    _suptitle(fig, f"Training curves from the runs' logs — {dataset}, experiment {experiment}")
    return fig


def write_training_curves(runs_dir: str | Path | None, out_dir: str | Path, dataset: str,
                          experiment: str, cfg: Mapping[str, Any] | None = None) -> list[Path]:
    """``out_dir/training_curves.{png,pdf}`` from the logs under ``runs_dir``; [] without ``runs_dir``."""
    if runs_dir is None:
        return []
    logs = load_train_logs(runs_dir)
    return save_figure(training_curves_figure(logs, dataset, experiment, cfg), Path(out_dir) / "training_curves")
