"""Records refuse NaN and infinity: validation names the field, nothing is written, and a file holding
the non-JSON token ``NaN`` does not read back as a record."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from robgan.provenance import atomic_write_json
from robgan.records import RecordError, non_finite, read_record, validate_record, write_record

RECORD = Path(__file__).resolve().parent / "fixtures" / "records" / "pgd" / "advtrain_seed0.json"


@pytest.fixture
def record() -> dict:
    rec = json.loads(RECORD.read_text())
    validate_record(rec)
    return rec


@pytest.mark.parametrize(("edit", "field"), [
    (lambda r: r["results"][1].update(accuracy=math.nan), "results.1.accuracy"),
    (lambda r: r["settings"]["eps"].__setitem__(2, math.inf), "settings.eps.2"),
    (lambda r: r.update(elapsed_seconds=-math.inf), "elapsed_seconds"),
])
def test_non_finite_numbers_are_refused(record, tmp_path, edit, field):
    edit(record)
    with pytest.raises(RecordError, match=f"invalid record at '{field}': .* is not a finite number"):
        validate_record(record)
    out = tmp_path / "r.json"
    with pytest.raises(RecordError):
        write_record(record, out)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    out.write_text(json.dumps(record))  # Python's json writes NaN / Infinity tokens
    with pytest.raises(RecordError, match=f"{out}: invalid record at '{field}'"):
        read_record(out)


def test_finite_record_round_trips(record, tmp_path):
    out = write_record(record, tmp_path / "r.json")
    assert read_record(out) == record
    assert "NaN" not in out.read_text() and "Infinity" not in out.read_text()


def test_non_finite_lists_every_place():
    assert list(non_finite({"a": [1.0, math.nan, {"b": math.inf}], "c": 2, "d": "nan"})) == [
        ("a.1", pytest.approx(math.nan, nan_ok=True)), ("a.2.b", math.inf)]
    assert list(non_finite(math.nan))[0][0] == "<top level>"


def test_atomic_write_json_is_strict_by_default(tmp_path):
    with pytest.raises(ValueError, match="JSON compliant"):
        atomic_write_json(tmp_path / "x.json", {"v": math.nan})
    assert list(tmp_path.iterdir()) == []
    atomic_write_json(tmp_path / "y.json", {"v": math.nan}, allow_nan=True)
    assert math.isnan(json.loads((tmp_path / "y.json").read_text())["v"])
