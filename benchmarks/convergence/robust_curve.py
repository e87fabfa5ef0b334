"""Held-out accuracy under attack over training: has each classifier of an experiment levelled off?

``experiment.py`` reads the training logs, whose accuracy is measured on the training batch: on a
5,000-image training set it keeps rising as a discriminator memorises its data, whether or not its
accuracy on unseen images still moves. This script measures the latter. For every classifier run of an
experiment (``runs/<label>/seed<N>/``, weights needed: run it where the pipeline ran) and every
checkpoint the pipeline's evaluations read (the ``snapshots/iter_*.pt`` and ``model.pt``, via
``robgan.evaluation.context.run_checkpoints``), it scores the classifier on the experiment's fixed test
images (``eval.gap.n_examples`` of them, drawn by ``eval.index_seed`` as every evaluation draws them):
clean, and under the paper's PGD protocol (``eval.pgd.paper``) at ``eval.gap.eps`` — the same attack,
images and attack seed as the ``gap`` record, so the last point of a co-trained or fine-tuned run equals
its ``gap`` record's test accuracy.

Two steps, so the summary can be rebuilt from the committed CSV without weights:

    python benchmarks/convergence/robust_curve.py measure /path/to/results/mnist5k \
        --out docs/mnist5k/robust_over_training.csv --jobs 2
    python benchmarks/convergence/robust_curve.py summarize docs/mnist5k/robust_over_training.csv

``summarize`` writes ``<csv stem>.md`` (per run: value at the end, late level, fitted change over the
last third and its reading, with ``experiment.py``'s rule and the study's accuracy tolerance ±0.02) and
``<csv stem>.png`` (mean over seeds, band min–max; fine-tuning continues its co-training run's x axis).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import experiment as exp_table  # noqa: E402
import summarize as study  # noqa: E402

#: the CSV's columns, in order
COLUMNS = ("label", "seed", "iteration", "train_seconds", "eps", "n", "clean_correct", "robust_correct",
           "clean_accuracy", "robust_accuracy")
#: curves summarised: (CSV column, what it is)
CURVES = (("robust_accuracy", "PGD (paper protocol) accuracy on the test images"),
          ("clean_accuracy", "clean accuracy on the test images"))


def classifier_runs(experiment: Path) -> list[Path]:
    """``runs/<label>/seed<N>`` directories of the experiment whose label has a classifier, sorted."""
    from robgan.registry import LABELS

    runs = []
    for path in sorted((experiment / "runs").glob("*/seed*")):
        info = LABELS.get(path.parent.name)
        if info is not None and info.info.has_classifier and path.name[4:].isdigit():
            runs.append(path)
    return runs


def checkpoints_every(checkpoints: list, every: int | None) -> list:
    """``checkpoints`` (in iteration order, the finished model last) whose iteration is a multiple of
    ``every``, and always the last one; all of them when ``every`` is None."""
    if not every:
        return list(checkpoints)
    return [c for c in checkpoints[:-1] if c.iteration % every == 0] + list(checkpoints[-1:])


def measure_run(run_dir: Path, cfg: dict, every: int | None = None) -> list[dict]:
    """Rows of :data:`COLUMNS` for every checkpoint of one run (or those :func:`checkpoints_every`
    keeps; one CPU thread). The attack runs as the gap evaluation runs it: the same images, protocol,
    seed, memory format and precision (``performance.bf16_attacks``), so the last row equals the gap
    record's test row."""
    import torch

    from robgan.evaluation.context import (
        bf16_attacks_of,
        eval_subset,
        load_run_classifier,
        open_run,
        run_checkpoints,
    )
    from robgan.evaluation.robustness import PGDProtocol, clean_and_robust

    torch.set_num_threads(1)
    ev = cfg["eval"]
    eps, n_req = float(ev["gap"]["eps"]), int(ev["gap"]["n_examples"])
    threat = PGDProtocol.from_config("paper", ev["pgd"]["paper"]).threat(eps)
    ctx = open_run(run_dir, cfg, "cpu", load_model=False)
    x, y, _ = eval_subset(ctx.data_cfg, "test", n_req, ev["index_seed"])
    bf16 = bf16_attacks_of(cfg, torch.device("cpu"))
    rows = []
    for ckpt in checkpoints_every(run_checkpoints(run_dir), every):
        model = load_run_classifier(ctx, ckpt.path)
        clean, adv = clean_and_robust(model, x, y, threat, batch_size=int(ev["batch_size"]), device="cpu",
                                      seed=int(ev["attack_seed"]), progress=False, bf16=bf16)
        n = int(y.numel())
        rows.append({"label": run_dir.parent.name, "seed": int(run_dir.name[4:]), "iteration": ckpt.iteration,
                     "train_seconds": round(ckpt.train_seconds, 3), "eps": eps, "n": n,
                     "clean_correct": int(clean.sum()), "robust_correct": int(adv.sum()),
                     "clean_accuracy": int(clean.sum()) / n, "robust_accuracy": int(adv.sum()) / n})
    return rows


