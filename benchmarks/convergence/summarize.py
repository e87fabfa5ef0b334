"""Summarise a convergence study written by ``benchmarks/convergence/run.sh``.

Reads ``<study>/fidelity/<method>.csv`` (``robgan eval fidelity`` of every snapshot) and
``<study>/train_logs/<method>.csv`` (the runs' ``train_log.csv``) and writes, all from those files:

- ``<study>/fidelity.csv``: one row per method and snapshot (IS, its split std, FID, class accuracy);
- ``<study>/convergence.png``: IS, FID and class accuracy of the generator snapshots, and the class
  accuracy the discriminator / classifier logs on its training batch, against iterations;
- ``<study>/summary.md``: per method the values at the experiment's iterations and at the end, the
  *late level* of each curve (mean ± sample std of its last five points: GAN training oscillates from
  snapshot to snapshot) and its *settling iteration*: the first point from which every later one stays
  within a band around the late level, the band being the larger of two late standard deviations and a
  tolerance (IS ±5 % of the level, FID ±10 %, accuracies ±0.02);
- a check that the first iterations equal the committed experiment's seed-0 records (training is
  deterministic on the CPU and the GANs' learning rates are constant, so they must).

    python benchmarks/convergence/summarize.py benchmarks/convergence/mnist5k \
        --config benchmarks/convergence/mnist5k/config.yaml
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from robgan.config import load_config  # noqa: E402
from robgan.report.figures import method_color  # noqa: E402

METRICS = (  # column, axis label, tolerance, relative?
    ("is_mean", "IS (MNIST-CNN features)", 0.05, True),
    ("fid", "FID (MNIST-CNN features)", 0.10, True),
    ("class_accuracy", "class accuracy of samples (reference CNN)", 0.02, False),
)
LOG_TOLERANCE = 0.02


LATE_POINTS = 5


def late_level(y: pd.Series, n: int = LATE_POINTS) -> tuple[float, float]:
    """Mean and sample standard deviation of the last ``n`` values of ``y`` (std 0 for one value)."""
    tail = y.tail(n)
    return float(tail.mean()), float(tail.std(ddof=1)) if len(tail) > 1 else 0.0


def settling_iteration(x: pd.Series, y: pd.Series, tol: float, relative: bool, final: float | None = None,
                       spread: float = 0.0) -> int | None:
    """First x from which every later y is within a band around ``final`` (default: the last y); the
    band's half-width is the larger of ``tol`` (a fraction of |final| when ``relative``) and
    ``2 * spread``. None when the last y is outside the band (not settled). x, y: aligned, sorted by x."""
    final = float(y.iloc[-1]) if final is None else final
    bound = max(tol * abs(final) if relative else tol, 2.0 * spread)
    outside = np.flatnonzero(((y - final).abs() > bound).to_numpy())
    if len(outside) == 0:
        return int(x.iloc[0])
    if outside[-1] == len(y) - 1:
        return None
    return int(x.iloc[outside[-1] + 1])


def _settles(value: int | None) -> str:
    return "not settled" if value is None else str(value)


def _at(df: pd.DataFrame, iteration: int, col: str) -> float:
    row = df[df["iteration"] == iteration]
    return float(row[col].iloc[0]) if len(row) else float("nan")


def _log_accuracy(log: pd.DataFrame) -> str | None:
    return next((c for c in ("acc_real", "acc_adv") if c in log.columns), None)


def load(study: Path) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    fid = pd.concat([pd.read_csv(p) for p in sorted((study / "fidelity").glob("*.csv"))], ignore_index=True)
    fid = fid[["method", "label", "seed", "iteration", "train_seconds", "is_mean", "is_std", "fid",
               "class_accuracy"]].sort_values(["method", "iteration"], kind="stable")
    logs = {p.stem: pd.read_csv(p) for p in sorted((study / "train_logs").glob("*.csv"))}
    return fid.reset_index(drop=True), logs


def check_prefix(fid: pd.DataFrame, committed: Path) -> list[str]:
    """Lines comparing the study's snapshots with the committed seed-0 fidelity records."""
    lines = []
    for method, df in fid.groupby("method", sort=False):
        path = committed / f"{method}_seed0.csv"
        if not path.exists():
            lines.append(f"| {method} | no committed record ({path}) | |")
            continue
        ref = pd.read_csv(path)
        both = df.merge(ref, on="iteration", suffixes=("", "_ref"))
        diffs = {c: float((both[c] - both[f"{c}_ref"]).abs().max()) for c in ("is_mean", "fid", "class_accuracy")}
        its = ", ".join(str(int(i)) for i in both["iteration"])
        lines.append(f"| {method} | {its} | " + ", ".join(f"{k} {v:.3g}" for k, v in diffs.items()) + " |")
    return lines


