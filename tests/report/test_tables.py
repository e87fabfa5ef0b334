"""Tables of `robgan report`: golden outputs from the fixture records, record loading and validation."""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from script_loader import load_script

from robgan.config import load_config
from robgan.records import RecordError
from robgan.report import aggregate, tables
from robgan.report import table_format as TF
from robgan.report.aggregate import (
    LoadedRecord,
    build_frames,
    eps_header,
    load_records,
    pgd_estimate,
)
from robgan.report.stats import difference

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
RECORDS = FIXTURES / "records"
EXPECTED = FIXTURES / "expected"


def _make_fixtures_module():
    return load_script(FIXTURES / "make_fixtures.py")


@pytest.fixture(scope="module")
def records():
    return load_records(RECORDS)


@pytest.fixture(scope="module")
def frames(records):
    return build_frames(records)


@pytest.fixture(scope="module")
def cfg():
    return load_config(FIXTURES / "config.yaml")


@pytest.fixture(scope="module")
def built(frames, cfg):
    return tables.build_tables(frames, cfg)


def _frames_with(records, edit):
    """Frames of deep-copied records after ``edit(list_of_record_dicts)`` (which may drop or change them)."""
    data = [copy.deepcopy(r.data) for r in records]
    data = edit(data) or data
    return build_frames([LoadedRecord(Path(f"mem{i}.json"), d) for i, d in enumerate(data)])


# ---------------------------------------------------------------------------------------------- golden


def test_fixture_records_are_what_the_generator_writes(tmp_path):
    mod = _make_fixtures_module()
    written = mod.write_records(tmp_path / "records")
    committed = sorted(p.relative_to(RECORDS) for p in RECORDS.rglob("*") if p.is_file())
    fresh = sorted(p.relative_to(tmp_path / "records") for p in (tmp_path / "records").rglob("*") if p.is_file())
    assert committed == fresh and len(written) == 66
    for rel in committed:
        assert (RECORDS / rel).read_bytes() == (tmp_path / "records" / rel).read_bytes(), rel


def test_every_registered_table_has_one_builder_and_is_built_in_order(built):
    from robgan.registry import TABLES

    assert list(tables.TABLE_BUILDERS) == list(TABLES)
    assert [t.name for t in built] == list(TABLES)


def test_tables_equal_golden_files(tmp_path, built):
    paths = [p for t in built for p in TF.write_table(t, tmp_path)]
    names = sorted(p.name for p in paths)
    assert names == sorted(p.name for p in EXPECTED.iterdir())
    for name in names:
        got, want = (tmp_path / name).read_text(), (EXPECTED / name).read_text()
        assert got == want, f"{name} differs from tests/report/fixtures/expected/{name} (regenerate with " \
                            f"make_fixtures.py --expected only if the change is intended)"


# ---------------------------------------------------------------------------------------------- contents


def test_eps_header_shows_both_scales():
    assert eps_header(8 / 255) == "ε=0.031 (8.0/255; 0.063 in [-1,1])"
    assert eps_header(0.1) == "ε=0.100 (25.5/255; 0.200 in [-1,1])"


def test_robust_accuracy_cells_are_seed_means_from_the_records(frames, records):
    t = tables.robust_accuracy_table(frames, "paper")
    assert t.columns[:3] == ["method", "training budget", "clean"]
    assert t.columns[3:] == [eps_header(e) for e in (0.05, 0.1, 0.2)]
    methods = ["advtrain", "robgan", "robgan_ft", "robgan_ft_nofake", "acgan", "acgan_newloss", "robgan_oldloss"]
    # each method's row, then its worst case over attacks (paper protocol table only)
    assert [r[0] for r in t.rows] == [x for m in methods for x in (m, f"{m}, {tables.WORST_CASE_ROW}")]
    assert [r[0] for r in tables.robust_accuracy_table(frames, "strong").rows] == methods
    assert any("UNKNOWN" in n for n in t.notes)
    # recompute one cell straight from the JSON files
    accs = [row["accuracy"] for r in records if r.kind == "pgd" and r.label == "robgan_ft"
            for row in r.data["results"] if row["protocol"] == "paper" and abs(row["eps"] - 0.1) < 1e-9]
    assert len(accs) == 3
    tidy = t.tidy
    cell = tidy[(tidy["label"] == "robgan_ft") & (tidy["protocol"] == "paper") & (tidy["eps"] == 0.1)].iloc[0]
    assert cell["n"] == 3
    assert abs(cell["mean"] - sum(accs) / 3) < 1e-12
    assert abs(cell["std"] - pd.Series(accs).std(ddof=1)) < 1e-12
    assert cell["n_examples"] == 500 and cell["steps"] == 20
    # tidy: numbers are numbers
    for col in ("eps", "eps_pm1", "mean", "std", "n"):
        assert pd.api.types.is_numeric_dtype(tidy[col]), col
    row = next(r for r in t.rows if r[0] == "robgan_ft")
    assert row[4] == f"{100 * cell['mean']:.1f} ± {100 * cell['std']:.1f} (n=3)"
    assert row[1] == "n/a"                                   # no config: the budget is unknown


