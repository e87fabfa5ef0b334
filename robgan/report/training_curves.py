"""Convergence of training: the runs' own training logs (``runs/<label>/seed<N>/train_log.csv``) drawn as
``figures/training_curves.{png,pdf}``.

A training log has one row per ``log_every`` iterations with the **mean over that window** of each
logged value: ``loss_d``/``loss_g`` (GANs), ``loss`` (adversarial training, fine-tuning), and the
accuracy of the discriminator's class head on the real batch it trains on (``acc_real``: PGD-attacked
for robgan and robgan_oldloss, clean for acgan and acgan_newloss) or of the classifier on its
PGD-attacked batch (``acc_adv``: advtrain and fine-tuning). SN-GAN logs no accuracy (no class head).

Fine-tuning runs continue the co-training run of the same seed: their iterations are drawn after the
last logged iteration of that run, so a fine-tuned curve continues robgan's.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from robgan.registry import LABELS
from robgan.report.aggregate import sort_labels
from robgan.report.figures import _band, _curve_over_seeds, _new_figure, _no_data, _suptitle, method_color, save_figure

LOG_NAME = "train_log.csv"
# (panel title, y label, columns in order of preference)
PANELS = (
    ("discriminator / classifier loss", "training loss (window mean)", ("loss_d", "loss")),
    ("generator loss", "training loss (window mean)", ("loss_g",)),
    ("class accuracy on the training batch", "accuracy (window mean)", ("acc_real", "acc_adv")),
)


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


def training_curves_figure(logs: pd.DataFrame, dataset: str, experiment: str) -> Figure:
    """Three panels over iterations: D/classifier loss, G loss, class accuracy on the training batch;
    one line per label (mean over seeds, band = min–max over seeds)."""
    fig = _new_figure(15.0, 4.6)
    axes = fig.subplots(1, len(PANELS), squeeze=False)[0]
    present = set(logs["label"]) if len(logs) else set()
    known = [lb for lb in LABELS if lb in present]
    order = known + sort_labels(present - set(known))
    for ax, (title, ylabel, columns) in zip(axes, PANELS, strict=True):
        drawn = 0
        for label in order:
            sel = logs[logs["label"] == label]
            col = next((c for c in columns if c in sel and sel[c].notna().any()), None)
            if col is None:
                continue
            sel = sel[sel[col].notna()]
            c = _curve_over_seeds(sel, "iteration", "x", col)
            _band(ax, c["x"], c["mean"], c["lo"], c["hi"], method_color(label),
                  f"{label}: {col} (n={int(c['n'].max())})", marker="")
            drawn += 1
        if not drawn:
            _no_data(ax, "no training log with " + " / ".join(columns))
            continue
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("iterations (fine-tuning continues its co-training run)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _suptitle(fig, f"Training curves from the runs' logs\n{dataset}, experiment {experiment}; mean over seeds, "
                   "band = min–max; acc_real: D's class head on the real batch it trains on (PGD-attacked for "
                   "robgan, robgan_oldloss), acc_adv: on the PGD-attacked batch (advtrain, fine-tuning)")
    return fig


def write_training_curves(runs_dir: str | Path | None, out_dir: str | Path, dataset: str,
                          experiment: str) -> list[Path]:
    """``out_dir/training_curves.{png,pdf}`` from the logs under ``runs_dir``; [] without ``runs_dir``."""
    if runs_dir is None:
        return []
    logs = load_train_logs(runs_dir)
    return save_figure(training_curves_figure(logs, dataset, experiment), Path(out_dir) / "training_curves")