def figure(fid: pd.DataFrame, logs: dict[str, pd.DataFrame], experiment_iters: int, adv_iters: int,
           title: str) -> plt.Figure:
    """Four panels against iterations; dotted lines at the experiment's GAN iterations (grey) and
    advtrain updates (advtrain's colour, last panel)."""
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2), constrained_layout=True)
    for ax, (col, label, _, _) in zip(axes[:3], METRICS, strict=True):
        for method, df in fid.groupby("method", sort=False):
            ax.plot(df["iteration"], df[col], marker="o", ms=3, color=method_color(method), label=method)
        ax.set_ylabel(label)
    for method, log in logs.items():
        acc = _log_accuracy(log)
        if acc:
            axes[3].plot(log["iteration"], log[acc], color=method_color(method), label=f"{method}: {acc}")
    axes[3].set_ylabel("class accuracy on the training batch (window mean)")
    if "advtrain" in logs:
        axes[3].axvline(adv_iters, color=method_color("advtrain"), ls=":", lw=1)
    for ax in axes:
        ax.axvline(experiment_iters, color="grey", ls=":", lw=1)
        ax.set_xlabel("iteration (dotted: the experiment's iterations)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return fig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("study", type=Path, help="benchmarks/convergence/<experiment>")
    ap.add_argument("--config", required=True, help="the experiment config the study extends")
    ap.add_argument("--iters", type=int, required=True, help="GAN iterations of the study")
    ap.add_argument("--adv-iters", type=int, required=True, help="advtrain updates of the study")
    ap.add_argument("--committed", type=Path, default=None,
                    help="committed fidelity records to compare with (default: results/<experiment>/records/fidelity)")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    exp_iters, exp_adv = int(cfg["train"]["iterations"]), int(cfg["advtrain"]["iterations"])
    fid, logs = load(args.study)
    fid.to_csv(args.study / "fidelity.csv", index=False, float_format="%.6g")
    title = (f"Convergence study, {cfg['experiment']} seed 0: {args.iters} GAN iterations "
             f"(the experiment: {exp_iters}), advtrain {args.adv_iters} updates (the experiment: {exp_adv})")
    fig = figure(fid, logs, exp_iters, exp_adv, title)
    fig.savefig(args.study / "convergence.png", dpi=110)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    wall = (args.study / "wall.txt").read_text().strip() if (args.study / "wall.txt").exists() else "not recorded"
    checkpoints = sorted(i for i in {exp_iters, 900, 1200, args.iters} if i <= args.iters)

    out = [f"# Convergence study: {cfg['experiment']}, seed 0, {args.iters} GAN iterations", "",
           f"Written by `benchmarks/convergence/summarize.py` from the files beside it (commit {commit} when "
           f"summarised; run: `bash benchmarks/convergence/run.sh`, {wall}). Config: `{args.config}` with "
           f"`train.iterations={args.iters}`, `advtrain.iterations={args.adv_iters}`; IS/FID/class accuracy "
           f"by `robgan eval fidelity` ({cfg['eval']['fidelity']['n_samples']} samples, "
           f"{cfg['eval']['fidelity']['splits']} IS splits) of every 100-iteration snapshot.", "",
           "![convergence](convergence.png)", "",
           "## Generators: value at each iteration and settling iteration", "",
           f"Late level: mean ± sample std of the last {LATE_POINTS} snapshots. Settling iteration: the first "
           "snapshot from which every later value stays within max(2 late std, tolerance) of the late level "
           "(tolerance: IS ±5 %, FID ±10 %, class accuracy ±0.02). One seed: a guide for choosing iterations, "
           "not a verdict.", ""]
    head = ("| method | metric | " + " | ".join(f"@{i}" for i in checkpoints)
            + f" | late level (last {LATE_POINTS}) | settles at |")
    out += [head, "|" + "---|" * (len(checkpoints) + 4)]
    for method, df in fid.groupby("method", sort=False):
        for col, _, tol, rel in METRICS:
            vals = " | ".join(f"{_at(df, i, col):.3f}" for i in checkpoints)
            level, sd = late_level(df[col])
            settle = settling_iteration(df["iteration"], df[col], tol, rel, level, sd)
            out.append(f"| {method} | {col} | {vals} | {level:.3f} ± {sd:.3f} | {_settles(settle)} |")
    out += ["", "## Discriminators / classifiers: class accuracy on the training batch (train log)", "",
            f"| method | column | @experiment's end | late level (last {LATE_POINTS}) | settles at |",
            "|---|---|---|---|---|"]
    for method, log in logs.items():
        acc = _log_accuracy(log)
        if not acc:
            continue
        end = exp_adv if method == "advtrain" else exp_iters
        level, sd = late_level(log[acc])
        settle = settling_iteration(log["iteration"], log[acc], LOG_TOLERANCE, False, level, sd)
        out.append(f"| {method} | {acc} | {_at(log, end, acc):.3f} (@{end}) | {level:.3f} ± {sd:.3f} "
                   f"| {_settles(settle)} |")
    committed = args.committed or Path("results") / cfg["experiment"] / "records" / "fidelity"
    out += ["", f"## The first {exp_iters} iterations against the committed `{committed}/<method>_seed0.csv`", "",
            "| method | common snapshots | max abs difference |", "|---|---|---|", *check_prefix(fid, committed), ""]
    (args.study / "summary.md").write_text("\n".join(out))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