def test_robustness_tables_state_each_training_budget(frames, cfg):
    t = tables.robust_accuracy_table(frames, "paper", cfg)
    budget = {r[0]: r[1] for r in t.rows}
    # fixture config: train 600 × n_dis 1 × 64, advtrain 800 × 64, finetune 200 × 64 after co-training
    assert budget["advtrain"] == "800 D updates, 51.2k real images"
    assert budget["robgan"] == "600 D updates, 38.4k real images"
    assert budget["robgan_ft"] == budget["robgan_ft_nofake"] == "800 D updates, 51.2k real images"
    tidy = t.tidy.drop_duplicates("label").set_index("label")
    assert tidy.loc["advtrain", "d_updates"] == 800 and tidy.loc["robgan", "real_images"] == 600 * 64
    aa = tables.autoattack_table(frames, cfg)
    assert any("advtrain 800 D updates, 51.2k real images" in n for n in aa.notes)


def test_strong_table_describes_its_protocol(frames):
    t = tables.robust_accuracy_table(frames, "strong")
    assert t.name == "robust_accuracy_strong"
    assert any("40 steps of 0.1·ε, 2 restarts, random start" in n for n in t.notes)


def test_one_seed_cells_show_n1(records):
    fr = _frames_with(records, lambda data: [d for d in data if d["run"]["seed"] == 0])
    t = tables.robust_accuracy_table(fr, "paper")
    for row in t.rows:  # the worst-case rows have no clean cell
        cells = row[3:] if row[0].endswith(tables.WORST_CASE_ROW) else row[2:]
        assert all(cell.endswith("(n=1)") and "±" not in cell for cell in cells), row


def test_autoattack_table_columns_flags_and_custom_marker(frames):
    t = tables.autoattack_table(frames)
    rows = {r[0]: dict(zip(t.columns, r, strict=True)) for r in t.rows}
    assert set(rows) == {"advtrain", "robgan", "robgan_ft", "robgan_ft_nofake"}
    assert rows["advtrain"]["failed sanity flags"] == "none"
    assert rows["robgan_ft_nofake"]["failed sanity flags"] == "autoattack:autoattack_le_pgd (seed 1)"
    assert rows["advtrain"]["AutoAttack version / attacks"].startswith("custom subset: apgd-ce, apgd-t")
    assert rows["advtrain"]["PGD, paper protocol (%)"] == tables.robust_accuracy_table(frames).rows[0][4]
    tidy = t.tidy
    assert set(tidy["metric"]) == {"clean", "pgd_paper", "pgd_strong", "autoattack", "worst_case"}
    assert tidy["custom_subset"].all()
    assert rows["advtrain"]["worst case over attacks (%)"].endswith("(n=3) on 200 images")


def _doctor_advtrain_outcomes(data):
    """advtrain seed 0 at ε = 0.1, outcomes set by hand: paper PGD leaves the even images of 500, strong
    PGD those not a multiple of 3, AutoAttack the first 150 of its 200 (its PGD: all 200)."""
    for d in data:
        if d["run"]["label"] != "advtrain" or d["run"]["seed"] != 0:
            continue
        if d["kind"] == "pgd":
            for r in d["results"]:
                if abs(r["eps"] - 0.1) < 1e-9 and r["protocol"] == "paper":
                    r["correct"] = "".join("1" if i % 2 == 0 else "0" for i in range(500))
                elif abs(r["eps"] - 0.1) < 1e-9 and r["protocol"] == "strong":
                    r["correct"] = "".join("1" if i % 3 != 0 else "0" for i in range(500))
        if d["kind"] == "autoattack":
            next(r for r in d["results"] if r["stage"] == "final")["correct"] = "1" * 150 + "0" * 50
            for proto in ("paper", "strong"):
                d["settings"]["pgd_at_eps"][proto]["correct"] = "1" * 200


