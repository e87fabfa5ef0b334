"""``robgan compare REFERENCE CANDIDATE``: two experiment directories (``results/<experiment>``), number by
number.

What is compared (files matched by their path relative to the experiment directory):

- every record ``records/**/*.json``: every number, string, flag and list length;
- every CSV ``records/**/*.csv`` (the fidelity rows) and ``tables/*.csv``: header, row count, and each
  cell (numbers as numbers, other cells as text);
- every verdict of ``claims.json`` (by claim part id, and by check id when the file has checks).

A file present in one directory and not the other is a difference, and so is a key present on one
side only (``added`` in the candidate, or ``removed``: records written before a new field existed
compare without error). Not compared: the ``.md``/``.tex`` tables and ``claims.md`` (renderings of the
CSV and JSON files), figures, run directories.

The experiments' resolved configs (``config.yaml`` of each directory) are not a difference but a
**warning**: when they differ, the numbers are expected to differ too, and the keys that differ are
listed first.

Output (:func:`render`): a summary first — the tolerances used, the config warning, the claim verdicts
that changed, and per file how many values differ and the largest relative difference — then the table
of every difference (at most ``max_rows``), then a one-line count.

Tolerances:

- numbers: equal when ``|a - b| <= rtol · max(|a|, |b|)``, ``rtol`` = :data:`DEFAULT_RTOL` (1e-9) by
  default: with the same code, config and seeds the iteration-based numbers of a CPU run are
  reproducible to the last bit, so any real change shows. Integers, text and booleans: exactly.
- Fréchet distances (record keys and CSV columns named ``fid`` or ``*_fid*``: ``fid``, ``intra_fid``,
  ``intra_fid_per_class``, not ``fidelity``) within :data:`SQRTM_RTOL` (1e-6): their matrix square root
  (``scipy.linalg.sqrtm`` in torch-fidelity, through LAPACK) is not bit-reproducible across CPUs. Two
  2-core machines of this kind gave relative differences of 1e-9 to 5e-8 on every quick generator from
  bit-identical features (every other number of the run equal), while a real change moves FID by far
  more than 1e-6.
- wall-clock values, **ignored** by default (counted and named in the summary) and compared within
  ``timing_rtol`` when one is given: record keys ending in ``_seconds`` (``elapsed_seconds``,
  ``checkpoint.train_seconds``, the fidelity and Lipschitz rows' ``train_seconds``), CSV columns
  whose name contains ``seconds`` (``budget_seconds``, ``train_seconds_mean``), CSV rows of an
  "equal wall-clock" budget (the generation table: which snapshot fits the budget depends on the
  machine's speed), and the verdicts of the claim parts judged along ``train_seconds`` (``axis:
  train_seconds`` in ``config/paper_claims.yaml``: the time-to-target claims in seconds, judged on the
  cost probe's timings, which move between machines).
- never compared (where and when a file was made, not what it says): :data:`PROVENANCE_KEYS`
  (``created``, ``device``, ``compute``, ``code_version``, ``git_commit``, ``git_dirty``, ``host``, the absolute
  ``weights_path`` of the checkout, the package versions ``*_version`` other than ``schema_version``).

Compute: every record carries the evaluating process's compute fingerprint (``compute``: torch version,
CPU kernel set and kernel-choosing flags or GPU, native bf16; :func:`robgan.provenance.compute_fingerprint`).
Where the two directories' fingerprints differ (:func:`compute_changes`; a record written before the
fingerprint existed tells only ``bf16_native: True`` when its attack ran in bf16) the numbers are not
expected to agree bit for bit — an AVX2 CPU without native bf16 trains in float32 where an
AVX-512-BF16 CPU trains in bf16 — so the summary says so and the exit status is 3 instead of 1.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_RTOL = 1e-9
SQRTM_RTOL = 1e-6
_FID_NAME = re.compile(r"(^|_)fid($|_)", re.IGNORECASE)
DEFAULT_CLAIMS = Path(__file__).resolve().parents[2] / "config" / "paper_claims.yaml"
PROVENANCE_KEYS = frozenset({"created", "device", "compute", "code_version", "git_commit", "git_dirty", "host",
                             "weights_path", "pyautoattack_version", "torch_fidelity_version"})
WALLCLOCK_SUFFIX = "_seconds"
WALLCLOCK_ROW_MARK = "wall-clock"


@dataclass(frozen=True)
class Difference:
    """One difference beyond tolerance. ``field`` is empty for a file present on one side only."""

    file: str
    field: str
    reference: str
    candidate: str
    note: str = ""
    rel_diff: float | None = None  # numbers: |a - b| / max(|a|, |b|); None for text, structure, verdicts


@dataclass
class Comparison:
    """The outcome of :func:`compare_dirs`."""

    reference: Path
    candidate: Path
    differences: list[Difference] = field(default_factory=list)
    files: int = 0              # files compared (present on both sides)
    values: int = 0             # numbers, strings and verdicts compared
    verdicts: int = 0           # claim verdicts compared
    ignored_wallclock: int = 0  # wall-clock values not compared (no timing_rtol)
    ignored_keys: set[str] = field(default_factory=set)
    rtol: float = DEFAULT_RTOL
    timing_rtol: float | None = None
    # (dotted key, reference value, candidate value) where the two config.yaml differ; None: a side has none
    config_changes: list[tuple[str, str, str]] | None = None
    # (fingerprint field, reference values, candidate values) where the records' compute differs
    compute_changes: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def verdict_changes(self) -> list[Difference]:
        """The differences of claim verdicts (a changed verdict, or a claim part on one side only)."""
        return [d for d in self.differences if d.file == "claims.json" and d.field.endswith(".verdict")]

    def per_file(self) -> dict[str, tuple[int, Difference | None]]:
        """``{file: (differences, the numeric one with the largest relative difference or None)}``."""
        out: dict[str, tuple[int, Difference | None]] = {}
        for d in self.differences:
            n, top = out.get(d.file, (0, None))
            if d.rel_diff is not None and (top is None or d.rel_diff > (top.rel_diff or 0.0)):
                top = d
            out[d.file] = (n + 1, top)
        return out

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def exit_status(self) -> int:
        """0: nothing differs beyond tolerance; 1: something does; 3: something does, and the two
        directories were made on different compute (:func:`compute_changes`), where bit-for-bit
        agreement is not expected."""
        if self.ok:
            return 0
        return 3 if self.compute_changes else 1


# --------------------------------------------------------------------------------------------------
# claims.json
# --------------------------------------------------------------------------------------------------
def claim_verdicts(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """``{id: entry}`` of every judged claim part (and check) of a ``claims.json`` document.

    Reads ``claims`` as a list of claims with ``parts`` (each part a dict with ``id`` and ``verdict``)
    or as a flat list of parts; a ``checks`` section (list of dicts with ``id``, or a mapping id →
    dict) is read the same way, its ids prefixed ``checks/``. Raises ``ValueError`` naming what is
    malformed. The one place that knows claims.json's layout (``.ci/check_outputs.py`` uses it too).
    """
    out: dict[str, Mapping[str, Any]] = {}

    def add(entry: Any, where: str, prefix: str = "") -> None:
        if not isinstance(entry, Mapping) or "id" not in entry:
            raise ValueError(f"claims.json: {where} is not an object with an 'id'")
        if isinstance(entry.get("parts"), list):
            for j, part in enumerate(entry["parts"]):
                add(part, f"{where}.parts[{j}]", prefix)
            return
        if "verdict" not in entry:
            raise ValueError(f"claims.json: {where} ({entry['id']}) has no 'verdict'")
        out[prefix + str(entry["id"])] = entry

    claims = doc.get("claims")
    if not isinstance(claims, list):
        raise ValueError("claims.json: no 'claims' list")
    for i, entry in enumerate(claims):
        add(entry, f"claims[{i}]")
    checks = doc.get("checks")
    if isinstance(checks, Mapping):
        checks = [{"id": k, **v} if isinstance(v, Mapping) else {"id": k, "verdict": v} for k, v in checks.items()]
    for i, entry in enumerate(checks or []):
        add(entry, f"checks[{i}]", "checks/")
    return out


def wallclock_parts(claims_path: str | Path | None = DEFAULT_CLAIMS,
                    doc: Mapping[str, Any] | None = None) -> set[str]:
    """Ids of the claim parts judged along wall-clock time: ``axis: train_seconds`` in the claims
    file, or (in a ``claims.json`` document) an ``axis`` or comparison that names ``train_seconds``."""
    ids: set[str] = set()
    if claims_path is not None and Path(claims_path).is_file():
        spec = yaml.safe_load(Path(claims_path).read_text()) or {}
        for claim in spec.get("claims") or []:
            for part in claim.get("parts") or []:
                if part.get("axis") == "train_seconds":
                    ids.add(str(part["id"]))
    if doc is not None:
        for pid, part in claim_verdicts(doc).items():
            hints = [part.get("axis")] + [c.get("axis") or c.get("what") for c in part.get("comparisons") or []
                                          if isinstance(c, Mapping)]
            if any(isinstance(h, str) and "train_seconds" in h for h in hints):
                ids.add(pid)
    return ids


# --------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def numbers_close(a: float, b: float, rtol: float) -> bool:
    """``|a - b| <= rtol · max(|a|, |b|)``; NaN equals NaN, an infinity only itself."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return True
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    return abs(a - b) <= rtol * max(abs(a), abs(b))


