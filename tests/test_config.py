"""robgan.config: loading, schema validation with dotted error fields, overrides and hashes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from robgan.config import (
    ARCHITECTURE_VERSION,
    NON_TRAINING_KEYS,
    ConfigError,
    apply_overrides,
    attack_reaches_eps,
    autoattack_view,
    config_hash,
    load_config,
    method_section_view,
    parse_override,
    section_attack,
    training_hash,
    training_view,
    validate,
)
from robgan.registry import evaluation_labels, experiment_labels, training_budget

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
    # The authors' new-loss weights.
    assert quick["train"]["loss_weights"] == {
        "d_real_adv": 0.5, "d_class_adv": 0.5, "d_fake": 1.0, "g_adv": 0.5, "g_class": 0.5,
    }
    # The paper's evaluation protocol: 20 steps of eps/5, no random start, no restarts.
    assert quick["eval"]["pgd"]["paper"] == {
        "steps": 20, "step_fraction": 0.2, "restarts": 1, "random_start": False,
    }
    # quick runs no strong protocol (null is kept, not replaced by the schema's default)
    assert quick["eval"]["pgd"]["strong"] is None
    assert quick["device"] == "auto"
    assert quick["threads"] == 0
    # the quick experiment's faster optimiser (config.yaml: D 10x, G 5x the paper's lr, the paper's betas)
    assert quick["train"]["lr_g"] == pytest.approx(1e-3, rel=1e-12)
    assert quick["train"]["lr_d"] == pytest.approx(2e-3, rel=1e-12)
    assert quick["train"]["betas"] == [0.0, 0.9]
    assert load_config({"experiment": "x"})["train"]["lr_g"] == pytest.approx(2e-4, rel=1e-12)
    assert load_config({"experiment": "x"})["train"]["betas"] == [0.0, 0.9]
    assert quick["train"]["schedule"]["kind"] == "constant"
    assert quick["advtrain"]["schedule"] == {"kind": "linear", "milestones": [], "every": 0,
                                             "factor": 0.5, "reset_optimizer": False, "start": 1200}
    assert quick["finetune"]["betas"] == [0.9, 0.999]
    assert quick["finetune"]["schedule"]["milestones"] == [75, 113]
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


@pytest.mark.parametrize("override, field", [("train.foo=1", "train.foo"), ("bogus=1", "bogus")])
def test_an_unknown_field_with_no_near_name_says_remove_it(override, field):
    with pytest.raises(ConfigError) as info:
        load_config(REPO / "config" / "config.yaml", [override])
    msg = str(info.value)
    assert msg.startswith(f"config error at '{field}': unknown field. Remove it") and "did you mean" not in msg
    assert f"--set {field}=" not in msg and "\n" not in msg  # setting it again would fail the same way


@pytest.mark.parametrize("override, field, meant, right", [
    ("eval.autoattack.epss=0.1", "eval.autoattack.epss", "eps", "eval.autoattack.eps"),
    ("train.batchsize=32", "train.batchsize", "batch_size", "train.batch_size"),
    ("seed=[0]", "seed", "seeds", "seeds"),
])
def test_an_unknown_field_gets_did_you_mean_and_the_right_set(override, field, meant, right):
    with pytest.raises(ConfigError) as info:
        load_config(REPO / "config" / "config.yaml", [override])
    msg = str(info.value)
    assert msg.startswith(f"config error at '{field}': unknown field; did you mean `{meant}`?")
    assert f"--set {right}=..." in msg and f"--set {field}=" not in msg and "\n" not in msg


def test_a_misspelt_enum_value_gets_did_you_mean():
    with pytest.raises(ConfigError) as info:
        load_config(REPO / "config" / "config.yaml", ["data.name=mnist5"])
    msg = str(info.value)
    assert "did you mean `mnist5k`?" in msg and "--set data.name=mnist5k" in msg


def test_the_dataset_enum_of_the_schema_is_the_registry():
    """data.name's allowed values are generated from robgan.registry.DATASETS, not typed in the file."""
    from robgan.config import CONFIG_SCHEMA, load_schema
    from robgan.registry import DATASETS

    assert load_schema()["properties"]["data"]["properties"]["name"]["enum"] == list(DATASETS)
    raw = yaml.safe_load(CONFIG_SCHEMA.read_text())
    assert "enum" not in raw["properties"]["data"]["properties"]["name"]


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
    assert set(view) == set(quick) - set(NON_TRAINING_KEYS) | {"architecture_version"}
    assert view["architecture_version"] == ARCHITECTURE_VERSION
    assert training_hash(quick) == config_hash(view)
    assert "train" in view and "model" in view and "data" in view


