"""robgan.registry: the one list of methods and labels, and the proof that adding a method is one
registry entry plus one step function (config, model factory, training, API and workflow read it)."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from robgan import attacks, losses, pipeline, registry
from robgan.api import RunError, load_classifier, load_generator
from robgan.config import ConfigError, load_config
from robgan.data import dataset_info
from robgan.models import build_discriminator
from robgan.provenance import torch_load
from robgan.training import METHODS, get_method, run_label, train_run
from robgan.training import methods as methods_mod
from robgan.training.context import Context
from robgan.training.methods import GanIteration

DISPLAY_ORDER = ["advtrain", "robgan", "robgan_ft", "robgan_ft_nofake", "acgan", "acgan_newloss",
                 "robgan_oldloss", "sngan"]


# ------------------------------------------------------------------------------------------ labels
def test_labels_follow_the_methods_in_display_order():
    assert list(registry.LABELS) == DISPLAY_ORDER
    assert list(registry.METHODS) == [lb for lb in DISPLAY_ORDER if lb != "robgan_ft_nofake"]
    for name, label in registry.LABELS.items():
        assert label.name == name
        assert label.method == ("robgan_ft" if name.startswith("robgan_ft") else name)
        assert label.info is registry.METHODS[label.method]
    assert registry.LABELS["robgan_ft"].fake_data is True and registry.LABELS["robgan_ft_nofake"].fake_data is False
    assert registry.LABELS["robgan"].fake_data is None
    with pytest.raises(ValueError, match="unknown run label 'robgan_ft_fake'"):
        registry.label_info("robgan_ft_fake")


def test_classifier_generator_and_evaluation_labels():
    assert registry.classifier_labels() == [lb for lb in DISPLAY_ORDER if lb != "sngan"]
    assert registry.generator_labels() == ["robgan", "acgan", "acgan_newloss", "robgan_oldloss", "sngan"]
    assert registry.classifier_labels(["sngan", "robgan_ft_nofake", "advtrain"]) == ["advtrain", "robgan_ft_nofake"]
    assert registry.evaluation_labels("gap") == ["advtrain", "robgan", "robgan_ft", "robgan_ft_nofake"]
    assert registry.evaluation_labels("fidelity", ["sngan", "advtrain", "robgan"]) == ["robgan", "sngan"]
    assert registry.evaluation_labels("pgd", ["sngan", "acgan"]) == ["acgan"]
    with pytest.raises(ValueError, match="unknown evaluation 'fid'"):
        registry.evaluation_labels("fid")


def test_finetune_label_rule():
    assert registry.finetune_label(0.3) == "robgan_ft"
    assert registry.finetune_label(1e-9) == "robgan_ft"
    assert registry.finetune_label(0) == "robgan_ft_nofake"
    with pytest.raises(ValueError, match=">= 0"):
        registry.finetune_label(-0.1)
    assert registry.finetune_labels([0.3, 0.0]) == {"robgan_ft": 0.3, "robgan_ft_nofake": 0.0}
    assert registry.finetune_labels([0]) == {"robgan_ft_nofake": 0.0}
    assert registry.finetune_labels([]) == {}


@pytest.mark.parametrize("lambdas", [[0.3, 0.5], [0.0, 0.0], [0.3, 0.0, 0.8]])
def test_finetune_labels_refuse_two_runs_of_one_label(lambdas):
    with pytest.raises(ValueError, match=r"finetune_lambdas .*at most one value > 0"):
        registry.finetune_labels(lambdas)


def test_experiment_labels():
    cfg = {"methods": ["sngan", "robgan", "robgan_ft", "advtrain"], "finetune_lambdas": [0.0, 0.5]}
    assert registry.experiment_labels(cfg) == ["advtrain", "robgan", "robgan_ft", "robgan_ft_nofake", "sngan"]
    # fine-tuning is made from robgan runs only: without robgan there is none, whatever the lambdas
    assert registry.experiment_labels({"methods": ["sngan", "robgan_ft"], "finetune_lambdas": [0.3]}) == ["sngan"]
    assert registry.experiment_labels({"methods": ["robgan"], "finetune_lambdas": []}) == ["robgan"]


# ---------------------------------------------------------------------------------------- budgets
def test_training_budget_of_the_quick_config(default_config):
    """config/config.yaml: train 1200 × n_dis 1 × batch 32 (every GAN), advtrain 1500 × 32, finetune
    150 × 64."""
    cfg = load_config(default_config)
    gan = {"d_updates": 1200, "real_images": 1200 * 32}
    for label in ("robgan", "acgan", "acgan_newloss", "robgan_oldloss", "sngan"):
        assert registry.training_budget(cfg, label) == gan, label
    assert registry.training_budget(cfg, "advtrain") == {"d_updates": 1500, "real_images": 1500 * 32}
    ft = {"d_updates": 1200 + 150, "real_images": 1200 * 32 + 150 * 64}  # fine-tuning counts its co-training
    assert registry.training_budget(cfg, "robgan_ft") == ft
    assert registry.training_budget(cfg, "robgan_ft_nofake") == ft


def test_training_budget_counts_n_dis_updates_per_gan_iteration():
    cfg = {"train": {"iterations": 10, "n_dis": 5, "batch_size": 8},
           "advtrain": {"iterations": 7, "batch_size": 3}, "finetune": {"iterations": 4, "batch_size": 6}}
    assert registry.training_budget(cfg, "sngan") == {"d_updates": 50, "real_images": 400}
    assert registry.training_budget(cfg, "advtrain") == {"d_updates": 7, "real_images": 21}
    assert registry.training_budget(cfg, "robgan_ft") == {"d_updates": 54, "real_images": 424}
    with pytest.raises(ValueError, match="unknown run label"):
        registry.training_budget(cfg, "madry")


# ------------------------------------------------------------------- training reads the registry
def test_every_registry_method_has_one_step_and_nothing_else_does():
    assert set(methods_mod.STEPS) == set(registry.METHODS)
    assert list(METHODS) == list(registry.METHODS) and len(METHODS) == len(registry.METHODS)


@pytest.mark.parametrize("name", list(registry.METHODS))
def test_training_spec_facts_are_the_registry_entry(name):
    info, spec = registry.METHODS[name], get_method(name)
    assert spec.info is info and METHODS[name] == spec
    assert (spec.name, spec.section, spec.has_classifier, spec.attacks) == (
        info.name, info.section, info.has_classifier, info.attacks)
    # a run holds a generator when it trains one, or (fine-tuning) carries its robgan run's frozen one
    assert spec.has_generator == (info.has_generator or name == "robgan_ft")
    assert (spec.log_keys, spec.step) == methods_mod.STEPS[name]
    if isinstance(spec.step, GanIteration):
        assert spec.step.attack == info.attacks
        assert spec.log_keys == (("loss_d", "loss_g") if info.d_head == "projection"
                                 else ("loss_d", "loss_g", "acc_real"))


def test_attacking_methods_are_the_papers():
    assert [m for m, info in registry.METHODS.items() if info.attacks] == [
        "advtrain", "robgan", "robgan_ft", "robgan_oldloss"]


def test_unknown_method_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="unknown method 'madry'.*choose one of advtrain, robgan"):
        get_method("madry")
    with pytest.raises(KeyError):
        METHODS["madry"]


def test_run_label_is_the_registry_rule(default_config):
    cfg = load_config(default_config)
    assert run_label("robgan", cfg) == "robgan" and run_label("advtrain", cfg) == "advtrain"
    for lam in (0.3, 0.0):
        assert run_label("robgan_ft", {**cfg, "finetune": {**cfg["finetune"], "lam": lam}}) == \
            registry.finetune_label(lam)


# ------------------------------------------------------------------------ adding a method: "toy"
TOY = registry.MethodInfo("toy", "advtrain", has_generator=False, has_classifier=True, attacks=True)


def _toy_step(ctx: Context) -> dict[str, torch.Tensor]:
    """Half-clean, half-attacked CE on the reals: a method none of the others is."""
    clf = ctx.classifier
    x, y = ctx.stream.next()
    x = ctx.to_memory_format(x)
    x_adv = attacks.pgd_classifier(clf, x, y, ctx.threat, generator=ctx.attack_gen, train_mode=None)
    logits = clf(ctx.to_memory_format(torch.cat([x, x_adv]))).float()
    loss = losses.classification(logits, torch.cat([y, y]))
    opt = ctx.optimizers["D"]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"loss": loss.detach(), "acc_adv": (logits[len(y):].argmax(1) == y).float().mean().detach()}


@pytest.fixture
def toy(monkeypatch):
    """The whole addition: one registry entry and one step-table row."""
    monkeypatch.setitem(registry.METHODS, "toy", TOY)
    monkeypatch.setitem(methods_mod.STEPS, "toy", (("loss", "acc_adv"), _toy_step))
    return TOY


def test_a_method_not_in_the_registry_is_refused(default_config, tiny_overrides):
    with pytest.raises(ConfigError, match="'methods.0'.*'toy' is not one of"):
        load_config(default_config, [*tiny_overrides, "methods=[toy, robgan]"])
    with pytest.raises(ValueError, match="unknown method 'toy'"):
        get_method("toy")


def test_adding_a_method_is_one_registry_entry_plus_one_step(toy, tmp_path, default_config, tiny_overrides):
    # (a) the config accepts it, and it is a run label (a classifier, no generator), after the others
    cfg = load_config(default_config, [*tiny_overrides, "methods=[toy, robgan]", "finetune_lambdas=[0.3]",
                                       "experiment=toytest", "seeds=[0]", "eval.autoattack.labels=null"])
    assert registry.experiment_labels(cfg) == ["robgan", "robgan_ft", "toy"]
    assert list(registry.LABELS)[-1] == "toy" and registry.label_info("toy").method == "toy"
    assert "toy" in registry.classifier_labels() and "toy" not in registry.generator_labels()
    assert registry.training_budget(cfg, "toy") == {"d_updates": 20, "real_images": 20 * 16}  # advtrain's

    # (b) the model factory builds its discriminator: an AC head, like the registry's default
    info = dataset_info(cfg["data"])
    d = build_discriminator(cfg["model"], info, "toy")
    s, c = d(torch.rand(3, info.channels, info.resolution, info.resolution))
    assert s.shape == (3,) and c.shape == (3, info.n_classes)

    # (c) a real training run: the advtrain section's budget, optimiser and attack, its own log columns
    cfg["run"] = {"method": "toy", "label": run_label("toy", cfg), "seed": 0, "init_from": None}
    assert cfg["run"]["label"] == "toy"
    out = tmp_path / "toy"
    train_run(cfg, out, progress=False)
    payload = torch_load(out / "model.pt")
    assert payload["iteration"] == 20 and "discriminator" in payload and "generator" not in payload
    with open(out / "train_log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["iteration", "train_seconds", "loss", "acc_adv"]
    assert [int(r["iteration"]) for r in rows] == [5, 10, 15, 20]
    assert all(math.isfinite(float(r["loss"])) and 0.0 <= float(r["acc_adv"]) <= 1.0 for r in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["method"] == "toy" and manifest["iterations"] == 20
    assert manifest["attack"]["eps"] == pytest.approx(cfg["advtrain"]["eps"], rel=1e-12)
    assert manifest["attack"]["steps"] == cfg["advtrain"]["attack_steps"]
    clf = load_classifier(out)  # the API offers its classifier, and no generator
    assert clf(torch.rand(2, info.channels, info.resolution, info.resolution)).shape == (2, info.n_classes)
    with pytest.raises(RunError, match="trains no generator"):
        load_generator(out)

    # (d) the workflow plans its run and its classifier evaluations, not the generator's
    assert pipeline.run_labels(cfg) == ["robgan", "robgan_ft", "toy"]
    assert "toy" in pipeline.trained_labels()
    assert "results/toytest/runs/toy/seed0/model.pt" in pipeline.run_models(cfg)
    ev = pipeline.evaluation_labels(cfg)
    for kind in ("pgd", "autoattack", "lipschitz"):
        assert ev[kind][-1] == "toy", kind
    assert "toy" not in ev["fidelity"] and "toy" not in ev["gap"]  # gap: the paper's four labels only
    paths = pipeline.record_paths(cfg)
    for kind in ("pgd", "autoattack", "lipschitz"):
        assert f"results/toytest/records/{kind}/toy_seed0.json" in paths
    assert not [p for p in paths if "/toy_seed" in p and ("/fidelity/" in p or "/gap/" in p)]
    assert pipeline.training_signature(cfg, "toy") != pipeline.training_signature(cfg, "robgan")


# ------------------------------------------------------------------------------------------ tables
def test_tables_follow_the_strong_protocol_setting():
    """quick sets eval.pgd.strong null: no robust_accuracy_strong table (nor its pipeline outputs); the
    schema's default and mnist5k run a strong protocol and write every table."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    quick = load_config(repo / "config" / "config.yaml")
    assert quick["eval"]["pgd"]["strong"] is None and not registry.strong_pgd_configured(quick)
    assert registry.tables_of(quick) == ("robust_accuracy", "autoattack", "generation", "ablation")
    outputs = [str(o.path) for o in pipeline.table_outputs(quick)]
    assert len(outputs) == 4 * len(registry.TABLE_FORMATS) and not any("strong" in o for o in outputs)
    assert registry.pgd_protocols(quick) == ("paper",)  # what eval pgd and eval autoattack run
    for cfg in (load_config({"experiment": "x"}), load_config(repo / "config" / "mnist5k.yaml"), None):
        assert registry.strong_pgd_configured(cfg) and registry.tables_of(cfg) == registry.TABLES
        assert registry.pgd_protocols(cfg) == ("paper", "strong")
