"""Experiment configuration: load a YAML file, apply dotted overrides, validate, fill defaults.

The one source of truth is ``workflow/schemas/config.schema.yaml``; Snakemake validates against the
same file. A resolved config is a plain nested ``dict`` (JSON-serialisable), hashed canonically so
that a run directory can refuse to resume under a different configuration.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from robgan.registry import (
    DATASETS,
    METHODS,
    configured_labels,
    evaluation_labels,
    experiment_labels,
    finetune_labels,
    label_info,
    method_info,
    training_budget,
)

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
CONFIG_SCHEMA = SCHEMA_DIR / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration problem; the message names the dotted field and how to fix it."""


@cache
def _read_schema(path: Path) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def load_schema(path: str | Path = CONFIG_SCHEMA) -> dict:
    """Read a YAML/JSON schema file (cached; a fresh copy of the config schema each call).

    The config schema's lists of method and dataset names are not in the file: they are filled in from
    :data:`robgan.registry.METHODS` (``methods``: the methods trained from scratch;
    ``train.method_overrides``: the GAN methods; ``run.method``: every method) and
    :data:`robgan.registry.DATASETS` (``data.name``); the labels of ``eval.autoattack.overrides`` are the
    classifiers AutoAttack applies to (:func:`robgan.registry.evaluation_labels`).
    """
    schema = _read_schema(Path(path).resolve())
    if Path(path).resolve() != CONFIG_SCHEMA.resolve():
        return schema
    schema = copy.deepcopy(schema)
    props = schema["properties"]
    methods = METHODS.values()
    props["methods"]["items"]["enum"] = [m.name for m in methods if m.from_run is None]
    props["train"]["properties"]["method_overrides"]["propertyNames"]["enum"] = [
        m.name for m in methods if m.section == "train"]
    props["run"]["properties"]["method"]["enum"] = [m.name for m in methods]
    props["data"]["properties"]["name"]["enum"] = list(DATASETS)
    aa = props["eval"]["properties"]["autoattack"]["properties"]
    aa["overrides"]["propertyNames"]["enum"] = evaluation_labels("autoattack")
    return schema


def _defaulting_validator(schema: dict):
    import jsonschema

    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema_):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema_)

    cls = jsonschema.validators.extend(base, {"properties": set_defaults})
    return cls(schema)


def _field(path: Iterable[Any]) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "<top level>"