def test_worst_case_counts_an_image_only_if_no_attack_broke_it(records, frames):
    worst = aggregate.worst_case(_frames_with(records, _doctor_advtrain_outcomes), "advtrain", 0.1)
    # robust: i < 150 (AutoAttack), even (paper PGD), not a multiple of 3 (strong PGD), on the 200
    # AutoAttack images: 75 even numbers below 150, 25 of them multiples of 6 → 50 / 200
    assert worst.n == 200 and worst.estimate.values[0] == pytest.approx(0.25)
    assert worst.attacks == ("paper PGD", "strong PGD", "AutoAttack") and worst.missing == ()
    # on the fixture: never above AutoAttack's own accuracy on the same images, seed by seed
    for label in ("advtrain", "robgan", "robgan_ft", "robgan_ft_nofake"):
        w = aggregate.worst_case(frames, label, 0.1).estimate
        aa = aggregate.autoattack_estimate(frames.autoattack, label, "final", 0.1)
        assert set(w.values) == {0, 1, 2} and all(w.values[s] <= aa.values[s] for s in w.values)


def _hand_frames(pgd_rows: list[dict], aa_final: dict | None = None) -> aggregate.Frames:
    """Frames of one classifier (advtrain, seed 0) from hand-written per-image outcomes: ``pgd_rows`` of
    ``(protocol, eps, correct)`` on the images ``test/0/<n>``; ``aa_final``: ``{"eps", "correct"}`` of an
    AutoAttack run on the first ``len(correct)`` of them."""
    cols = aggregate._COLUMNS
    base = {"label": "advtrain", "method": "advtrain", "seed": 0, "file": "hand.json", "split_size": 1000}
    pgd = [{**base, "protocol": proto, "eps": eps, "eps_pm1": 2 * eps, "steps": 20, "step_size": eps / 5,
            "restarts": 1, "random_start": False, "attack_seed": 0, "n": len(c), "n_correct": c.count("1"),
            "accuracy": c.count("1") / len(c), "images": f"test/0/{len(c)}", "correct": c}
           for proto, eps, c in pgd_rows]
    aa, meta = [], []
    if aa_final:
        c = aa_final["correct"]
        aa = [{**base, "stage": "final", "eps": aa_final["eps"], "n": len(c), "n_correct": c.count("1"),
               "accuracy": c.count("1") / len(c), "images": f"test/0/{len(c)}", "correct": c}]
        meta = [{**base, "eps": aa_final["eps"], "version": "custom", "attacks": "apgd-ce", "cheap_subset": True,
                 "n_examples": len(c), "pgd_paper": math.nan, "pgd_paper_n": len(c), "pgd_strong": math.nan,
                 "pgd_strong_n": len(c), "images": f"test/0/{len(c)}", "pgd_paper_correct": None,
                 "pgd_strong_correct": None}]
    frames = {k: pd.DataFrame([], columns=v) for k, v in cols.items()}
    frames.update(pgd=pd.DataFrame(pgd, columns=cols["pgd"]), autoattack=pd.DataFrame(aa, columns=cols["autoattack"]),
                  autoattack_meta=pd.DataFrame(meta, columns=cols["autoattack_meta"]))
    return aggregate.Frames(experiment="hand", dataset="mnist5k", **frames)


def test_worst_case_curve_golden_three_images():
    """3 images; at ε = 0.1 paper PGD breaks image 0 and strong PGD image 2: only image 1 is robust (1/3).
    At ε = 0.2 PGD breaks images 0 and 1; AutoAttack runs on images 0-1 only and breaks image 0."""
    from robgan.report import figures

    fr = _hand_frames([("clean", 0.0, "111"), ("paper", 0.1, "011"), ("strong", 0.1, "110"),
                       ("paper", 0.2, "001"), ("strong", 0.2, "001")], {"eps": 0.2, "correct": "01"})
    w = aggregate.worst_case(fr, "advtrain", 0.1, images="all")
    assert w.n == 3 and w.estimate.values == {0: pytest.approx(1 / 3)}
    assert w.attacks == ("paper PGD", "strong PGD") and w.missing == ()
    assert w.estimate.binomials[0].outcomes == {0: "010"} and w.estimate.binomials[0].images == "test/0/3"
    # at the AutoAttack ε: every attacked image (image 2 by PGD alone) vs the images common to all attacks
    w_all = aggregate.worst_case(fr, "advtrain", 0.2, images="all")
    assert w_all.n == 3 and w_all.estimate.values[0] == pytest.approx(1 / 3)
    assert w_all.attacks == ("paper PGD", "strong PGD", "AutoAttack")
    w_common = aggregate.worst_case(fr, "advtrain", 0.2)
    assert w_common.n == 2 and w_common.estimate.values[0] == 0.0
    with pytest.raises(ValueError, match="images"):
        aggregate.worst_case(fr, "advtrain", 0.1, images="some")
    # the same numbers in the figure's curve and in the robust-accuracy table's worst-case row
    xs, stats, ns = figures.worst_case_curve(fr, "advtrain")
    assert xs == [0.1, 0.2] and ns == [3, 3] and [s[0] for s in stats] == pytest.approx([100 / 3, 100 / 3])
    t = tables.robust_accuracy_table(fr, "paper")
    assert t.rows[1] == ["advtrain, worst case over attacks", "", "—", "33.3 (n=1)", "33.3 (n=1)"]
    wc = t.tidy[t.tidy["protocol"] == "worst_case"]
    assert list(wc["eps"]) == [0.1, 0.2] and list(wc["mean"]) == pytest.approx([1 / 3, 1 / 3])
    assert list(wc["n_examples"]) == [3, 3]


