"""Records → tidy pandas frames, and the seed statistics every table, figure and claim shares.

Everything the report shows is computed here from validated records (``robgan.report.records``);
nothing is typed in by hand. Conventions:

- a *label* is a run label (``advtrain``, ``robgan``, ``robgan_ft``, ``robgan_ft_nofake``, ``sngan``,
  ``acgan``, ``acgan_newloss``, ``robgan_oldloss``); records are grouped by the ``run.label`` field,
  never by file name;
- every ε is in [0,1] pixel units; ``eps_pm1`` (the authors' [-1,1] value) is ``2·ε``; two ε are the
  same when they agree to :data:`EPS_ATOL`;
- a summary over seeds is ``mean``, ``std`` (sample std, ddof = 1; NaN for one seed), ``n`` (number of
  seeds), ``min``, ``max``.

An ``autoattack`` record may carry the PGD accuracies of its own run at its ε in ``settings``; the
report uses them when the pgd records' ε grid lacks the AutoAttack ε. Accepted forms:
``settings.pgd = {"paper": 0.61, "strong": 0.58}`` (numbers, or ``{"accuracy": 0.61, ...}``), or flat
``settings.pgd_paper_accuracy`` / ``settings.pgd_strong_accuracy``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from robgan.report.records import RecordError, read_record

EPS_ATOL = 5e-6
# Display order of run labels; labels not listed follow in alphabetical order.
LABEL_ORDER = ("advtrain", "robgan", "robgan_ft", "robgan_ft_nofake", "acgan", "acgan_newloss",
               "robgan_oldloss", "sngan")
CLASSIFIER_LABELS = ("advtrain", "robgan", "robgan_ft", "robgan_ft_nofake", "acgan", "acgan_newloss",
                     "robgan_oldloss")
GENERATOR_LABELS = ("sngan", "robgan", "acgan", "acgan_newloss", "robgan_oldloss")
# The feature extractor of IS/FID, as named in table headers (never two extractors in one column).
EXTRACTOR_NAMES = {"mnist-cnn": "MNIST-CNN features", "inception-v3-compat": "Inception-v3"}
STANDARD_AUTOATTACK = ("apgd-ce", "apgd-t", "fab-t", "square")


# --------------------------------------------------------------------------------------------------
# loading


@dataclass(frozen=True)
class LoadedRecord:
    """One validated record and the file it came from."""

    path: Path
    data: dict

    @property
    def kind(self) -> str:
        return self.data["kind"]

    @property
    def label(self) -> str:
        return self.data["run"]["label"]

    @property
    def seed(self) -> int:
        return int(self.data["run"]["seed"])


def load_records(records_dir: str | Path) -> list[LoadedRecord]:
    """Read and validate every ``*.json`` record under ``records_dir`` (recursively, sorted by path).

    Raises:
        FileNotFoundError: ``records_dir`` does not exist.
        RecordError: a file is not JSON or breaks the schema (the message names the file); two records
            describe the same (kind, label, seed); records of several experiments or datasets are mixed;
            or there is no record at all.
    """
    root = Path(records_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"records directory {root} does not exist (run the evaluation rules first)")
    out: list[LoadedRecord] = []
    seen: dict[tuple[str, str, int], Path] = {}
    for path in sorted(root.rglob("*.json")):
        try:
            data = read_record(path)
        except json.JSONDecodeError as exc:
            raise RecordError(f"{path}: not valid JSON ({exc})") from None
        rec = LoadedRecord(path, data)
        key = (rec.kind, rec.label, rec.seed)
        if key in seen:
            raise RecordError(f"{path}: a second {rec.kind} record for label '{rec.label}' seed {rec.seed} "
                              f"(the first is {seen[key]}); keep one per (kind, label, seed)")
        seen[key] = path
        out.append(rec)
    if not out:
        raise RecordError(f"no *.json records under {root}")
    for fieldname in ("experiment", "dataset"):
        values = sorted({r.data["run"][fieldname] for r in out})
        if len(values) > 1:
            firsts = {v: next(r.path for r in out if r.data["run"][fieldname] == v) for v in values}
            raise RecordError(f"records of several {fieldname}s are mixed under {root}: "
                              + ", ".join(f"'{v}' (e.g. {p})" for v, p in firsts.items())
                              + "; point --records at one experiment's records/")
    return out


# --------------------------------------------------------------------------------------------------
# frames


@dataclass
class Frames:
    """Tidy frames (one row per result row) built from records; see :func:`build_frames`."""

    experiment: str
    dataset: str
    pgd: pd.DataFrame
    autoattack: pd.DataFrame
    autoattack_meta: pd.DataFrame
    fidelity: pd.DataFrame
    gap: pd.DataFrame
    lipschitz: pd.DataFrame
    flags: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    devices: dict[str, list[str]] = field(default_factory=dict)

    def labels(self, kind: str) -> list[str]:
        df = getattr(self, kind)
        return sort_labels(df["label"].unique()) if len(df) else []


_COLUMNS = {
    "pgd": ["label", "method", "seed", "protocol", "eps", "eps_pm1", "steps", "step_size", "restarts",
            "random_start", "attack_seed", "n", "n_correct", "accuracy", "file"],
    "autoattack": ["label", "method", "seed", "stage", "eps", "n", "n_correct", "accuracy", "file"],
    "autoattack_meta": ["label", "method", "seed", "eps", "version", "attacks", "cheap_subset", "n_examples",
                        "pgd_paper", "pgd_paper_n", "pgd_strong", "pgd_strong_n", "file"],
    "fidelity": ["label", "method", "seed", "iteration", "train_seconds", "is_mean", "is_std", "fid",
                 "class_accuracy", "extractor", "n_samples", "file"],
    "gap": ["label", "method", "seed", "split", "eps", "n", "accuracy_clean", "accuracy_adv", "file"],
    "lipschitz": ["label", "method", "seed", "iteration", "train_seconds", "split", "norm", "n", "llv", "file"],
    "flags": ["kind", "label", "seed", "flag", "ok", "detail", "file"],
}


def _settings_pgd(settings: Mapping[str, Any], protocol: str) -> tuple[float, int]:
    """PGD accuracy (and its number of images, 0 if unknown) that an autoattack record carries in its
    settings for ``protocol``; ``(nan, 0)`` when absent."""
    candidates: list[Any] = []
    for key in ("pgd_at_eps", "pgd"):
        block = settings.get(key)
        if isinstance(block, Mapping):
            candidates.append(block.get(protocol))
    candidates += [settings.get(f"pgd_{protocol}_accuracy"), settings.get(f"{protocol}_pgd_accuracy")]
    for value in candidates:
        n = 0
        if isinstance(value, Mapping):
            n = value.get("n", 0) if isinstance(value.get("n", 0), int) else 0
            value = value.get("accuracy")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value), int(n)
    return math.nan, 0


def build_frames(records: Sequence[LoadedRecord]) -> Frames:
    """Flatten records into tidy frames (columns in :data:`_COLUMNS`), one row per result row."""
    rows: dict[str, list[dict]] = {k: [] for k in _COLUMNS}
    devices: dict[str, set[str]] = {}
    for rec in records:
        d = rec.data
        base = {"label": rec.label, "method": d["run"]["method"], "seed": rec.seed, "file": str(rec.path)}
        devices.setdefault(rec.kind, set()).add(d["device"])
        results = d["results"]
        if rec.kind == "fidelity":
            # a series over snapshots + the final model: one row per iteration (the last one wins)
            by_iter = {int(r["iteration"]): r for r in results}
            results = [by_iter[i] for i in sorted(by_iter)]
        for r in results:
            rows[rec.kind].append({**base, **r})
        if rec.kind == "autoattack":
            settings = d["settings"]
            final = [r for r in d["results"] if r["stage"] == "final"] or d["results"][-1:]
            attacks = settings.get("attacks")
            n_aa = int(final[0]["n"]) if final else int(settings.get("n_examples", 0))
            rows["autoattack_meta"].append({
                **base,
                "eps": float(final[0]["eps"]) if final else float(settings.get("eps", math.nan)),
                "version": str(settings.get("version", "unknown")),
                "attacks": ",".join(attacks) if isinstance(attacks, list) else "unknown",
                "cheap_subset": bool(settings.get("cheap_subset", False)),
                "n_examples": n_aa,
            })
            for proto in ("paper", "strong"):
                acc, n_pgd = _settings_pgd(settings, proto)
                rows["autoattack_meta"][-1][f"pgd_{proto}"] = acc
                rows["autoattack_meta"][-1][f"pgd_{proto}_n"] = n_pgd or n_aa
        for name, flag in sorted(d["flags"].items()):
            rows["flags"].append({"kind": rec.kind, "label": rec.label, "seed": rec.seed, "flag": name,
                                  "ok": bool(flag["ok"]), "detail": flag["detail"], "file": str(rec.path)})
    frames = {k: pd.DataFrame(v, columns=_COLUMNS[k]) for k, v in rows.items()}
    first = records[0].data["run"] if records else {"experiment": "", "dataset": ""}
    return Frames(experiment=first["experiment"], dataset=first["dataset"], files=[r.path for r in records],
                  devices={k: sorted(v) for k, v in devices.items()}, **frames)


# --------------------------------------------------------------------------------------------------
# helpers


def sort_labels(labels: Iterable[str]) -> list[str]:
    """Labels in :data:`LABEL_ORDER`, unknown ones after it alphabetically."""
    labels = set(labels)
    known = [lab for lab in LABEL_ORDER if lab in labels]
    return known + sorted(labels - set(LABEL_ORDER))


def eps_close(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) <= EPS_ATOL


def unique_eps(values: Iterable[float]) -> list[float]:
    """Sorted distinct ε (values within :data:`EPS_ATOL` merged)."""
    out: list[float] = []
    for v in sorted(float(x) for x in values):
        if not out or not eps_close(out[-1], v):
            out.append(v)
    return out


def eps_header(eps: float) -> str:
    """``ε=0.031 (8.0/255; 0.063 in [-1,1])``: the [0,1] value, in 255ths, and the authors' value."""
    return f"ε={eps:.3f} ({eps * 255:.1f}/255; {2 * eps:.3f} in [-1,1])"