def measure(experiment: Path, out: Path, *, config: Path | None, jobs: int, every: int | None = None) -> pd.DataFrame:
    """Score every checkpoint of every classifier run; write and return the CSV."""
    from tqdm import tqdm

    from robgan.config import load_config

    cfg = load_config(config or experiment / "config.yaml")
    runs = classifier_runs(experiment)
    if not runs:
        raise SystemExit(f"{experiment}: no classifier run under runs/<label>/seed<N>/; run the experiment's "
                         "pipeline there first (this script needs its weights)")
    t0 = time.perf_counter()
    rows: list[dict] = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(measure_run, r, cfg, every) for r in runs]
        for fut in tqdm(futures, desc="classifier runs", unit="run"):
            rows.extend(fut.result())
    df = pd.DataFrame(rows, columns=list(COLUMNS)).sort_values(["label", "seed", "iteration"], kind="stable")
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    print(f"{out}: {len(df)} checkpoints of {len(runs)} runs in {time.perf_counter() - t0:.0f} s "
          f"with {jobs} job(s)")
    return df


def curve_rows(df: pd.DataFrame) -> list[dict]:
    """One :func:`experiment.curve_row` per run and curve, with the study's accuracy tolerance."""
    rows = []
    for (label, seed), g in df.groupby(["label", "seed"], sort=True):
        g = g.sort_values("iteration")
        for col, _ in CURVES:
            rows.append({"label": label, "seed": int(seed), "metric": col,
                         **exp_table.curve_row(g["iteration"].astype(int), g[col].astype(float),
                                               study.LOG_TOLERANCE, False)})
    return rows


