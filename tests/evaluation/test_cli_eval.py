"""End to end: a tiny advtrain run trained through the CLI, then every ``robgan eval`` command through
``robgan.cli.main``; the records validate and hold what the configuration asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import robgan.cli
from robgan.evaluation import flags as fl
from robgan.evaluation.cli import get_eval_subparsers, register
from robgan.provenance import compute_fingerprint
from robgan.records import RecordError, read_record, validate_record

REPO = Path(__file__).resolve().parents[2]


def _eval(kind, run, out, overrides, *extra):
    args = ["eval", kind, "--run", str(run), "--out", str(out), "--device", "cpu", *extra]
    for item in overrides:
        args += ["--set", item]
    return robgan.cli.main(args)


def _common(record, run, kind):
    assert record["kind"] == kind
    assert record["run"]["method"] == "advtrain" and record["run"]["dir"] == str(run)
    assert record["elapsed_seconds"] > 0 and record["device"].startswith("cpu")
    assert record["compute"] == compute_fingerprint("cpu")  # what `robgan compare` reads (exit 3 across kinds)
    assert record["settings"]["index_seed"] == 0


def _checkpoint_ok(record):
    ck = record["checkpoint"]
    assert ck == {"file": "model.pt", "iteration": 4, "train_seconds": ck["train_seconds"]}
    assert ck["train_seconds"] > 0


@pytest.mark.slow
def test_eval_pgd(advtrain_run, eval_overrides, tmp_path):
    out = tmp_path / "pgd.json"
    assert _eval("pgd", advtrain_run, out, eval_overrides) == 0
    rec = read_record(out)
    _common(rec, advtrain_run, "pgd")
    _checkpoint_ok(rec)
    s = rec["settings"]
    assert s["split"] == "test" and s["n_examples"] == 40 and s["protocols"] == ["clean", "paper", "strong"]
    assert s["eps"] == [0.0, 0.05, 0.1, 0.2] and s["attack_seed"] == 0
    assert s["protocol_settings"]["strong"]["restarts"] == 2
    assert s["protocol_settings"]["paper"]["steps"] == 20
    assert s["sanity"]["large_eps"]["eps"] == 0.5 and 0 <= s["sanity"]["large_eps"]["accuracy"] <= 1
    rows = rec["results"]
    assert [(r["protocol"], r["eps"]) for r in rows] == [("clean", 0.0)] + [
        (p, e) for p in ("paper", "strong") for e in (0.05, 0.1, 0.2)]
    tol = fl.noise_tolerance(40)
    for r in rows:
        assert r["n"] == 40 and 0 <= r["accuracy"] <= 1 and r["accuracy"] == r["n_correct"] / 40
        assert r["accuracy"] <= rows[0]["accuracy"]  # never above clean
        # per-image outcomes: one per image, their mean the accuracy, robust only where clean-correct
        assert len(r["correct"]) == 40 and r["correct"].count("1") == r["n_correct"]
        assert all(c <= k for c, k in zip(r["correct"], rows[0]["correct"], strict=True))
    assert s["split_size"] == {"test": 1000} and "fixed_indices" in s["outcomes"]
    assert s["sanity"]["large_eps"]["correct"].count("1") == s["sanity"]["large_eps"]["n_correct"]
    paper = [r["accuracy"] for r in rows if r["protocol"] in ("clean", "paper")]
    assert all(b <= a + tol for a, b in zip(paper, paper[1:], strict=False))
    assert set(rec["flags"]) == {"monotone_in_eps", "large_eps_near_zero", "strong_le_paper"}
    assert rec["flags"]["monotone_in_eps"]["ok"]


@pytest.mark.slow
def test_eval_autoattack(advtrain_run, eval_overrides, tmp_path):
    out = tmp_path / "aa.json"
    assert _eval("autoattack", advtrain_run, out, eval_overrides) == 0
    rec = read_record(out)
    _common(rec, advtrain_run, "autoattack")
    _checkpoint_ok(rec)
    s = rec["settings"]
    assert s["n_examples"] == 24 and s["version"] == "custom" and s["cheap_subset"] is True
    assert s["attacks"] == ["apgd-ce", "apgd-t"] and s["apgd"]["n_iter"] == 5
    assert s["apgd_targeted"]["n_target_classes"] == 2 and s["eps"] == 0.1
    assert [r["stage"] for r in rec["results"]] == ["clean", "apgd-ce", "apgd-t", "final"]
    accs = [r["accuracy"] for r in rec["results"]]
    assert accs == sorted(accs, reverse=True) and all(0 <= a <= 1 for a in accs)
    # per-image outcomes after each attack of the cascade: each stage keeps only images still robust
    outs = [r["correct"] for r in rec["results"]]
    assert all(len(o) == 24 for o in outs)
    for before, after in zip(outs, outs[1:-1], strict=False):
        assert all(b >= a for b, a in zip(before, after, strict=True))
    assert all(f <= k for f, k in zip(outs[-1], outs[0], strict=True))
    ref = s["pgd_at_eps"]
    assert ref["eps"] == 0.1 and ref["paper"]["n"] == 24 and 0 <= ref["strong"]["accuracy"] <= 1
    assert len(ref["paper"]["correct"]) == 24 and ref["strong"]["correct"].count("1") == ref["strong"]["n_correct"]
    assert set(rec["flags"]) == {"autoattack_le_pgd", "pgd_near_autoattack"}
    assert s["override"] == []  # no eval.autoattack.overrides entry: the experiment's settings


@pytest.mark.slow
def test_eval_without_a_strong_protocol(advtrain_run, eval_overrides, tmp_path):
    """``eval.pgd.strong: null`` (quick): the pgd record has clean and paper rows only, no strong_le_paper
    flag, and the autoattack record's own PGD is the paper protocol's alone."""
    overrides = [*eval_overrides, "eval.pgd.strong=null"]
    assert _eval("pgd", advtrain_run, tmp_path / "pgd.json", overrides) == 0
    rec = read_record(tmp_path / "pgd.json")
    assert rec["settings"]["protocols"] == ["clean", "paper"]
    assert list(rec["settings"]["protocol_settings"]) == ["paper"]
    assert [(r["protocol"], r["eps"]) for r in rec["results"]] == [("clean", 0.0)] + [
        ("paper", e) for e in (0.05, 0.1, 0.2)]
    assert set(rec["flags"]) == {"monotone_in_eps", "large_eps_near_zero"}
    assert _eval("autoattack", advtrain_run, tmp_path / "aa.json", overrides) == 0
    ref = read_record(tmp_path / "aa.json")["settings"]["pgd_at_eps"]
    assert "paper" in ref and "strong" not in ref and ref["paper"]["n"] == 24


@pytest.mark.slow
def test_eval_autoattack_takes_its_label_override(advtrain_run, eval_overrides, tmp_path):
    """An ``eval.autoattack.overrides`` entry for the run's label replaces those fields for it alone; the
    record says which version ran and which fields came from the entry."""
    out = tmp_path / "aa.json"
    own = "eval.autoattack.overrides={advtrain: {attacks: [apgd-ce], n_examples: 12}, robgan: {version: standard}}"
    assert _eval("autoattack", advtrain_run, out, [*eval_overrides, own]) == 0
    s = read_record(out)["settings"]
    assert s["override"] == ["attacks", "n_examples"]
    assert s["version"] == "custom" and s["cheap_subset"] is True  # robgan's entry is not advtrain's
    assert s["attacks"] == ["apgd-ce"] and s["n_examples"] == 12 and s["apgd"]["n_iter"] == 5
    assert [r["stage"] for r in read_record(out)["results"]] == ["clean", "apgd-ce", "final"]


@pytest.mark.slow
def test_eval_gap_and_lipschitz(advtrain_run, eval_overrides, tmp_path):
    out = tmp_path / "gap.json"
    assert _eval("gap", advtrain_run, out, eval_overrides) == 0
    rec = read_record(out)
    _common(rec, advtrain_run, "gap")
    assert [r["split"] for r in rec["results"]] == ["train", "test"]
    for r in rec["results"]:
        assert r["n"] == 32 and r["eps"] == 0.1 and 0 <= r["accuracy_adv"] <= r["accuracy_clean"] <= 1
        assert r["correct_adv"].count("1") == round(32 * r["accuracy_adv"]) and len(r["correct_clean"]) == 32
    assert rec["settings"]["protocol"] == "paper"
    assert rec["settings"]["split_size"] == {"train": 4000, "test": 1000}

    out = tmp_path / "lip.json"
    assert _eval("lipschitz", advtrain_run, out, eval_overrides) == 0
    rec = read_record(out)
    _common(rec, advtrain_run, "lipschitz")
    assert rec["checkpoint"]["file"] == "snapshots" and rec["checkpoint"]["iteration"] == 4
    # snapshots at 2 and 4; model.pt has iteration 4 too and is not repeated
    assert [(r["iteration"], r["split"]) for r in rec["results"]] == [
        (2, "test"), (2, "train"), (4, "test"), (4, "train")]
    assert all(r["norm"] == "l2" and r["n"] == 24 and r["llv"] > 0 for r in rec["results"])
    assert [c["iteration"] for c in rec["settings"]["checkpoints"]] == [2, 4]


@pytest.mark.slow
def test_records_identify_their_images_and_give_the_worst_case(advtrain_run, eval_overrides, tmp_path):
    """The pgd (40 images), autoattack (24) and gap (32 per split) records of one classifier: the same
    index seed and split give nested images, so their clean outcomes agree on the common prefix; the
    report's worst case over every attack at the AutoAttack ε is their image-wise AND."""
    from robgan.report.aggregate import build_frames, load_records, worst_case

    recs = {}
    for kind in ("pgd", "autoattack", "gap"):
        out = tmp_path / "records" / kind / "advtrain_seed0.json"
        out.parent.mkdir(parents=True)
        assert _eval(kind, advtrain_run, out, eval_overrides) == 0
        recs[kind] = read_record(out)
    clean_pgd = recs["pgd"]["results"][0]["correct"]
    assert recs["autoattack"]["results"][0]["correct"] == clean_pgd[:24]
    assert recs["gap"]["results"][1]["correct_clean"] == clean_pgd[:32]
    worst = worst_case(build_frames(load_records(tmp_path / "records")), "advtrain", 0.1)
    outcomes = [r["correct"][:24] for r in recs["pgd"]["results"] if r["eps"] == 0.1]
    outcomes += [recs["autoattack"]["results"][-1]["correct"]]
    outcomes += [recs["autoattack"]["settings"]["pgd_at_eps"][p]["correct"] for p in ("paper", "strong")]
    want = sum(all(o[i] == "1" for o in outcomes) for i in range(24)) / 24
    assert worst.n == 24 and worst.estimate.values == {0: pytest.approx(want)}
    assert worst.attacks == ("paper PGD", "strong PGD", "AutoAttack")
    # PGD on the same images in both records (same attack seed): the same outcomes
    assert recs["autoattack"]["settings"]["pgd_at_eps"]["paper"]["correct"] == outcomes[0]