# --------------------------------------------------------------------------- rules across fields


@pytest.mark.parametrize("field, overrides, fix", [
    ("train.attack_step_size", ["train.attack_step_size=0.03"],                   # 3 x 0.03 = 0.09 < 0.1
     "--set train.attack_step_size=0.0833333"),                                   # 2.5 eps / 3 steps
    ("train.attack_steps", ["train.attack_steps=0"],                              # no step at all
     "--set train.attack_steps=5 --set train.attack_step_size=0.05"),
    ("advtrain.attack_step_size", ["advtrain.attack_random_start=false", "advtrain.attack_step_size=0.02"],
     "--set advtrain.attack_step_size=0.0833333"),
])
def test_unreachable_attack_is_refused_naming_the_field_and_the_fix(field, overrides, fix):
    section = field.split(".")[0]
    with pytest.raises(ConfigError) as info:
        load_config(REPO / "config" / "config.yaml", overrides)
    msg = str(info.value)
    assert msg.startswith(f"config error at '{field}':") and "cannot reach eps" in msg and fix in msg
    assert f"{section}.attack_random_start=true" in msg and f"{section}.attack_allow_unreachable=true" in msg
    # the documented switch keeps it on purpose; a random start reaches eps on its own
    load_config(REPO / "config" / "config.yaml", [*overrides, f"{section}.attack_allow_unreachable=true"])
    load_config(REPO / "config" / "config.yaml", [*overrides, f"{section}.attack_random_start=true"])


def test_attack_reach_boundary():
    # exactly eps (up to float rounding) reaches it; a hair below does not
    assert attack_reaches_eps({"eps": 0.1, "step_size": 0.1 / 3, "steps": 3, "random_start": False})
    assert not attack_reaches_eps({"eps": 0.1, "step_size": 0.0333, "steps": 3, "random_start": False})
    assert attack_reaches_eps({"eps": 0.1, "step_size": 0.0333, "steps": 3, "random_start": True})
    assert attack_reaches_eps({"eps": 0.0, "step_size": 0.0, "steps": 0, "random_start": False})


@pytest.mark.parametrize("steps", [0, 1, 3, 5, 7])
def test_finetune_attack_takes_steps_of_eps_over_steps_and_reaches_eps(steps):
    cfg = load_config(REPO / "config" / "cifar10.yaml", [f"finetune.attack_steps={steps}"])
    a = section_attack(cfg, "finetune")
    assert a["steps"] == max(1, steps)
    assert a["step_size"] == pytest.approx(0.035 / max(1, steps), rel=1e-12)
    assert a["steps"] * a["step_size"] == pytest.approx(0.035, rel=1e-12)
    assert attack_reaches_eps(a) and a["random_start"] is False


def test_the_authors_cifar10_coattack_is_kept_and_marked_unreachable():
    c10 = load_config(REPO / "config" / "cifar10.yaml")
    a = section_attack(c10, "train")
    assert (a["steps"], a["step_size"], a["eps"]) == (5, pytest.approx(1 / 255, abs=1e-6), pytest.approx(0.035))
    assert a["steps"] * a["step_size"] == pytest.approx(5 / 255, abs=1e-5)  # 0.0196 < eps 0.035
    assert not attack_reaches_eps(a) and c10["train"]["attack_allow_unreachable"] is True
    with pytest.raises(ConfigError, match="'train.attack_step_size'"):
        load_config(REPO / "config" / "cifar10.yaml", ["train.attack_allow_unreachable=false"])
    # the other shipped co-training attacks reach eps without the switch
    for name in ("config.yaml", "imagenet143.yaml"):
        cfg = load_config(REPO / "config" / name)
        assert attack_reaches_eps(section_attack(cfg, "train")) and not cfg["train"]["attack_allow_unreachable"]


@pytest.mark.parametrize("name", sorted(CONFIG_FILES))
def test_shipped_advtrain_is_madry_with_at_least_robgans_budget(name):
    cfg = load_config(REPO / "config" / name)
    a = section_attack(cfg, "advtrain")
    assert a["random_start"] is True and not cfg["advtrain"]["attack_allow_unreachable"]
    assert a["eps"] == pytest.approx(cfg["train"]["eps"], rel=1e-12)  # the same eps as Rob-GAN's
    assert a["steps"] * a["step_size"] == pytest.approx(2.5 * a["eps"], rel=1e-4)  # Madry: 2.5 eps in all
    adv, ft = training_budget(cfg, "advtrain"), training_budget(cfg, "robgan_ft")
    assert adv["d_updates"] >= ft["d_updates"] and adv["real_images"] >= ft["real_images"]
    assert not cfg["advtrain"]["allow_smaller_budget"]


