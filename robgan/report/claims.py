"""Judge the paper's claims (``config/paper_claims.yaml``) from records: ``claims.md`` + ``claims.json``.

The pieces: :mod:`robgan.report.stats` (standard errors, Student-t), :mod:`robgan.report.verdicts` (the
verdict rules), :mod:`robgan.report.evaluators` (records → comparisons per claim part),
:mod:`robgan.report.checks` (sanity checks, apart from the claims) and
:mod:`robgan.report.claims_render` (Markdown / JSON). This module reads and checks the claims file and
ties them together: :func:`load_claims`, :func:`evaluate_claims`, :func:`write_claims`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from robgan import provenance as prov
from robgan.report.aggregate import Frames
from robgan.report.checks import CheckResult, evaluate_checks
from robgan.report.claims_render import to_json, to_markdown
from robgan.report.evaluators import TESTS, Context, PartResult, evaluate_part
from robgan.report.verdicts import NOT_EVALUATED, VerdictRules

DEFAULT_CLAIMS = Path(__file__).resolve().parents[2] / "config" / "paper_claims.yaml"
# A transcribed paper_value must name where it comes from, e.g. "Table 2" or "Figure 4".
NAMED_SOURCE = re.compile(r"\b(Table|Tab\.|Figure|Fig\.)\s*[0-9IVX]+", re.IGNORECASE)
RULE_KEYS = ("alpha", "power", "min_effect", "target_is_fraction")
CHECK_KINDS = ("pgd", "autoattack", "gap", "fidelity", "lipschitz")


class ClaimsConfigError(ValueError):
    """``paper_claims.yaml`` is malformed; the message names the field."""


def load_claims(path: str | Path | None = None) -> dict[str, Any]:
    """Read and check ``paper_claims.yaml`` (default: the repository's ``config/paper_claims.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_CLAIMS
    if not path.is_file():
        raise ClaimsConfigError(f"claims file {path} does not exist (pass --claims config/paper_claims.yaml)")
    with open(path) as fh:
        doc = yaml.safe_load(fh) or {}
    check_claims(doc, str(path))
    return doc


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_rules(rules: Any, need) -> None:
    need(isinstance(rules, Mapping), "verdict_rules", "must be a mapping")
    for key in rules:
        need(key in RULE_KEYS, f"verdict_rules.{key}", f"is not a rule (choose from {', '.join(RULE_KEYS)}; "
             "k_se was replaced by alpha and min_effect)")
    if "alpha" in rules:
        need(_is_number(rules["alpha"]) and 0 < rules["alpha"] < 0.5, "verdict_rules.alpha", "must be in (0, 0.5)")
    if "power" in rules:
        need(_is_number(rules["power"]) and 0 < rules["power"] < 1, "verdict_rules.power", "must be in (0, 1)")
    if "target_is_fraction" in rules:
        need(_is_number(rules["target_is_fraction"]) and rules["target_is_fraction"] > 0,
             "verdict_rules.target_is_fraction", "must be a positive number")
    mins = rules.get("min_effect", {})
    need(isinstance(mins, Mapping), "verdict_rules.min_effect", "must map a quantity to a number")
    for k, v in mins.items():
        need(k in ("accuracy", "inception_score"), f"verdict_rules.min_effect.{k}",
             "must be accuracy (a fraction) or inception_score")
        need(_is_number(v) and v >= 0, f"verdict_rules.min_effect.{k}", "must be a number ≥ 0")


def check_claims(doc: Mapping[str, Any], where: str = "paper_claims.yaml") -> None:
    """Raise :class:`ClaimsConfigError` naming the field unless ``doc`` is a valid claims file."""
    def need(cond: bool, fieldname: str, msg: str) -> None:
        if not cond:
            raise ClaimsConfigError(f"{where}: '{fieldname}' {msg}")

    need(isinstance(doc.get("claims"), list) and doc["claims"], "claims", "must be a non-empty list")
    _check_rules(doc.get("verdict_rules") or {}, need)
    ids = set()
    for i, claim in enumerate(doc["claims"]):
        for key in ("id", "statement", "source", "parts"):
            need(key in claim, f"claims[{i}].{key}", "is required")
        for j, part in enumerate(claim["parts"]):
            at = f"claims[{i}].parts[{j}]"
            for key in ("id", "statement", "direction", "test", "paper_value"):
                need(key in part, f"{at}.{key}", "is required (paper_value may be null)")
            need(part["test"] in TESTS, f"{at}.test", f"must be one of {', '.join(TESTS)} (sanity checks such as "
                 "AutoAttack ≤ PGD belong under checks)")
            need(part["id"] not in ids, f"{at}.id", "is a duplicate")
            ids.add(part["id"])
            value, source = part["paper_value"], str(part.get("source", claim["source"]))
            need(value is None or (_is_number(value) and NAMED_SOURCE.search(source)), f"{at}.paper_value",
                 "must be null, or a number transcribed from the paper with its table or figure named in "
                 "source (e.g. 'Table 2')")
            pairs = part.get("pairs")
            need(isinstance(pairs, list) and pairs and all(isinstance(p, list) and len(p) == 2 for p in pairs),
                 f"{at}.pairs", "must be a list of [better, worse] label pairs")
            if "regime_gap" in part:
                need(part["test"] == "gap_smaller" and _is_number(part["regime_gap"])
                     and 0 <= part["regime_gap"] < 1, f"{at}.regime_gap",
                     "must be a fraction in [0, 1) on a gap_smaller part")
            if part["test"] == "time_to_target":
                need(part.get("axis") in ("train_seconds", "iteration"), f"{at}.axis",
                     "must be train_seconds or iteration")
    for i, claim in enumerate(doc["claims"]):
        for j, part in enumerate(claim["parts"]):
            if "control" in part:
                need(part["control"] in ids, f"claims[{i}].parts[{j}].control", "must name another claim part")
    for i, chk in enumerate(doc.get("checks") or []):
        for key in ("id", "statement", "kind", "flag"):
            need(key in chk, f"checks[{i}].{key}", "is required")
        need(chk["kind"] in CHECK_KINDS, f"checks[{i}].kind", f"must be one of {', '.join(CHECK_KINDS)}")
        need(chk["id"] not in ids, f"checks[{i}].id", "is a duplicate")
        ids.add(chk["id"])


def evaluate_claims(frames: Frames, claims_doc: Mapping[str, Any],
                    cfg: Mapping[str, Any] | None = None, cost: Mapping[str, Any] | None = None) -> list[PartResult]:
    """Judge every claim part of ``claims_doc`` (a loaded ``paper_claims.yaml``) on ``frames``.

    ``cfg``: the resolved experiment config; it names the labels the experiment trains (an absent
    method is "not evaluated" rather than "missing") and the discriminator families (a comparison of
    methods with different families says so). ``cost``: the cost probe record (:mod:`robgan.cost_probe`)
    that the wall-clock time claims are judged on; without it they are "not judged".
    """
    check_claims(claims_doc)
    ctx = Context(frames, cfg, VerdictRules.from_mapping(claims_doc.get("verdict_rules")), cost)
    out = []
    for claim in claims_doc["claims"]:
        for part in claim["parts"]:
            base = {"id": part["id"], "claim": claim["id"], "statement": part["statement"],
                    "direction": part["direction"], "test": part["test"],
                    "source": part.get("source", claim["source"]), "datasets": claim.get("datasets"),
                    "paper_value": part.get("paper_value")}
            need = part.get("requires_dataset")
            if need and frames.dataset != need:
                out.append(PartResult(**base, verdict=NOT_EVALUATED,
                                      reason=f"needs {need}; this experiment's dataset is {frames.dataset}"))
                continue
            out.append(evaluate_part(ctx, part, base))
    return out


def write_claims(results: Sequence[PartResult], claims_doc: Mapping[str, Any], frames: Frames,
                 out_dir: str | Path, checks: Sequence[CheckResult] | None = None) -> list[Path]:
    """Write ``claims.md`` and ``claims.json`` (strict JSON) into ``out_dir``; ``checks`` default to
    :func:`robgan.report.checks.evaluate_checks` of ``claims_doc`` on ``frames``."""
    if checks is None:
        checks = evaluate_checks(frames, claims_doc)
    out_dir = Path(out_dir)
    md, js = out_dir / "claims.md", out_dir / "claims.json"
    prov.atomic_write_text(md, to_markdown(results, checks, claims_doc, frames))
    prov.atomic_write_text(js, json.dumps(to_json(results, checks, claims_doc, frames), indent=2,
                                          allow_nan=False) + "\n")
    return [md, js]
