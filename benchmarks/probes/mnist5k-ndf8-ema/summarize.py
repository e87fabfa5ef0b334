"""Summarise the generator-averaging probe: does a moving average of the generator's weights
(``train.g_ema``) keep the AC family's generators class-conditional to the end of a 1,200-iteration
mnist5k run at ndf 8, where the trained weights swing?

    python benchmarks/probes/mnist5k-ndf8-ema/summarize.py      # writes summary.md beside this file

Sources:

- the raw generators: the first full ndf-8 run (``benchmarks/attempts/mnist5k-ndf8-bdd4441``,
  ``records/fidelity/<method>_seed<s>.csv``: IS, FID and class accuracy of every 100-iteration snapshot);
- the averaged generators: this probe (``fidelity/<method>_seed<s>.csv``), which ran that run's config
  with ``train.g_ema: 0.999`` for the four AC-family methods. The average does not change training:
  ``train_logs/<method>_seed<s>.csv`` are this probe's training logs, which :func:`same_training`
  compares with the attempt's (every column but the wall-clock one).

Per method and seed: class accuracy (the reference MNIST CNN's share of samples in the class they were
generated for) at the last five snapshots and its minimum over the last third (800-1,200), raw and
averaged; final IS and FID.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
ATTEMPT = REPO / "benchmarks" / "attempts" / "mnist5k-ndf8-bdd4441"
METHODS = ("robgan", "robgan_oldloss", "acgan", "acgan_newloss")
SEEDS = (0, 1, 2)
BAR = 0.9            # .ci/check_outputs.py: MIN_CLASS_ACCURACY of an AC-family generator
LAST_THIRD_FROM = 800
SHOWN = (800, 900, 1000, 1100, 1200)


def raw_csv(method: str, seed: int) -> Path:
    return ATTEMPT / "records" / "fidelity" / f"{method}_seed{seed}.csv"


def ema_csv(method: str, seed: int) -> Path:
    return HERE / "fidelity" / f"{method}_seed{seed}.csv"


def same_training(method: str, seed: int) -> bool:
    """The probe's training log equals the attempt's in every column but ``train_seconds``."""
    a = pd.read_csv(HERE / "train_logs" / f"{method}_seed{seed}.csv").drop(columns="train_seconds")
    b = pd.read_csv(ATTEMPT / "runs" / method / f"seed{seed}" / "train_log.csv").drop(columns="train_seconds")
    return a.equals(b)


def row(csv: Path) -> dict[str, str]:
    """Class accuracy at :data:`SHOWN`, its minimum from :data:`LAST_THIRD_FROM` on, final IS and FID."""
    df = pd.read_csv(csv).sort_values("iteration").set_index("iteration")
    acc = df["class_accuracy"]
    last = df.iloc[-1]
    out = {str(i): (f"{acc[i]:.2f}" if i in acc.index else "") for i in SHOWN}
    low = acc[acc.index >= LAST_THIRD_FROM].min()
    out["min 800+"] = f"{low:.2f}" + (" *" if low < BAR else "")
    out["final IS"] = f"{last['is_mean']:.2f}"
    out["final FID"] = f"{last['fid']:.1f}"
    return out


def summary() -> str:
    cols = [*map(str, SHOWN), "min 800+", "final IS", "final FID"]
    lines = [
        "# Probe: a moving average of the generator's weights at ndf 8 (mnist5k, 1,200 iterations)",
        "",
        "Written by `summarize.py` from the files beside it and "
        "`benchmarks/attempts/mnist5k-ndf8-bdd4441/records/fidelity/`. Class accuracy of 2,000 samples "
        "(reference MNIST CNN) per snapshot; `raw` = the trained weights (the first ndf-8 run), "
        f"`average` = `train.g_ema: 0.999` of the same training. `*`: below {BAR}, the bar CI's content "
        "gate sets for an AC-family generator's final snapshot.",
        "",
        "| method | seed | generator | same training | " + " | ".join(cols) + " |",
        "|---|---:|---|---|" + "---:|" * len(cols),
    ]
    below = {"raw": 0, "average": 0}
    final_below = {"raw": 0, "average": 0}
    for m in METHODS:
        for s in SEEDS:
            same = "yes" if same_training(m, s) else "NO"
            for kind, csv in (("raw", raw_csv(m, s)), ("average", ema_csv(m, s))):
                r = row(csv)
                below[kind] += r["min 800+"].endswith("*")
                final_below[kind] += float(pd.read_csv(csv).sort_values("iteration")["class_accuracy"].iloc[-1]) < BAR
                lines.append(f"| {m} | {s} | {kind} | {same if kind == 'average' else ''} | "
                             + " | ".join(r[c] for c in cols) + " |")
    n = len(METHODS) * len(SEEDS)
    lines += [
        "",
        f"Runs whose final snapshot is below {BAR}: raw {final_below['raw']} of {n}, "
        f"average {final_below['average']} of {n}. Runs with a snapshot below {BAR} from iteration "
        f"{LAST_THIRD_FROM} on: raw {below['raw']} of {n}, average {below['average']} of {n}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    (HERE / "summary.md").write_text(summary())
    print(summary())