def test_worst_case_over_all_attacked_images_on_the_fixture(records):
    worst = aggregate.worst_case(_frames_with(records, _doctor_advtrain_outcomes), "advtrain", 0.1, images="all")
    # robust: i % 6 in {2, 4} (PGD) → 166 of 500; AutoAttack breaks 16 of them in [150, 200) → 150 / 500
    assert worst.n == 500 and worst.estimate.values[0] == pytest.approx(0.30)


def test_worst_case_needs_per_image_outcomes(records):
    def strip(data):
        for d in data:
            for r in d["results"]:
                r.pop("correct", None)
            for proto in ("paper", "strong"):
                d["settings"].get("pgd_at_eps", {}).get(proto, {}).pop("correct", None)

    fr = _frames_with(records, strip)
    assert aggregate.worst_case(fr, "advtrain", 0.1).estimate.empty
    t = tables.autoattack_table(fr)
    assert all(r[6] == "n/a (no per-image outcomes)" for r in t.rows)
    robust = tables.robust_accuracy_table(fr, "paper")
    worst_rows = [r for r in robust.rows if r[0].endswith(tables.WORST_CASE_ROW)]
    assert len(worst_rows) == 7 and all(c == "n/a (no per-image outcomes)" for r in worst_rows for c in r[3:])
    ablation = tables.ablation_table(fr, 0.1)
    assert ablation.rows[0][4] == "+9.5 (SE n/a: no per-image outcomes)"


def test_autoattack_pgd_values_fall_back_on_record_settings_then_na(records):
    def drop_eps(data):
        for d in data:
            if d["kind"] == "pgd":
                d["results"] = [r for r in d["results"] if abs(r["eps"] - 0.1) > 1e-9]

    def carry(data):  # the ε is not in the pgd grid; the autoattack records carry PGD in two accepted forms
        drop_eps(data)
        for d in data:
            if d["kind"] == "autoattack" and d["run"]["label"] == "advtrain":
                d["settings"]["pgd_at_eps"]["paper"]["accuracy"] = 0.75
                del d["settings"]["pgd_at_eps"]["strong"]
                d["settings"]["pgd_strong_accuracy"] = 0.70

    t = tables.autoattack_table(_frames_with(records, carry))
    row = dict(zip(t.columns, t.rows[0], strict=True))
    assert row["method"] == "advtrain"
    assert row["PGD, paper protocol (%)"] == "75.0 ± 0.0 (n=3) [from autoattack record]"
    assert row["PGD, strong protocol (%)"] == "70.0 ± 0.0 (n=3) [from autoattack record]"
    src = t.tidy[(t.tidy["label"] == "advtrain") & (t.tidy["metric"] == "pgd_paper")]["source"].iloc[0]
    assert src == "autoattack record settings"

    def neither(data):
        drop_eps(data)
        for d in data:
            if d["kind"] == "autoattack":
                del d["settings"]["pgd_at_eps"]

    t = tables.autoattack_table(_frames_with(records, neither))
    row = dict(zip(t.columns, t.rows[0], strict=True))
    assert row["PGD, paper protocol (%)"] == "n/a" and row["PGD, strong protocol (%)"] == "n/a"


def test_autoattack_table_prefers_the_pgd_records(frames):
    t = tables.autoattack_table(frames)
    assert set(t.tidy[t.tidy["metric"].str.startswith("pgd")]["source"]) == {"pgd record"}


def test_standard_autoattack_is_not_marked_custom(records):
    def standard(data):
        for d in data:
            if d["kind"] == "autoattack":
                d["settings"]["version"] = "standard"
                d["settings"]["attacks"] = ["apgd-ce", "apgd-t", "fab-t", "square"]
                d["settings"]["cheap_subset"] = False

    t = tables.autoattack_table(_frames_with(records, standard))
    assert all(r[7].startswith("standard (") for r in t.rows)
    assert not t.tidy["custom_subset"].any()


