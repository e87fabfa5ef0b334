"""The wall-clock of a whole Snakemake run, recorded beside its results (``results/<exp>/dag_run.json``).

Per-job times are Snakemake's ``benchmark:`` files; the DAG's own wall-clock is not in any of them. The
Snakefile calls :func:`start` from its ``onstart`` handler and :func:`finish` from ``onsuccess``; the
record says how long the invocation took, on how many cores, how many jobs it ran (benchmark files
written since the start) out of how many the experiment has, and at which commit. An invocation that
ran no job leaves the previous record in place.

An invocation that never reached ``onsuccess`` (killed, a failed job) leaves its stamp behind; the next
:func:`start` turns it into an **interrupted** invocation — its start, and the end of its last job
(the newest benchmark file written after that start) — and the next successful :func:`finish` lists
them under ``interrupted`` and adds their time to ``wall_seconds_total``: the time the results cost,
resumes included.

**Calibration.** Wall-clock seconds move 1.7x between machines of one kind, so :func:`start` also runs
the fixed calibration workload (:mod:`robgan.calibration`, one thread, a few seconds) in a subprocess
and :func:`finish` records it beside the wall-clock: ``calibration`` (its seconds and workload) and
``wall_multiple`` = ``wall_seconds / calibration.seconds``, the DAG's time in units of this machine's
calibration, which compares across machines where seconds do not. Torch-free: it runs inside
Snakemake (the calibration imports torch in its own process).

**Expected time.** Where ``results/<exp>`` holds the ``dag_run.json`` of an earlier run (the committed
one on a fresh clone), :func:`start` prints before any job runs how long a run of the whole DAG should
take on this machine: that run's wall-clock scaled by the two calibrations when both CPUs are of one
kind (:func:`scale_wall`), a lower bound when this CPU lacks the native bf16 that one had.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["RECORD", "calibrate_subprocess", "expected_wall", "finish", "scale_wall", "start", "wall_multiple"]

_log = logging.getLogger("robgan.dag_run")

RECORD = "dag_run.json"
_STAMP = ".dag_run_start"
_INTERRUPTED = ".dag_run_interrupted.json"
_CALIBRATION = ".dag_run_calibration.json"


def calibrate_subprocess(timeout: float = 600.0) -> dict | None:
    """Run ``python -m robgan.calibration`` (one thread) and return its result; None if it failed
    (the DAG then runs without a calibration, and the record says so)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run([sys.executable, "-m", "robgan.calibration"], capture_output=True, text=True,
                              env=env, timeout=timeout, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        _log.warning("calibration failed (%s); dag_run.json will have no calibration", exc)
        return None


def wall_multiple(record: dict, native: bool = False) -> float | None:
    """The DAG's wall-clock (``wall_seconds_total`` when an interrupted invocation counts, else
    ``wall_seconds``) as a multiple of the calibration recorded with it; None for a record without one
    (records written before the calibration existed). ``native``: of the calibration's ``native``
    variant (channels-last, bf16 where native: the DAG's own precision on that machine), which
    records before it existed lack."""
    cal = record.get("calibration") or {}
    if native:
        cal = cal.get("native") or {}
    if not cal.get("seconds"):
        return None
    return round(float(record.get("wall_seconds_total", record["wall_seconds"])) / float(cal["seconds"]), 1)


SAME_KIND, LOWER_BOUND = "same kind", "lower bound"


def scale_wall(wall: float, calibration: float, bf16: bool | None, here_calibration: float,
               here_bf16: bool) -> tuple[float | None, str]:
    """What work that took ``wall`` seconds on a machine whose calibration took ``calibration`` seconds
    (``bf16``: whether that CPU computed bf16 natively; None: unknown) should take on this machine
    (``here_calibration``, ``here_bf16``), as ``(seconds, how)``:

    - ``(wall x here / there, "same kind")`` when both machines compute bf16 natively or neither does:
      the float32 calibration compares machines of one kind (docs/speed.md);
    - ``(the same ratio, "lower bound")`` when this CPU lacks native bf16 and that one had it: the DAG
      trains and runs its PGD sweeps in float32 here, which the calibration does not see (the AVX2 runs
      in benchmarks/dag_runs took ~1.7x the multiple of AVX-512-BF16 machines);
    - ``(None, reason)`` otherwise."""
    ratio = wall * here_calibration / calibration
    if bf16 is None:
        return None, "the earlier run's records do not say whether its CPU computed bf16 natively"
    if bf16 == here_bf16:
        return ratio, SAME_KIND
    if bf16:
        return ratio, LOWER_BOUND
    return None, "this CPU computes bf16 natively and the earlier run's did not: the calibration does not compare them"


def expected_wall(previous: dict, calibration: dict, previous_bf16: bool | None = None) -> tuple[float | None, str]:
    """:func:`scale_wall` for a whole DAG from the ``dag_run.json`` of an earlier run of it (``previous``)
    and this machine's calibration (:func:`robgan.calibration.run_calibration`'s result).
    ``previous_bf16``: whether the earlier run's CPU computed bf16 natively, for records whose
    calibration predates the compute fingerprint (their records may tell:
    :func:`robgan.report.compare.records_bf16_native`)."""
    cal = previous.get("calibration") or {}
    if not cal.get("seconds"):
        return None, "the earlier run has no calibration"
    bf16 = (cal.get("compute") or {}).get("bf16_native", previous_bf16)
    wall = float(previous.get("wall_seconds_total", previous["wall_seconds"]))
    return scale_wall(wall, float(cal["seconds"]), bf16, float(calibration["seconds"]),
                      bool(calibration["compute"]["bf16_native"]))


def _announce_expected(results: Path, cal: dict) -> None:
    """Print, before any job runs, how long the whole DAG should take here, from the earlier run whose
    ``dag_run.json`` is in ``results`` (the committed one on a fresh clone); nothing without one."""
    prev_file = results / RECORD
    if not prev_file.is_file():
        return
    try:
        from robgan.report.compare import records_bf16_native

        prev = json.loads(prev_file.read_text())
        seconds, how = expected_wall(prev, cal, records_bf16_native(results))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _log.warning("no time estimate from %s (%s)", prev_file, exc)
        return
    head = (f"robgan: calibration {cal['seconds']:.2f} s here; the earlier run in {results} (commit "
            f"{str(prev.get('git_commit'))[:7]}) took {prev['wall_seconds'] / 60:.1f} min")
    if seconds is None:
        msg = f"{head}; no estimate for this machine: {how}"
    elif how == SAME_KIND:
        msg = f"{head}: a run of the whole DAG should take about {seconds / 60:.0f} min here"
    else:
        msg = (f"{head}: a run of the whole DAG should take more than {seconds / 60:.0f} min here (this CPU "
               "lacks native bf16, the earlier run's had it: it trains in float32)")
    print(f"{msg}; jobs already up to date are skipped", file=sys.stderr, flush=True)


def _benchmarks(results: Path) -> list[Path]:
    return sorted((results / "benchmarks").rglob("*.tsv")) if (results / "benchmarks").is_dir() else []


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def start(results: str | Path, calibrate: Callable[[], dict | None] | None = calibrate_subprocess) -> None:
    """Remember when this invocation started (a hidden stamp file in ``results``); a stamp left by an
    invocation that did not finish is kept as an interrupted invocation (when it ran any job). Then run
    ``calibrate`` (default :func:`calibrate_subprocess`; None: no calibration) and keep its result for
    :func:`finish`; its seconds count in the wall-clock."""
    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    stamp = results / _STAMP
    if stamp.is_file():
        started = float(stamp.read_text())
        ends = [p.stat().st_mtime for p in _benchmarks(results) if p.stat().st_mtime >= started]
        if ends:
            log = results / _INTERRUPTED
            earlier = json.loads(log.read_text()) if log.is_file() else []
            earlier.append({"started": _iso(started), "wall_seconds": round(max(ends) - started, 1),
                            "jobs": len(ends)})
            log.write_text(json.dumps(earlier, indent=2) + "\n")
    stamp.write_text(repr(time.time()))
    cal_file = results / _CALIBRATION
    cal_file.unlink(missing_ok=True)
    cal = calibrate() if calibrate is not None else None
    if cal is not None:
        cal_file.write_text(json.dumps(cal) + "\n")
        if cal.get("compute"):
            _announce_expected(results, cal)


def _git_commit(root: Path) -> tuple[str, bool]:
    """(commit, dirty) of the checkout at ``root``; results/ is left out of dirty (``git_info``)."""
    # imported here, not at the top: robgan.provenance imports torch, and the Snakefile imports this module
    from robgan.provenance import git_info

    info = git_info(root)
    return info["commit"] or "unknown", bool(info["dirty"])


def finish(results: str | Path, cores: int | None, root: str | Path = ".") -> dict | None:
    """Write ``results/dag_run.json`` for the invocation :func:`start` stamped; returns the record, or
    ``None`` when there was no stamp or no job ran. ``cores``: Snakemake's ``--cores`` (None under a
    cluster executor such as SLURM, which has none: recorded as null)."""
    results = Path(results)
    stamp = results / _STAMP
    if not stamp.is_file():
        return None
    started = float(stamp.read_text())
    stamp.unlink()
    bench = _benchmarks(results)
    ran = [p for p in bench if p.stat().st_mtime >= started]
    if not ran:
        return None
    commit, dirty = _git_commit(Path(root))
    log = results / _INTERRUPTED
    interrupted = json.loads(log.read_text()) if log.is_file() else []
    wall = round(time.time() - started, 1)
    record = {
        "started": _iso(started),
        "wall_seconds": wall,
        "cores": int(cores) if cores is not None else None,
        "jobs": len(ran),
        "jobs_in_experiment": len(bench),
        "git_commit": commit,
        "git_dirty": dirty,
        "host": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    if interrupted:
        record["interrupted"] = interrupted
        record["wall_seconds_total"] = round(wall + sum(r["wall_seconds"] for r in interrupted), 1)
    cal_file = results / _CALIBRATION
    record["calibration"] = json.loads(cal_file.read_text()) if cal_file.is_file() else None
    record["wall_multiple"] = wall_multiple(record)
    record["wall_multiple_native"] = wall_multiple(record, native=True)
    tmp = results / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, results / RECORD)
    log.unlink(missing_ok=True)
    cal_file.unlink(missing_ok=True)
    return record
