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


def _refused_on_validate_write_and_read(record: dict, tmp_path: Path, where: str, why: str) -> None:
    """``record`` is refused by validation (message ``where`` + ``why``), is not written, and does not
    read back from a file written around the checks (Python's json writes NaN / Infinity tokens)."""
    with pytest.raises(RecordError, match=where + why):
        validate_record(record)
    out = tmp_path / "r.json"
    with pytest.raises(RecordError):
        write_record(record, out)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    out.write_text(json.dumps(record))
    with pytest.raises(RecordError, match=f"{out}: {where}"):
        read_record(out)


@pytest.mark.parametrize(("edit", "field"), [
    (lambda r: r["results"][1].update(accuracy=math.nan), "results.1.accuracy"),
    (lambda r: r["settings"]["eps"].__setitem__(2, math.inf), "settings.eps.2"),
    (lambda r: r.update(elapsed_seconds=-math.inf), "elapsed_seconds"),
])
def test_non_finite_numbers_are_refused(record, tmp_path, edit, field):
    edit(record)
    _refused_on_validate_write_and_read(record, tmp_path, f"invalid record at '{field}'", ": .* is not a finite number")


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


# ---------------------------------------------------------------------------------------------- per-image outcomes


def test_fixture_records_carry_outcomes_that_match_their_accuracies(record):
    for row in record["results"]:
        assert len(row["correct"]) == row["n"] and row["correct"].count("1") == row["n_correct"]
        assert row["accuracy"] == pytest.approx(row["correct"].count("1") / row["n"], abs=1e-12)


def _flip_one(s: str) -> str:
    i = s.index("1")
    return s[:i] + "0" + s[i + 1:]


@pytest.mark.parametrize(("edit", "field", "what"), [
    # one outcome flipped: the string now says one image fewer than accuracy / n_correct
    (lambda r: r["results"][1].update(correct=_flip_one(r["results"][1]["correct"])), "results.1.correct",
     "n_correct"),
    # accuracy and n_correct doctored together: the outcomes still give the old accuracy
    (lambda r: r["results"][2].update(n_correct=r["results"][2]["n_correct"] + 1,
                                      accuracy=(r["results"][2]["n_correct"] + 1) / r["results"][2]["n"]),
     "results.2.correct", "n_correct"),
    (lambda r: r["results"][0].update(correct=r["results"][0]["correct"][:-1]), "results.0.correct", "n = 500"),
])
def test_a_record_whose_outcomes_disagree_with_its_accuracy_is_refused(record, tmp_path, edit, field, what):
    edit(record)
    _refused_on_validate_write_and_read(record, tmp_path, f"invalid pgd record of advtrain seed 0 at '{field}'",
                                        f": .*{what}")


def test_gap_and_autoattack_settings_outcomes_are_checked_too():
    root = RECORD.parent.parent
    gap = json.loads((root / "gap" / "advtrain_seed0.json").read_text())
    validate_record(gap)
    gap["results"][1]["accuracy_adv"] += 0.002        # 1 image of 500 more than the outcomes say
    with pytest.raises(RecordError, match="'results.1.correct_adv': accuracy_adv = .* but the per-image "
                                          "outcomes give"):
        validate_record(gap)
    aa = json.loads((root / "autoattack" / "advtrain_seed0.json").read_text())
    aa["settings"]["pgd_at_eps"]["paper"]["correct"] = _flip_one(aa["settings"]["pgd_at_eps"]["paper"]["correct"])
    with pytest.raises(RecordError, match="'settings.pgd_at_eps.paper.correct'"):
        validate_record(aa)


def test_outcomes_must_be_zeros_and_ones_and_old_records_without_them_stay_valid(record):
    old = json.loads(json.dumps(record))
    for row in old["results"]:
        del row["correct"]
    validate_record(old)                                  # records written before outcomes: still readable
    record["results"][0]["correct"] = "12" * 250
    with pytest.raises(RecordError, match="results.0.correct"):
        validate_record(record)


def test_results_raw_holds_fidelity_rows_of_fidelity_records_only(record):
    """``results_raw`` (a weight-averaged generator's trained weights) takes fidelity rows, is optional, and
    belongs to fidelity records only."""
    fid = json.loads((RECORD.parents[1] / "fidelity" / "robgan_seed0.json").read_text())
    validate_record(fid)  # written before the field existed
    fid["results_raw"] = [dict(fid["results"][-1], class_accuracy=0.9, intra_recall=0.3)]
    validate_record(fid)
    fid["results_raw"][0]["intra_recall"] = 1.5
    with pytest.raises(RecordError, match="results_raw.0.intra_recall"):
        validate_record(fid)
    fid["results_raw"][0]["intra_recall"] = math.nan
    with pytest.raises(RecordError, match="results_raw.0.intra_recall': nan is not a finite number"):
        validate_record(fid)
    record["results_raw"] = fid["results"][-1:]
    with pytest.raises(RecordError, match="kind"):
        validate_record(record)