def test_advtrain_budget_below_robgan_ft_is_refused_naming_the_fields():
    # quick: Rob-GAN w/ FT = 1200 x 1 co-training + 150 fine-tuning D updates
    with pytest.raises(ConfigError) as info:
        load_config(REPO / "config" / "config.yaml", ["advtrain.iterations=1349"])
    msg = str(info.value)
    assert "'advtrain.iterations'" in msg and "1349" in msg and "(1350 = train.iterations 1200" in msg
    assert "train.n_dis 1 + finetune.iterations 150" in msg
    # 1500 x 32 = 48,000 = 1200 x 32 + 150 x 64 real images
    assert "--set advtrain.iterations=1500" in msg and "advtrain.allow_smaller_budget=true" in msg
    for ok in (["advtrain.iterations=1350"],
               ["advtrain.iterations=10", "advtrain.allow_smaller_budget=true"],
               ["advtrain.iterations=10", "methods=[sngan, advtrain]"],        # no robgan: nothing to match
               ["advtrain.iterations=10", "finetune_lambdas=[]"]):            # no fine-tuning run
        assert load_config(REPO / "config" / "config.yaml", ok)["advtrain"]["iterations"] in (1350, 10)
    # n_dis counts: 1 generator iteration x 5 D updates + 1 fine-tuning update = 6 > 5
    with pytest.raises(ConfigError) as info:
        load_config({"experiment": "x", "train": {"iterations": 1}, "finetune": {"iterations": 1},
                     "advtrain": {"iterations": 5}})
    assert "(6 = train.iterations 1 × train.n_dis 5 + finetune.iterations 1)" in str(info.value)
    assert "--set advtrain.iterations=7 (at least 6; 7 also matches its 448 real images)" in str(info.value)
    assert training_budget(load_config({"experiment": "x"}), "advtrain")["d_updates"] == 7000


@pytest.mark.parametrize("lambdas", ["[0.3, 0.5]", "[0.0, 0.0]", "[0.3, 0.0, 0.8]"])
def test_duplicate_finetune_labels_are_refused_in_one_line(lambdas):
    with pytest.raises(ConfigError) as info:
        load_config(REPO / "config" / "config.yaml", [f"finetune_lambdas={lambdas}"])
    msg = str(info.value)
    assert msg.startswith("config error at 'finetune_lambdas':") and "at most one value > 0" in msg
    assert "\n" not in msg


def test_robgan_config_command_refuses_two_positive_lambdas(caplog):
    from robgan.cli import main

    assert main(["config", "--config", str(REPO / "config" / "config.yaml"), "--set",
                 "finetune_lambdas=[0.3,0.5]"]) == 2
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    # printed as one line `robgan: error: <message>` (tests/test_cli.py runs the command to see it)
    assert record.getMessage().startswith("config error at 'finetune_lambdas':") and "\n" not in record.getMessage()
    assert main(["config", "--config", str(REPO / "config" / "config.yaml"), "--set",
                 "finetune_lambdas=[0.5]"]) == 0


# --------------------------------------------------------------------------- generator sampling mode


def test_g_sample_bn_is_batch_and_explicit_in_every_shipped_config():
    assert load_config({"experiment": "x"})["model"]["g_sample_bn"] == "batch"
    for name in CONFIG_FILES:
        raw = yaml.safe_load((REPO / "config" / name).read_text())
        assert raw["model"]["g_sample_bn"] == "batch", name
    with pytest.raises(ConfigError, match="'model.g_sample_bn'"):
        load_config({"experiment": "x", "model": {"g_sample_bn": "eval"}})


def test_g_sample_bn_is_in_the_training_hash_of_fine_tuning_only(quick):
    running = load_config(REPO / "config" / "config.yaml", ["model.g_sample_bn=running"])
    assert training_hash(running, "robgan_ft") != training_hash(quick, "robgan_ft")
    for method in ("robgan", "sngan", "acgan", "advtrain"):
        assert training_hash(running, method) == training_hash(quick, method), method
    assert "g_sample_bn" not in training_view(quick, "robgan")["model"]
    assert training_view(quick, "robgan_ft")["model"]["g_sample_bn"] == "batch"


