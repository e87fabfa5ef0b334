"""robgan.pipeline: the workflow's labels, paths, output lists, rerun signatures and job sizes.

The Snakemake-level behaviour (which jobs a dry run plans, what an edit reruns) is tested in
tests/workflow/test_workflow.py; here the functions the rule files call are tested directly.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from robgan import pipeline, registry
from robgan.config import ConfigError, config_hash, load_config, method_section_view, training_view

REPO = Path(__file__).resolve().parent.parent
RESOURCES = REPO / "workflow" / "profiles" / "resources.yaml"

# every method trained from scratch (what a config's `methods` lists; fine-tuning follows from robgan)
ALL_METHODS = [m for m, info in registry.METHODS.items() if info.from_run is None]
CLASSIFIERS = ["advtrain", "robgan", "robgan_ft", "robgan_ft_nofake", "acgan", "acgan_newloss", "robgan_oldloss"]
GENERATORS = ["robgan", "acgan", "acgan_newloss", "robgan_oldloss", "sngan"]


@pytest.fixture(scope="module")
def cfg() -> dict:
    """The default experiment, resolved, training all six methods with both fine-tunings."""
    out = load_config(REPO / "config" / "config.yaml")
    out.update(experiment="t", seeds=[0, 3], methods=list(ALL_METHODS), finetune_lambdas=[0.3, 0.0])
    out["eval"]["autoattack"]["labels"] = None  # every classifier (quick restricts it to claim 6's four)
    return out


def edited(cfg: dict, edit) -> dict:
    out = copy.deepcopy(cfg)
    edit(out)
    return out


# ------------------------------------------------------------------------------------------------
# Config and labels
# ------------------------------------------------------------------------------------------------
def test_resolve_fills_defaults_without_touching_its_argument():
    raw = {"experiment": "x"}
    out = pipeline.resolve(raw)
    assert raw == {"experiment": "x"}
    assert out["seeds"] == [0] and out["eval"]["index_seed"] == 0 and out["data"]["name"] == "mnist5k"


@pytest.mark.parametrize("raw, field", [
    ({"experiment": "x", "seeds": "x"}, "'seeds'"),
    ({"experiment": "x", "train": {"batch_size": 0}}, "'train.batch_size'"),
    ({"experiment": "x", "finetune_lambdas": [0.3, 0.5]}, "finetune_lambdas"),
])
def test_resolve_refuses_a_bad_config_in_one_line_naming_the_field(raw, field):
    with pytest.raises(ConfigError) as err:
        pipeline.resolve(raw)
    msg = str(err.value)
    assert field in msg and "\n" not in msg


def test_run_labels_in_display_order(cfg):
    assert pipeline.run_labels(cfg) == ["advtrain", "robgan", "robgan_ft", "robgan_ft_nofake", "acgan",
                                        "acgan_newloss", "robgan_oldloss", "sngan"]
    small = edited(cfg, lambda c: c.update(methods=["sngan", "robgan"], finetune_lambdas=[0.0]))
    assert pipeline.run_labels(small) == ["robgan", "robgan_ft_nofake", "sngan"]
    # fine-tuning starts from robgan runs: without robgan there is none, whatever the lambdas
    no_robgan = edited(cfg, lambda c: c.update(methods=["sngan", "advtrain"], finetune_lambdas=[0.3, 0.5]))
    assert pipeline.run_labels(no_robgan) == ["advtrain", "sngan"] and pipeline.finetune_runs(no_robgan) == {}


@pytest.mark.parametrize("lambdas, expected", [
    ([0.3, 0.0], {"robgan_ft": 0.3, "robgan_ft_nofake": 0.0}),
    ([0.0], {"robgan_ft_nofake": 0.0}),
    ([0.5], {"robgan_ft": 0.5}),
    ([], {}),
])
def test_finetune_runs_map_lambda_to_label(cfg, lambdas, expected):
    c = edited(cfg, lambda c: c.update(finetune_lambdas=lambdas))
    assert pipeline.finetune_runs(c) == expected
    for label, lam in expected.items():
        assert pipeline.finetune_lambda(c, label) == lam


@pytest.mark.parametrize("lambdas", [[0.3, 0.5], [0.0, 0.0]])
def test_at_most_one_lambda_per_label(cfg, lambdas):
    c = edited(cfg, lambda c: c.update(finetune_lambdas=lambdas))
    with pytest.raises(ConfigError, match="finetune_lambdas"):
        pipeline.run_labels(c)


def test_finetune_lambda_of_an_absent_run_names_the_fix(cfg):
    c = edited(cfg, lambda c: c.update(finetune_lambdas=[0.0]))
    with pytest.raises(ConfigError, match=r"robgan_ft.*value > 0 in finetune_lambdas"):
        pipeline.finetune_lambda(c, "robgan_ft")


def test_evaluation_labels(cfg):
    ev = pipeline.evaluation_labels(cfg)
    assert list(ev) == ["pgd", "autoattack", "gap", "lipschitz", "fidelity"]
    for kind in ("pgd", "autoattack", "lipschitz"):
        assert ev[kind] == CLASSIFIERS  # sngan's projection D has no class head
    assert ev["gap"] == ["advtrain", "robgan", "robgan_ft", "robgan_ft_nofake"]
    assert ev["fidelity"] == GENERATORS  # fine-tuning freezes the generator: no generator of its own
    small = edited(cfg, lambda c: c.update(methods=["sngan", "advtrain", "robgan"], finetune_lambdas=[0.0]))
    ev = pipeline.evaluation_labels(small)
    assert ev["gap"] == ev["pgd"] == ["advtrain", "robgan", "robgan_ft_nofake"]
    assert ev["fidelity"] == ["robgan", "sngan"]


def test_autoattack_labels_subset_the_autoattack_jobs_only(cfg):
    sub = edited(cfg, lambda c: c["eval"]["autoattack"].update(labels=["advtrain", "robgan_ft"]))
    ev = pipeline.evaluation_labels(sub)
    assert ev["autoattack"] == ["advtrain", "robgan_ft"]  # display order, not the config's order
    assert ev["pgd"] == ev["lipschitz"] == CLASSIFIERS and ev["fidelity"] == GENERATORS
    records = pipeline.record_paths(sub)
    assert "results/t/records/autoattack/robgan_ft_seed3.json" in records
    assert "results/t/records/autoattack/robgan_seed0.json" not in records
    assert len(records) == 2 * (7 + 2 + 4 + 7 + 5 * 2)
    assert registry.evaluation_labels("autoattack", None, sub) == ["advtrain", "robgan_ft"]
    assert registry.evaluation_labels("autoattack") == CLASSIFIERS  # no config: no subset


def test_trained_and_finetuned_labels_and_their_wildcard_regex():
    import re

    assert pipeline.trained_labels() == ["advtrain", "robgan", "acgan", "acgan_newloss", "robgan_oldloss", "sngan"]
    assert pipeline.finetuned_labels() == ["robgan_ft", "robgan_ft_nofake"]
    assert pipeline.FINETUNE_FROM == "robgan"
    regex = pipeline.alternation(pipeline.finetuned_labels())
    assert regex == "robgan_ft_nofake|robgan_ft"
    assert re.fullmatch(regex, "robgan_ft_nofake") and not re.fullmatch(regex, "robgan")


# ------------------------------------------------------------------------------------------------
# Paths and output lists
# ------------------------------------------------------------------------------------------------
def test_job_priorities_put_the_longest_jobs_first():
    """LPT order: the cost probe, the fine-tunings, robgan's training (the head of the longest chain),
    the reference (every fidelity job waits for it), the other trainings, then evaluations longest
    first (fidelity, AutoAttack, PGD, the short ones), the report last."""
    p = pipeline.job_priority
    order = [p("cost_probe"), p("finetune"), p("train", pipeline.FINETUNE_FROM), p("reference"),
             p("train", "sngan"), p("eval_fidelity"), p("eval_autoattack"), p("eval_pgd"),
             p("eval_lipschitz"), p("report")]
    assert order == sorted(order, reverse=True) and len(set(order)) == len(order)
    assert p("eval_gap") == p("eval_lipschitz") and p("data") == p("report") == 0
    assert {p("train", lb) for lb in pipeline.trained_labels() if lb != pipeline.FINETUNE_FROM} == {50}
    assert set(pipeline.PRIORITIES) == set(pipeline.JOBS)  # every job that does work has one
    with pytest.raises(KeyError, match="no priority for job 'eval_nope'"):
        p("eval_nope")


def test_layout_paths(cfg):
    lay = pipeline.Layout.of(cfg)
    assert lay.root == "results/t" and lay.config == "results/t/config.yaml"
    assert lay.data_summary == "results/t/data/summary.json"
    assert lay.reference_metrics == "results/t/reference/metrics.json"
    assert lay.run_model("robgan", 3) == "results/t/runs/robgan/seed3/model.pt"
    assert lay.run_model("{label}", "{seed}") == "results/t/runs/{label}/seed{seed}/model.pt"
    assert lay.record("fidelity", "sngan", 0, "csv") == "results/t/records/fidelity/sngan_seed0.csv"
    assert lay.log("data") == "results/t/logs/data.log"
    assert lay.log("eval_gap", "{label}", "{seed}") == "results/t/logs/eval_gap/{label}_seed{seed}.log"
    assert lay.benchmark("report") == "results/t/benchmarks/report.tsv"
    assert lay.benchmark("train", "advtrain", 1) == "results/t/benchmarks/train/advtrain_seed1.tsv"
    assert lay.table("ablation", "tex") == "results/t/tables/ablation.tex"
    assert lay.figure("lipschitz", "pdf") == "results/t/figures/lipschitz.pdf"
    assert lay.claims("md") == "results/t/claims.md"


def test_run_models_and_records(cfg):
    models = pipeline.run_models(cfg)
    assert len(models) == 8 * 2 and "results/t/runs/robgan_ft_nofake/seed3/model.pt" in models
    records = pipeline.record_paths(cfg)
    # per seed: 7 pgd + 7 autoattack + 4 gap + 7 lipschitz + 5 fidelity (json + csv)
    assert len(records) == len(set(records)) == 2 * (7 + 7 + 4 + 7 + 5 * 2)
    assert "results/t/records/gap/robgan_ft_seed3.json" in records
    assert "results/t/records/gap/acgan_seed0.json" not in records
    assert "results/t/records/pgd/sngan_seed0.json" not in records
    assert "results/t/records/fidelity/sngan_seed3.csv" in records
    assert "results/t/records/fidelity/robgan_ft_seed0.json" not in records


def test_report_outputs_and_what_the_html_report_shows(cfg):
    tables, figures = pipeline.table_outputs(cfg), pipeline.figure_outputs(cfg)
    # every table but the strong-protocol one (quick: eval.pgd.strong null) x csv/md/tex; record figures,
    # training curves, a sample grid per generator and seed (seeds 0 and 3)
    assert len(tables) == 4 * 3 and len(figures) == (7 + 1 + 5 * 2) * 2
    shown = {o.path: o for o in tables + figures if o.caption}
    assert len(shown) == 4 + 18 and all(p.endswith((".csv", ".png")) for p in shown)
    with_strong = copy.deepcopy(cfg)
    with_strong["eval"]["pgd"]["strong"] = {"steps": 40, "step_fraction": 0.1, "restarts": 2, "random_start": True}
    assert len(pipeline.table_outputs(with_strong)) == 5 * 3
    t = shown["results/t/tables/robust_accuracy.csv"]
    assert (t.caption, t.category, t.subcategory, t.labels) == ("robust_accuracy", "Tables", None,
                                                                {"table": "robust_accuracy"})
    f = shown["results/t/figures/samples_sngan_seed3.png"]
    assert (f.caption, f.category, f.subcategory, f.labels) == ("samples", "Figures", "Samples",
                                                                {"figure": "samples", "model": "sngan", "seed": "3"})
    f = shown["results/t/figures/accuracy_vs_eps.png"]
    assert (f.caption, f.subcategory, f.labels) == ("accuracy_vs_eps", "Plots", {"figure": "accuracy_vs_eps"})
    hidden = [o for o in tables + figures if not o.caption]
    assert all(o.category is None and o.labels == {} for o in hidden)
    out = pipeline.report_outputs(cfg)
    assert len(out) == len(set(out)) == 12 + 36 + 2
    assert out[-2:] == ["results/t/claims.md", "results/t/claims.json"]
    assert "results/t/figures/samples_robgan_seed0.png" in out and "results/t/figures/samples_robgan.png" not in out
    assert not any("samples_robgan_ft" in o for o in out)  # fine-tuning trains no generator


# ------------------------------------------------------------------------------------------------
# Rerun signatures
# ------------------------------------------------------------------------------------------------
def _changes(cfg, edit, signature) -> bool:
    return signature(cfg) != signature(edited(cfg, edit))


def test_signatures_are_hashes_of_exactly_these_views(cfg):
    # existing results trees stay up to date only while these views stay the same
    ev = cfg["eval"]
    assert pipeline.eval_signature(cfg, "pgd") == config_hash(
        {"pgd": ev["pgd"], "index_seed": ev["index_seed"], "attack_seed": ev["attack_seed"]})
    assert pipeline.eval_signature(cfg, "gap") == config_hash(
        {"gap": ev["gap"], "paper": ev["pgd"]["paper"], "index_seed": ev["index_seed"],
         "attack_seed": ev["attack_seed"]})
    assert pipeline.eval_signature(cfg, "lipschitz") == config_hash(
        {"lipschitz": ev["lipschitz"], "index_seed": ev["index_seed"]})
    view = training_view(cfg)
    view["data"] = {k: v for k, v in cfg["data"].items() if k not in ("root", "download", "cache_dir")}
    del view["advtrain"], view["finetune"]
    # sngan's own optimiser overrides applied, the overrides table and G's sampling mode dropped
    view["train"] = method_section_view(cfg, "sngan")
    view["model"] = {k: v for k, v in view["model"].items() if k != "g_sample_bn"}
    assert pipeline.training_signature(cfg, "sngan") == config_hash(view)
    assert pipeline.data_signature(cfg) == config_hash(cfg["data"])
    with pytest.raises(ValueError, match="choose one of"):
        pipeline.eval_signature(cfg, "nope")


@pytest.mark.parametrize("method, edit, changes", [
    ("sngan", lambda c: c["train"].update(iterations=7), True),
    ("sngan", lambda c: c["model"].update(ngf=4), True),
    ("sngan", lambda c: c["data"].update(resolution=16), True),
    ("sngan", lambda c: c["advtrain"].update(iterations=7), False),
    ("sngan", lambda c: c["finetune"].update(lam=0.9), False),
    ("sngan", lambda c: c["eval"]["pgd"].update(eps=[0.5]), False),
    ("sngan", lambda c: c.update(seeds=[5], device="cpu", threads=3, methods=["sngan"]), False),
    ("sngan", lambda c: c["data"].update(root="/elsewhere", download=True, cache_dir="/c"), False),
    ("advtrain", lambda c: c["advtrain"].update(iterations=7), True),
    ("advtrain", lambda c: c["train"].update(iterations=7), False),
    ("robgan_ft", lambda c: c["finetune"].update(iterations=7), True),
    ("robgan_ft", lambda c: c["train"].update(iterations=7), True),  # its robgan run's generator
    ("robgan_ft", lambda c: c["advtrain"].update(iterations=7), False),
])
def test_training_signature_covers_what_the_method_reads(cfg, method, edit, changes):
    assert _changes(cfg, edit, lambda c: pipeline.training_signature(c, method)) is changes


def test_finetune_lambda_is_part_of_the_finetune_signature(cfg):
    sig = pipeline.training_signature
    assert sig(cfg, "robgan_ft", finetune_lam=0.3) != sig(cfg, "robgan_ft", finetune_lam=0.0)
    # the λ passed with --set replaces finetune.lam: the config's own value no longer matters
    assert sig(cfg, "robgan_ft", 0.3) == sig(edited(cfg, lambda c: c["finetune"].update(lam=0.7)), "robgan_ft", 0.3)


@pytest.mark.parametrize("kind, edit, changes", [
    ("pgd", lambda c: c["eval"]["pgd"].update(eps=[0.5]), True),
    ("pgd", lambda c: c["eval"].update(attack_seed=9), True),
    ("pgd", lambda c: c["eval"]["autoattack"].update(eps=0.5), False),
    ("pgd", lambda c: c["eval"].update(batch_size=7), False),
    ("pgd", lambda c: c["train"].update(iterations=7), False),  # the run's model.pt carries that
    ("autoattack", lambda c: c["eval"]["autoattack"].update(eps=0.5), True),
    ("autoattack", lambda c: c["eval"]["pgd"].update(eps=[0.5]), False),
    ("gap", lambda c: c["eval"]["gap"].update(eps=0.5), True),
    ("gap", lambda c: c["eval"]["pgd"].update(eps=[0.5]), False),
    ("lipschitz", lambda c: c["eval"].update(attack_seed=9), False),
    ("lipschitz", lambda c: c["eval"].update(index_seed=9), True),
    ("fidelity", lambda c: c["eval"]["fidelity"].update(snapshots=not c["eval"]["fidelity"]["snapshots"]), True),
    ("fidelity", lambda c: c["eval"]["fidelity"].update(reference_classifier={"x": 1}), False),
    ("reference", lambda c: c["eval"]["fidelity"].update(reference_classifier={"x": 1}), True),
    ("reference", lambda c: c["eval"]["fidelity"].update(snapshots=not c["eval"]["fidelity"]["snapshots"]), False),
    ("reference", lambda c: c["data"].update(resolution=16), True),
    ("reference", lambda c: c["data"].update(root="/elsewhere"), False),
])
def test_eval_signature_covers_its_settings_only(cfg, kind, edit, changes):
    assert _changes(cfg, edit, lambda c: pipeline.eval_signature(c, kind)) is changes


def test_autoattack_signature_is_per_label():
    """An eval.autoattack.overrides entry changes its own label's job only; a label without one keeps
    the signature it had before overrides existed (no rerun of an existing experiment's jobs)."""
    import copy

    from robgan.config import config_hash, load_config

    base = load_config(REPO / "config" / "config.yaml")
    ev = base["eval"]
    old_view = {"autoattack": {k: v for k, v in ev["autoattack"].items() if k != "overrides"},
                "index_seed": ev["index_seed"], "attack_seed": ev["attack_seed"]}
    assert pipeline.eval_signature(base, "autoattack", "acgan") == config_hash(old_view)
    over = copy.deepcopy(base)
    over["eval"]["autoattack"]["overrides"] = {"acgan": {"attacks": ["apgd-ce"]}}
    sig = pipeline.eval_signature
    assert sig(over, "autoattack", "acgan") != sig(base, "autoattack", "acgan")
    assert sig(over, "autoattack", "advtrain") == sig(base, "autoattack", "advtrain")
    assert sig(over, "autoattack") != sig(base, "autoattack")  # no label: every entry counts
    assert sig(over, "pgd", "acgan") == sig(base, "pgd", "acgan")

    class Wildcards:
        label = "acgan"

    assert pipeline.eval_signature_of_label(over, "autoattack")(Wildcards) == sig(over, "autoattack", "acgan")


@pytest.mark.parametrize("edit, changes", [
    (lambda c: c["eval"]["pgd"].update(eps=[0.5]), True),
    (lambda c: c.update(seeds=[0]), True),
    (lambda c: c["train"].update(iterations=7), True),
    (lambda c: c.update(device="cpu", threads=3), False),
    (lambda c: c["eval"].update(batch_size=7), False),
    (lambda c: c["data"].update(root="/elsewhere", cache_dir="/c"), False),
])
def test_report_signature(cfg, edit, changes):
    assert _changes(cfg, edit, pipeline.report_signature) is changes


def test_data_signature_follows_where_the_data_lives(cfg):
    assert _changes(cfg, lambda c: c["data"].update(root="/elsewhere"), pipeline.data_signature)
    assert not _changes(cfg, lambda c: c["eval"]["pgd"].update(eps=[0.5]), pipeline.data_signature)


# ------------------------------------------------------------------------------------------------
# Job sizes
# ------------------------------------------------------------------------------------------------
def test_the_repository_job_sizes():
    table = pipeline.load_resources(RESOURCES)
    assert set(table) == {"mnist5k", "cifar10", "imagenet143"}
    res = pipeline.job_resources
    for job in pipeline.JOBS:  # embedded digits: CPU-sized, one thread per job
        assert res(table, "mnist5k", job) == {"threads": 1, "mem_mb": 4000, "runtime": 60, "gpu": 0}
    assert res(table, "cifar10", "train") == {"threads": 8, "mem_mb": 32000, "runtime": 1440, "gpu": 1}
    assert res(table, "cifar10", "report") == {"threads": 2, "mem_mb": 8000, "runtime": 60, "gpu": 0}
    assert res(table, "imagenet143", "eval_autoattack") == {"threads": 8, "mem_mb": 48000, "runtime": 1440,
                                                           "gpu": 1}
    assert res(table, "imagenet143", "data") == {"threads": 8, "mem_mb": 24000, "runtime": 240, "gpu": 0}
    gpu_jobs = {j for j in pipeline.JOBS if res(table, "cifar10", j)["gpu"]}
    assert gpu_jobs == set(pipeline.JOBS) - {"data", "report"}
    with pytest.raises(ConfigError, match="no job sizes for dataset 'svhn'"):
        res(table, "svhn", "train")


def test_every_schema_dataset_is_sized():
    from robgan.config import load_schema

    names = load_schema()["properties"]["data"]["properties"]["name"]["enum"]
    assert set(pipeline.load_resources(RESOURCES)) == set(names)


@pytest.mark.parametrize("edit, match", [
    (lambda t: t["cifar10"].pop("eval_gap"), r"cifar10.*missing: \['eval_gap'\]"),
    (lambda t: t["cifar10"].update(eval_foo=t["cifar10"]["train"]), r"unknown: \['eval_foo'\]"),
    (lambda t: t["cifar10"]["train"].update(gpu=2), "cifar10.train.gpu must be 0 or 1"),
    (lambda t: t["cifar10"]["train"].update(mem_mb=-1), "cifar10.train must be"),
    (lambda t: t["cifar10"]["train"].update(threads=True), "cifar10.train must be"),
    (lambda t: t["cifar10"]["train"].pop("runtime"), "cifar10.train must be"),
])
def test_a_malformed_job_size_table_is_refused(tmp_path, edit, match):
    table = yaml.safe_load(RESOURCES.read_text())
    edit(table)
    path = tmp_path / "resources.yaml"
    path.write_text(yaml.safe_dump(table))
    with pytest.raises(ConfigError, match=match):
        pipeline.load_resources(path)


# ------------------------------------------------------------------------------------------------
# The resolved config file
# ------------------------------------------------------------------------------------------------
def test_resolved_config_text_round_trips(cfg):
    text = pipeline.resolved_config_text(cfg)
    assert text.startswith("# Resolved config of experiment 't'")
    assert yaml.safe_load(text) == cfg


def test_write_if_changed_keeps_the_mtime_of_an_unchanged_file(tmp_path):
    path = tmp_path / "a" / "config.yaml"
    assert pipeline.write_if_changed(path, "x: 1\n") is True
    os.utime(path, ns=(10**9, 10**9))
    assert pipeline.write_if_changed(path, "x: 1\n") is False
    assert path.stat().st_mtime_ns == 10**9
    assert pipeline.write_if_changed(path, "x: 2\n") is True
    assert path.read_text() == "x: 2\n" and path.stat().st_mtime_ns != 10**9
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.yaml"]  # no temporary left


def test_the_module_does_not_import_torch():
    code = "import sys, robgan.pipeline; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
