"""The wall-clock of a whole Snakemake run, recorded beside its results (``results/<exp>/dag_run.json``).

Per-job times are Snakemake's ``benchmark:`` files; the DAG's own wall-clock is not in any of them. The
Snakefile calls :func:`start` from its ``onstart`` handler and :func:`finish` from ``onsuccess``; the
record says how long the invocation took, on how many cores, how many jobs it ran (benchmark files
written since the start) out of how many the experiment has, and at which commit. An invocation that
ran no job leaves the previous record in place. Torch-free: it runs inside Snakemake.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

__all__ = ["RECORD", "finish", "start"]

RECORD = "dag_run.json"
_STAMP = ".dag_run_start"


def start(results: str | Path) -> None:
    """Remember when this invocation started (a hidden stamp file in ``results``)."""
    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    (results / _STAMP).write_text(repr(time.time()))


def _git_commit(root: Path) -> tuple[str, bool]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        # results/ is left out: a run rewrites the committed outputs it is recording
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                     ":(exclude)results"], cwd=root, capture_output=True, text=True,
                                    check=True).stdout.strip())
        return commit, dirty
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def finish(results: str | Path, cores: int, root: str | Path = ".") -> dict | None:
    """Write ``results/dag_run.json`` for the invocation :func:`start` stamped; returns the record, or
    ``None`` when there was no stamp or no job ran."""
    results = Path(results)
    stamp = results / _STAMP
    if not stamp.is_file():
        return None
    started = float(stamp.read_text())
    stamp.unlink()
    bench = sorted((results / "benchmarks").rglob("*.tsv")) if (results / "benchmarks").is_dir() else []
    ran = [p for p in bench if p.stat().st_mtime >= started]
    if not ran:
        return None
    commit, dirty = _git_commit(Path(root))
    record = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_seconds": round(time.time() - started, 1),
        "cores": int(cores),
        "jobs": len(ran),
        "jobs_in_experiment": len(bench),
        "git_commit": commit,
        "git_dirty": dirty,
        "host": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    tmp = results / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, results / RECORD)
    return record