@pytest.mark.slow
def test_experiment_config_and_overrides_drive_the_settings(advtrain_run, eval_overrides, tmp_path):
    cfg = yaml.safe_load((advtrain_run / "config.yaml").read_text())
    cfg.pop("run")
    cfg["eval"]["gap"] = {"n_examples": 16, "eps": 0.05}
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "gap.json"
    over = [o for o in eval_overrides if not o.startswith("eval.gap")]
    assert _eval("gap", advtrain_run, out, over, "--config", str(path)) == 0
    rec = read_record(out)
    assert [r["n"] for r in rec["results"]] == [16, 16] and rec["results"][0]["eps"] == 0.05


def test_broken_records_are_rejected(tmp_path):
    good = {
        "schema_version": 1, "kind": "pgd",
        "run": {"dir": "d", "method": "advtrain", "label": "advtrain", "dataset": "mnist5k",
                "experiment": "quick", "seed": 0, "config_hash": "x", "git_commit": None},
        "checkpoint": {"file": "model.pt", "iteration": 4, "train_seconds": 1.0},
        "settings": {}, "flags": {}, "elapsed_seconds": 1.0, "device": "cpu", "created": "now",
        "results": [{"protocol": "paper", "eps": 0.1, "eps_pm1": 0.2, "steps": 20, "step_size": 0.02,
                     "restarts": 1, "random_start": False, "attack_seed": 0, "n": 10, "n_correct": 5,
                     "accuracy": 0.5}],
    }
    validate_record(good)
    bad = json.loads(json.dumps(good))
    bad["results"][0]["accuracy"] = 1.5
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(RecordError, match="accuracy"):
        read_record(path)
    bad = json.loads(json.dumps(good))
    bad["results"][0]["protocol"] = "autoattack"
    with pytest.raises(RecordError):
        validate_record(bad)


