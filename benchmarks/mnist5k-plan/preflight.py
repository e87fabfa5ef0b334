"""Before issue #26's mnist5k re-run: will it fit the 2-hour budget on this machine? GO (exit 0) or NO-GO (1).

    python benchmarks/mnist5k-plan/preflight.py [--calibration FILE]

It times the calibration workload here (``python -m robgan.calibration``; ``--calibration`` reads a
saved one instead) and predicts the re-run's wall-clock from the previous mnist5k run scaled to the
current ``config/mnist5k.yaml`` (``estimate.py``'s :func:`previous_run`: the same jobs, measured on the
machine that made them):

- same kind of compute (bf16 native on both, or on neither): predicted = the scaled wall-clock x this
  calibration / that run's calibration. GO when the prediction with :data:`NOISE` added stays within the
  budget: the float32 calibration and the DAG moved by up to ~15 % between runs of the same work on one
  machine (benchmarks/dag_runs/).
- this CPU lacks native bf16 and that run had it: the DAG trains and runs its PGD sweeps in float32
  here, which the float32 calibration does not see (benchmarks/dag_runs' AVX2 rows: quick ~1.7x the
  multiple of AVX-512-BF16 machines), so the calibration ratio gives a lower bound only: NO-GO.

The previous run's kind comes from its records (``compute``; runs older than the fingerprint tell only
``bf16_native`` through a bf16 attack: :func:`robgan.report.compare.records_bf16_native`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from estimate import previous_run  # noqa: E402  (this folder's estimate.py)

from robgan.config import load_config  # noqa: E402
from robgan.dag_run import LOWER_BOUND, scale_wall  # noqa: E402
from robgan.report.compare import records_bf16_native  # noqa: E402

BUDGET_S = 7200.0
NOISE = 0.15  # the calibration's and the DAG's spread between runs of the same work on one machine


def decide(scaled_wall: float, run_calibration: float, run_bf16: bool | None, here_calibration: float,
           here_bf16: bool, budget: float = BUDGET_S, noise: float = NOISE) -> tuple[bool, float | None, str]:
    """(go, predicted seconds or None, the reason in words). ``scaled_wall``: the previous run scaled to
    the config, on its machine, whose calibration was ``run_calibration`` seconds
    (:func:`robgan.dag_run.scale_wall` compares the two machines)."""
    predicted, how = scale_wall(scaled_wall, run_calibration, run_bf16, here_calibration, here_bf16)
    ratio = f"{scaled_wall:,.0f} s x {here_calibration:.2f} / {run_calibration:.2f}"
    if predicted is None:
        return False, None, f"no like-for-like prediction: {how}"
    if how == LOWER_BOUND:
        return False, predicted, (
            "this CPU lacks native bf16 and the previous run's had it: the training and the PGD sweeps run "
            f"float32 here, which the float32 calibration does not see, so {ratio} = {predicted:,.0f} s "
            f"({predicted / 60:.0f} min) is a lower bound")
    upper = predicted * (1 + noise)
    go = upper <= budget
    return go, predicted, (f"same kind of compute: {ratio} = {predicted:,.0f} s ({predicted / 60:.0f} min), "
                           f"{upper:,.0f} s ({upper / 60:.0f} min) with {noise:.0%} noise, "
                           f"{'within' if go else 'over'} the budget of {budget:,.0f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibration", type=Path, help="a saved `python -m robgan.calibration` JSON")
    ap.add_argument("--results", type=Path, default=REPO / "results" / "mnist5k",
                    help="the previous mnist5k run (default results/mnist5k)")
    args = ap.parse_args(argv)
    if args.calibration:
        cal = json.loads(args.calibration.read_text())
    else:
        from robgan.calibration import run_calibration
        cal = run_calibration()
    m5k = load_config(REPO / "config" / "mnist5k.yaml")
    prev = previous_run(m5k, args.results)
    if prev is None or not prev["scalable"]:
        print(f"NO-GO: {args.results} holds no run that scales to config/mnist5k.yaml")
        return 1
    run = prev["run"]
    here_bf16 = bool(cal["compute"]["bf16_native"])
    go, _, why = decide(prev["scaled_wall"], run["calibration"]["seconds"], records_bf16_native(args.results),
                        cal["seconds"], here_bf16)
    from robgan.provenance import git_info, utc_now
    git = git_info()
    print(f"preflight of the mnist5k re-run, {utc_now()}, commit {str(git.get('commit'))[:7]}"
          f"{' (dirty)' if git.get('dirty') else ''}")
    print(f"this machine: calibration {cal['seconds']:.2f} s, kernels {cal['compute'].get('cpu_capability')}, "
          f"bf16 native: {here_bf16}")
    print(f"previous run: commit {run['git_commit'][:7]}, {run['wall_seconds']:,.0f} s, calibration "
          f"{run['calibration']['seconds']:.2f} s; scaled to config/mnist5k.yaml {prev['scaled_wall']:,.0f} s")
    print(f"{'GO' if go else 'NO-GO'}: {why}")
    if go:
        print("next: from a clean clone, `snakemake --cores all --configfile config/mnist5k.yaml`, then the "
              "steps of benchmarks/mnist5k-plan/README.md ('The next run')")
    return 0 if go else 1


if __name__ == "__main__":
    sys.exit(main())
