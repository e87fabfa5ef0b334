"""CI check after `snakemake --cores all`: every expected table, figure and report exists and is
non-empty, every record validates, every generator's final samples show their class far above chance
(the class accuracy of the fidelity records, mnist5k), and Snakemake has nothing left to do.

Usage: python .ci/check_outputs.py results/quick
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from robgan.report.records import read_record

TABLES = ["robust_accuracy", "robust_accuracy_strong", "autoattack", "generation", "ablation"]
# Final class accuracy of every quick generator must clear this (chance: 0.10; measured on the 2-core
# machine: 0.71 for sngan, 0.85-0.99 for the AC-GAN family), so that a training regression that
# leaves the sample grids unrecognisable fails CI.
MIN_CLASS_ACCURACY = 0.4
FIGURES = ["is_vs_time", "is_vs_iter", "fid_vs_time", "fid_vs_iter", "accuracy_vs_eps", "robustness_gap",
           "lipschitz"]


def main(root: Path) -> int:
    problems: list[str] = []

    def need(path: Path) -> None:
        if not path.is_file() or path.stat().st_size == 0:
            problems.append(f"missing or empty: {path}")

    for t in TABLES:
        for ext in ("csv", "md", "tex"):
            need(root / "tables" / f"{t}.{ext}")
    for f in FIGURES:
        for ext in ("png", "pdf"):
            need(root / "figures" / f"{f}.{ext}")
    samples = sorted((root / "figures").glob("samples_*.png"))
    if not samples:
        problems.append("no sample grids (figures/samples_*.png)")
    for name in ("claims.md", "claims.json"):
        need(root / name)
    records = sorted((root / "records").rglob("*.json"))
    kinds: dict[str, int] = {}
    for path in records:
        try:
            rec = read_record(path)
        except Exception as exc:  # report every bad record, not only the first
            problems.append(f"invalid record {path}: {exc}")
            continue
        kinds[rec["kind"]] = kinds.get(rec["kind"], 0) + 1
        if rec["kind"] == "fidelity":
            final = max(rec["results"], key=lambda r: r["iteration"])
            acc = final.get("class_accuracy")
            if acc is not None and acc < MIN_CLASS_ACCURACY:
                problems.append(f"{path}: final class accuracy {acc:.3f} < {MIN_CLASS_ACCURACY} "
                                f"(the generator's samples do not show their class)")
    for kind in ("pgd", "autoattack", "fidelity", "gap", "lipschitz"):
        if not kinds.get(kind):
            problems.append(f"no '{kind}' records")
    claims = json.loads((root / "claims.json").read_text()) if (root / "claims.json").is_file() else None
    dry = subprocess.run(["snakemake", "-n", "--quiet", "rules"], capture_output=True, text=True)
    if dry.returncode != 0 or "Nothing to be done" not in dry.stdout + dry.stderr:
        problems.append(f"snakemake -n still has work to do:\n{dry.stdout}\n{dry.stderr}")
    print(f"records: {len(records)} ({kinds}); sample grids: {len(samples)}; "
          f"claims: {len(claims) if claims is not None else 'n/a'}")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "results/quick")))
