"""``robgan compare``: identical experiment directories compare equal; one changed number, a missing
record, a changed verdict or a changed table cell is a difference (exit status 1); wall-clock values
(elapsed and training seconds, timestamps, "equal wall-clock" table rows, wall-clock claim verdicts) are
ignored unless a timing tolerance is given.

The experiment directories are built from the report fixtures: records, the expected table CSVs, and
a small claims.json in both layouts the report has used (claims with parts; a flat list of parts).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from robgan.cli import main
from robgan.report.compare import DEFAULT_CLAIMS, claim_verdicts, compare_dirs, numbers_close, render

FIXTURES = Path(__file__).resolve().parent / "fixtures"

CLAIMS_NESTED = {
    "experiment": "fixture",
    "claims": [
        {"id": "claim1", "parts": [{"id": "claim1", "verdict": "holds", "test": "pgd_every_eps"}]},
        {"id": "claim4", "parts": [
            {"id": "claim4a", "verdict": "holds", "test": "time_to_target",
             "comparisons": [{"what": "time to target IS along train_seconds", "diff": 20.8}]},
            {"id": "claim4b", "verdict": "indicative", "test": "time_to_target",
             "comparisons": [{"what": "time to target IS along iteration", "diff": 150}]},
        ]},
    ],
    "checks": [{"id": "pgd_flags", "verdict": "negligible"}],
}


def _experiment(root: Path, claims: dict | None = None) -> Path:
    shutil.copytree(FIXTURES / "records", root / "records")
    (root / "tables").mkdir()
    for csv_file in (FIXTURES / "expected").glob("*.csv"):
        shutil.copy(csv_file, root / "tables" / csv_file.name)
    (root / "claims.json").write_text(json.dumps(claims or CLAIMS_NESTED, indent=2))
    return root


@pytest.fixture
def dirs(tmp_path) -> tuple[Path, Path]:
    return _experiment(tmp_path / "reference"), _experiment(tmp_path / "candidate")


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2))


def _edit_csv(path: Path, row: int, column: str, value: str) -> None:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    rows[row][rows[0].index(column)] = value
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def test_identical_directories_compare_equal(dirs, capsys):
    ref, cand = dirs
    result = compare_dirs(ref, cand)
    assert result.ok and result.differences == []
    n_records = len(list((FIXTURES / "records").rglob("*.json")))
    n_csv = len(list((FIXTURES / "records").rglob("*.csv"))) + len(list((FIXTURES / "expected").glob("*.csv")))
    assert result.files == n_records + n_csv + 1
    assert result.verdicts == 3  # claim1, claim4b, the check; claim4a is judged on wall-clock time
    assert result.ignored_wallclock > 0 and result.values > 1000
    assert {"created", "code_version", "git_commit", "device"} <= result.ignored_keys
    assert main(["compare", str(ref), str(cand)]) == 0
    assert "0 difference(s) beyond tolerance" in capsys.readouterr().out


def test_one_changed_number_is_a_difference(dirs, capsys):
    ref, cand = dirs
    _edit_json(cand / "records" / "pgd" / "advtrain_seed0.json",
               lambda r: r["results"][2].update(accuracy=r["results"][2]["accuracy"] + 0.002))
    result = compare_dirs(ref, cand)
    (d,) = result.differences
    assert (d.file, d.field) == ("records/pgd/advtrain_seed0.json", "results[2].accuracy")
    assert main(["compare", str(ref), str(cand)]) == 1
    out = capsys.readouterr().out
    assert "| records/pgd/advtrain_seed0.json | results[2].accuracy |" in out
    assert "1 difference(s) beyond tolerance" in out


def test_relative_tolerance_is_1e_9(dirs):
    ref, cand = dirs
    path = cand / "records" / "gap" / "robgan_seed0.json"
    base = json.loads(path.read_text())["results"][0]["accuracy_adv"]
    _edit_json(path, lambda r: r["results"][0].update(accuracy_adv=base * (1 + 1e-12)))
    assert compare_dirs(ref, cand).ok
    _edit_json(path, lambda r: r["results"][0].update(accuracy_adv=base * (1 + 1e-8)))
    (d,) = compare_dirs(ref, cand).differences
    assert d.field == "results[0].accuracy_adv" and "> 1e-09" in d.note
    assert compare_dirs(ref, cand, rtol=1e-7).ok


def test_frechet_distances_compare_within_1e_6(dirs):
    """FID's matrix square root is not bit-reproducible across CPUs (1e-9 to 5e-8 measured between two
    machines of this kind): keys and CSV columns named fid / *_fid* compare within 1e-6, nothing else."""
    ref, cand = dirs
    path = cand / "records" / "fidelity" / "robgan_seed0.json"
    rec = json.loads(path.read_text())
    fid, is_mean = rec["results"][0]["fid"], rec["results"][0]["is_mean"]
    _edit_json(path, lambda r: r["results"][0].update(fid=fid * (1 + 5e-8), intra_fid_per_class=[2.0 * (1 + 5e-8)]))
    _edit_json(ref / "records" / "fidelity" / "robgan_seed0.json",
               lambda r: r["results"][0].update(intra_fid_per_class=[2.0]))
    _edit_csv(cand / "records" / "fidelity" / "robgan_seed0.csv", 1, "fid", repr(fid * (1 + 5e-8)))
    assert compare_dirs(ref, cand).ok
    _edit_json(path, lambda r: r["results"][0].update(fid=fid * (1 + 1e-5), is_mean=is_mean * (1 + 5e-8)))
    found = {d.field: d.note for d in compare_dirs(ref, cand).differences}
    assert found == {"results[0].fid": "Fréchet distance, rel. diff 1e-05 > 1e-06",
                     "results[0].is_mean": "rel. diff 5e-08 > 1e-09"}  # IS: the strict tolerance


def test_numbers_close():
    assert numbers_close(1.0, 1.0 + 1e-10, 1e-9) and not numbers_close(1.0, 1.0 + 1e-8, 1e-9)
    assert numbers_close(0.0, 0.0, 0.0) and not numbers_close(0.0, 1e-300, 1e-9)
    assert numbers_close(float("nan"), float("nan"), 1e-9) and not numbers_close(float("inf"), 1e300, 1e-9)


def test_wallclock_changes_are_ignored(dirs, capsys):
    ref, cand = dirs

    def slower(r):
        r["elapsed_seconds"] *= 3
        r["created"] = "2030-01-01T00:00:00Z"
        r["device"] = "cpu:another machine"
        r["code_version"] = "0" * 40
        r["run"]["git_commit"] = "0" * 40
        r["checkpoint"]["train_seconds"] *= 2
        for row in r["results"]:
            row["train_seconds"] *= 2

    for path in (cand / "records" / "fidelity").glob("*.json"):
        _edit_json(path, slower)
    _edit_csv(cand / "records" / "fidelity" / "sngan_seed0.csv", 1, "train_seconds", "99.5")
    gen = cand / "tables" / "generation.csv"
    with open(gen, newline="") as fh:
        rows = list(csv.reader(fh))
    wall = next(i for i, r in enumerate(rows) if "equal wall-clock" in r)
    _edit_csv(gen, wall, "mean", "1.2345")           # an "equal wall-clock" row: depends on speed
    _edit_csv(gen, 1, "train_seconds_mean", "999.0")  # a seconds column
    _edit_json(cand / "claims.json", lambda d: d["claims"][1]["parts"][0].update(verdict="fails"))  # claim4a
    result = compare_dirs(ref, cand)
    assert result.ok, render(result)
    assert main(["compare", str(ref), str(cand)]) == 0
    # ... and compared when a timing tolerance is asked for
    timed = compare_dirs(ref, cand, timing_rtol=0.5)
    fields = {(d.file, d.field) for d in timed.differences}
    assert ("records/fidelity/sngan_seed0.json", "elapsed_seconds") in fields
    assert ("claims.json", "claim4a.verdict") in fields
    assert ("tables/generation.csv", f"row {wall} ({rows[wall][0]}, mnist-cnn, equal wall-clock).mean") in fields
    assert not any(f.endswith(("created", "device", "code_version", "git_commit")) for _, f in fields)


def test_changed_verdict_and_missing_part_are_differences(dirs):
    ref, cand = dirs
    _edit_json(cand / "claims.json", lambda d: d["claims"][1]["parts"][1].update(verdict="inconclusive"))
    _edit_json(cand / "claims.json", lambda d: d["checks"].append({"id": "extra", "verdict": "holds"}))
    diffs = {(d.field, d.reference, d.candidate) for d in compare_dirs(ref, cand).differences}
    assert diffs == {("claim4b.verdict", "indicative", "inconclusive"), ("checks/extra.verdict", "(absent)", "holds")}


def test_record_or_table_on_one_side_only_is_a_difference(dirs):
    ref, cand = dirs
    (cand / "records" / "lipschitz" / "robgan_seed1.json").unlink()
    shutil.copy(cand / "records" / "gap" / "robgan_seed0.json", cand / "records" / "gap" / "extra_seed0.json")
    (ref / "tables" / "ablation.csv").unlink()
    diffs = {(d.file, d.reference, d.candidate) for d in compare_dirs(ref, cand).differences}
    assert diffs == {("records/lipschitz/robgan_seed1.json", "present", "absent"),
                     ("records/gap/extra_seed0.json", "absent", "present"),
                     ("tables/ablation.csv", "absent", "present")}


def test_outcomes_on_one_side_only_are_reported_as_added_not_a_crash(dirs):
    ref, cand = dirs
    rel = "records/pgd/advtrain_seed0.json"

    def strip(data):  # the reference predates per-image outcomes
        for row in data["results"]:
            del row["correct"]

    _edit_json(ref / rel, strip)

    def flip(data):   # the candidate's row 2 has one image changed (accuracy left alone: compare only)
        c = data["results"][2]["correct"]
        data["results"][2]["correct"] = ("0" if c[0] == "1" else "1") + c[1:]

    _edit_json(cand / "records" / "pgd" / "advtrain_seed1.json", flip)
    result = compare_dirs(ref, cand)
    diffs = {(d.file, d.field): d for d in result.differences}
    added = [d for (f, _), d in diffs.items() if f == rel]
    n_rows = len(json.loads((cand / rel).read_text())["results"])
    assert len(added) == n_rows and all(d.note == "added: key in the candidate only" and d.reference == "(absent)"
                                        for d in added)
    one = diffs[("records/pgd/advtrain_seed1.json", "results[2].correct")]
    assert one.note == "1 per-image outcome(s) differ" and one.reference.endswith("/500 images")
    assert "added: key in the candidate only" in render(result)


def test_changed_table_cell_and_row_count(dirs):
    ref, cand = dirs
    _edit_csv(cand / "tables" / "robust_accuracy.csv", 2, "mean", "0.5")
    path = cand / "tables" / "autoattack.csv"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    diffs = {(d.file, d.field) for d in compare_dirs(ref, cand).differences}
    assert ("tables/robust_accuracy.csv", "row 2 (advtrain, paper).mean") in diffs
    assert ("tables/autoattack.csv", "(rows)") in diffs and len(diffs) == 2


def test_claim_verdicts_reads_both_layouts():
    nested = claim_verdicts(CLAIMS_NESTED)
    flat = claim_verdicts({"claims": [{"id": "claim1", "claim": "claim1", "verdict": "holds"},
                                      {"id": "claim4a", "claim": "claim4", "verdict": "holds"}]})
    assert {k: v["verdict"] for k, v in nested.items()} == {
        "claim1": "holds", "claim4a": "holds", "claim4b": "indicative", "checks/pgd_flags": "negligible"}
    assert {k: v["verdict"] for k, v in flat.items()} == {"claim1": "holds", "claim4a": "holds"}
    with pytest.raises(ValueError, match="claims\\[0\\] \\(claim1\\) has no 'verdict'"):
        claim_verdicts({"claims": [{"id": "claim1"}]})


def test_wallclock_claim_parts_come_from_the_claims_file(tmp_path):
    """Flat claims.json without comparisons: the claims file's `axis: train_seconds` marks claim4a/5c."""
    flat = {"claims": [{"id": p, "verdict": "holds"} for p in ("claim1", "claim4a", "claim4b", "claim5c")]}
    ref, cand = _experiment(tmp_path / "a", flat), _experiment(tmp_path / "b", flat)
    _edit_json(cand / "claims.json", lambda d: [p.update(verdict="fails") for p in d["claims"]])
    fields = {d.field for d in compare_dirs(ref, cand, claims_path=DEFAULT_CLAIMS).differences}
    assert fields == {"claim1.verdict", "claim4b.verdict"}