def summarise(values: Iterable[float]) -> dict[str, float]:
    """``{"mean", "std", "n", "min", "max"}`` of finite values (std: ddof 1, NaN for n < 2)."""
    arr = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    n = int(arr.size)
    if n == 0:
        return {"mean": math.nan, "std": math.nan, "n": 0, "min": math.nan, "max": math.nan}
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if n > 1 else math.nan, "n": n,
            "min": float(arr.min()), "max": float(arr.max())}


def binomial_se(p: float, n: int) -> float:
    """Standard error of an accuracy ``p`` measured on ``n`` independent examples."""
    return math.sqrt(max(p * (1.0 - p), 0.0) / n) if n > 0 else math.nan


@dataclass(frozen=True)
class Estimate:
    """A quantity measured once per seed.

    Attributes:
        values: ``{seed: value}``.
        noise: ``{seed: measurement standard error}`` of each value (binomial SE of an accuracy, the
            split std of an Inception score); used when seeds alone cannot give a spread.
        noise_kind: what ``noise`` is, for the report (``"binomial SE"``, ``"split std"``).
    """

    values: Mapping[int, float]
    noise: Mapping[int, float] = field(default_factory=dict)
    noise_kind: str = "measurement SE"

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return summarise(self.values.values())["mean"]

    @property
    def std(self) -> float:
        return summarise(self.values.values())["std"]

    @property
    def empty(self) -> bool:
        return self.n == 0