def _fmt(v: Any, width: int = 40) -> str:
    s = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
    return s if len(s) <= width else s[:width - 1] + "…"


def _parse_number(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def _is_outcomes(key: Any, a: Any, b: Any) -> bool:
    """A record's per-image outcome string (``correct``, ``correct_<x>``) on both sides."""
    return (isinstance(key, str) and (key == "correct" or key.startswith("correct_"))
            and isinstance(a, str) and isinstance(b, str))


class _Comparer:
    def __init__(self, out: Comparison, rtol: float, timing_rtol: float | None):
        self.out, self.rtol, self.timing_rtol = out, rtol, timing_rtol

    def diff(self, file: str, where: str, a: Any, b: Any, note: str = "", rel_diff: float | None = None) -> None:
        self.out.differences.append(Difference(file, where, _fmt(a), _fmt(b), note, rel_diff))

    def scalar(self, file: str, where: str, a: Any, b: Any, wallclock: bool = False, fid: bool = False) -> None:
        """Compare two leaves (numbers by tolerance, anything else exactly); ``fid``: a Fréchet distance
        (:data:`SQRTM_RTOL` unless the run-wide ``rtol`` is looser)."""
        if wallclock and self.timing_rtol is None:
            self.out.ignored_wallclock += 1
            return
        self.out.values += 1
        if _is_number(a) and _is_number(b):
            rtol = self.timing_rtol if wallclock else max(self.rtol, SQRTM_RTOL) if fid else self.rtol
            if not numbers_close(float(a), float(b), rtol):
                rel = abs(a - b) / max(abs(a), abs(b)) if math.isfinite(a) and math.isfinite(b) else math.inf
                kind = "wall-clock, " if wallclock else "Fréchet distance, " if fid else ""
                self.diff(file, where, a, b, f"{kind}rel. diff {rel:.2g} > {rtol:g}", rel)
        elif a != b or type(a) is not type(b):
            self.diff(file, where, a, b)

    def tree(self, file: str, where: str, a: Any, b: Any, wallclock: bool = False, fid: bool = False) -> None:
        """Compare two JSON values recursively."""
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for key in list(a) + [k for k in b if k not in a]:
                sub = f"{where}.{key}" if where else str(key)
                if key in PROVENANCE_KEYS:
                    self.out.ignored_keys.add(key)
                    continue
                if key not in b or key not in a:
                    # e.g. a field that newer records have (per-image outcomes ``correct``): reported, not fatal
                    note = "added: key in the candidate only" if key not in a else "removed: key in the reference only"
                    self.diff(file, sub, a.get(key, "(absent)"), b.get(key, "(absent)"), note)
                    continue
                if _is_outcomes(key, a[key], b[key]):
                    self._outcomes(file, sub, a[key], b[key])
                    continue
                self.tree(file, sub, a[key], b[key], wallclock or str(key).endswith(WALLCLOCK_SUFFIX),
                          fid or bool(_FID_NAME.search(str(key))))
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                self.diff(file, f"{where} (length)", len(a), len(b))
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                self.tree(file, f"{where}[{i}]", x, y, wallclock, fid)
        else:
            self.scalar(file, where, a, b, wallclock, fid)

    def _outcomes(self, file: str, where: str, a: str, b: str) -> None:
        """Per-image outcome strings: how many images differ, not the strings themselves."""
        self.out.values += 1
        if a == b:
            return
        n_diff = sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))
        self.diff(file, where, f"{a.count('1')}/{len(a)} images", f"{b.count('1')}/{len(b)} images",
                  f"{n_diff} per-image outcome(s) differ")

    def csv_file(self, file: str, a: Path, b: Path) -> None:
        with open(a, newline="") as fa, open(b, newline="") as fb:
            ra, rb = list(csv.reader(fa)), list(csv.reader(fb))
        if not ra or not rb:
            if ra != rb:
                self.diff(file, "(content)", f"{len(ra)} lines", f"{len(rb)} lines")
            return
        (ha, *rows_a), (hb, *rows_b) = ra, rb
        if ha != hb:
            self.diff(file, "(header)", ",".join(ha), ",".join(hb))
            return
        if len(rows_a) != len(rows_b):
            self.diff(file, "(rows)", len(rows_a), len(rows_b))
        for i, (x, y) in enumerate(zip(rows_a, rows_b, strict=False)):
            key = ", ".join(c for c in x[:3] if c and _parse_number(c) is None)
            row_wallclock = any(WALLCLOCK_ROW_MARK in c for c in x + y)
            for col, cx, cy in zip(ha, x, y, strict=False):
                where = f"row {i + 1} ({key}).{col}"
                wallclock = row_wallclock or "seconds" in col
                nx, ny = _parse_number(cx), _parse_number(cy)
                if nx is not None and ny is not None:
                    self.scalar(file, where, nx, ny, wallclock, bool(_FID_NAME.search(col)))
                else:
                    self.scalar(file, where, cx, cy, wallclock)


