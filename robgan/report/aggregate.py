"""Records → tidy pandas frames, and the seed statistics every table, figure and claim shares.

Everything the report shows is computed here from validated records (``robgan.records``);
nothing is typed in by hand. Conventions:

- a *label* is a run label (``advtrain``, ``robgan``, ``robgan_ft``, ``robgan_ft_nofake``, ``sngan``,
  ``acgan``, ``acgan_newloss``, ``robgan_oldloss``); records are grouped by the ``run.label`` field,
  never by file name;
- every ε is in [0,1] pixel units; ``eps_pm1`` (the authors' [-1,1] value) is ``2·ε``; two ε are the
  same when they agree to :data:`EPS_ATOL`;
- a summary over seeds is ``mean``, ``std`` (sample std, ddof = 1; NaN for one seed), ``n`` (number of
  seeds), ``min``, ``max`` (:func:`robgan.report.stats.summarise`);
- the ``images`` column names the evaluated image set, ``"<split>/<index_seed>/<n>"`` (empty when the
  record does not say): rows with the same name were scored on the same images, which pairs them
  (:mod:`robgan.report.stats`).

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

from robgan.records import RecordError, read_record
from robgan.registry import LABELS, experiment_labels
from robgan.report.stats import Binomial, Estimate, binomial_se

EPS_ATOL = 5e-6
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


_FIDELITY_COLUMNS = ["label", "method", "seed", "iteration", "train_seconds", "is_mean", "is_std", "fid",
                     "class_accuracy", "extractor", "n_samples", "kid_mean", "kid_std", "precision", "recall",
                     "intra_fid", "intra_precision", "intra_recall", "intra_recall_per_class", "file"]


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
    # The trained weights of generators whose `fidelity` rows measure a weight average (train.g_ema): the
    # records' `results_raw`, final model only. Kept apart so that no curve, claim or gate reads them as
    # the run's generator; the generation table and the checks show them beside it.
    fidelity_raw: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_FIDELITY_COLUMNS))

    def labels(self, kind: str) -> list[str]:
        df = getattr(self, kind)
        return sort_labels(df["label"].unique()) if len(df) else []


_COLUMNS = {
    "pgd": ["label", "method", "seed", "protocol", "eps", "eps_pm1", "steps", "step_size", "restarts",
            "random_start", "attack_seed", "n", "n_correct", "accuracy", "images", "file", "correct",
            "split_size"],
    "autoattack": ["label", "method", "seed", "stage", "eps", "n", "n_correct", "accuracy", "images", "file",
                   "correct", "split_size"],
    "autoattack_meta": ["label", "method", "seed", "eps", "version", "attacks", "cheap_subset", "n_examples",
                        "pgd_paper", "pgd_paper_n", "pgd_strong", "pgd_strong_n", "images", "file",
                        "pgd_paper_correct", "pgd_strong_correct", "split_size"],
    "fidelity": _FIDELITY_COLUMNS,
    "fidelity_raw": _FIDELITY_COLUMNS,
    "gap": ["label", "method", "seed", "split", "eps", "n", "accuracy_clean", "accuracy_adv", "images", "file",
            "correct_clean", "correct_adv", "split_size"],
    "lipschitz": ["label", "method", "seed", "iteration", "train_seconds", "split", "norm", "n", "llv", "file"],
    "flags": ["kind", "label", "seed", "flag", "ok", "detail", "file"],
}


def _settings_pgd(settings: Mapping[str, Any], protocol: str) -> tuple[float, int]:
    """PGD accuracy (and its number of images, 0 if unknown) that an autoattack record carries in its
    settings for ``protocol``; ``(nan, 0)`` when absent (per-image outcomes: :func:`_settings_pgd_correct`)."""
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


def _settings_pgd_correct(settings: Mapping[str, Any], protocol: str) -> str | None:
    """The per-image outcomes (``correct``) of ``settings.pgd_at_eps.<protocol>``; None when absent."""
    block = settings.get("pgd_at_eps")
    entry = block.get(protocol) if isinstance(block, Mapping) else None
    value = entry.get("correct") if isinstance(entry, Mapping) else None
    return value if isinstance(value, str) else None


def split_size(settings: Mapping[str, Any], split: str | None = None) -> int:
    """Images in the evaluated split as the record's ``settings.split_size`` says (0: not recorded)."""
    sizes = settings.get("split_size")
    name = split or settings.get("split", "test")
    value = sizes.get(name) if isinstance(sizes, Mapping) and isinstance(name, str) else None
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def images_key(settings: Mapping[str, Any], n: int, split: str | None = None) -> str:
    """``"<split>/<index_seed>/<n>"`` of an evaluated image set; ``""`` when ``index_seed`` is not recorded."""
    seed = settings.get("index_seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        return ""
    return f"{split or settings.get('split', 'test')}/{seed}/{int(n)}"


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
            row = {**base, **r}
            if rec.kind in ("pgd", "autoattack", "gap"):
                row["images"] = images_key(d["settings"], r["n"], r.get("split"))
                row["split_size"] = split_size(d["settings"], r.get("split"))
            rows[rec.kind].append(row)
        for r in d.get("results_raw") or []:  # fidelity: the trained weights beside the average
            rows["fidelity_raw"].append({**base, **r})
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
                "images": images_key(settings, n_aa),
                "split_size": split_size(settings),
            })
            for proto in ("paper", "strong"):
                acc, n_pgd = _settings_pgd(settings, proto)
                rows["autoattack_meta"][-1][f"pgd_{proto}"] = acc
                rows["autoattack_meta"][-1][f"pgd_{proto}_n"] = n_pgd or n_aa
                rows["autoattack_meta"][-1][f"pgd_{proto}_correct"] = _settings_pgd_correct(settings, proto)
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
    """Labels in the registry's display order (:data:`robgan.registry.LABELS`), unknown ones after it
    alphabetically."""
    labels = set(labels)
    known = [lab for lab in LABELS if lab in labels]
    return known + sorted(labels - set(LABELS))


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