@dataclass(frozen=True)
class Difference:
    """``a − b`` of two estimates with its standard error and how that was obtained."""

    diff: float
    se: float
    rule: str
    n_a: int
    n_b: int


def difference(a: Estimate, b: Estimate) -> Difference:
    """Difference of means ``a − b`` and its standard error.

    The SE is the larger of (i) the seed SE — of the paired per-seed differences when ≥ 2 seeds are
    shared, else Welch's ``sqrt(s_a²/n_a + s_b²/n_b)`` when both have ≥ 2 seeds — and (ii) the
    measurement SE ``sqrt(mean(noise_a²)/n_a + mean(noise_b²)/n_b)`` (binomial SE / split std).
    With one seed only (ii) exists. NaN when either estimate is empty.
    """
    if a.empty or b.empty:
        return Difference(math.nan, math.nan, "missing data", a.n, b.n)
    diff = a.mean - b.mean
    common = sorted(set(a.values) & set(b.values))
    seed_se, seed_rule = math.nan, ""
    if len(common) >= 2:
        d = np.asarray([a.values[s] - b.values[s] for s in common])
        seed_se, seed_rule = float(d.std(ddof=1) / math.sqrt(len(d))), f"paired over {len(common)} seeds"
    elif a.n >= 2 and b.n >= 2:
        seed_se = math.sqrt(a.std ** 2 / a.n + b.std ** 2 / b.n)
        seed_rule = f"unpaired over {a.n}+{b.n} seeds"
    meas = [list(e.noise.values()) for e in (a, b)]
    if all(meas):
        meas_se = math.sqrt(float(np.mean(np.square(meas[0]))) / a.n + float(np.mean(np.square(meas[1]))) / b.n)
    else:
        meas_se = math.nan
    kinds = " / ".join(sorted({a.noise_kind, b.noise_kind}))
    if np.isfinite(seed_se) and (not np.isfinite(meas_se) or seed_se >= meas_se):
        return Difference(diff, seed_se, f"seed SE, {seed_rule}", a.n, b.n)
    if np.isfinite(meas_se):
        if a.n == 1 and b.n == 1:
            rule = f"{kinds}, 1 seed"
        elif seed_rule:
            rule = f"{kinds}, which exceeds the seed SE {seed_rule}"
        else:
            rule = f"{kinds}, too few seeds for a seed SE"
        return Difference(diff, meas_se, rule, a.n, b.n)
    return Difference(diff, math.nan, "no spread available", a.n, b.n)