def _files(root: Path, sub: str, pattern: str) -> dict[str, Path]:
    base = root / sub
    return {p.relative_to(root).as_posix(): p for p in sorted(base.rglob(pattern))} if base.is_dir() else {}


def _paired(out: Comparison, a: dict[str, Path], b: dict[str, Path]) -> Iterator[tuple[str, Path, Path]]:
    for rel in sorted(set(a) | set(b)):
        if rel not in b:
            out.differences.append(Difference(rel, "", "present", "absent", "file on one side only"))
        elif rel not in a:
            out.differences.append(Difference(rel, "", "absent", "present", "file on one side only"))
        else:
            out.files += 1
            yield rel, a[rel], b[rel]


def compare_dirs(reference: str | Path, candidate: str | Path, *, rtol: float = DEFAULT_RTOL,
                 timing_rtol: float | None = None, claims_path: str | Path | None = DEFAULT_CLAIMS) -> Comparison:
    """Compare two experiment directories (see the module docstring for what and how).

    Args:
        reference, candidate: ``results/<experiment>`` directories.
        rtol: relative tolerance of every number that does not depend on wall-clock time.
        timing_rtol: relative tolerance of wall-clock values; None ignores them.
        claims_path: the claims file naming the wall-clock claim parts (``axis: train_seconds``).

    Raises:
        FileNotFoundError: a directory does not exist, or neither holds any record.
    """
    ref, cand = Path(reference), Path(candidate)
    for d in (ref, cand):
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: not a directory (give two results/<experiment> directories)")
    out = Comparison(ref, cand, rtol=rtol, timing_rtol=timing_rtol)
    out.config_changes = config_changes(ref / "config.yaml", cand / "config.yaml")
    out.compute_changes = compute_changes(ref, cand)
    cmp = _Comparer(out, rtol, timing_rtol)
    rec_a, rec_b = _files(ref, "records", "*.json"), _files(cand, "records", "*.json")
    if not rec_a and not rec_b:
        raise FileNotFoundError(f"no records/**/*.json under {ref} or {cand}: not experiment directories")
    for rel, a, b in _paired(out, rec_a, rec_b):
        cmp.tree(rel, "", json.loads(a.read_text()), json.loads(b.read_text()))
    csv_a = {**_files(ref, "records", "*.csv"), **_files(ref, "tables", "*.csv")}
    csv_b = {**_files(cand, "records", "*.csv"), **_files(cand, "tables", "*.csv")}
    for rel, a, b in _paired(out, csv_a, csv_b):
        cmp.csv_file(rel, a, b)
    claims_a = {"claims.json": ref / "claims.json"} if (ref / "claims.json").is_file() else {}
    claims_b = {"claims.json": cand / "claims.json"} if (cand / "claims.json").is_file() else {}
    for rel, a, b in _paired(out, claims_a, claims_b):
        _compare_verdicts(cmp, rel, json.loads(a.read_text()), json.loads(b.read_text()), claims_path)
    return out


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping (a config) as ``{dotted key: leaf value}``; an empty mapping is a leaf."""
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def config_changes(reference: Path, candidate: Path) -> list[tuple[str, str, str]] | None:
    """The dotted keys where two resolved configs (``config.yaml``) differ, as ``(key, reference value,
    candidate value)`` (``(absent)`` on the side that lacks the key); None when either file is missing."""
    if not (reference.is_file() and candidate.is_file()):
        return None
    a = flatten(yaml.safe_load(reference.read_text()) or {})
    b = flatten(yaml.safe_load(candidate.read_text()) or {})
    return [(k, _fmt(a.get(k, "(absent)"), 30), _fmt(b.get(k, "(absent)"), 30))
            for k in list(a) + [k for k in b if k not in a] if a.get(k, "(absent)") != b.get(k, "(absent)")]


def _fingerprint(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record's compute fingerprint (:func:`robgan.provenance.compute_fingerprint`). A record written
    before the fingerprint existed yields what it implies: ``bf16_native: True`` when its attack ran in
    bf16 (``settings.attack_precision``), which happens only where bf16 is native; else nothing."""
    fp = record.get("compute")
    if isinstance(fp, Mapping):
        return dict(fp)
    precision = (record.get("settings") or {}).get("attack_precision")
    return {"bf16_native": True} if isinstance(precision, str) and precision.startswith("bf16") else {}