@pytest.mark.parametrize("override", [
    "train.attack_allow_unreachable=true", "advtrain.attack_allow_unreachable=true",
    "advtrain.allow_smaller_budget=true",
])
def test_permission_switches_are_not_in_any_training_hash(quick, override):
    changed = load_config(REPO / "config" / "config.yaml", [override])
    assert changed != quick
    for method in (None, "robgan", "advtrain", "robgan_ft"):
        assert training_hash(changed, method) == training_hash(quick, method), method


# --------------------------------------------------------------------------- per-method optimiser


def test_method_overrides_change_only_their_method(quick):
    # every GAN with the same optimiser at the same n_dis (claim 4's pair like for like)
    assert quick["train"]["method_overrides"] == {}
    assert method_section_view(quick, "sngan")["n_dis"] == method_section_view(quick, "robgan")["n_dis"] == 1
    cfg = load_config(REPO / "config" / "config.yaml", ["train.method_overrides={sngan: {n_dis: 5}}"])
    assert method_section_view(cfg, "sngan")["n_dis"] == 5 and method_section_view(cfg, "sngan")["lr_d"] == 0.002
    assert method_section_view(cfg, "robgan")["lr_d"] == cfg["train"]["lr_d"] == 0.002
    assert "method_overrides" not in method_section_view(cfg, "robgan")
    assert training_hash(cfg, "robgan") == training_hash(quick, "robgan")
    assert training_hash(cfg, "sngan") != training_hash(quick, "sngan")
    assert method_section_view(quick, "sngan")["lr_g"] == method_section_view(quick, "robgan")["lr_g"] == 0.001


def test_method_overrides_refuse_budgets_and_unknown_methods():
    for budget in ("iterations: 10", "batch_size: 8", "n_dis: 0"):
        with pytest.raises(ConfigError, match="train.method_overrides"):
            load_config(REPO / "config" / "config.yaml", [f"train.method_overrides={{sngan: {{{budget}}}}}"])
    with pytest.raises(ConfigError, match="train.method_overrides"):
        load_config(REPO / "config" / "config.yaml", ["train.method_overrides={advtrain: {lr_d: 0.1}}"])


def test_autoattack_labels_must_be_classifier_labels():
    cfg = load_config(REPO / "config" / "config.yaml", ["eval.autoattack.labels=[robgan_ft, advtrain]"])
    assert cfg["eval"]["autoattack"]["labels"] == ["robgan_ft", "advtrain"]
    # quick: the classifiers claim 6 reads
    quick = load_config(REPO / "config" / "config.yaml")
    assert quick["eval"]["autoattack"]["labels"] == ["advtrain", "robgan", "robgan_ft", "robgan_ft_nofake"]
    assert evaluation_labels("autoattack", experiment_labels(quick), quick) == quick["eval"]["autoattack"]["labels"]
    assert load_config({"experiment": "x"})["eval"]["autoattack"]["labels"] is None  # default: all
    for wrong in ("[sngan]", "[robgan_ft, robgan_typo]"):  # sngan has no classifier; a typo is no label
        with pytest.raises(ConfigError) as info:
            load_config(REPO / "config" / "config.yaml", [f"eval.autoattack.labels={wrong}"])
        msg = str(info.value)
        assert "'eval.autoattack.labels'" in msg and "is not a classifier label" in msg
        assert "choose from advtrain, robgan, robgan_ft, robgan_ft_nofake, acgan" in msg
    # a classifier the experiment does not train (no fine-tuning run, or methods narrowed) is not evaluated
    cfg = load_config(REPO / "config" / "config.yaml", ["finetune_lambdas=[]", "methods=[robgan, advtrain]"])
    assert evaluation_labels("autoattack", experiment_labels(cfg), cfg) == ["advtrain", "robgan"]


def test_method_override_n_dis_counts_in_budget_hash_and_optimiser_text():
    from robgan.report.methods import optimiser, unlike_discriminators

    cfg = load_config(REPO / "config" / "config.yaml", ["train.method_overrides={sngan: {n_dis: 5}}"])
    assert method_section_view(cfg, "sngan")["n_dis"] == 5 and method_section_view(cfg, "robgan")["n_dis"] == 1
    assert training_budget(cfg, "sngan") == {"d_updates": 1200 * 5, "real_images": 1200 * 5 * 32}
    assert training_budget(cfg, "robgan")["d_updates"] == 1200
    assert training_budget(cfg, "robgan_ft")["d_updates"] == 1350
    base = load_config(REPO / "config" / "config.yaml", ["train.method_overrides={}"])
    assert training_hash(cfg, "sngan") != training_hash(base, "sngan")
    assert training_hash(cfg, "robgan") == training_hash(base, "robgan")
    assert optimiser(cfg, "sngan") == "Adam(lr_d 0.002, lr_g 0.001, betas 0/0.9), n_dis 5"
    assert optimiser(cfg, "robgan") == optimiser(base, "sngan") == "Adam(lr_d 0.002, lr_g 0.001, betas 0/0.9)"
    assert "n_dis 5" in unlike_discriminators(cfg, ["robgan", "sngan"])