def test_per_classifier_autoattack_versions_are_named_per_row_and_in_the_checks(records):
    """eval.autoattack.overrides: standard AutoAttack for some classifiers, a custom subset for others;
    each row and each Checks evidence line names its own version, and the table says the rows differ."""
    from robgan.report.checks import evaluate_checks
    from robgan.report.claims import load_claims

    def mixed(data):
        for d in data:
            if d["kind"] == "autoattack" and d["run"]["label"] in ("advtrain", "robgan_ft"):
                d["settings"]["version"] = "standard"
                d["settings"]["attacks"] = ["apgd-ce", "apgd-t", "fab-t", "square"]
                d["settings"]["cheap_subset"] = False

    fr = _frames_with(records, mixed)
    t = tables.autoattack_table(fr)
    version = {r[0]: r[7] for r in t.rows}
    assert version["advtrain"] == version["robgan_ft"] == "standard (apgd-ce, apgd-t, fab-t, square)"
    assert version["robgan"].startswith("custom subset: apgd-ce, apgd-t (version custom)")
    assert any("ran different AutoAttack versions" in n for n in t.notes)
    assert not any("ran different AutoAttack versions" in n for n in tables.autoattack_table(
        build_frames(records)).notes)  # one version: no such note
    checks = {c.id: c for c in evaluate_checks(fr, load_claims(REPO / "config" / "paper_claims.yaml"))}
    evidence = {e.split(" at ")[0]: e for e in checks["autoattack_le_pgd"].evidence}
    assert "(AutoAttack standard (apgd-ce, apgd-t, fab-t, square))" in evidence["advtrain"]
    assert "(AutoAttack custom subset: apgd-ce, apgd-t (version custom))" in evidence["robgan_ft_nofake"]
    assert all("AutoAttack − paper PGD" in e for e in evidence.values())
    one = {c.id: c for c in evaluate_checks(build_frames(records), load_claims(REPO / "config" / "paper_claims.yaml"))}
    assert not any("(AutoAttack " in e for e in one["autoattack_le_pgd"].evidence)  # one version: as before


def test_generation_final_best_and_equal_budgets(frames):
    t = tables.generation_table(frames)
    assert t.columns == ["method", "discriminator", "point", "budget", "IS (MNIST-CNN features)",
                         "FID (MNIST-CNN features)"]
    tidy = t.tidy
    is_rows = tidy[(tidy["label"] == "acgan") & (tidy["metric"] == "IS")].set_index("point")
    assert is_rows.loc["best over training", "mean"] > is_rows.loc["final", "mean"] + 0.2  # late collapse
    fid = frames.fidelity
    b_s = fid.groupby(["label", "seed"])["train_seconds"].max().min()
    wall = tidy[(tidy["point"] == "equal wall-clock") & (tidy["metric"] == "IS")]
    assert (wall["budget_seconds"] - b_s).abs().max() < 1e-9
    assert (wall["train_seconds_mean"] <= b_s + 1e-9).all()
    iters = tidy[(tidy["point"] == "equal iterations") & (tidy["metric"] == "IS")]
    assert (iters["budget_iteration"] == 600).all()
    assert any("no interpolation" in n for n in t.notes)


def test_generation_class_accuracy_column_only_when_records_carry_it(records):
    def with_class_accuracy(data):
        for d in data:
            if d["kind"] == "fidelity":
                for r in d["results"]:
                    # known values: 0.5 for sngan, iteration-dependent for the others
                    r["class_accuracy"] = 0.5 if d["run"]["label"] == "sngan" else min(1.0, r["iteration"] / 1000)

    t = tables.generation_table(_frames_with(records, with_class_accuracy))
    assert t.columns[-1] == "class accuracy (%)"
    final = {r[0]: r[-1] for r in t.rows if r[2] == "final"}
    assert final["sngan"] == "50.0 ± 0.0 (n=3)" and final["robgan"] == "60.0 ± 0.0 (n=3)"  # 600 / 1000
    tidy = t.tidy[(t.tidy["metric"] == "class_accuracy") & (t.tidy["point"] == "final")].set_index("label")
    assert tidy.loc["sngan", "mean"] == pytest.approx(0.5) and tidy.loc["robgan", "mean"] == pytest.approx(0.6)
    assert any("Class accuracy" in n for n in t.notes)
    # the fixture records (written before the field existed) give no such column
    assert "class accuracy (%)" not in tables.generation_table(build_frames(records)).columns