def _closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` most likely misspells (``difflib``, similarity ≥ 0.6), or None."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def validate(cfg: dict, schema: dict | None = None, fill_defaults: bool = True) -> dict:
    """Validate ``cfg`` against the config schema and return a copy with every default filled in.

    With the config schema (``schema`` None) and defaults filled, the rules across fields of
    :func:`check_consistency` are checked too.

    Raises:
        ConfigError: naming the first offending dotted field (e.g. ``train.batch_size``), the
            problem, and where the allowed values are documented.
    """
    check = fill_defaults and schema is None  # the rules across fields need the config schema's defaults
    schema = schema if schema is not None else load_schema()
    out = copy.deepcopy(dict(cfg))
    validator = _defaulting_validator(schema) if fill_defaults else None
    if validator is None:
        import jsonschema

        validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(out), key=lambda e: (len(e.absolute_path), list(map(str, e.path))))
    if errors:
        err = errors[0]
        field = _field(err.absolute_path)
        fix = f"Fix the value in your config file or with --set {field}=..."
        if err.validator == "additionalProperties":
            allowed = sorted(err.schema.get("properties", {}))
            extra = sorted(set(err.instance) - set(allowed))
            field = _field([*err.absolute_path, extra[0]]) if extra else field
            msg = f"config error at '{field}': unknown field."
            fix = (f"Remove it from your config file (or --set), or use one of the allowed fields here: "
                   f"{', '.join(allowed)}")
            close = _closest(extra[0], allowed) if extra else None
            if close is not None:
                right = _field([*err.absolute_path, close])
                msg = f"config error at '{field}': unknown field; did you mean `{close}`?"
                fix = (f"Rename it to `{close}` in your config file, or set it with --set {right}=... "
                       f"(allowed fields here: {', '.join(allowed)})")
        elif err.validator == "enum" and "propertyNames" in err.schema_path:
            # a mapping keyed by names (e.g. eval.autoattack.overrides): the key itself is wrong
            field = _field([*err.absolute_path, err.instance])
            choices = [str(v) for v in err.validator_value]
            close = _closest(str(err.instance), choices)
            msg = (f"config error at '{field}': unknown name {err.instance!r} here"
                   + (f"; did you mean `{close}`?" if close else "."))
            fix = f"Use one of: {', '.join(choices)}"
        elif err.validator == "enum" and isinstance(err.instance, str):
            close = _closest(err.instance, [str(v) for v in err.validator_value])
            msg = f"config error at '{field}': {err.message}" + (f"; did you mean `{close}`?" if close else ".")
            if close is not None:
                fix = f"Fix it in your config file or with --set {field}={close}"
        else:
            msg = f"config error at '{field}': {err.message}."
        raise ConfigError(f"{msg} {fix}; every field is documented in {CONFIG_SCHEMA.name}.")
    if check:
        check_consistency(out)
    return out


# --------------------------------------------------------------------------- rules across fields
# What a JSON schema cannot say (products of fields, rules across sections); checked by `validate`
# after the schema, so every entry point (CLI, API, tests) refuses the same configs.

# Relative tolerance of "steps × step size reaches eps" (float rounding of eps / steps × steps).
REACH_RTOL = 1e-6

# Sections whose PGD attack is configured by attack_steps / attack_step_size. Fine-tuning's attack
# takes steps of eps / attack_steps (see `section_attack`), so it reaches eps by construction.
_STEP_SIZE_SECTIONS = ("train", "advtrain")


def method_section_view(cfg: Mapping, method: str) -> dict[str, Any]:
    """The config section ``method`` trains with, its ``train.method_overrides`` entry applied (GAN methods
    only; the overrides key itself is dropped). Other methods get their section unchanged."""
    sec = dict(cfg[method_section(method)])
    overrides = sec.pop("method_overrides", None) or {}
    if method_section(method) == "train":
        sec.update(overrides.get(method) or {})
    return sec


def autoattack_view(cfg: Mapping, label: str) -> dict[str, Any]:
    """The AutoAttack settings classifier ``label`` is evaluated with: ``eval.autoattack`` of a resolved
    config with its ``overrides`` entry for ``label`` applied (``labels`` and ``overrides`` dropped), plus
    ``override``: the entry's field names, sorted (empty: the experiment's settings as they are)."""
    aa = dict(cfg["eval"]["autoattack"])
    own = dict((aa.pop("overrides", None) or {}).get(label) or {})
    aa.pop("labels", None)
    aa.update(own)
    aa["override"] = sorted(own)
    return aa


def section_attack(cfg: Mapping, section: str) -> dict[str, Any]:
    """The training PGD attack that config section ``section`` (``train``, ``advtrain``, ``finetune``)
    of a resolved config ``cfg`` describes: ``{"eps", "step_size", "steps", "random_start"}``, in
    [0,1] pixel units; the one definition the training context builds its threat model from.

    ``train`` / ``advtrain``: ``attack_steps`` steps of ``attack_step_size``. ``finetune``: the
    authors' ``max(1, attack_steps)`` steps of ``eps / attack_steps``, so steps × step size = eps.
    """
    s = cfg[section]
    eps = float(s["eps"])
    if section == "finetune":
        steps = max(1, int(s["attack_steps"]))
        step = (1.0 / steps) * eps  # as ThreatModel.fractional computes it (bit-identical runs)
    else:
        steps, step = int(s["attack_steps"]), float(s["attack_step_size"])
    return {"eps": eps, "step_size": step, "steps": steps, "random_start": bool(s["attack_random_start"])}


def attack_reaches_eps(attack: Mapping) -> bool:
    """Whether PGD with ``attack`` (:func:`section_attack`) can move a pixel the full eps: eps is 0,
    or it starts uniformly in the ball, or steps × step size >= eps (to :data:`REACH_RTOL`)."""
    eps = float(attack["eps"])
    return (eps == 0.0 or bool(attack["random_start"])
            or int(attack["steps"]) * float(attack["step_size"]) >= eps * (1.0 - REACH_RTOL))


def _error(field: str, msg: str) -> ConfigError:
    return ConfigError(f"config error at '{field}': {msg} Every field is documented in {CONFIG_SCHEMA.name}.")


def check_consistency(cfg: Mapping) -> None:
    """Rules across fields of a resolved config (defaults filled); ``ConfigError`` naming the field
    and the fix on the first violation:

    - ``finetune_lambdas``: at most one value > 0 and one 0 (:func:`robgan.registry.finetune_labels`);
    - every training attack reaches eps: ``attack_steps × attack_step_size >= eps`` unless it starts
      at a random point of the ball; ``<section>.attack_allow_unreachable: true`` keeps a weaker
      attack on purpose (the authors' own co-training attack in ``config/cifar10.yaml``);
    - when an experiment trains both ``advtrain`` and a fine-tuned ``robgan``, the adversarial-training
      baseline gets at least as many classifier updates as Rob-GAN co-training + fine-tuning
      (:func:`robgan.registry.training_budget`), unless ``advtrain.allow_smaller_budget: true``;
    - ``eval.autoattack.labels`` and the labels of ``eval.autoattack.overrides`` are classifiers that this
      experiment evaluates with AutoAttack.
    """
    try:
        finetune_labels(cfg["finetune_lambdas"])
    except ValueError as exc:
        raise _error("finetune_lambdas", str(exc)) from None

    for section in _STEP_SIZE_SECTIONS:
        attack = section_attack(cfg, section)
        if attack_reaches_eps(attack) or cfg[section]["attack_allow_unreachable"]:
            continue
        steps, step, eps = attack["steps"], attack["step_size"], attack["eps"]
        if steps > 0:
            field, fix = f"{section}.attack_step_size", f"--set {section}.attack_step_size={2.5 * eps / steps:.6g}"
        else:
            field, fix = f"{section}.attack_steps", (f"--set {section}.attack_steps=5 --set "
                                                     f"{section}.attack_step_size={2.5 * eps / 5:.6g}")
        raise _error(
            field,
            f"the {section} attack cannot reach eps: attack_steps × attack_step_size = {steps} × {step:g} = "
            f"{steps * step:g} < {section}.eps = {eps:g}, and {section}.attack_random_start is false. Fix: "
            f"{fix} (2.5·eps/attack_steps per step, Madry et al.'s rule) or --set "
            f"{section}.attack_random_start=true; or --set {section}.attack_allow_unreachable=true to keep "
            f"this attack on purpose (recorded in every run's config and manifest).")

    # eval.autoattack.labels / .overrides name classifiers of the registry (a typo is refused); one that
    # this experiment does not train (e.g. after --set methods=[...]) is simply not evaluated.
    labels = experiment_labels(cfg)
    known = evaluation_labels("autoattack")
    chosen = configured_labels(cfg, "autoattack")
    if chosen is not None:
        wrong = [lb for lb in chosen if lb not in known]
        if wrong:
            raise _error("eval.autoattack.labels",
                         f"{', '.join(map(repr, wrong))} is not a classifier label. Fix: choose from "
                         f"{', '.join(known)} (or null for all of them).")
    overridden = list(cfg["eval"]["autoattack"].get("overrides") or {})
    trained = evaluation_labels("autoattack", labels)
    allowed = evaluation_labels("autoattack", labels, cfg)
    wrong = [lb for lb in overridden if lb not in known or (lb in trained and lb not in allowed)]
    if wrong:
        raise _error(f"eval.autoattack.overrides.{wrong[0]}",
                     f"{wrong[0]!r} gets no AutoAttack in this experiment (not a classifier label, or not in "
                     f"eval.autoattack.labels). Fix: override one of {', '.join(allowed)}, or remove the entry.")
    ft = [lb for lb in labels if label_info(lb).info.section == "finetune"]
    if "advtrain" in labels and ft and not cfg["advtrain"]["allow_smaller_budget"]:
        adv, rob = training_budget(cfg, "advtrain"), training_budget(cfg, ft[0])
        if adv["d_updates"] < rob["d_updates"]:
            t = cfg["train"]
            same_images = -(-rob["real_images"] // int(cfg["advtrain"]["batch_size"]))
            raise _error(
                "advtrain.iterations",
                f"the adversarial-training baseline would train {adv['d_updates']} classifier updates, fewer than "
                f"Rob-GAN's co-training + fine-tuning ({rob['d_updates']} = train.iterations {t['iterations']} × "
                f"train.n_dis {t['n_dis']} + finetune.iterations {cfg['finetune']['iterations']}). Fix: --set "
                f"advtrain.iterations={max(rob['d_updates'], same_images)} (at least {rob['d_updates']}; "
                f"{same_images} also matches its {rob['real_images']} real images), or --set "
                f"advtrain.allow_smaller_budget=true to allow a smaller baseline on purpose (smoke tests).")


class _OverrideLoader(yaml.SafeLoader):
    """SafeLoader that also reads exponent floats without a dot (``1e-3``) as numbers, as YAML 1.2
    does: PyYAML's YAML 1.1 resolver keeps them as strings, so ``--set train.lr_g=1e-3`` failed."""


_OverrideLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def parse_override(item: str) -> tuple[list[str], Any]:
    """Parse ``a.b.c=value``; the value is read as YAML (numbers incl. ``1e-3``, booleans, lists, null)."""
    if "=" not in item:
        raise ConfigError(f"override '{item}' is not of the form key.sub=value")
    key, raw = item.split("=", 1)
    keys = [k for k in key.strip().split(".") if k]
    if not keys:
        raise ConfigError(f"override '{item}' has an empty key")
    try:
        value = yaml.load(raw, Loader=_OverrideLoader)  # safe: a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"override '{item}': value is not valid YAML ({exc})") from exc
    return keys, value


def apply_overrides(cfg: dict, overrides: Iterable[str] = ()) -> dict:
    """Return a copy of ``cfg`` with dotted ``key.sub=value`` overrides applied."""
    out = copy.deepcopy(cfg)
    for item in overrides:
        keys, value = parse_override(item)
        node = out
        for k in keys[:-1]:
            nxt = node.setdefault(k, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"override '{item}': '{k}' is not a section")
            node = nxt
        node[keys[-1]] = value
    return out


def load_config(path: str | Path | Mapping, overrides: Iterable[str] = ()) -> dict:
    """Load, override and validate an experiment config. ``path`` may also be an in-memory mapping."""
    if isinstance(path, Mapping):
        raw = copy.deepcopy(dict(path))
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file '{p}' does not exist (pass --config config/config.yaml)")
        with open(p) as fh:
            raw = yaml.safe_load(fh) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"config file '{p}' must hold a mapping at the top level")
    return validate(apply_overrides(raw, overrides))


def config_hash(cfg: Mapping) -> str:
    """Canonical SHA-256 (first 16 hex digits) of a config (key order and float formatting stable)."""
    canonical = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# Sections that do not change what a training run computes: editing them (adding an eval epsilon or
# a seed, moving to another device) must not invalidate finished or resumable runs.
NON_TRAINING_KEYS = ("eval", "seeds", "methods", "finetune_lambdas", "device", "threads")


# Keys of `data` that say where the data lives, not what it is.
DATA_LOCATION_KEYS = ("root", "download", "cache_dir")

# The budget/optimiser section that each method reads (MethodInfo.section); the others do not affect
# its run.
METHOD_SECTIONS = tuple(dict.fromkeys(m.section for m in METHODS.values()))


# Switches that only let validation accept a configuration; they never change what a run computes.
PERMISSION_KEYS = {"train": ("attack_allow_unreachable",),
                   "advtrain": ("attack_allow_unreachable", "allow_smaller_budget")}

# How G's batch norm normalises when G makes samples (model.g_sample_bn): it changes the fakes of
# fine-tuning (robgan_ft), so it is part of that run's hash; for every other method it only changes
# evaluation (IS/FID, sample grids), so editing it must not invalidate their runs.
SAMPLING_KEYS = ("g_sample_bn",)
# Bumped whenever the model code changes what a config builds (2: the reference discriminators,
# docs/architecture.md): a run directory trained by other model code is then refused on resume
# instead of failing to load its checkpoint.
ARCHITECTURE_VERSION = 2
# The methods whose training uses G's samples (:data:`SAMPLING_KEYS`): those that start from another
# method's run and train on its generator's fakes (MethodInfo.from_run).
SAMPLING_METHODS = tuple(m.name for m in METHODS.values() if m.from_run is not None)


def method_section(method: str) -> str:
    """The config section ``method`` trains with (:data:`robgan.registry.METHODS`)."""
    return method_info(method).section


def training_view(cfg: Mapping, method: str | None = None) -> dict:
    """The part of a config that determines a training run (what a run directory's hash covers).

    ``method`` (default: ``cfg["run"]["method"]`` when present) drops the budget sections of the
    other methods, so that editing ``finetune.lam`` does not invalidate an ``sngan`` run, and
    ``model.g_sample_bn`` except for fine-tuning (:data:`SAMPLING_KEYS`); without a method the view
    keeps it. :data:`PERMISSION_KEYS` are never part of it.
    """
    method = method or (cfg.get("run") or {}).get("method")
    drop = set(NON_TRAINING_KEYS)
    if method:
        drop |= set(METHOD_SECTIONS) - {method_section(method)}
    view = {k: v for k, v in cfg.items() if k not in drop}
    if isinstance(view.get("data"), Mapping):  # where the data lives does not change the run
        view["data"] = {k: v for k, v in view["data"].items() if k not in DATA_LOCATION_KEYS}
    for section, keys in PERMISSION_KEYS.items():
        if isinstance(view.get(section), Mapping):
            view[section] = {k: v for k, v in view[section].items() if k not in keys}
    if method and method not in SAMPLING_METHODS and isinstance(view.get("model"), Mapping):
        view["model"] = {k: v for k, v in view["model"].items() if k not in SAMPLING_KEYS}
    if method and method_section(method) == "train" and isinstance(view.get("train"), Mapping):
        # a method's own optimiser overrides belong to its run, the others' do not
        view["train"] = method_section_view(view, method)
    view["architecture_version"] = ARCHITECTURE_VERSION
    return view


def training_hash(cfg: Mapping, method: str | None = None) -> str:
    """``config_hash`` of :func:`training_view`: the hash stored in a run's manifest."""
    return config_hash(training_view(cfg, method))


def dump_config(cfg: Mapping) -> str:
    return yaml.safe_dump(dict(cfg), sort_keys=False, default_flow_style=None)