# --------------------------------------------------------------------------------------------------
# estimates from frames


def pgd_estimate(pgd: pd.DataFrame, label: str, protocol: str, eps: float | None = None) -> Estimate:
    """Per-seed accuracy of ``label`` under ``protocol`` at ``eps`` (clean: ``eps`` ignored)."""
    sel = pgd[(pgd["label"] == label) & (pgd["protocol"] == protocol)]
    if protocol != "clean" and eps is not None:
        sel = sel[(sel["eps"] - eps).abs() <= EPS_ATOL]
    return accuracy_estimate(sel, "accuracy", "n")


def outcome_column(col: str) -> str:
    """The column of per-image outcomes behind accuracy column ``col`` (``accuracy`` → ``correct``,
    ``accuracy_adv`` → ``correct_adv``, ``pgd_paper`` → ``pgd_paper_correct``)."""
    return "correct" + col[len("accuracy"):] if col.startswith("accuracy") else f"{col}_correct"


def has_outcomes(rows: pd.DataFrame, col: str = "accuracy") -> bool:
    """Every row carries the per-image outcomes of its accuracy ``col`` (records written before them do not)."""
    oc = outcome_column(col)
    return oc in rows.columns and all(isinstance(v, str) and v for v in rows[oc])


def accuracy_estimate(rows: pd.DataFrame, col: str, n_col: str, sign: int = 1) -> Estimate:
    """Per-seed accuracy ``col`` of ``rows`` (one per seed) measured on ``n_col`` images: binomial SE as
    the noise, one :class:`~robgan.report.stats.Binomial` term per image set (``images`` column) with
    the per-image outcomes of each seed (column :func:`outcome_column`, when the records have them)."""
    values = {int(r.seed): float(getattr(r, col)) for r in rows.itertuples()}
    noise = {int(r.seed): binomial_se(float(getattr(r, col)), int(getattr(r, n_col))) for r in rows.itertuples()}
    oc = outcome_column(col)
    terms = []
    for (images, n), g in rows.groupby(["images", n_col], sort=True):
        outcomes = {int(seed): v for seed, v in zip(g["seed"], g[oc], strict=True) if isinstance(v, str)} \
            if oc in g.columns else {}
        size = int(g["split_size"].min()) if "split_size" in g.columns and g["split_size"].notna().all() else 0
        terms.append(Binomial(str(images), int(n), {int(r.seed): float(getattr(r, col)) for r in g.itertuples()},
                              sign, outcomes, size))
    n_items = int(rows[n_col].min()) if len(rows) else 0
    return Estimate(values, noise, "binomial SE", tuple(terms), n_items)


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
    return accuracy_estimate(sel, "accuracy", "n")


