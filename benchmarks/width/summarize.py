"""Summarise a width probe written by ``benchmarks/width/run.sh``.

Reads ``<probe>/ndf<N>/{pgd,autoattack}_<label>.json`` (the pipeline's evaluation records) and
``<probe>/ndf<N>/train_log_<label>.csv`` and writes ``<probe>/summary.md``: per width and classifier
the discriminator's parameter count, training seconds, clean / PGD / AutoAttack accuracy at the
AutoAttack ε, AutoAttack's seconds and images, and the AutoAttack hours that the experiment's
classifiers x seeds would take at that cost (every classifier of the experiment, on the probe's number
of images).

    python benchmarks/width/summarize.py benchmarks/width/mnist5k --config benchmarks/width/mnist5k/config.yaml
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import pandas as pd

from robgan.config import load_config
from robgan.data import dataset_info
from robgan.models.factory import build_discriminator
from robgan.registry import classifier_labels, experiment_labels

CLASSIFIERS = ("advtrain", "robgan_ft")


def n_classifier_runs(cfg: dict) -> int:
    """Classifier runs of the experiment: its labels with a class head x its seeds."""
    return len(classifier_labels(experiment_labels(cfg))) * len(cfg["seeds"])


def _pgd_at(record: dict, protocol: str, eps: float) -> float:
    for row in record["results"]:
        if row.get("protocol") == protocol and abs(float(row["eps"]) - eps) < 1e-9:
            return float(row["accuracy"])
    return float("nan")


def rows(probe: Path, cfg: dict) -> list[dict]:
    out = []
    info = dataset_info(cfg["data"])
    for width_dir in sorted(probe.glob("ndf*"), key=lambda p: int(p.name[3:])):
        ndf = int(width_dir.name[3:])
        d = build_discriminator({**cfg["model"], "ndf": ndf}, info, "robgan")
        params = sum(p.numel() for p in d.parameters())
        for label in CLASSIFIERS:
            aa_path, pgd_path = width_dir / f"autoattack_{label}.json", width_dir / f"pgd_{label}.json"
            if not aa_path.exists() or not pgd_path.exists():
                continue
            aa, pgd = json.loads(aa_path.read_text()), json.loads(pgd_path.read_text())
            eps = float(aa["settings"]["eps"])
            stages = {r["stage"]: r for r in aa["results"]}
            log = pd.read_csv(width_dir / f"train_log_{label}.csv")
            seconds = float(log["train_seconds"].iloc[-1])
            if label == "robgan_ft":
                seconds += float(pd.read_csv(width_dir / "train_log_robgan.csv")["train_seconds"].iloc[-1])
            out.append({"ndf": ndf, "label": label, "d_params": params, "train_s": seconds,
                        "clean_pgd": _pgd_at(pgd, "clean", 0.0), "eps": eps,
                        "pgd_paper": _pgd_at(pgd, "paper", eps), "pgd_strong": _pgd_at(pgd, "strong", eps),
                        "pgd_n": int(pgd["settings"]["n_examples"]), "pgd_s": float(pgd["elapsed_seconds"]),
                        "aa_clean": float(stages["clean"]["accuracy"]), "aa_final": float(stages["final"]["accuracy"]),
                        "aa_n": int(stages["final"]["n"]), "aa_s": float(aa["elapsed_seconds"])})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("probe", type=Path, help="benchmarks/width/<experiment>")
    ap.add_argument("--config", required=True)
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    table = pd.DataFrame(rows(args.probe, cfg))
    if table.empty:
        raise SystemExit(f"{args.probe}: no ndf*/autoattack_*.json with its pgd record")
    table.to_csv(args.probe / "summary.csv", index=False, float_format="%.6g")
    n_runs = n_classifier_runs(cfg)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    wall = (args.probe / "wall.txt").read_text().strip() if (args.probe / "wall.txt").exists() else "not recorded"
    lines = [f"# Width probe: {cfg['experiment']}, seed 0, the classifiers of claim 6b", "",
             f"Written by `benchmarks/width/summarize.py` from the records beside it (commit {commit} when "
             f"summarised; run: `bash benchmarks/width/run.sh`, {wall}). Config `{args.config}` with "
             "`model.ndf` as in the first column; training as the experiment's (Rob-GAN w/ FT: co-training + "
             "fine-tuning; advtrain: Madry). Two jobs side by side, one core each, as in the DAG. One seed: "
             "a cost measurement and a first look at accuracy, not a verdict.", "",
             "| ndf | classifier | D parameters | training s | clean (%) | PGD paper (%) | PGD strong (%) "
             "| PGD images, s | AutoAttack (%) | AutoAttack images, s | AutoAttack for every classifier run* |",
             "|---:|---|---:|---:|---:|---:|---:|---|---:|---|---:|"]
    for r in table.to_dict("records"):
        hours = r["aa_s"] * n_runs / 3600
        cells = [str(r["ndf"]), r["label"], f"{r['d_params']:,}", f"{r['train_s']:.0f}",
                 f"{100 * r['clean_pgd']:.1f}", f"{100 * r['pgd_paper']:.1f}", f"{100 * r['pgd_strong']:.1f}",
                 f"{r['pgd_n']}, {r['pgd_s']:.0f} s", f"{100 * r['aa_final']:.1f}", f"{r['aa_n']}, {r['aa_s']:.0f} s",
                 f"{hours:.1f} core-h"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"\\* AutoAttack seconds x {n_runs} classifier runs (every label with a class head x "
              f"{len(cfg['seeds'])} seeds of `{args.config}`) / 3600: one core's hours if every run cost this "
              f"classifier's. PGD and AutoAttack accuracies at ε = {table['eps'].iloc[0]:g}; clean accuracy "
              "on the PGD images.", ""]
    (args.probe / "summary.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
