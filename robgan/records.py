"""Evaluation records: one JSON object per evaluation, validated against
``workflow/schemas/record.schema.yaml``. Tables, plots and claims are rendered from records only.

Per-image outcomes: an accuracy may carry its outcomes as a string of ``0``/``1``, one character per
evaluated image in the record's image order: ``correct`` beside ``accuracy`` (and ``n`` /
``n_correct``), ``correct_<x>`` beside ``accuracy_<x>`` (the gap record's ``correct_clean`` and
``correct_adv``). Validation checks that the string has ``n`` characters and that the accuracy is
their mean (:func:`outcome_mismatches`), on write and on read.

Every number in a record is finite: validation refuses NaN and ±inf wherever they are (the schema's
``number`` type lets them through, and ``json`` would write them as the non-JSON tokens ``NaN`` /
``Infinity``), so a failed measurement stops its job instead of reaching a table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from robgan.config import SCHEMA_DIR, load_schema

RECORD_SCHEMA = SCHEMA_DIR / "record.schema.yaml"


class RecordError(ValueError):
    """A record breaks the schema; the message names the offending field."""


def non_finite(obj: object, where: str = "") -> Iterator[tuple[str, float]]:
    """``(dotted field, value)`` of every NaN or infinite float inside a JSON-like value."""
    if isinstance(obj, float) and not math.isfinite(obj):
        yield where or "<top level>", obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from non_finite(v, f"{where}.{k}" if where else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from non_finite(v, f"{where}.{i}" if where else str(i))


#: |accuracy − mean(outcomes)| allowed (the accuracy is stored as a float ratio k / n)
OUTCOME_TOL = 1e-9


def outcomes_string(correct: Iterable[bool]) -> str:
    """Per-image outcomes (bools, in image order) as the record's ``0``/``1`` string."""
    return "".join("1" if bool(c) else "0" for c in correct)


def outcome_mismatches(obj: object, where: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted field, what is wrong)`` for every ``correct`` / ``correct_<x>`` string inside a JSON-like
    value that disagrees with the accuracy beside it (``accuracy`` / ``accuracy_<x>``), with ``n`` or
    with ``n_correct``; also one that is not a string of ``0``/``1`` or has no accuracy beside it."""
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            at = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and (key == "correct" or key.startswith("correct_")):
                yield from _outcome_mismatch(obj, key, value, at)
            else:
                yield from outcome_mismatches(value, at)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from outcome_mismatches(v, f"{where}.{i}" if where else str(i))


def _outcome_mismatch(row: Mapping, key: str, value: object, at: str) -> Iterator[tuple[str, str]]:
    if not isinstance(value, str) or not value or set(value) - {"0", "1"}:
        yield at, "per-image outcomes must be a non-empty string of '0'/'1'"
        return
    acc_key = "accuracy" + key[len("correct"):]
    n, k = len(value), value.count("1")
    if not isinstance(row.get(acc_key), (int, float)):
        yield at, f"per-image outcomes without the accuracy '{acc_key}' beside them"
        return
    if isinstance(row.get("n"), int) and row["n"] != n:
        yield at, f"{n} per-image outcomes but n = {row['n']}"
    if key == "correct" and isinstance(row.get("n_correct"), int) and row["n_correct"] != k:
        yield at, f"{k} of the per-image outcomes are 1 but n_correct = {row['n_correct']}"
    if abs(float(row[acc_key]) - k / n) > OUTCOME_TOL:
        yield at, f"{acc_key} = {row[acc_key]} but the per-image outcomes give {k}/{n} = {k / n}"


def _name(record: Mapping) -> str:
    run = record.get("run") if isinstance(record.get("run"), Mapping) else {}
    return f"{record.get('kind', '?')} record of {run.get('label', '?')} seed {run.get('seed', '?')}"


def validate_record(record: Mapping) -> None:
    """Raise :class:`RecordError` unless ``record`` satisfies the record schema, every number in it is
    finite and every per-image outcome string agrees with its accuracy (the message names the record
    and the field)."""
    import jsonschema

    bad = next(non_finite(record), None)
    if bad is not None:
        raise RecordError(f"invalid record at '{bad[0]}': {bad[1]} is not a finite number")

    validator = jsonschema.Draft202012Validator(load_schema(RECORD_SCHEMA))
    errors = sorted(validator.iter_errors(dict(record)), key=lambda e: len(e.absolute_path))
    if errors:
        err = errors[0]
        field = ".".join(str(p) for p in err.absolute_path) or "<top level>"
        raise RecordError(f"invalid record at '{field}': {err.message}")
    wrong = next(outcome_mismatches(record), None)
    if wrong is not None:
        raise RecordError(f"invalid {_name(record)} at '{wrong[0]}': {wrong[1]}")


def run_section(run_dir: str | Path) -> dict[str, Any]:
    """The ``run`` part of a record, read from the run directory's config and manifest."""
    from robgan.api import load_run

    run = load_run(run_dir)
    git = run.manifest.get("git", {})
    return {
        "dir": str(run.dir),
        "method": run.method,
        "label": run.label,
        "dataset": run.config["data"]["name"],
        "experiment": run.config["experiment"],
        "seed": run.seed,
        "config_hash": run.manifest.get("config_hash", ""),
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
    }


def checkpoint_section(path: str | Path, iteration: int, train_seconds: float) -> dict[str, Any]:
    return {"file": str(path), "iteration": int(iteration), "train_seconds": float(train_seconds)}


def make_record(
    kind: str,
    *,
    run_dir: str | Path,
    checkpoint: Mapping[str, Any],
    settings: Mapping[str, Any],
    results: Iterable[Mapping[str, Any]],
    flags: Mapping[str, Mapping[str, Any]] | None = None,
    elapsed_seconds: float,
    device: str,
    results_raw: Iterable[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Assemble (and validate) a record. ``flags``: ``{name: {"ok": bool, "detail": str}}``.
    ``results_raw`` (fidelity only): rows of the trained weights of a run whose generator is their
    moving average (``train.g_ema``); left out of the record when None."""
    from robgan import provenance as prov

    record = {
        "schema_version": 1,
        "kind": kind,
        "run": run_section(run_dir),
        "checkpoint": dict(checkpoint),
        "settings": dict(settings),
        "results": [dict(r) for r in results],
        **({} if results_raw is None else {"results_raw": [dict(r) for r in results_raw]}),
        "flags": {k: {"ok": bool(v["ok"]), "detail": str(v["detail"])} for k, v in (flags or {}).items()},
        "elapsed_seconds": float(elapsed_seconds),
        "device": device,
        # the evaluating process's kernels (docs/compare.md): equal fingerprints reproduce bit for bit
        "compute": prov.compute_fingerprint("cuda" if device.startswith("cuda") else "cpu"),
        "created": prov.utc_now(),
        "code_version": prov.git_info().get("commit"),
    }
    validate_record(record)
    return record


def write_record(record: Mapping, path: str | Path) -> Path:
    """Validate then write atomically as pretty JSON (strict JSON: no NaN / Infinity tokens)."""
    from robgan import provenance as prov

    validate_record(record)
    path = Path(path)
    prov.atomic_write_json(path, record, allow_nan=False)
    return path


def read_record(path: str | Path) -> dict[str, Any]:
    """Read and validate one record."""
    with open(path) as fh:
        record = json.load(fh)
    try:
        validate_record(record)
    except RecordError as exc:
        raise RecordError(f"{path}: {exc}") from None
    return record