# --------------------------------------------------------------------------------------------------
# estimates from frames


def pgd_estimate(pgd: pd.DataFrame, label: str, protocol: str, eps: float | None = None) -> Estimate:
    """Per-seed accuracy of ``label`` under ``protocol`` at ``eps`` (clean: ``eps`` ignored)."""
    sel = pgd[(pgd["label"] == label) & (pgd["protocol"] == protocol)]
    if protocol != "clean" and eps is not None:
        sel = sel[(sel["eps"] - eps).abs() <= EPS_ATOL]
    values = {int(r.seed): float(r.accuracy) for r in sel.itertuples()}
    noise = {int(r.seed): binomial_se(float(r.accuracy), int(r.n)) for r in sel.itertuples()}
    return Estimate(values, noise, "binomial SE")


def autoattack_estimate(aa: pd.DataFrame, label: str, stage: str = "final", eps: float | None = None) -> Estimate:
    """Per-seed AutoAttack accuracy of ``label`` at ``stage`` (``final``: the robust accuracy after every
    attack; a record without a ``final`` row contributes its last stage)."""
    lab = aa[aa["label"] == label]
    sel = lab[lab["stage"] == stage]
    if stage == "final":
        missing = set(lab["seed"]) - set(sel["seed"])
        last = lab[lab["seed"].isin(missing) & (lab["stage"] != "clean")].groupby("seed").tail(1)
        sel = pd.concat([sel, last]) if len(last) else sel
    if eps is not None and stage != "clean":
        sel = sel[(sel["eps"] - eps).abs() <= EPS_ATOL]
    values = {int(r.seed): float(r.accuracy) for r in sel.itertuples()}
    noise = {int(r.seed): binomial_se(float(r.accuracy), int(r.n)) for r in sel.itertuples()}
    return Estimate(values, noise, "binomial SE")


