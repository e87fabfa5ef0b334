"""The one list of what the suite trains and evaluates: methods, run labels, their budgets, datasets,
evaluations, tables and figures.

Torch-free (it is read by the Snakefile, the config checks and the report as well as by training), so
every other module takes its method and label lists from here instead of re-typing them.

Vocabulary (docs/architecture.md):

- a **method** is what ``robgan train --method`` runs (one step function in ``robgan.training``);
- a **label** names a run in results and tables: the method, except fine-tuning with λ = 0, which is
  labelled ``robgan_ft_nofake`` (the "no fake data" ablation).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DATASETS",
    "BenchShape",
    "EVALUATIONS",
    "FIGURES",
    "FIGURE_FORMATS",
    "LABELS",
    "METHODS",
    "TABLES",
    "pgd_protocols",
    "strong_pgd_configured",
    "tables_of",
    "TABLE_FORMATS",
    "DatasetSpec",
    "Evaluation",
    "Label",
    "MethodInfo",
    "classifier_labels",
    "evaluation_labels",
    "configured_labels",
    "dataset_spec",
    "experiment_labels",
    "finetune_label",
    "finetune_labels",
    "generator_labels",
    "label_info",
    "method_info",
    "training_budget",
]


@dataclass(frozen=True)
class MethodInfo:
    """A training method.

    Attributes:
        name: the ``--method`` value.
        section: the config section holding its budget and optimiser (``train``, ``advtrain``,
            ``finetune``).
        has_generator: the run yields a generator (IS/FID, sample grids).
        has_classifier: the run yields a classifier (an AC discriminator's class head).
        attacks: training replaces the real images the discriminator / classifier sees by PGD-attacked
            ones (the section's attack settings); the other methods train on clean images.
        d_head: the discriminator head, ``"ac"`` (real/fake + class logits) or ``"projection"``.
        spectral_norm: the discriminator is spectrally normalised (the SN-GAN baseline).
        from_run: the method starts from another method's run (fine-tuning starts from ``robgan``).
    """

    name: str
    section: str
    has_generator: bool
    has_classifier: bool
    attacks: bool = False
    d_head: str = "ac"
    spectral_norm: bool = False
    from_run: str | None = None


# Table order: classifiers first (the paper's robustness tables), then the generator-only baseline.
METHODS: dict[str, MethodInfo] = {
    m.name: m
    for m in (
        MethodInfo("advtrain", "advtrain", has_generator=False, has_classifier=True, attacks=True),
        MethodInfo("robgan", "train", has_generator=True, has_classifier=True, attacks=True),
        MethodInfo("robgan_ft", "finetune", has_generator=False, has_classifier=True, attacks=True,
                   from_run="robgan"),
        MethodInfo("acgan", "train", has_generator=True, has_classifier=True),
        MethodInfo("acgan_newloss", "train", has_generator=True, has_classifier=True),
        MethodInfo("robgan_oldloss", "train", has_generator=True, has_classifier=True, attacks=True),
        MethodInfo("sngan", "train", has_generator=True, has_classifier=False, d_head="projection",
                   spectral_norm=True),
    )
}


@dataclass(frozen=True)
class Label:
    """A run label: the method it runs and, for fine-tuning, whether λ > 0."""

    name: str
    method: str
    fake_data: bool | None = None   # fine-tuning only: λ > 0

    @property
    def info(self) -> MethodInfo:
        return METHODS[self.method]


class _Labels(Mapping[str, Label]):
    """:data:`LABELS`, derived from :data:`METHODS` whenever it is read (so a method added there has its
    label): every method is its own label, except that fine-tuning (section ``finetune``) makes two,
    ``NAME`` (λ > 0) and ``NAME_nofake`` (λ = 0), right after each other."""

    def _table(self) -> dict[str, Label]:
        out: dict[str, Label] = {}
        for m in METHODS.values():
            if m.section == "finetune":
                out[m.name] = Label(m.name, m.name, fake_data=True)
                out[f"{m.name}_nofake"] = Label(f"{m.name}_nofake", m.name, fake_data=False)
            else:
                out[m.name] = Label(m.name, m.name)
        return out

    def __getitem__(self, name: str) -> Label:
        return self._table()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __repr__(self) -> str:
        return f"LABELS({list(self)})"


# Display order of labels in every table and figure: the order of METHODS.
LABELS: Mapping[str, Label] = _Labels()


def method_info(name: str) -> MethodInfo:
    """The :class:`MethodInfo` of ``name``; ``ValueError`` naming the choices otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r} (--method / methods): choose one of {', '.join(METHODS)}") from None


def label_info(name: str) -> Label:
    """The :class:`Label` of ``name``; ``ValueError`` naming the choices otherwise."""
    try:
        return LABELS[name]
    except KeyError:
        raise ValueError(f"unknown run label {name!r}: choose one of {', '.join(LABELS)}") from None


def finetune_label(lam: float) -> str:
    """Label of a fine-tuning run with fake-data weight ``lam`` (≥ 0): ``robgan_ft`` or ``robgan_ft_nofake``."""
    lam = float(lam)
    if lam < 0:
        raise ValueError(f"finetune lambda must be >= 0, got {lam}")
    return "robgan_ft" if lam > 0 else "robgan_ft_nofake"


def finetune_labels(lambdas: Iterable[float]) -> dict[str, float]:
    """``{label: λ}`` of the fine-tuning runs made from every ``robgan`` run.

    Raises ``ValueError`` naming ``finetune_lambdas`` when two values map to the same label (at most one
    λ > 0 and one λ = 0 are allowed: each label is one run directory per seed).
    """
    lambdas = list(lambdas)
    out: dict[str, float] = {}
    for lam in lambdas:
        label = finetune_label(lam)
        if label in out:
            raise ValueError(
                f"finetune_lambdas {lambdas}: at most one value > 0 (robgan_ft) and one 0 (robgan_ft_nofake) "
                "are allowed; fix finetune_lambdas in your config (e.g. [0.3, 0.0])."
            )
        out[label] = float(lam)
    return out


def experiment_labels(cfg: Mapping[str, Any]) -> list[str]:
    """Every run label an experiment config produces, in display order."""
    methods = [m for m in cfg.get("methods", []) if m != "robgan_ft"]
    labels = set(methods)
    if "robgan" in labels:
        labels |= set(finetune_labels(cfg.get("finetune_lambdas", [])))
    return [lb for lb in LABELS if lb in labels]


def classifier_labels(labels: Sequence[str] | None = None) -> list[str]:
    """The labels (all, or those of ``labels``) whose run yields a classifier, in display order."""
    keep = set(LABELS if labels is None else labels)
    return [lb for lb, info in LABELS.items() if lb in keep and info.info.has_classifier]


def generator_labels(labels: Sequence[str] | None = None) -> list[str]:
    """The labels (all, or those of ``labels``) whose run yields a generator, in display order."""
    keep = set(LABELS if labels is None else labels)
    return [lb for lb, info in LABELS.items() if lb in keep and info.info.has_generator]


@dataclass(frozen=True)
class BenchShape:
    """How ``robgan bench`` times a dataset's problem size (:mod:`robgan.bench.shapes`).

    Attributes:
        name: the shape's ``robgan bench --shapes`` name.
        config: the experiment YAML (relative to the repository root) whose widths, D architecture,
            batch sizes and attacks are timed.
        synthetic: feed synthetic uint8 images of the dataset's ``info()`` shape instead of loading it
            (so it can be timed where the dataset is not on disk; a step's cost does not depend on the
            pixel values).
    """

    name: str
    config: str
    synthetic: bool


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset (``data.name``): everything the suite needs to know about it is here or in its module.

    Attributes:
        name: the ``data.name`` value (the config schema's enum is this registry's keys,
            :func:`robgan.config.load_schema`).
        module: its module, which defines ``info(data_cfg) -> robgan.data.DatasetInfo`` (classes,
            channels, resolution, without loading images) and ``load(data_cfg, split)`` (one split
            whole, as uint8 tensors; :func:`robgan.data.load_split` documents the contract).
        resolutions: the ``data.resolution`` values it exists at; None: any (it is resized).
        extractor: the IS/FID feature extractor (:mod:`robgan.evaluation.feature_extractor`):
            ``"mnist-cnn"``, a small CNN that ``robgan train-reference`` trains on the dataset itself
            (grayscale digits, far from ImageNet), or ``"inception-v3-compat"``, torch-fidelity's
            ImageNet Inception-v3 (the paper's IS/FID).
        bench: the problem size ``robgan bench`` times for it (and projects device-hours with).
    """

    name: str
    module: str
    resolutions: tuple[int, ...] | None
    extractor: str
    bench: BenchShape


DATASETS: dict[str, DatasetSpec] = {
    d.name: d
    for d in (
        # the default experiment itself, on the real embedded digits
        DatasetSpec("mnist5k", "robgan.data.mnist5k", resolutions=(32,), extractor="mnist-cnn",
                    bench=BenchShape("embedded", "config/config.yaml", synthetic=False)),
        # the paper configs, timed on synthetic images of the dataset's shape
        DatasetSpec("cifar10", "robgan.data.cifar10", resolutions=(32,), extractor="inception-v3-compat",
                    bench=BenchShape("cifar10", "config/cifar10.yaml", synthetic=True)),
        DatasetSpec("imagenet143", "robgan.data.imagenet143", resolutions=None, extractor="inception-v3-compat",
                    bench=BenchShape("imagenet143", "config/imagenet143.yaml", synthetic=True)),
    )
}


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name``; ``ValueError`` naming the choices otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"data.name: unknown dataset {name!r}; allowed values: {', '.join(DATASETS)}") from None


@dataclass(frozen=True)
class Evaluation:
    """An evaluation kind (``robgan eval <name>``, ``records/<name>/``) and the runs it applies to.

    Attributes:
        name: the kind.
        needs: ``"classifier"`` or ``"generator"``: it applies to the labels whose run yields one.
        only: when set, it applies to just these labels (of those that have what it needs).
    """

    name: str
    needs: str
    only: tuple[str, ...] | None = None


EVALUATIONS: dict[str, Evaluation] = {
    e.name: e
    for e in (
        Evaluation("pgd", "classifier"),
        Evaluation("autoattack", "classifier"),
        # the train/test robustness gap is the paper's comparison of adversarial training with Rob-GAN
        # (figure robustness_gap): the AC-GAN ablations are not measured
        Evaluation("gap", "classifier", only=("advtrain", "robgan", "robgan_ft", "robgan_ft_nofake")),
        Evaluation("lipschitz", "classifier"),
        Evaluation("fidelity", "generator"),
    )
}


def evaluation_labels(kind: str, labels: Sequence[str] | None = None,
                      cfg: Mapping[str, Any] | None = None) -> list[str]:
    """The labels (all, or those of ``labels``) that evaluation ``kind`` applies to, in display order.

    With ``cfg``, a configured subset ``eval.<kind>.labels`` (a list; null or absent = every label) is
    applied too: e.g. ``eval.autoattack.labels`` keeps the costly standard AutoAttack to the classifiers
    that the claims compare."""
    try:
        ev = EVALUATIONS[kind]
    except KeyError:
        raise ValueError(f"unknown evaluation {kind!r}: choose one of {', '.join(EVALUATIONS)}") from None
    have = classifier_labels(labels) if ev.needs == "classifier" else generator_labels(labels)
    chosen = configured_labels(cfg, kind)
    return [lb for lb in have if (ev.only is None or lb in ev.only) and (chosen is None or lb in chosen)]


def configured_labels(cfg: Mapping[str, Any] | None, kind: str) -> list[str] | None:
    """``eval.<kind>.labels`` of ``cfg``: the labels the experiment restricts evaluation ``kind`` to,
    or None (no restriction, or no config)."""
    if not cfg:
        return None
    sub = (cfg.get("eval") or {}).get(kind) or {}
    chosen = sub.get("labels") if isinstance(sub, Mapping) else None
    return None if chosen is None else list(chosen)


# What `robgan report` writes: tables/<name>.{csv,md,tex}; figures/<name>.{png,pdf} and one
# figures/samples_<label>_seed<N>.{png,pdf} per generator label and seed (sample_grid_name).
TABLES = ("robust_accuracy", "robust_accuracy_strong", "autoattack", "generation", "ablation")
TABLE_FORMATS = ("csv", "md", "tex")


def strong_pgd_configured(cfg: Mapping[str, Any] | None) -> bool:
    """Whether ``eval.pgd.strong`` is set (null: no strong PGD protocol; absent from a bare mapping or
    ``cfg`` None: the schema's default, a strong protocol)."""
    pgd = ((cfg or {}).get("eval") or {}).get("pgd") or {}
    return not ("strong" in pgd and pgd["strong"] is None)


def pgd_protocols(cfg: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The attack protocols that ``eval.pgd`` runs, in order: ``paper``, and ``strong`` unless that
    section is null (an experiment whose strong protocol would repeat the paper's;
    :func:`strong_pgd_configured`)."""
    return ("paper", "strong") if strong_pgd_configured(cfg) else ("paper",)


def tables_of(cfg: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The tables :data:`TABLES` that experiment ``cfg`` writes: all but ``robust_accuracy_strong``
    when it runs no strong PGD protocol (:func:`strong_pgd_configured`)."""
    return tuple(t for t in TABLES if t != "robust_accuracy_strong" or strong_pgd_configured(cfg))
FIGURES = ("is_vs_time", "is_vs_iter", "fid_vs_time", "fid_vs_iter", "accuracy_vs_eps", "robustness_gap",
           "lipschitz")
FIGURE_FORMATS = ("png", "pdf")
# Figures drawn from the runs' training logs (``robgan report --runs``), not from records.
RUN_FIGURES = ("training_curves",)


def sample_grid_name(label: str, seed: int) -> str:
    """File stem of the sample grid of generator run ``label``/``seed``: ``samples_<label>_seed<seed>``
    (one per finished generator run, drawn from its weights by ``robgan report --runs``)."""
    return f"samples_{label}_seed{int(seed)}"


def training_budget(cfg: Mapping[str, Any], label: str) -> dict[str, int]:
    """What a label's classifier / discriminator was trained with, from an experiment config.

    Returns ``{"d_updates": int, "real_images": int}``: optimiser steps of the discriminator (or
    classifier) and real training images it saw, over its whole history — a fine-tuned classifier
    counts its ``robgan`` co-training too. GAN methods make ``train.n_dis`` D updates (their
    ``train.method_overrides`` entry may set another) of ``train.batch_size`` real images per iteration.
    """
    lab = label_info(label)
    info = lab.info

    def gan() -> dict[str, int]:
        t = cfg["train"]
        own = ((t.get("method_overrides") or {}).get(info.from_run or lab.method) or {})
        n = int(t["iterations"]) * int(own.get("n_dis", t.get("n_dis", 1)))
        return {"d_updates": n, "real_images": n * int(t["batch_size"])}

    if info.section == "train":
        return gan()
    sec = cfg[info.section]
    own = {"d_updates": int(sec["iterations"]), "real_images": int(sec["iterations"]) * int(sec["batch_size"])}
    if info.from_run is not None:
        base = gan()
        return {k: base[k] + own[k] for k in own}
    return own
