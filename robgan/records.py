"""Evaluation records: one JSON object per evaluation, validated against
``workflow/schemas/record.schema.yaml``. Tables, plots and claims are rendered from records only.

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


def validate_record(record: Mapping) -> None:
    """Raise :class:`RecordError` unless ``record`` satisfies the record schema and every number in
    it is finite."""
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
) -> dict[str, Any]:
    """Assemble (and validate) a record. ``flags``: ``{name: {"ok": bool, "detail": str}}``."""
    from robgan import provenance as prov

    record = {
        "schema_version": 1,
        "kind": kind,
        "run": run_section(run_dir),
        "checkpoint": dict(checkpoint),
        "settings": dict(settings),
        "results": [dict(r) for r in results],
        "flags": {k: {"ok": bool(v["ok"]), "detail": str(v["detail"])} for k, v in (flags or {}).items()},
        "elapsed_seconds": float(elapsed_seconds),
        "device": device,
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
