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
resumes included. Torch-free: it runs inside Snakemake.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

__all__ = ["RECORD", "finish", "start"]

RECORD = "dag_run.json"
_STAMP = ".dag_run_start"
_INTERRUPTED = ".dag_run_interrupted.json"


def _benchmarks(results: Path) -> list[Path]:
    return sorted((results / "benchmarks").rglob("*.tsv")) if (results / "benchmarks").is_dir() else []


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def start(results: str | Path) -> None:
    """Remember when this invocation started (a hidden stamp file in ``results``); a stamp left by an
    invocation that did not finish is kept as an interrupted invocation (when it ran any job)."""
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
    tmp = results / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, results / RECORD)
    log.unlink(missing_ok=True)
    return record
