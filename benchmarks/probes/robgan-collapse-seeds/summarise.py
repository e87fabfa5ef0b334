"""Summarise the probe's fidelity records: one row per (method, setting, seed) at the final checkpoint.

    python benchmarks/probes/robgan-collapse-seeds/summarise.py OUT_DIR > final_generators.csv

Columns: method, setting, seed, iteration, is_mean, fid, class_accuracy, intra_recall (mean over
classes), min_class_recall, classes_below_floor (the per-class floor MIN_CLASS_INTRA_RECALL), the
trained weights' class accuracy and min class recall where the record has them (results_raw), the
training seconds, and the per-class intra-class recall.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from robgan.evaluation.acceptance import MIN_CLASS_INTRA_RECALL


def main(out: Path) -> None:
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["method", "setting", "seed", "iteration", "is_mean", "fid", "class_accuracy", "intra_recall",
                "min_class_recall", "classes_below_floor", "raw_class_accuracy", "raw_min_class_recall",
                "train_seconds_wall", "intra_recall_per_class"])
    for rec_path in sorted(out.glob("*/*/seed*.fid.json")):
        method, setting, seed = rec_path.parts[-3], rec_path.parts[-2], rec_path.name.split(".")[0][4:]
        rec = json.loads(rec_path.read_text())
        r = max(rec["results"], key=lambda x: x["iteration"])
        pc = r["intra_recall_per_class"]
        raw = max(rec.get("results_raw") or [{}], key=lambda x: x.get("iteration", 0))
        secs = rec_path.with_name(f"seed{seed}.seconds")
        w.writerow([method, setting, seed, r["iteration"], f"{r['is_mean']:.3f}", f"{r['fid']:.2f}",
                    f"{r['class_accuracy']:.3f}", f"{r['intra_recall']:.4f}", f"{min(pc):.3f}",
                    " ".join(str(i) for i, v in enumerate(pc) if v < MIN_CLASS_INTRA_RECALL) or "none",
                    f"{raw['class_accuracy']:.3f}" if raw.get("class_accuracy") is not None else "",
                    f"{min(raw['intra_recall_per_class']):.3f}" if raw.get("intra_recall_per_class") else "",
                    secs.read_text().strip() if secs.exists() else "",
                    " ".join(f"{v:.3f}" for v in pc)])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
