"""Have an experiment's own runs levelled off? Every curve of ``results/<experiment>``, every seed.

The convergence study (``run.sh`` / ``summarize.py`` beside this file) trains one seed past an
experiment's iterations to choose them; this script reads the experiment's committed files instead and
applies the study's rules to each run as it was trained:

- generators: IS, FID and class accuracy of every snapshot (``records/fidelity/<label>_seed<N>.csv``);
- discriminators / classifiers: the class accuracy on the training batch of the training log
  (``runs/<label>/seed<N>/train_log.csv``: ``acc_real`` of the GANs and of fine-tuning, ``acc_adv`` of
  Madry's adversarial training), a window mean every ``log_every`` iterations.

Per curve: the value at the end, the late level (mean ± sample std of the last
:data:`summarize.LATE_POINTS` points) and the trend over the last third of the run: the change that a
least-squares line through the points at or after two thirds of the last iteration predicts over that
third (a line averages the snapshot-to-snapshot noise that a two-point difference would report). A
curve is **flat** when that change is within the study's tolerance (IS ±5 % and FID ±10 % of the late
level, accuracies ±0.02), else **rising** or **falling**. (The study's settling iteration is not used:
its band widens with the late std, which a curve still trending inflates.) Writes ``<out>``
(markdown) and prints it.

    python benchmarks/convergence/experiment.py results/mnist5k --out docs/mnist5k/levelled_off.md
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import summarize as study  # noqa: E402

_SEED = re.compile(r"^(?P<label>.+)_seed(?P<seed>\d+)$")
#: the trend of a curve with a single point (not counted as moving)
ONE_POINT = "one point"


def last_third_change(x: pd.Series, y: pd.Series) -> tuple[float, int]:
    """(change over the last third of x predicted by a least-squares line through its points, first x of
    the fit). x sorted ascending; at least two points are fitted (the last two when the third holds fewer)."""
    xs, ys = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
    start = min(int((xs >= xs[-1] * 2 / 3).argmax()), len(xs) - 2)
    slope = np.polyfit(xs[start:], ys[start:], 1)[0]
    return round(float(slope * xs[-1] / 3), 12) + 0.0, int(xs[start])  # + 0.0: no '-0.000'


def curve_row(x: pd.Series, y: pd.Series, tol: float, relative: bool) -> dict[str, float | int | str]:
    """End value, late level ± std, last-third trend and its reading (flat / rising / falling) of one curve."""
    level, sd = study.late_level(y)
    if len(x) < 2:  # one checkpoint (e.g. a fine-tuning shorter than snapshot_every): no trend to read
        return {"end": int(x.iloc[-1]), "value": float(y.iloc[-1]), "level": level, "sd": sd,
                "change": float("nan"), "from": int(x.iloc[-1]), "bound": tol, "trend": ONE_POINT}
    change, first = last_third_change(x, y)
    bound = tol * abs(level) if relative else tol
    trend = "flat" if abs(change) <= bound else ("rising" if change > 0 else "falling")
    return {"end": int(x.iloc[-1]), "value": float(y.iloc[-1]), "level": level, "sd": sd, "change": change,
            "from": first, "bound": bound, "trend": trend}


def generator_rows(exp: Path) -> list[dict]:
    rows = []
    for path in sorted((exp / "records" / "fidelity").glob("*_seed*.csv")):
        m = _SEED.match(path.stem)
        df = pd.read_csv(path)
        df = df[df["iteration"].notna()].sort_values("iteration", kind="stable")
        for col, _, tol, rel in study.METRICS:
            if col in df.columns and df[col].notna().all() and len(df):
                rows.append({"label": m["label"], "seed": int(m["seed"]), "metric": col,
                             **curve_row(df["iteration"].astype(int), df[col].astype(float), tol, rel)})
    return rows


def classifier_rows(exp: Path) -> list[dict]:
    rows = []
    for path in sorted((exp / "runs").glob("*/seed*/train_log.csv")):
        log = pd.read_csv(path)
        acc = study._log_accuracy(log)
        if acc is None or log.empty:
            continue
        rows.append({"label": path.parent.parent.name, "seed": int(path.parent.name.removeprefix("seed")),
                     "metric": acc, **curve_row(log["iteration"], log[acc], study.LOG_TOLERANCE, False)})
    return sorted(rows, key=lambda r: (r["label"], r["seed"]))


def _table(rows: list[dict]) -> list[str]:
    out = [f"| label | seed | curve | end | value at end | late level (last {study.LATE_POINTS}) "
           "| fitted change over the last third (tolerance) | trend |", "|---|---:|---|---:|---:|---:|---:|---|"]
    for r in rows:
        trend = r["trend"] if r["trend"] in ("flat", ONE_POINT) else f"**{r['trend']}**"
        change = "—" if r["trend"] == ONE_POINT else \
            f"{r['change']:+.3f} from {r['from']} (±{r['bound']:.3f})"
        out.append(f"| {r['label']} | {r['seed']} | {r['metric']} | {r['end']} | {r['value']:.3f} "
                   f"| {r['level']:.3f} ± {r['sd']:.3f} | {change} | {trend} |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("experiment", type=Path, help="results/<experiment>")
    ap.add_argument("--out", type=Path, required=True, help="markdown file to write")
    args = ap.parse_args(argv)
    gen, cls = generator_rows(args.experiment), classifier_rows(args.experiment)
    if not gen and not cls:
        raise SystemExit(f"{args.experiment}: no records/fidelity/*_seed*.csv and no runs/*/seed*/train_log.csv; "
                         "run the experiment's pipeline first")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    moving = {k: sum(r["trend"] in ("rising", "falling") for r in rows) for k, rows in (("gen", gen), ("cls", cls))}
    out = [f"# Have the runs of `{args.experiment}` levelled off?", "",
           f"Written by `benchmarks/convergence/experiment.py` from the experiment's files (commit {commit} when "
           f"written). Late level: mean ± sample std of the last {study.LATE_POINTS} points. Trend: the change "
           "over the last third of the run that a least-squares line through the points from two thirds of "
           "the run on predicts; **flat** when within the convergence study's tolerance (IS ±5 % and FID "
           "±10 % of the late level, accuracies ±0.02), else **rising** / **falling**.", "",
           f"Curves still moving over the last third: generators {moving['gen']} of {len(gen)}, "
           f"discriminators / classifiers {moving['cls']} of {len(cls)}.", "",
           "## Generators: every snapshot (`records/fidelity/<label>_seed<N>.csv`)", "", *_table(gen), "",
           "## Discriminators / classifiers: class accuracy on the training batch (`runs/<label>/seed<N>/"
           "train_log.csv`; a fine-tuned label's log is its fine-tuning)", "", *_table(cls), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
