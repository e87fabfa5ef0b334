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

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
CONFIG_SCHEMA = SCHEMA_DIR / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration problem; the message names the dotted field and how to fix it."""


@cache
def load_schema(path: str | Path = CONFIG_SCHEMA) -> dict:
    """Read a YAML/JSON schema file (cached)."""
    with open(path) as fh:
        return yaml.safe_load(fh)


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


def validate(cfg: dict, schema: dict | None = None, fill_defaults: bool = True) -> dict:
    """Validate ``cfg`` against the config schema and return a copy with every default filled in.

    Raises:
        ConfigError: naming the first offending dotted field (e.g. ``train.batch_size``), the
            problem, and where the allowed values are documented.
    """
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
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            field = _field([*err.absolute_path, extra[0]]) if extra else field
            msg = (f"config error at '{field}': unknown field. Allowed fields here: "
                   f"{', '.join(sorted(err.schema.get('properties', {})))}.")
        else:
            msg = f"config error at '{field}': {err.message}."
        raise ConfigError(f"{msg} Fix the value in your config file or with --set {field}=...; "
                          f"every field is documented in {CONFIG_SCHEMA.name}.")
    return out


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

# The budget/optimiser section that each method reads; the other two do not affect its run.
METHOD_SECTIONS = ("train", "advtrain", "finetune")


def method_section(method: str) -> str:
    return {"advtrain": "advtrain", "robgan_ft": "finetune"}.get(method, "train")


def training_view(cfg: Mapping, method: str | None = None) -> dict:
    """The part of a config that determines a training run (what a run directory's hash covers).

    ``method`` (default: ``cfg["run"]["method"]`` when present) drops the budget sections of the
    other methods, so that editing ``finetune.lam`` does not invalidate an ``sngan`` run.
    """
    method = method or (cfg.get("run") or {}).get("method")
    drop = set(NON_TRAINING_KEYS)
    if method:
        drop |= set(METHOD_SECTIONS) - {method_section(method)}
    view = {k: v for k, v in cfg.items() if k not in drop}
    if isinstance(view.get("data"), Mapping):  # where the data lives does not change the run
        view["data"] = {k: v for k, v in view["data"].items() if k not in DATA_LOCATION_KEYS}
    return view


def training_hash(cfg: Mapping, method: str | None = None) -> str:
    """``config_hash`` of :func:`training_view`: the hash stored in a run's manifest."""
    return config_hash(training_view(cfg, method))


def dump_config(cfg: Mapping) -> str:
    return yaml.safe_dump(dict(cfg), sort_keys=False, default_flow_style=None)