def compute_values(root: Path) -> dict[str, set[str]]:
    """{fingerprint field: the JSON values the records under ``root/records`` give it} (see
    :func:`_fingerprint` for records older than the fingerprint)."""
    values: dict[str, set[str]] = {}
    for path in _files(root, "records", "*.json").values():
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # the record comparison reports an unreadable file
        for key, value in _fingerprint(record).items():
            values.setdefault(key, set()).add(json.dumps(value, sort_keys=True))
    return values


def records_bf16_native(root: Path) -> bool | None:
    """Whether the run whose records are under ``root/records`` computed bf16 natively (from
    :func:`compute_values`); None when the records do not say or disagree."""
    values = compute_values(root).get("bf16_native", set())
    return json.loads(next(iter(values))) if len(values) == 1 else None


def compute_changes(reference: Path, candidate: Path) -> list[tuple[str, str, str]]:
    """The fields of the records' compute fingerprints that differ between two experiment directories,
    as ``(field, reference values, candidate values)``: only fields known on both sides (records
    written before the fingerprint existed know little or nothing, see :func:`_fingerprint`). Empty:
    same compute as far as the records tell, so the numbers should agree bit for bit."""
    a, b = compute_values(reference), compute_values(candidate)
    return [(k, ", ".join(sorted(a[k])), ", ".join(sorted(b[k]))) for k in a if k in b and a[k] != b[k]]