def test_sngan_run_exits_2_without_writing(tmp_path, caplog):
    from robgan.config import dump_config, load_config

    run = tmp_path / "sngan"
    run.mkdir()
    cfg = load_config(REPO / "config" / "config.yaml")
    cfg["run"] = {"method": "sngan", "label": "sngan", "seed": 0, "init_from": None}
    (run / "config.yaml").write_text(dump_config(cfg))
    out = tmp_path / "never.json"
    for kind in ("pgd", "autoattack", "gap", "lipschitz"):
        assert _eval(kind, run, out, []) == 2
        assert not out.exists()
    assert "sngan's projection discriminator is not a classifier" in caplog.text


def test_eval_subparsers_are_shared():
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    first = get_eval_subparsers(sub)
    assert get_eval_subparsers(sub) is first
    first.add_parser("other-kind")  # as robgan.evaluation.fidelity_cli adds `eval fidelity`
    register(sub)
    assert {"pgd", "autoattack", "gap", "lipschitz", "other-kind"} <= set(first.choices)
    top = robgan.cli.build_parser()
    args = top.parse_args(["eval", "pgd", "--run", "r", "--out", "o.json"])
    assert args.eval_command == "pgd" and args.config is None and args.device is None


@pytest.mark.slow
def test_evaluations_follow_performance_channels_last(advtrain_run):
    """open_run loads the classifier in channels-last format when the config asks for it (as the default
    config does), and its accuracy under PGD equals the plain layout's on the same images."""
    import torch

    from robgan.attacks import ThreatModel
    from robgan.config import load_config
    from robgan.evaluation.context import eval_subset, open_run
    from robgan.evaluation.robustness import robust_correct

    cfg = load_config(REPO / "config" / "config.yaml")
    assert cfg["performance"]["channels_last"] is True
    fast = open_run(advtrain_run, cfg, "cpu")
    cfg["performance"]["channels_last"] = False
    plain = open_run(advtrain_run, cfg, "cpu")
    assert fast.model.channels_last and not plain.model.channels_last
    x, y, _ = eval_subset(fast.data_cfg, "test", 64, 0)
    threat = ThreatModel.fractional(0.1, 5, 0.2)
    a = robust_correct(fast.model, x, y, threat, batch_size=32, device="cpu", seed=0)
    b = robust_correct(plain.model, x, y, threat, batch_size=32, device="cpu", seed=0)
    assert int(a.sum()) == pytest.approx(int(b.sum()), abs=1)  # sign-gradient ties may flip one example
    assert torch.is_tensor(a) and a.shape == (64,)