def test_not_an_experiment_directory(tmp_path, caplog):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no records"):
        compare_dirs(tmp_path / "empty", tmp_path / "empty")
    assert main(["compare", str(tmp_path / "empty"), str(tmp_path / "nowhere")]) == 2
    assert "not a directory" in caplog.text


# ---------------------------------------------------------------------------------------------- summary
def test_summary_comes_first_with_tolerances_verdicts_and_largest_difference_per_file(dirs, capsys):
    ref, cand = dirs
    path = cand / "records" / "pgd" / "advtrain_seed0.json"
    before = json.loads(path.read_text())["results"]
    a0, a2 = before[0]["accuracy"], before[2]["accuracy"]
    _edit_json(path, lambda r: (r["results"][0].update(accuracy=a0 + 0.001),
                                r["results"][2].update(accuracy=a2 + 0.004)))
    _edit_json(cand / "claims.json", lambda d: d["claims"][0]["parts"][0].update(verdict="fails"))
    assert main(["compare", str(ref), str(cand)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    tol = next(i for i, ln in enumerate(lines) if ln.startswith("Tolerances:"))
    assert "|a - b| <= 1e-09 * max(|a|, |b|)" in lines[tol] and "wall-clock values" in lines[tol]
    assert "Verdict changes (1): claim1: holds → fails" in out
    assert "Configs: not compared (config.yaml missing on a side)." in out
    rel = abs(0.004) / max(abs(a2), abs(a2 + 0.004))
    row = next(ln for ln in lines if ln.startswith("| records/pgd/advtrain_seed0.json | 2 |"))
    assert f"| {rel:.3g} (results[2].accuracy:" in row  # the larger of the two differences
    assert "| claims.json | 1 | — (text, structure or verdicts only) |" in out
    # the summary is above the detailed table, the one-line count last
    assert tol < lines.index(row) < lines.index("Differences:")
    assert lines[-1].startswith("3 difference(s) beyond tolerance in 2 file(s);")


def test_differing_configs_are_a_warning_not_a_difference(dirs, capsys):
    ref, cand = dirs
    (ref / "config.yaml").write_text("experiment: quick\ntrain: {iterations: 50, batch_size: 64}\nseeds: [0]\n")
    (cand / "config.yaml").write_text("experiment: quick\ntrain: {iterations: 60, batch_size: 64}\nseeds: [0]\n"
                                      "device: cpu\n")
    result = compare_dirs(ref, cand)
    assert result.ok and result.config_changes == [("train.iterations", "50", "60"), ("device", "(absent)", "cpu")]
    assert main(["compare", str(ref), str(cand)]) == 0  # exit status: the records, tables and verdicts only
    out = capsys.readouterr().out
    assert ("WARNING: the two experiments' configs differ (config.yaml, 2 key(s)): train.iterations: 50 → 60; "
            "device: (absent) → cpu.") in out
    (cand / "config.yaml").write_text((ref / "config.yaml").read_text())
    assert compare_dirs(ref, cand).config_changes == []
    assert main(["compare", str(ref), str(cand)]) == 0
    assert "Configs: identical (config.yaml)." in capsys.readouterr().out


def test_a_field_new_on_one_side_is_reported_as_added_not_a_crash(dirs):
    ref, cand = dirs
    _edit_json(cand / "records" / "gap" / "robgan_seed0.json", lambda r: r.update(new_measure={"value": 0.5}))
    _edit_json(cand / "records" / "gap" / "robgan_seed1.json", lambda r: r.pop("settings"))
    notes = {(d.file, d.field, d.note) for d in compare_dirs(ref, cand).differences}
    assert notes == {("records/gap/robgan_seed0.json", "new_measure", "added: key in the candidate only"),
                     ("records/gap/robgan_seed1.json", "settings", "removed: key in the reference only")}


def test_a_fidelity_record_with_trained_weights_against_one_without(dirs):
    """A record of a weight-averaged generator with its trained weights (results_raw) and a CSV with the
    weights column, against an older one: reported as added and as a changed header, not a crash."""
    ref, cand = dirs
    rel = "records/fidelity/robgan_seed0.json"
    _edit_json(cand / rel, lambda r: r.update(results_raw=[dict(r["results"][-1], fid=1.0)]))
    rows_path = cand / rel.replace(".json", ".csv")
    with open(rows_path, newline="") as fh:
        rows = list(csv.reader(fh))
    with open(rows_path, "w", newline="") as fh:
        csv.writer(fh).writerows([rows[0] + ["weights"]] + [r + ["average"] for r in rows[1:]])
    diffs = {(d.file, d.field, d.note) for d in compare_dirs(ref, cand).differences}
    assert diffs == {(rel, "results_raw", "added: key in the candidate only"),
                     (rel.replace(".json", ".csv"), "(header)", "")}


AVX512_BF16 = {"device_type": "cpu", "torch": "2.14.1+cu130", "cpu_capability": "AVX512",
               "cpu_flags": ["avx2", "avx512f", "avx512_vnni", "avx512_bf16"], "bf16_native": True}
AVX2 = {"device_type": "cpu", "torch": "2.14.1+cu130", "cpu_capability": "AVX2", "cpu_flags": ["avx2"],
        "bf16_native": False}


def _set_compute(root: Path, fingerprint: dict | None) -> None:
    for path in (root / "records").rglob("*.json"):
        _edit_json(path, lambda r: r.pop("compute", None) if fingerprint is None else r.update(compute=fingerprint))


def test_differences_on_other_compute_exit_3_with_a_warning(dirs, capsys):
    """An AVX2 CPU without native bf16 trains in float32 where an AVX-512-BF16 CPU trains in bf16: the
    numbers differ and compare says why (exit 3); on the same compute the same difference is exit 1."""
    ref, cand = dirs
    _set_compute(ref, AVX512_BF16)
    _set_compute(cand, AVX512_BF16)
    _edit_json(cand / "records" / "pgd" / "advtrain_seed0.json",
               lambda r: r["results"][2].update(accuracy=r["results"][2]["accuracy"] + 0.002))
    result = compare_dirs(ref, cand)
    assert result.compute_changes == [] and result.exit_status == 1
    assert main(["compare", str(ref), str(cand)]) == 1
    assert "Compute: the same as far as the records tell" in capsys.readouterr().out
    _set_compute(cand, AVX2)
    result = compare_dirs(ref, cand)
    assert result.compute_changes == [
        ("cpu_capability", '"AVX512"', '"AVX2"'),
        ("cpu_flags", '["avx2", "avx512f", "avx512_vnni", "avx512_bf16"]', '["avx2"]'),
        ("bf16_native", "true", "false")]
    assert len(result.differences) == 1 and result.exit_status == 3  # the fingerprint itself is provenance
    assert main(["compare", str(ref), str(cand)]) == 3
    out = capsys.readouterr().out
    assert "WARNING: the two experiments ran on different compute" in out and "bf16_native: true → false" in out


def test_identical_numbers_on_other_compute_exit_0(dirs):
    ref, cand = dirs
    _set_compute(ref, AVX512_BF16)
    _set_compute(cand, AVX2)
    result = compare_dirs(ref, cand)
    assert result.compute_changes and result.ok and result.exit_status == 0


def test_records_before_the_fingerprint_tell_bf16_from_their_attack_precision(dirs):
    """Records written before `compute` existed: a bf16 attack ran only where bf16 is native, so such a
    directory differs from a candidate without native bf16; one without bf16 attacks tells nothing."""
    ref, cand = dirs
    _set_compute(ref, None)
    _set_compute(cand, AVX2)
    _edit_json(cand / "records" / "pgd" / "advtrain_seed0.json",
               lambda r: r["results"][2].update(accuracy=r["results"][2]["accuracy"] + 0.002))
    assert compare_dirs(ref, cand).exit_status == 1  # the fixtures' attacks: no bf16 → nothing known
    _edit_json(ref / "records" / "pgd" / "advtrain_seed0.json",
               lambda r: r["settings"].update(attack_precision="bf16 autocast in the attack's forward/backward"))
    result = compare_dirs(ref, cand)
    assert result.compute_changes == [("bf16_native", "true", "false")] and result.exit_status == 3
    _set_compute(cand, AVX512_BF16)
    assert compare_dirs(ref, cand).exit_status == 1