def _compare_verdicts(cmp: _Comparer, rel: str, doc_a: Mapping, doc_b: Mapping,
                      claims_path: str | Path | None) -> None:
    try:
        va, vb = claim_verdicts(doc_a), claim_verdicts(doc_b)
    except ValueError as exc:
        cmp.diff(rel, "(layout)", "", "", str(exc))
        return
    timed = wallclock_parts(claims_path, doc_a) | wallclock_parts(None, doc_b)
    for pid in list(va) + [p for p in vb if p not in va]:
        if pid not in va or pid not in vb:
            cmp.diff(rel, f"{pid}.verdict", va.get(pid, {}).get("verdict", "(absent)"),
                     vb.get(pid, {}).get("verdict", "(absent)"), "claim part on one side only")
            continue
        wallclock = pid in timed
        if wallclock and cmp.timing_rtol is None:
            cmp.out.ignored_wallclock += 1
            continue
        cmp.out.verdicts += 1
        cmp.out.values += 1
        if va[pid]["verdict"] != vb[pid]["verdict"]:
            cmp.diff(rel, f"{pid}.verdict", va[pid]["verdict"], vb[pid]["verdict"],
                     "wall-clock claim" if wallclock else "")


# --------------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------------
def tolerances(result: Comparison) -> str:
    """One sentence: how values were compared (the tolerances of this comparison)."""
    timing = (f"wall-clock values within relative {result.timing_rtol:g}" if result.timing_rtol is not None
              else "wall-clock values (keys *_seconds, equal wall-clock budget rows, wall-clock claims) "
                   "not compared (--timing-rtol R compares them)")
    return (f"Tolerances: numbers equal when |a - b| <= {result.rtol:g} * max(|a|, |b|) (--rtol), Fréchet "
            f"distances (fid, *_fid*) within {max(result.rtol, SQRTM_RTOL):g} (their matrix square root is not "
            f"bit-reproducible across CPUs); integers, "
            f"text, flags and claim verdicts exactly; {timing}; never compared: where and when a file was "
            f"made ({', '.join(sorted(PROVENANCE_KEYS))}).")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _summary(result: Comparison, max_rows: int = 100) -> list[str]:
    lines = [tolerances(result)]
    changes = result.config_changes
    if changes is None:
        lines.append("Configs: not compared (config.yaml missing on a side).")
    elif changes:
        shown = "; ".join(f"{k}: {a} → {b}" for k, a, b in changes[:10])
        more = f"; … {len(changes) - 10} more" if len(changes) > 10 else ""
        lines.append(f"WARNING: the two experiments' configs differ (config.yaml, {len(changes)} key(s)): "
                     f"{shown}{more}. Differences below may come from the configs, not the code.")
    else:
        lines.append("Configs: identical (config.yaml).")
    if result.compute_changes:
        shown = "; ".join(f"{k}: {a} → {b}" for k, a, b in result.compute_changes)
        lines.append(f"WARNING: the two experiments ran on different compute (the records' `compute`: {shown}). "
                     "Float rounding differs between kernel sets and training amplifies it, so the numbers are "
                     "not expected to agree bit for bit: the differences below are information, not a "
                     "regression (exit status 3, not 1).")
    else:
        lines.append("Compute: the same as far as the records tell (their `compute` fingerprints).")
    verdicts = result.verdict_changes
    if verdicts:
        lines.append(f"Verdict changes ({len(verdicts)}): " + "; ".join(
            f"{d.field.removesuffix('.verdict')}: {d.reference} → {d.candidate}" for d in verdicts))
    else:
        lines.append("Verdict changes: none.")
    per_file = result.per_file()
    if per_file:
        lines += ["", "| file | values differing | largest relative difference |", "|---|---|---|"]
        for file, (n, top) in list(per_file.items())[:max_rows]:
            big = (f"{top.rel_diff:.3g} ({top.field}: {top.reference} → {top.candidate})" if top is not None
                   else "— (text, structure or verdicts only)")
            lines.append(f"| {file} | {n} | {_cell(big)} |")
        if len(per_file) > max_rows:
            lines.append(f"| … {len(per_file) - max_rows} more files | | |")
    return lines


