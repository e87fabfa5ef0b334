"""``robgan report``: every table, figure and claim verdict of one experiment, from its records only;
``robgan compare``: two experiment directories, number by number.

    robgan report --config config/config.yaml --records results/quick/records --out results/quick \
        [--runs results/quick/runs] [--claims config/paper_claims.yaml] [--set eval.autoattack.eps=0.1] \
        [--cost-probe results/quick/cost_probe.json]

Writes ``tables/*.{csv,md,tex}``, ``figures/*.{png,pdf}`` and ``claims.{md,json}`` under ``--out``.

    robgan compare REFERENCE CANDIDATE [--rtol 1e-9] [--timing-rtol R] [--claims config/paper_claims.yaml]

Prints a summary first (the tolerances, a warning when the two experiments' configs differ, the claim
verdicts that changed, per file how many values differ and the largest relative difference), then the
differences as a table (:mod:`robgan.report.compare` says what is compared and within which tolerance);
exit status 0 when none is beyond tolerance (a config difference alone is a warning), 1 otherwise, 3
when there are differences and the records say the two ran on different compute (another CPU kernel set,
bf16 native or not, another torch or GPU: bit-for-bit agreement is not expected there), 2 when a
directory is not an experiment directory.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("robgan.report")


def make_report(cfg: Mapping[str, Any] | None, records_dir: str | Path, out_dir: str | Path,
                runs_dir: str | Path | None = None, claims_path: str | Path | None = None,
                ablation_eps: float | None = None, sample_seed: int = 0,
                cost_probe: str | Path | None = None) -> list[Path]:
    """Read and validate the records under ``records_dir``; write tables, figures and claims.

    Args:
        cfg: the resolved experiment config (``robgan.config.load_config``); it names the labels the
            experiment trains (so that an absent method is "not evaluated" rather than "missing") and
            the AutoAttack ε used by the ablation table when no autoattack record gives one.
        records_dir: ``results/<experiment>/records`` (every ``*.json`` below it is read).
        out_dir: ``results/<experiment>``.
        runs_dir: ``results/<experiment>/runs`` for the sample grids; None skips them.
        claims_path: ``paper_claims.yaml`` (default: the repository's ``config/paper_claims.yaml``).
        ablation_eps: ε of the ablation table (default: ``report.ablation_eps`` of the claims file,
            else the AutoAttack ε).
        cost_probe: the cost probe record the wall-clock time claims are judged on (default
            ``out_dir/cost_probe.json``; absent: those claims are "not judged").

    Returns the written paths.

    Raises:
        robgan.records.RecordError: a record is invalid (the message names the file).
    """
    from robgan.cost_probe import FILE_NAME, load_cost_probe
    from robgan.report import claims as claims_mod
    from robgan.report import figures, tables, training_curves
    from robgan.report.aggregate import build_frames, load_records

    records = load_records(records_dir)
    frames = build_frames(records)
    if cfg and cfg.get("experiment") not in (None, frames.experiment):
        log.warning("the records are of experiment '%s' but --config names '%s'", frames.experiment,
                    cfg.get("experiment"))
    claims_doc = claims_mod.load_claims(claims_path)
    if ablation_eps is None:
        ablation_eps = (claims_doc.get("report") or {}).get("ablation_eps")
    out_dir = Path(out_dir)
    paths = tables.write_tables(frames, out_dir / "tables", cfg, ablation_eps)
    from robgan.report.evaluators import is_targets

    paths += figures.write_figures(frames, out_dir / "figures", is_targets(frames, claims_doc))
    g_sample_bn = ((cfg or {}).get("model") or {}).get("g_sample_bn")
    paths += figures.write_sample_grids(runs_dir, out_dir / "figures", frames, seed=sample_seed, log=log,
                                        g_sample_bn=g_sample_bn)
    paths += training_curves.write_training_curves(runs_dir, out_dir / "figures", frames.dataset, frames.experiment,
                                                   cfg)
    cost = load_cost_probe(cost_probe if cost_probe is not None else out_dir / FILE_NAME)
    results = claims_mod.evaluate_claims(frames, claims_doc, cfg, cost)
    paths += claims_mod.write_claims(results, claims_doc, frames, out_dir)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    log.info("report of '%s' (%d records): %d files under %s; claims: %s", frames.experiment, len(records),
             len(paths), out_dir, ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return paths


def _cmd_report(args: argparse.Namespace) -> int:
    from robgan.config import load_config

    cfg = load_config(args.config, args.overrides)
    make_report(cfg, args.records, args.out, args.runs, args.claims, args.ablation_eps, args.sample_seed,
                args.cost_probe)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import sys

    from robgan.report.compare import compare_dirs, render

    try:
        result = compare_dirs(args.reference, args.candidate, rtol=args.rtol, timing_rtol=args.timing_rtol,
                              claims_path=args.claims)
    except FileNotFoundError as exc:
        log.error("%s", exc)
        return 2
    sys.stdout.write(render(result, args.max_rows) + "\n")
    return result.exit_status


def _cmd_readme(args: argparse.Namespace) -> int:
    from robgan.report import readme

    try:
        if args.check:
            problem = readme.check(args.root)
            if problem:
                log.error("A results block (README.md, docs/results.md) is not what the committed results render "
                          "(run `robgan readme` and commit):\n%s", problem)
                return 1
            log.info("The results blocks of README.md and docs/results.md match the committed results")
            return 0
        changed = readme.update(args.root)
    except readme.ReadmeError as exc:
        log.error("%s", exc)
        return 2
    log.info("README.md %s", "rewritten from the committed results" if changed else "already up to date")
    return 0


def register(sub) -> None:
    """Add ``report``, ``compare`` and ``readme``."""
    from robgan.cli_args import add_config_args
    from robgan.report.compare import DEFAULT_CLAIMS, DEFAULT_RTOL

    p = sub.add_parser("report", help="tables, figures and claim verdicts of one experiment, from its records")
    add_config_args(p, "eval.autoattack.eps=0.1")
    p.add_argument("--records", required=True, type=Path, help="results/<experiment>/records")
    p.add_argument("--out", required=True, type=Path, help="results/<experiment> (tables/, figures/, claims.md)")
    p.add_argument("--runs", type=Path, default=None,
                   help="results/<experiment>/runs: draw a sample grid per generator (skipped when absent)")
    p.add_argument("--claims", type=Path, default=None, help="paper claims file (default config/paper_claims.yaml)")
    p.add_argument("--ablation-eps", type=float, default=None,
                   help="ε ([0,1] units) of the ablation table's accuracy (default: the AutoAttack ε)")
    p.add_argument("--sample-seed", type=int, default=0, help="latent seed of the sample grids")
    p.add_argument("--cost-probe", type=Path, default=None,
                   help="seconds per iteration of each method measured alone (robgan cost-probe), for the "
                        "wall-clock time claims (default <out>/cost_probe.json; absent: not judged)")
    p.set_defaults(func=_cmd_report)

    help_ = ("compare two experiment directories: records number by number, table CSVs, claim verdicts; "
             "exit 1 on a difference beyond tolerance (3 when the two ran on different compute)")
    p = sub.add_parser("compare", help=help_, description=help_ + ". Wall-clock values are ignored unless "
                       "--timing-rtol is given; see robgan/report/compare.py for the fields.")
    p.add_argument("reference", type=Path, help="results/<experiment> taken as the reference")
    p.add_argument("candidate", type=Path, help="results/<experiment> compared with it")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL,
                   help=f"relative tolerance of the numbers that do not depend on wall-clock time "
                        f"(default {DEFAULT_RTOL:g})")
    p.add_argument("--timing-rtol", type=float, default=None,
                   help="relative tolerance of wall-clock values (default: not compared)")
    p.add_argument("--claims", type=Path, default=DEFAULT_CLAIMS,
                   help="claims file naming the wall-clock claim parts (default config/paper_claims.yaml)")
    p.add_argument("--max-rows", type=int, default=100, help="differences printed at most (default 100)")
    p.set_defaults(func=_cmd_compare)

    help_ = "rewrite README.md's results block from the committed results/<experiment>/ files"
    p = sub.add_parser("readme", help=help_, description=help_ + " (robgan/report/readme.py).")
    p.add_argument("--root", type=Path, default=Path("."), help="repository root (default .)")
    p.add_argument("--check", action="store_true", help="only compare; exit 1 when the README differs")
    p.set_defaults(func=_cmd_readme)