def with_x(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` plus ``x``: the iteration, a fine-tuned label's offset by its co-training run's last one."""
    from robgan.registry import LABELS

    out = df.copy()
    out["x"] = out["iteration"].astype(float)
    last = out.groupby(["label", "seed"])["iteration"].max()
    for label in set(out["label"]):
        base = LABELS[label].info.from_run if label in LABELS else None
        for seed in set(out.loc[out["label"] == label, "seed"]) if base else ():
            if (base, seed) in last.index:
                out.loc[(out["label"] == label) & (out["seed"] == seed), "x"] += float(last[(base, seed)])
    return out


def figure(df: pd.DataFrame, title: str, path: Path) -> None:
    """Two panels (robust, clean accuracy) over iterations; mean over seeds, band min–max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from robgan.report.figures import method_color

    data = with_x(df)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharex=True)
    for ax, (col, what) in zip(axes, CURVES, strict=True):
        for label, g in data.groupby("label", sort=True):
            agg = g.groupby("x")[col].agg(["mean", "min", "max", "count"])
            n = int(g["seed"].nunique())
            ax.plot(agg.index, agg["mean"], marker=".", color=method_color(label), label=f"{label} (n={n})")
            ax.fill_between(agg.index, agg["min"], agg["max"], color=method_color(label), alpha=0.15, lw=0)
        ax.set_title(what, fontsize=10)
        ax.set_xlabel("iterations (fine-tuning continues its co-training run)")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _which_checkpoints(df: pd.DataFrame) -> str:
    """Which checkpoints the CSV scored: those at multiples of the spacing of its iterations (their
    greatest common divisor, each run's finished model aside) and the finished model."""
    import math

    lasts = df.groupby(["label", "seed"])["iteration"].transform("max")
    inner = sorted({int(i) for i in df.loc[df["iteration"] != lasts, "iteration"]})
    if not inner:
        return "the finished model"
    return f"the checkpoints at multiples of {math.gcd(*inner)} iterations and the finished model"


def summarize(csv: Path) -> str:
    """Write ``<csv stem>.md`` and ``.png`` beside the CSV; return the markdown."""
    df = pd.read_csv(csv)
    if df.empty:
        raise SystemExit(f"{csv}: no rows; run `robust_curve.py measure` first")
    eps, n = float(df["eps"].iloc[0]), int(df["n"].iloc[0])
    rows = curve_rows(df)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    moving = {col: sum(r["trend"] in ("rising", "falling") for r in rows if r["metric"] == col)
              for col, _ in CURVES}
    runs = len(rows) // len(CURVES)
    single = sum(r["trend"] == exp_table.ONE_POINT for r in rows if r["metric"] == CURVES[0][0])
    png = csv.with_suffix(".png")
    figure(df, f"Held-out accuracy over training: {csv.parent.name}; paper PGD at eps {eps:g} on {n} test "
               "images; mean over seeds, band = min–max", png)
    lines = [f"# Held-out accuracy under attack over training: `{csv.parent.name}`", "",
             f"Written by `benchmarks/convergence/robust_curve.py summarize` from `{csv.name}` (commit {commit} "
             f"when written), which `robust_curve.py measure` wrote from the experiment's run directories: "
             f"{_which_checkpoints(df)} of every classifier run scored on {n} fixed test images, clean and under the "
             f"paper's PGD protocol at ε = {eps:g} (the gap record's attack, images and seed). Trend: "
             f"`experiment.py`'s rule (least-squares change over the last third of the run), **flat** within "
             f"±{study.LOG_TOLERANCE} (the test set's own standard error at these accuracies is about "
             f"{100 * (0.25 / n) ** 0.5:.1f} pp per point at most).", "",
             f"Runs whose held-out accuracy is still moving over the last third: under attack "
             f"{moving['robust_accuracy']} of {runs}, clean {moving['clean_accuracy']} of {runs}."
             + (f" {single} runs have a single checkpoint (their training is shorter than the spacing of the "
                "scored checkpoints): no trend is read from them." if single else ""), "",
             f"![held-out accuracy over training]({png.name})", ""]
    for col, what in CURVES:
        lines += [f"## {what}", "", *exp_table._table([r for r in rows if r["metric"] == col]), ""]
    md = "\n".join(lines)
    csv.with_suffix(".md").write_text(md)
    return md


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure", help="score every checkpoint of every classifier run (needs the weights)")
    m.add_argument("experiment", type=Path, help="results/<experiment> with its runs/ directories")
    m.add_argument("--out", type=Path, required=True, help="CSV to write")
    m.add_argument("--config", type=Path, help="evaluation config (default: <experiment>/config.yaml)")
    m.add_argument("--jobs", type=int, default=1, help="runs scored side by side, one CPU thread each")
    m.add_argument("--every", type=int, help="score only checkpoints at multiples of this many iterations "
                                              "(and the finished model); default: every checkpoint")
    s = sub.add_parser("summarize", help="markdown + figure beside the CSV")
    s.add_argument("csv", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "measure":
        measure(args.experiment, args.out, config=args.config, jobs=args.jobs, every=args.every)
        print(summarize(args.out))
    else:
        print(summarize(args.csv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