def render(result: Comparison, max_rows: int = 100) -> str:
    """The comparison as text: a summary first (tolerances, config warning, verdict changes, per file
    the number of differing values and the largest relative difference; at most ``max_rows`` files),
    then a Markdown table of the differences (at most ``max_rows``) and a one-line count."""
    lines = [f"robgan compare: reference {result.reference}, candidate {result.candidate}", *_summary(result, max_rows)]
    if result.differences:
        lines += ["", "Differences:", "", "| file | field | reference | candidate | note |", "|---|---|---|---|---|"]
        for d in result.differences[:max_rows]:
            cells = [_cell(c) for c in (d.file, d.field, d.reference, d.candidate, d.note)]
            lines.append("| " + " | ".join(cells) + " |")
        if len(result.differences) > max_rows:
            lines.append(f"| … {len(result.differences) - max_rows} more | | | | |")
    lines.append("")
    timing = ("wall-clock values ignored: " + str(result.ignored_wallclock)
              if result.ignored_wallclock else "no wall-clock value ignored")
    lines.append(f"{len(result.differences)} difference(s) beyond tolerance in {len(result.per_file())} file(s); "
                 f"{result.files} files, {result.values} values ({result.verdicts} claim verdicts) compared; "
                 f"{timing}; never compared: {', '.join(sorted(result.ignored_keys)) or 'nothing'}")
    return "\n".join(lines)