def pgd_from_autoattack_records(frames: Frames, label: str, protocol: str, eps: float) -> Estimate:
    """The PGD accuracy that ``label``'s autoattack records at ``eps`` carry in their settings (measured on
    the AutoAttack images); empty when they carry none."""
    meta = frames.autoattack_meta
    sel = meta[(meta["label"] == label) & ((meta["eps"] - eps).abs() <= EPS_ATOL)]
    col = f"pgd_{protocol}"
    sel = sel[np.isfinite(sel[col].astype(float))]
    values = {int(r.seed): float(getattr(r, col)) for r in sel.itertuples()}
    noise = {int(r.seed): binomial_se(float(getattr(r, col)), int(getattr(r, f"{col}_n"))) for r in sel.itertuples()}
    return Estimate(values, noise, "binomial SE")


def pgd_at_autoattack_eps(frames: Frames, label: str, protocol: str, eps: float,
                          prefer: str = "pgd") -> tuple[Estimate, str]:
    """PGD accuracy of ``label`` at the AutoAttack ε and where it comes from.

    ``prefer="pgd"``: the pgd records (their ε grid), else the autoattack record's own settings, else
    empty (source ``"n/a"``). ``prefer="autoattack"``: the other way round (same images as AutoAttack:
    a paired comparison). Sources: ``"pgd record"``, ``"autoattack record settings"``, ``"n/a"``.
    """
    getters = [(lambda: pgd_estimate(frames.pgd, label, protocol, eps), "pgd record"),
               (lambda: pgd_from_autoattack_records(frames, label, protocol, eps), "autoattack record settings")]
    if prefer == "autoattack":
        getters.reverse()
    for get, source in getters:
        est = get()
        if not est.empty:
            return est, source
    return Estimate({}), "n/a"


def fidelity_point(fid: pd.DataFrame, label: str, extractor: str, point: str,
                   budget: float | None = None) -> pd.DataFrame:
    """One row per seed of ``label``'s fidelity series at ``point``.

    ``point``: ``"final"`` (largest iteration), ``"best"`` (max IS and, separately, min FID over the
    series: ``is_mean``/``is_std`` of the best-IS row, ``fid`` the minimum), ``"iteration"`` (last
    snapshot with iteration ≤ ``budget``), ``"seconds"`` (last snapshot with train_seconds ≤ ``budget``;
    no interpolation). Seeds without such a snapshot are left out.
    """
    sel = fid[(fid["label"] == label) & (fid["extractor"] == extractor)]
    out = []
    for seed, g in sel.groupby("seed", sort=True):
        g = g.sort_values("iteration")
        if point == "final":
            row = g.iloc[-1].to_dict()
        elif point == "best":
            row = g.loc[g["is_mean"].idxmax()].to_dict()
            row["fid"] = float(g["fid"].min())
        elif point in ("iteration", "seconds"):
            col = "iteration" if point == "iteration" else "train_seconds"
            ok = g[g[col] <= budget + 1e-9]
            if not len(ok):
                continue
            row = ok.iloc[-1].to_dict()
        else:
            raise ValueError(f"unknown fidelity point {point!r}")
        row["seed"] = int(seed)
        out.append(row)
    return pd.DataFrame(out, columns=list(fid.columns))


def is_estimate(rows: pd.DataFrame) -> Estimate:
    """IS per seed with its split std as the measurement noise."""
    return Estimate({int(r.seed): float(r.is_mean) for r in rows.itertuples()},
                    {int(r.seed): float(r.is_std) for r in rows.itertuples()}, "split std")


def equal_budgets(fid: pd.DataFrame, labels: Sequence[str], extractor: str) -> tuple[float, float]:
    """Largest iteration count and wall-clock (s) reached by every (label, seed) of ``labels``."""
    sel = fid[fid["label"].isin(labels) & (fid["extractor"] == extractor)]
    if not len(sel):
        return math.nan, math.nan
    last = sel.groupby(["label", "seed"]).agg(it=("iteration", "max"), sec=("train_seconds", "max"))
    return float(last["it"].min()), float(last["sec"].min())


def expected_labels(cfg: Mapping[str, Any] | None) -> set[str] | None:
    """Run labels an experiment config produces (None when no config is given)."""
    if not cfg:
        return None
    labels = set(cfg.get("methods", []))
    if "robgan" in labels:
        for lam in cfg.get("finetune_lambdas", []):
            labels.add("robgan_ft" if lam > 0 else "robgan_ft_nofake")
    return labels