def test_generation_table_states_discriminators_and_sampling_mode(frames, cfg):
    t = tables.generation_table(frames, cfg)
    disc = {r[0]: r[1] for r in t.rows}
    assert disc["sngan"] == "SN-ResNet, projection head" and disc["robgan"] == "ResNet, AC head"
    assert [r[0] for r in t.rows[::4]] == ["robgan", "acgan", "acgan_newloss", "robgan_oldloss", "sngan"]
    assert any("batch statistics (train-mode BN, as the authors) (model.g_sample_bn = batch)" in n for n in t.notes)
    assert not any("like for like" in n for n in t.notes)                     # ResNet on both sides
    running = dict(cfg, model={**cfg["model"], "g_sample_bn": "running", "d_arch": "preact_resnet18"})
    t = tables.generation_table(frames, running)
    assert {r[0]: r[1] for r in t.rows}["robgan"] == "PreAct-ResNet-18, AC head"
    assert any("running statistics" in n and "g_sample_bn = running" in n for n in t.notes)
    assert any("not like for like" in n and "sngan: SN-ResNet, projection head" in n for n in t.notes)
    assert tables.generation_table(frames).rows[0][1] == "n/a"               # no config given


def test_generation_never_mixes_extractors_in_a_column(records):
    def inception_for_sngan(data):
        for d in data:
            if d["kind"] == "fidelity" and d["run"]["label"] == "sngan":
                for r in d["results"]:
                    r["extractor"] = "inception-v3-compat"

    t = tables.generation_table(_frames_with(records, inception_for_sngan))
    assert "IS (MNIST-CNN features)" in t.columns and "IS (Inception-v3)" in t.columns
    col_mnist, col_incep = t.columns.index("IS (MNIST-CNN features)"), t.columns.index("IS (Inception-v3)")
    for row in t.rows:
        if row[0] == "sngan":
            assert row[col_mnist] == "n/a" and row[col_incep] != "n/a"
        else:
            assert row[col_incep] == "n/a" and row[col_mnist] != "n/a"


def test_ablation_rows_and_difference(frames):
    t = tables.ablation_table(frames, 0.1)
    assert [r[1] for r in t.rows] == ["robgan → robgan_ft", "robgan_ft_nofake → robgan_ft", "acgan → acgan_newloss",
                                      "robgan_oldloss → robgan", "acgan_newloss → robgan"]
    tidy = t.tidy
    ft = tidy[(tidy["variant"] == "robgan_ft") & (tidy["baseline"] == "robgan") & (tidy["metric"] == "pgd_accuracy")]
    d = difference(pgd_estimate(frames.pgd, "robgan_ft", "paper", 0.1),
                   pgd_estimate(frames.pgd, "robgan", "paper", 0.1))
    assert abs(ft["diff"].iloc[0] - d.diff) < 1e-12 and abs(ft["se"].iloc[0] - d.se) < 1e-12
    assert t.rows[0][5] != "—" and t.rows[0][6] == "—"  # robgan_ft trains no generator


def test_ablation_eps_defaults_to_autoattack_eps(frames, cfg):
    assert tables.ablation_eps(frames, cfg) == pytest.approx(0.1)
    assert tables.ablation_eps(frames, cfg, 0.05) == 0.05


def test_markdown_and_latex_render(built):
    for t in built:
        md = TF.to_markdown(t).splitlines()
        body = [line for line in md if line.startswith("|")]
        widths = {line.replace("\\|", "").count("|") for line in body}
        assert widths == {len(t.columns) + 1}, t.name
        assert set(body[1].strip("|").split("|")) <= {"---", "---:"}
        tex = TF.to_latex(t)
        assert tex.isascii(), t.name
        for word in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}"):
            assert word in tex
        assert all(line.endswith(r"\\") for line in tex.splitlines() if " & " in line)


def test_latex_escape():
    assert TF.latex_escape("a_b & 5% ε ± 1") == r"a\_b \& 5\% $\varepsilon$ $\pm$ 1"


def test_csv_is_tidy(built, tmp_path):
    for t in built:
        TF.write_table(t, tmp_path)
        df = pd.read_csv(tmp_path / f"{t.name}.csv")
        assert len(df) == len(t.tidy)
        for col in [c for c in df.columns if c in ("mean", "std", "n") or c.endswith(("_mean", "_n"))]:
            assert pd.api.types.is_numeric_dtype(df[col]), (t.name, col)


# ---------------------------------------------------------------------------------------------- loading


def _copy_records(tmp_path) -> Path:
    dst = tmp_path / "records"
    shutil.copytree(RECORDS, dst)
    return dst