def pgd_from_autoattack_records(frames: Frames, label: str, protocol: str, eps: float) -> Estimate:
    """The PGD accuracy that ``label``'s autoattack records at ``eps`` carry in their settings (measured on
    the AutoAttack images); empty when they carry none."""
    meta = frames.autoattack_meta
    sel = meta[(meta["label"] == label) & ((meta["eps"] - eps).abs() <= EPS_ATOL)]
    col = f"pgd_{protocol}"
    sel = sel[np.isfinite(sel[col].astype(float))]
    if len(sel):  # measured on the AutoAttack images: the same image set as the autoattack rows
        sel = sel.assign(images=[images if int(n) == int(n_aa) else "" for images, n, n_aa in
                                 zip(sel["images"], sel[f"{col}_n"], sel["n_examples"], strict=True)])
    return accuracy_estimate(sel, col, f"{col}_n")


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
    """IS per seed with its split std as the measurement noise (independent across seeds: fresh samples)."""
    return Estimate({int(r.seed): float(r.is_mean) for r in rows.itertuples()},
                    {int(r.seed): float(r.is_std) for r in rows.itertuples()}, "split std",
                    n_items=int(rows["n_samples"].min()) if len(rows) else 0)


def equal_budgets(fid: pd.DataFrame, labels: Sequence[str], extractor: str) -> tuple[float, float]:
    """Largest iteration count and wall-clock (s) reached by every (label, seed) of ``labels``."""
    sel = fid[fid["label"].isin(labels) & (fid["extractor"] == extractor)]
    if not len(sel):
        return math.nan, math.nan
    last = sel.groupby(["label", "seed"]).agg(it=("iteration", "max"), sec=("train_seconds", "max"))
    return float(last["it"].min()), float(last["sec"].min())


def expected_labels(cfg: Mapping[str, Any] | None) -> set[str] | None:
    """Run labels an experiment config produces (None when no config is given)."""
    return set(experiment_labels(cfg)) if cfg else None


# --------------------------------------------------------------------------------------------------
# worst case over attacks


@dataclass(frozen=True)
class WorstCase:
    """Worst-case robust accuracy of one label at one ε: per seed, an image counts only if no attack
    run on it at that ε broke it (RobustBench's practice).

    ``estimate``: per-seed accuracy on the common images, with their outcomes; ``attacks``: the attacks
    taken into account (``paper PGD``, ``strong PGD``, ``AutoAttack``); ``n``: the images scored (the
    first ``n`` of the evaluation order, which every attack's image set starts with: the sets are
    prefixes of one permutation; see :func:`worst_case`'s ``images``); ``missing``: seeds whose records
    lack per-image outcomes.
    """

    estimate: Estimate
    attacks: tuple[str, ...]
    n: int
    missing: tuple[int, ...] = ()