# --------------------------------------------------------------------------- per-classifier AutoAttack


def test_autoattack_override_applies_to_its_label_only():
    cfg = load_config(REPO / "config" / "config.yaml", ["eval.autoattack.labels=null",
                      "eval.autoattack.overrides={acgan: {version: standard, n_examples: 50}}"])
    own, other = autoattack_view(cfg, "acgan"), autoattack_view(cfg, "advtrain")
    assert own["version"] == "standard" and own["n_examples"] == 50 and own["override"] == ["n_examples", "version"]
    assert other["version"] == "custom" and other["n_examples"] == 100 and other["override"] == []
    assert own["eps"] == other["eps"] == 0.1  # eps is one for every classifier
    assert "overrides" not in own and "labels" not in own
    # no default: a config without overrides resolves as before they existed (committed resolved configs)
    assert "overrides" not in load_config(REPO / "config" / "config.yaml")["eval"]["autoattack"]


@pytest.mark.parametrize("override, field, words", [
    ("{acgn: {version: custom}}", "eval.autoattack.overrides.acgn", "did you mean `acgan`?"),
    ("{sngan: {version: custom}}", "eval.autoattack.overrides.sngan", "unknown name 'sngan'"),
    ("{acgan: {verison: custom}}", "eval.autoattack.overrides.acgan.verison", "did you mean `version`?"),
    ("{acgan: {version: cheap}}", "eval.autoattack.overrides.acgan.version", "'cheap' is not one of"),
    ("{acgan: {attacks: [apgd-ce, pgd]}}", "eval.autoattack.overrides.acgan.attacks.1", "'pgd' is not one of"),
    ("{acgan: {eps: 0.2}}", "eval.autoattack.overrides.acgan.eps", "unknown field"),
    ("{acgan: {}}", "eval.autoattack.overrides.acgan", "should be non-empty"),
])
def test_a_bad_autoattack_override_is_refused_naming_its_field(override, field, words):
    with pytest.raises(ConfigError) as err:
        load_config(REPO / "config" / "config.yaml", [f"eval.autoattack.overrides={override}"])
    msg = str(err.value)
    assert f"config error at '{field}'" in msg and words in msg


def test_an_autoattack_override_of_a_classifier_not_evaluated_is_refused():
    with pytest.raises(ConfigError) as err:
        load_config(REPO / "config" / "config.yaml", ["eval.autoattack.labels=[advtrain]",
                                                      "eval.autoattack.overrides={acgan: {version: standard}}"])
    msg = str(err.value)
    assert "'eval.autoattack.overrides.acgan'" in msg and "gets no AutoAttack in this experiment" in msg


def test_mnist5k_evaluates_as_issue_26_decided():
    """The paper protocol's grid; a strong protocol stronger than the paper's in what it does (more steps
    and more restarts, a random start); standard AutoAttack on >= 200 images for the classifiers claim 6b
    compares (robgan_ft, advtrain) and >= 100 for robgan and robgan_ft_nofake (#26's give-up order, items 1
    and 2: no AutoAttack for the ablations); snapshots every 50 iterations; every GAN at n_dis 1."""
    cfg = load_config(REPO / "config" / "mnist5k.yaml")
    pgd = cfg["eval"]["pgd"]
    assert pgd["eps"] == [0.0, 0.05, 0.1, 0.15, 0.2, 0.3]
    paper, strong = pgd["paper"], pgd["strong"]
    assert strong["steps"] > paper["steps"] and strong["restarts"] > paper["restarts"] and strong["random_start"]
    for label, n in (("advtrain", 200), ("robgan_ft", 200), ("robgan", 100), ("robgan_ft_nofake", 100)):
        aa = autoattack_view(cfg, label)
        assert aa["version"] == "standard" and aa["n_examples"] >= n, label
    evaluated = evaluation_labels("autoattack", experiment_labels(cfg), cfg)
    assert evaluated == ["advtrain", "robgan", "robgan_ft", "robgan_ft_nofake"]
    assert cfg["snapshot_every"] == 50 and len(cfg["seeds"]) >= 3
    assert {method_section_view(cfg, m)["n_dis"] for m in cfg["methods"] if m != "advtrain"} == {1}