def test_invalid_record_is_rejected_with_its_file_named(tmp_path):
    root = _copy_records(tmp_path)
    bad = root / "pgd" / "robgan_seed1.json"
    data = json.loads(bad.read_text())
    data["results"][0]["accuracy"] = "0.97"  # a number stored as a string
    bad.write_text(json.dumps(data))
    with pytest.raises(RecordError) as err:
        load_records(root)
    assert str(bad) in str(err.value) and "accuracy" in str(err.value)


def test_non_json_and_duplicates_are_rejected(tmp_path):
    root = _copy_records(tmp_path)
    broken = root / "gap" / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(RecordError, match="broken.json"):
        load_records(root)
    broken.unlink()
    shutil.copy(root / "gap" / "advtrain_seed0.json", root / "gap" / "copy_of_advtrain.json")
    with pytest.raises(RecordError, match="second gap record for label 'advtrain' seed 0"):
        load_records(root)


def test_records_of_two_experiments_are_not_mixed(tmp_path):
    root = _copy_records(tmp_path)
    p = root / "gap" / "advtrain_seed0.json"
    data = json.loads(p.read_text())
    data["run"]["experiment"] = "other"
    p.write_text(json.dumps(data))
    with pytest.raises(RecordError, match="several experiments"):
        load_records(root)


def test_labels_come_from_records_not_file_names(tmp_path, records):
    root = _copy_records(tmp_path)
    (root / "pgd" / "advtrain_seed0.json").rename(root / "pgd" / "whatever.json")
    fr = build_frames(load_records(root))
    assert set(fr.pgd[fr.pgd["seed"] == 0]["label"]) >= {"advtrain"}


def test_cli_rejects_invalid_record_naming_the_file(tmp_path, caplog):
    from robgan.cli import main

    root = _copy_records(tmp_path)
    bad = root / "fidelity" / "sngan_seed2.json"
    data = json.loads(bad.read_text())
    del data["results"][0]["fid"]
    bad.write_text(json.dumps(data))
    rc = main(["report", "--config", str(FIXTURES / "config.yaml"), "--records", str(root),
               "--out", str(tmp_path / "out")])
    assert rc == 1
    assert str(bad) in caplog.text
    assert not (tmp_path / "out" / "claims.md").exists()


def test_summary_of_no_values_is_nan():
    from robgan.report.stats import summarise

    s = summarise([])
    assert s["n"] == 0 and math.isnan(s["mean"])


def test_unlike_names_pooling_and_optimiser_overrides_grouped():
    from robgan.config import load_config
    from robgan.report.methods import unlike_discriminators

    quick = load_config(REPO / "config" / "config.yaml")
    text = unlike_discriminators(quick, ["robgan", "acgan", "sngan"])
    assert "robgan, acgan: ResNet (mean-pooled), AC head vs sngan: SN-ResNet, projection head" in text
    assert "optimiser" not in text  # quick: one optimiser and n_dis for every GAN
    over = load_config(REPO / "config" / "config.yaml", ["train.method_overrides={sngan: {n_dis: 5}}"])
    assert "sngan: Adam(lr_d 0.002, lr_g 0.001, betas 0/0.9), n_dis 5" in unlike_discriminators(
        over, ["robgan", "acgan", "sngan"])
    assert unlike_discriminators(quick, ["robgan", "acgan"]) is None          # same D, same optimiser
    same = load_config(REPO / "config" / "config.yaml", ["train.method_overrides={}", "model.d_pool=sum"])
    assert unlike_discriminators(same, ["robgan", "sngan"]) is None           # like for like


def test_generation_table_shows_the_generator_metrics_of_the_field_when_records_hold_them(frames):
    import dataclasses

    assert "intra-class recall" not in tables.generation_table(frames).columns   # the fixtures predate them
    fid = frames.fidelity.copy()
    fid["intra_recall"] = fid["seed"].map({0: 0.5, 1: 0.6, 2: 0.7}).astype(float)
    fid["intra_fid"] = 12.0
    t = tables.generation_table(dataclasses.replace(frames, fidelity=fid))
    assert t.columns[-2:] == ["intra-class FID", "intra-class recall"]
    final = next(r for r in t.rows if r[0] == "robgan" and r[2] == "final")
    assert final[-1].startswith("0.60 ± 0.10") and final[-2].startswith("12.0")
    tidy = t.tidy[(t.tidy["metric"] == "intra_recall") & (t.tidy["point"] == "final") & (t.tidy["label"] == "robgan")]
    assert tidy["mean"].tolist() == pytest.approx([0.6]) and tidy["n"].tolist() == [3]