def _outcome_sources(frames: Frames, label: str, seed: int, eps: float) -> list[tuple[str, str, str | None]]:
    """``(attack, images key, outcomes)`` of every accuracy measured on ``label`` seed ``seed`` at ``eps`` > 0."""
    out: list[tuple[str, str, str | None]] = []
    pgd = frames.pgd
    sel = pgd[(pgd["label"] == label) & (pgd["seed"] == seed) & ((pgd["eps"] - eps).abs() <= EPS_ATOL)]
    for r in sel[sel["protocol"].isin(["paper", "strong"])].itertuples():
        out.append((f"{r.protocol} PGD", str(r.images), r.correct if isinstance(r.correct, str) else None))
    aa = frames.autoattack
    sel = aa[(aa["label"] == label) & (aa["seed"] == seed) & (aa["stage"] == "final")
             & ((aa["eps"] - eps).abs() <= EPS_ATOL)]
    for r in sel.itertuples():
        out.append(("AutoAttack", str(r.images), r.correct if isinstance(r.correct, str) else None))
    meta = frames.autoattack_meta
    sel = meta[(meta["label"] == label) & (meta["seed"] == seed) & ((meta["eps"] - eps).abs() <= EPS_ATOL)]
    for r in sel.itertuples():
        for proto in ("paper", "strong"):
            if np.isfinite(float(getattr(r, f"pgd_{proto}"))):
                value = getattr(r, f"pgd_{proto}_correct")
                out.append((f"{proto} PGD", str(r.images), value if isinstance(value, str) else None))
    return out


def worst_case(frames: Frames, label: str, eps: float, images: str = "common") -> WorstCase:
    """Worst-case robust accuracy of ``label`` at ``eps`` over every attack its records ran at that ε
    (paper PGD, strong PGD: the pgd records and the autoattack record's own PGD; AutoAttack's final
    stage). The image sets are prefixes of one evaluation order; ``images`` says which are scored:

    - ``"common"``: the images common to all attacks (the shortest set, e.g. the AutoAttack subset):
      an image is robust only if every attack left it correct;
    - ``"all"``: every image any attack ran on (the longest set, e.g. the PGD images): an image is
      robust only if every attack *run on it* left it correct (images beyond the AutoAttack subset
      count PGD alone). On the PGD images at every ε of their grid, this is the worst-case curve.

    Seeds whose records lack per-image outcomes, or whose image sets differ in split or index seed,
    are left out (``missing``)."""
    if images not in ("common", "all"):
        raise ValueError(f"images must be 'common' or 'all', got {images!r}")
    values, outcomes, missing, attacks, keys = {}, {}, [], set(), set()
    seeds = sorted(set(frames.pgd.loc[frames.pgd["label"] == label, "seed"])
                   | set(frames.autoattack.loc[frames.autoattack["label"] == label, "seed"]))
    for seed in seeds:
        src = _outcome_sources(frames, label, int(seed), eps)
        if not src:
            continue
        prefixes = {key.rsplit("/", 1)[0] for _, key, _ in src}
        if any(c is None for _, _, c in src) or len(prefixes) != 1 or "" in prefixes:
            missing.append(int(seed))
            continue
        m = (min if images == "common" else max)(len(c) for _, _, c in src)
        robust = np.ones(m, dtype=bool)
        for _, _, c in src:
            k = min(m, len(c))
            robust[:k] &= np.frombuffer(c[:k].encode(), dtype=np.uint8) == ord("1")
        values[int(seed)] = float(robust.mean())
        outcomes[int(seed)] = "".join("1" if b else "0" for b in robust)
        attacks |= {a for a, _, _ in src}
        keys.add(f"{prefixes.pop()}/{m}")
    n = min((len(c) for c in outcomes.values()), default=0)
    key = keys.pop() if len(keys) == 1 else ""  # seeds on different image sets are not paired
    term = Binomial(key, n, dict(values), 1, outcomes)
    est = Estimate(values, {s: binomial_se(v, len(outcomes[s])) for s, v in values.items()}, "binomial SE",
                   (term,) if values and key else (), n)
    order = ("paper PGD", "strong PGD", "AutoAttack")
    return WorstCase(est, tuple(a for a in order if a in attacks), n, tuple(missing))
