"""robgan.config: loading, schema validation with dotted error fields, overrides and hashes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from robgan.config import (
    NON_TRAINING_KEYS,
    ConfigError,
    apply_overrides,
    config_hash,
    load_config,
    parse_override,
    training_hash,
    training_view,
    validate,
)

REPO = Path(__file__).resolve().parent.parent
CONFIG_FILES = {
    "config.yaml": "quick",
    "cifar10.yaml": "cifar10",
    "imagenet143.yaml": "imagenet143",
}


@pytest.fixture(scope="module")
def quick() -> dict:
    return load_config(REPO / "config" / "config.yaml")


# --------------------------------------------------------------------------- loading + defaults


@pytest.mark.parametrize("name, experiment", sorted(CONFIG_FILES.items()))
def test_config_files_load_and_validate(name, experiment):
    cfg = load_config(REPO / "config" / name)
    assert cfg["experiment"] == experiment
    # A resolved config validates again unchanged (defaults are idempotent).
    assert validate(cfg) == cfg
    # Every training section is filled.
    for section in ("data", "model", "train", "advtrain", "finetune", "performance", "eval"):
        assert isinstance(cfg[section], dict) and cfg[section], section


def test_paper_configs_keep_their_values():
    c10 = load_config(REPO / "config" / "cifar10.yaml")
    assert c10["data"]["name"] == "cifar10"
    assert c10["seeds"] == [0, 1, 2]
    assert c10["train"]["n_dis"] == 1
    assert c10["train"]["schedule"] == {"kind": "step", "every": 39063, "factor": 0.5,
                                        "reset_optimizer": True, "milestones": [], "start": 0}
    assert c10["finetune"]["schedule"]["milestones"] == [7813, 15625, 19531]
    assert c10["finetune"]["schedule"]["factor"] == pytest.approx(0.1, abs=1e-12)
    i143 = load_config(REPO / "config" / "imagenet143.yaml")
    assert i143["data"]["resolution"] == 64
    assert i143["train"]["n_dis"] == 5
    assert i143["train"]["eps"] == pytest.approx(4 / 255, abs=1e-6)
    assert i143["train"]["attack_step_size"] == pytest.approx(1 / 255, abs=1e-6)


def test_defaults_filled(quick):
    # The authors' new-loss weights (SPEC §3).
    assert quick["train"]["loss_weights"] == {
        "d_real_adv": 0.5, "d_class_adv": 0.5, "d_fake": 1.0, "g_adv": 0.5, "g_class": 0.5,
    }
    # The paper's evaluation protocol (SPEC §4): 20 steps of eps/5, no random start, no restarts.
    assert quick["eval"]["pgd"]["paper"] == {
        "steps": 20, "step_fraction": 0.2, "restarts": 1, "random_start": False,
    }
    # config.yaml overrides part of `strong`; the rest comes from the $def's defaults.
    assert quick["eval"]["pgd"]["strong"] == {
        "steps": 20, "step_fraction": 0.15, "restarts": 2, "random_start": True,
    }
    assert quick["device"] == "auto"
    assert quick["threads"] == 0
    # the quick experiment's faster optimiser (config.yaml: 10x the paper's lr, the paper's betas)
    assert quick["train"]["lr_g"] == pytest.approx(2e-3, rel=1e-12)
    assert quick["train"]["betas"] == [0.0, 0.9]
    assert load_config({"experiment": "x"})["train"]["lr_g"] == pytest.approx(2e-4, rel=1e-12)
    assert load_config({"experiment": "x"})["train"]["betas"] == [0.0, 0.9]
    assert quick["train"]["schedule"]["kind"] == "constant"
    assert quick["advtrain"]["schedule"] == {"kind": "constant", "milestones": [], "every": 0,
                                             "factor": 0.5, "reset_optimizer": False, "start": 0}
    assert quick["finetune"]["betas"] == [0.9, 0.999]
    assert quick["finetune"]["schedule"]["milestones"] == [50, 75]
    assert quick["finetune"]["schedule"]["reset_optimizer"] is False
    assert quick["data"]["root"] == "resources/data"
    assert quick["eval"]["fidelity"]["inception_weights"] is None
    assert quick["eval"]["fidelity"]["reference_classifier"]["min_test_accuracy"] == pytest.approx(0.98)
    assert "run" not in quick


def test_minimal_config_gets_every_default():
    cfg = load_config({"experiment": "x"})
    assert cfg["data"]["name"] == "mnist5k"
    assert cfg["train"]["batch_size"] == 64
    assert cfg["train"]["n_dis"] == 5
    assert cfg["finetune"]["lam"] == pytest.approx(0.3)
    assert cfg["finetune"]["lr"] == pytest.approx(1e-3)
    assert cfg["eval"]["pgd"]["paper"]["steps"] == 20
    assert cfg["eval"]["pgd"]["strong"] == {"steps": 100, "step_fraction": 0.05, "restarts": 5,
                                            "random_start": True}
    assert cfg["seeds"] == [0]
    assert cfg["finetune_lambdas"] == [0.3, 0.0]


def test_validate_does_not_mutate_input():
    raw = {"experiment": "x", "train": {"batch_size": 8}}
    before = copy.deepcopy(raw)
    out = validate(raw)
    assert raw == before
    assert out["train"]["batch_size"] == 8 and out["train"]["n_dis"] == 5


def test_defaults_are_not_shared_between_configs():
    a = load_config({"experiment": "a"})
    a["train"]["betas"].append(99.0)
    a["train"]["loss_weights"]["d_fake"] = 7.0
    b = load_config({"experiment": "b"})
    assert b["train"]["betas"] == [0.0, 0.9]
    assert b["train"]["loss_weights"]["d_fake"] == 1.0


# --------------------------------------------------------------------------- schema errors


@pytest.mark.parametrize("override, field, words", [
    ("train.batch_size=abc", "train.batch_size", "not of type 'integer'"),
    ("train.batch_size=0", "train.batch_size", "less than the minimum"),
    ("train.lr_g=0", "train.lr_g", "less than or equal to the minimum"),
    ("data.name=svhn", "data.name", "is not one of"),
    ("data.resolution=48", "data.resolution", "is not one of"),
    ("train.foo=1", "train.foo", "unknown field"),
    ("bogus=1", "bogus", "unknown field"),
    ("train.loss_weights.d_fake=-1", "train.loss_weights.d_fake", "less than the minimum"),
    ("train.schedule.kind=cosine", "train.schedule.kind", "is not one of"),
    ("eval.pgd.paper.steps=0", "eval.pgd.paper.steps", "less than the minimum"),
    ("train.betas=[0.0]", "train.betas", "too short"),
    ("device=tpu", "device", "is not one of"),
])
def test_schema_errors_name_the_dotted_field(override, field, words):
    with pytest.raises(ConfigError) as info:
        load_config(REPO / "config" / "config.yaml", [override])
    msg = str(info.value)
    assert f"'{field}'" in msg
    assert words in msg
    assert f"--set {field}=" in msg  # and how to fix it


def test_unknown_field_lists_allowed_fields():
    with pytest.raises(ConfigError, match="train.foo") as info:
        validate({"experiment": "x", "train": {"foo": 1}})
    assert "batch_size" in str(info.value) and "loss_weights" in str(info.value)


def test_missing_experiment_is_an_error():
    with pytest.raises(ConfigError, match="'experiment' is a required property"):
        load_config({"data": {"name": "mnist5k"}})


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_config(missing)
    assert str(missing) in str(info.value)


def test_non_mapping_config_file(tmp_path):
    f = tmp_path / "list.yaml"
    f.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(f)


def test_config_file_roundtrip(tmp_path, quick):
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump(quick))
    assert load_config(f) == quick


# --------------------------------------------------------------------------- overrides


@pytest.mark.parametrize("item, keys, value", [
    ("train.batch_size=32", ["train", "batch_size"], 32),
    ("train.lr_g=0.001", ["train", "lr_g"], 0.001),
    ("train.lr_g=1e-3", ["train", "lr_g"], 0.001),          # YAML 1.2 float (PyYAML 1.1 reads a str)
    ("train.lr_g=2.5E+2", ["train", "lr_g"], 250.0),
    ("train.attack_random_start=true", ["train", "attack_random_start"], True),
    ("data.noise=false", ["data", "noise"], False),
    ("seeds=[0, 1, 2]", ["seeds"], [0, 1, 2]),
    ("eval.pgd.eps=[0.0, 0.1]", ["eval", "pgd", "eps"], [0.0, 0.1]),
    ("eval.fidelity.inception_weights=null", ["eval", "fidelity", "inception_weights"], None),
    ("experiment=my-run", ["experiment"], "my-run"),
    ("a.b=x=y", ["a", "b"], "x=y"),                          # only the first '=' splits
    (" data.name =cifar10", ["data", "name"], "cifar10"),
])
def test_parse_override_reads_yaml_values(item, keys, value):
    k, v = parse_override(item)
    assert k == keys
    assert v == value
    assert type(v) is type(value)


@pytest.mark.parametrize("item, words", [
    ("train.batch_size", "not of the form"),
    ("=3", "empty key"),
    ("...=3", "empty key"),
    ("seeds=[0, 1", "not valid YAML"),
    ("train.eps={a: [", "not valid YAML"),
])
def test_bad_override_syntax(item, words):
    with pytest.raises(ConfigError, match=words):
        parse_override(item)


def test_apply_overrides_creates_nested_keys_and_copies():
    base = {"experiment": "x", "train": {"batch_size": 8}}
    out = apply_overrides(base, ["train.schedule.kind=step", "train.schedule.milestones=[10, 20]",
                                 "train.batch_size=4", "eval.pgd.paper.steps=7"])
    assert out["train"] == {"batch_size": 4, "schedule": {"kind": "step", "milestones": [10, 20]}}
    assert out["eval"] == {"pgd": {"paper": {"steps": 7}}}
    assert base == {"experiment": "x", "train": {"batch_size": 8}}  # input untouched


def test_overrides_apply_in_order():
    out = apply_overrides({}, ["a=1", "a=2"])
    assert out == {"a": 2}


def test_override_into_a_scalar_is_an_error():
    with pytest.raises(ConfigError, match="'batch_size' is not a section"):
        apply_overrides({"train": {"batch_size": 8}}, ["train.batch_size.x=1"])


def test_load_config_with_overrides(tiny_overrides, default_config):
    cfg = load_config(default_config, [*tiny_overrides, "train.lr_d=1e-4", "train.schedule.kind=linear",
                                       "train.schedule.start=10"])
    assert cfg["model"]["ngf"] == 8 and cfg["model"]["z_dim"] == 16
    assert cfg["train"]["iterations"] == 20
    assert cfg["finetune"]["schedule"]["milestones"] == [10]
    assert cfg["finetune"]["schedule"]["factor"] == pytest.approx(0.1)  # from the file, kept
    assert cfg["train"]["lr_d"] == pytest.approx(1e-4, rel=1e-12)
    assert cfg["train"]["schedule"] == {"kind": "linear", "start": 10, "milestones": [], "every": 0,
                                        "factor": 0.5, "reset_optimizer": False}
    assert cfg["threads"] == 1


# --------------------------------------------------------------------------- hashes


def test_config_hash_is_16_hex_and_stable_under_key_order(quick):
    h = config_hash(quick)
    assert len(h) == 16 and all(ch in "0123456789abcdef" for ch in h)
    reordered = {k: (dict(reversed(list(v.items()))) if isinstance(v, dict) else v)
                 for k, v in reversed(list(quick.items()))}
    assert list(reordered) != list(quick)
    assert config_hash(reordered) == h
    assert config_hash(copy.deepcopy(quick)) == h


def test_config_hash_golden():
    # sha256 of the canonical JSON '{"a":1,"b":[1.5,null]}', first 16 hex digits.
    import hashlib

    expected = hashlib.sha256(b'{"a":1,"b":[1.5,null]}').hexdigest()[:16]
    assert config_hash({"b": [1.5, None], "a": 1}) == expected


@pytest.mark.parametrize("override", [
    "train.batch_size=63", "train.eps=0.10001", "eval.pgd.eps=[0.0]", "seeds=[1]", "device=cpu",
    "train.attack_random_start=true", "model.d_arch=preact_resnet18", "experiment=other",
])
def test_config_hash_changes_with_any_value(quick, override):
    changed = load_config(REPO / "config" / "config.yaml", [override])
    assert changed != quick
    assert config_hash(changed) != config_hash(quick)


@pytest.mark.parametrize("override", [
    "eval.pgd.eps=[0.0, 0.5]", "eval.batch_size=7", "seeds=[0, 1, 2]", "methods=[robgan]",
    "finetune_lambdas=[0.5]", "device=cpu", "threads=2",
])
def test_training_hash_ignores_non_training_keys(quick, override):
    changed = load_config(REPO / "config" / "config.yaml", [override])
    assert config_hash(changed) != config_hash(quick)
    assert training_hash(changed) == training_hash(quick)


@pytest.mark.parametrize("override", [
    "train.batch_size=48", "train.loss_weights.d_fake=0.5", "train.schedule.kind=linear",
    "model.ngf=32", "model.z_dim=65", "data.augment=crop_flip", "data.noise=false",
    "advtrain.eps=0.2", "finetune.lam=0.5",
])
def test_training_hash_covers_training_keys(quick, override):
    changed = load_config(REPO / "config" / "config.yaml", [override])
    assert training_hash(changed) != training_hash(quick)


def test_training_view_drops_exactly_the_non_training_keys(quick):
    view = training_view(quick)
    assert set(NON_TRAINING_KEYS) == {"eval", "seeds", "methods", "finetune_lambdas", "device", "threads"}
    assert set(view) == set(quick) - set(NON_TRAINING_KEYS)
    assert training_hash(quick) == config_hash(view)
    assert "train" in view and "model" in view and "data" in view