def _with_trained_weights(data):
    """robgan's records measured a weight average and its trained weights (hand-set values); the other
    generators' records predate that measurement."""
    for d in data:
        if d["kind"] == "fidelity" and d["run"]["label"] == "robgan":
            s = d["run"]["seed"]
            final = max(d["results"], key=lambda r: r["iteration"])
            d["results_raw"] = [{**final, "is_mean": 7.0 + 0.5 * s, "is_std": 0.1, "fid": 20.0 + 2 * s}]


def test_generation_shows_the_trained_weights_beside_a_weight_average(records, cfg):
    from robgan.report.generation_table import TRAINED_POINT

    frames = _frames_with(records, _with_trained_weights)
    averaged = dict(cfg, train={**cfg["train"], "g_ema": 0.999})
    t = tables.generation_table(frames, averaged)
    # every GAN averages: a trained-weights row under each "final" row, measured where the records hold it
    robgan = [r for r in t.rows if r[0] == "robgan"]
    assert [r[2] for r in robgan] == ["final", TRAINED_POINT, "best over training", "equal iterations",
                                      "equal wall-clock"]
    assert robgan[1] == ["robgan", "ResNet, AC head", TRAINED_POINT, "whole run", "7.50 ± 0.50 (n=3)",
                         "22.0 ± 2.0 (n=3)"]
    # the average's numbers are the records' results, untouched by the trained weights
    plain = tables.generation_table(build_frames(records), cfg)
    assert robgan[0] == next(r for r in plain.rows if r[0] == "robgan" and r[2] == "final")
    assert [r for r in t.rows if r[2] != TRAINED_POINT] == plain.rows
    assert next(r for r in t.rows if r[0] == "acgan" and r[2] == TRAINED_POINT)[4:] == ["not measured"] * 2
    assert len(t.rows) == len(plain.rows) + 5
    note = next(n for n in t.notes if n.startswith("Weight average"))
    assert "train.g_ema 0.999" in note and "collapse check" in note and "not measured" in note
    tidy = t.tidy[t.tidy["point"] == TRAINED_POINT].set_index(["label", "metric"])
    assert tidy.loc[("robgan", "IS"), ["mean", "std", "n"]].tolist() == pytest.approx([7.5, 0.5, 3])
    assert tidy.loc[("robgan", "FID"), "mean"] == pytest.approx(22.0)
    assert set(tidy.index.get_level_values("label")) == {"robgan"}  # not measured: no tidy rows
    # without the config, a label's trained-weights rows alone say that it averages
    alone = tables.generation_table(frames)
    assert [r[0] for r in alone.rows if r[2] == TRAINED_POINT] == ["robgan"]
    # records without any (quick, no average): the table is unchanged (the golden files above)
    assert not any(r[2] == TRAINED_POINT for r in plain.rows)
    assert not any(n.startswith("Weight average") for n in plain.notes)


def test_no_strong_protocol_drops_its_table_and_column(records, cfg):
    """``eval.pgd.strong: null`` (quick): records without strong rows or strong PGD in the autoattack
    records; no robust_accuracy_strong table, no strong column (nor tidy metric) in the AutoAttack table,
    and the paper table names AutoAttack and the worst case as the stronger reference."""
    def no_strong(data):
        for d in data:
            if d["kind"] == "pgd":
                d["results"] = [r for r in d["results"] if r["protocol"] != "strong"]
            if d["kind"] == "autoattack":
                d["settings"]["pgd_at_eps"].pop("strong", None)

    fr = _frames_with(records, no_strong)
    cfg_ns = copy.deepcopy(cfg)
    cfg_ns["eval"]["pgd"]["strong"] = None
    built = tables.build_tables(fr, cfg_ns)
    assert [t.name for t in built] == ["robust_accuracy", "autoattack", "generation", "ablation"]
    aa = built[1]
    assert "PGD, strong protocol (%)" not in aa.columns and len(aa.align) == len(aa.columns)
    assert all(len(r) == len(aa.columns) for r in aa.rows) and aa.rows
    assert set(aa.tidy["metric"]) == {"clean", "pgd_paper", "autoattack", "worst_case"}
    row = dict(zip(aa.columns, aa.rows[0], strict=True))
    assert row["AutoAttack version / attacks"].startswith(("custom", "standard"))
    assert any("no strong PGD protocol (eval.pgd.strong: null)" in n for n in built[0].notes)
    # with the strong protocol configured the column is there and the paper table points at it
    default = tables.build_tables(_frames_with(records, lambda data: None), cfg)
    assert [t.name for t in default][:2] == ["robust_accuracy", "robust_accuracy_strong"]
    assert any("see robust_accuracy_strong" in n for n in default[0].notes)
