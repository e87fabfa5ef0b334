"""Generator quality of a run: IS, FID, KID, precision/recall and the intra-class metrics through
torch-fidelity (the pure metric functions live in :mod:`robgan.evaluation.gen_metrics` and are
re-exported here).

:func:`evaluate_fidelity` measures a run's generator (final ``model.pt`` and, when
``eval.fidelity.snapshots``, every snapshot) with ``torch_fidelity.calculate_metrics``: seeded latent
vectors and uniformly drawn class labels (the same for every checkpoint and method), ``n_samples``
images as uint8 RGB, IS on the extractor's logits and FID against the training-split statistics
cached by ``robgan train-reference`` (:mod:`robgan.evaluation.reference`). The extractor is
torch-fidelity's Inception-v3 for RGB datasets and the small MNIST CNN for mnist5k; the two scales are
not comparable and each record names its ``metric_label``.

A run trained with ``train.g_ema`` has the moving average of its generator's weights as its generator
(every checkpoint's ``generator``) and keeps the trained weights as ``model.pt``'s ``generator_raw``.
The record's ``results`` measure the average, like every other evaluation and figure; the trained
weights of the final model are measured on the same samples into ``results_raw`` (one row), which no
curve, claim, table point or gate reads as the run's generator (docs/generator_metrics.md).
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from robgan import provenance as prov
from robgan.evaluation.context import channels_last_of, run_checkpoints
from robgan.evaluation.feature_extractor import (
    FEATURE_LAYERS,
    INCEPTION_EXTRACTOR,
    METRIC_LABELS,
    MNIST_EXTRACTOR,
    UInt8Images,
    fidelity_kwargs,
    inception_weights,
    register_mnist_extractor,
    to_rgb_u8,
)
from robgan.evaluation.gen_metrics import (  # noqa: F401 (the pure metrics, re-exported)
    INTRA_CLASS_SAMPLES,
    KID_SUBSET_SIZE,
    KID_SUBSETS,
    PRC_NEIGHBORHOOD,
    class_knn_radii,
    feature_stats,
    frechet_distance,
    inception_score,
    inception_score_from_logits,
    intra_class_fid,
    intra_class_precision_recall,
    kernel_inception_distance,
    knn_radii,
    precision_recall,
)
from robgan.evaluation.reference import CACHE_DIR, read_reference
from robgan.evaluation.reference_cnn import CLASSIFIER_FILE, ReferenceDirError, accuracy, load_classifier

log = logging.getLogger("robgan.evaluation")

CSV_COLUMNS = ("run", "method", "label", "seed", "checkpoint", "iteration", "train_seconds", "is_mean", "is_std",
               "fid", "kid_mean", "kid_std", "precision", "recall", "intra_fid", "intra_precision", "intra_recall",
               "class_accuracy", "extractor", "n_samples", "metric_label", "sample_seed", "weights")
#: ``weights`` column of the CSV: the row measures the weight average of ``train.g_ema`` (the record's
#: ``results``) or the trained weights (a run without an average; with one, its ``results_raw`` row).
AVERAGE, TRAINED = "average", "trained"


# --------------------------------------------------------------------------------------------------
# samples


@torch.no_grad()
def generate_images(
    generator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    n: int,
    *,
    n_classes: int,
    z_dim: int,
    seed: int,
    batch_size: int,
    device: str | torch.device = "cpu",
    full_batches: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` samples: class labels uniform over ``[0, n_classes)`` and ``z ~ N(0, I)``, both from one
    CPU generator seeded with ``seed`` (the same latents on every device and for every batch size).

    ``generator`` is called on consecutive chunks of ``batch_size`` latents. A generator whose batch
    norm uses batch statistics makes each image depend on its batch: pass ``full_batches=True`` so
    that the last, shorter chunk is generated inside a full batch (completed cyclically with the
    first latents, whose outputs are dropped) and every image sees a batch of exactly ``batch_size``.
    Images of a per-example generator (eval-mode BN) do not depend on ``batch_size``.

    Returns ``(images uint8 (n, 3, H, W) on the CPU, grayscale repeated to RGB; labels int64 (n,))``.
    """
    g = torch.Generator().manual_seed(int(seed))
    labels = torch.randint(n_classes, (n,), generator=g)
    z = torch.randn(n, z_dim, generator=g)
    out = []
    with torch.inference_mode():  # no autograd graph: the same images, ~15 % faster on a CPU
        for i in range(0, n, batch_size):
            keep = min(batch_size, n - i)
            idx = torch.arange(i, i + (batch_size if full_batches else keep)) % n
            x = generator(z[idx].to(device), labels[idx].to(device))[:keep]
            out.append(to_rgb_u8(x))
    return torch.cat(out), labels


def class_accuracy(classifier: torch.nn.Module, images_u8: torch.Tensor, labels: torch.Tensor, *,
                   batch_size: int = 500) -> float:
    """Fraction in [0, 1] of generated images that ``classifier`` (a :class:`ReferenceCNN`) assigns to the
    class they were generated for: how class-conditional a generator is (chance = 1 / n_classes).

    ``images_u8``: uint8 ``(N, 3, H, W)`` grayscale repeated to RGB as made by :func:`generate_images` (the
    CNN reads the first channel) or ``(N, 1, H, W)``; ``labels``: int64 ``(N,)``."""
    return accuracy(classifier, images_u8[:, :1], labels, batch_size=batch_size)


class _CachedReference(torch.utils.data.Dataset):
    """``input2`` of torch-fidelity: only its cache name is used, its features come from the cache."""

    def __init__(self, ref_dir: Path):
        self.ref_dir = ref_dir

    def _fail(self):
        raise ReferenceDirError(f"torch-fidelity asked for the reference images: the cache in "
                                f"{self.ref_dir / CACHE_DIR} does not match this evaluation; rerun "
                                f"`robgan train-reference --out {self.ref_dir}`")

    def __len__(self) -> int:
        self._fail()

    def __getitem__(self, i):
        self._fail()


@contextlib.contextmanager
def _cache_root(ref_dir: Path, ref: dict, parent: Path):
    """A temporary torch-fidelity cache folder inside ``parent`` linking the reference's cache files, so
    that nothing is written into the reference directory (an input of the evaluation)."""
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".fidelity_cache-", dir=parent))
    try:
        for name in ref["cache_files"]:
            src = (ref_dir / ref["cache_dir"] / name).resolve()
            try:
                os.symlink(src, tmp / name)
            except OSError:
                shutil.copyfile(src, tmp / name)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fidelity_of_images(images_u8: torch.Tensor, kwargs: dict[str, Any], ref_dir: Path) -> dict[str, float]:
    """IS and FID of uint8 ``(N, 3, H, W)`` images through ``torch_fidelity.calculate_metrics(**kwargs)``."""
    import torch_fidelity

    metrics = torch_fidelity.calculate_metrics(input1=UInt8Images(images_u8), input2=_CachedReference(ref_dir),
                                               **kwargs)
    return {"is_mean": float(metrics[torch_fidelity.KEY_METRIC_ISC_MEAN]),
            "is_std": float(metrics[torch_fidelity.KEY_METRIC_ISC_STD]),
            "fid": float(metrics[torch_fidelity.KEY_METRIC_FID])}


# --------------------------------------------------------------------------------------------------
# a run, step by step


@dataclass
class _Setup:
    """What every checkpoint of one fidelity evaluation shares (:func:`_setup`)."""

    run: Any
    ref_dir: Path
    ref: dict
    extractor: str
    weights_path: str | None
    weights_source: str
    judge: torch.nn.Module | None
    checkpoints: list
    n_samples: int
    splits: int
    batch_size: int
    g_sample_bn: str
    gen_batch: int
    n_classes: int
    averaged: bool  # the run's generator is a weight average (train.g_ema): model.pt holds generator_raw


@dataclass
class RealFeatures:
    """The reference split's features on the FID layer ``(M, D)`` and its labels ``(M,)``, aligned."""

    feats: torch.Tensor
    labels: torch.Tensor
    _radii: dict = field(default_factory=dict, repr=False)

    def radii(self) -> torch.Tensor:
        """:func:`knn_radii` of every reference point, computed once per evaluation (not per snapshot)."""
        if "all" not in self._radii:
            self._radii["all"] = knn_radii(self.feats)
        return self._radii["all"]

    def class_radii(self, n_classes: int) -> list[torch.Tensor]:
        """:func:`class_knn_radii` of the reference points, computed once per evaluation."""
        if n_classes not in self._radii:
            self._radii[n_classes] = class_knn_radii(self.feats, self.labels, n_classes)
        return self._radii[n_classes]


def _setup(run_dir: Path, ref_dir: Path, cfg: dict) -> _Setup:
    """Read the run and its reference directory; pick the extractor's weights, the class judge (mnist5k's
    CNN) and how G samples (``model.g_sample_bn`` of the evaluating config, else the run's)."""
    from robgan.api import RAW_GENERATOR, load_run
    from robgan.data import dataset_info

    run = load_run(run_dir)
    info = dataset_info(run.config["data"])
    ref = read_reference(ref_dir, info.name, info.resolution)
    fid_cfg = cfg["eval"]["fidelity"]
    checkpoints = run_checkpoints(run_dir, with_snapshots=bool(fid_cfg["snapshots"]))
    averaged = RAW_GENERATOR in prov.torch_load(checkpoints[-1].path, map_location="cpu")
    extractor = ref["extractor"]
    if extractor == MNIST_EXTRACTOR:
        register_mnist_extractor()
        weights_path = str((ref_dir / CLASSIFIER_FILE).resolve())
        weights_source = f"{CLASSIFIER_FILE} of the reference dir"
        judge = load_classifier(weights_path)  # the same CNN judges whether samples show their class
    else:
        judge = None  # no domain classifier for RGB datasets: class accuracy is not measured
        weights_path, weights_source = inception_weights(fid_cfg)
        if weights_path is None and ref.get("weights_path") and Path(ref["weights_path"]).is_file():
            weights_path = ref["weights_path"]
            weights_source = f"local file {weights_path} (from the reference metrics.json)"
    batch_size = int(cfg["eval"]["batch_size"])
    # G's BN mode is the evaluating config's choice (evaluation only for a GAN run); with batch
    # statistics every image is generated in a batch of the run's training batch size, so the samples
    # do not depend on eval.batch_size (a speed knob).
    g_sample_bn = (cfg.get("model") or {}).get("g_sample_bn") or run.g_sample_bn
    gen_batch = int(run.config["train"]["batch_size"]) if g_sample_bn == "batch" else batch_size
    return _Setup(run, ref_dir, ref, extractor, weights_path, weights_source, judge, checkpoints,
                  int(fid_cfg["n_samples"]), int(fid_cfg["splits"]), batch_size, g_sample_bn, gen_batch,
                  int(info.n_classes), averaged)


def real_features(ref_dir: Path, ref: dict, data_cfg: dict) -> RealFeatures:
    """The reference's cached FID-layer features of the training split and the split's labels (the cache
    holds the images in :func:`robgan.data.load_split` order)."""
    from robgan.data import load_split

    layer = FEATURE_LAYERS[ref["extractor"]]["fid"]
    path = ref_dir / ref["cache_dir"] / f"{ref['cache_name']}-{ref['extractor']}-features-{layer}.pt"
    feats = torch.load(path, map_location="cpu", weights_only=False)
    _, labels = load_split(data_cfg, ref.get("split", "train"))
    if feats.shape[0] != labels.shape[0]:
        raise ReferenceDirError(f"{path} holds {feats.shape[0]} feature rows, the {ref.get('split', 'train')} split "
                                f"{labels.shape[0]} images; rerun `robgan train-reference --out {ref_dir}`")
    return RealFeatures(feats, labels)


def generator_metrics(images_u8: torch.Tensor, labels: torch.Tensor, kwargs: dict[str, Any], ref_dir: Path,
                      real: RealFeatures, n_classes: int, *, cache_name: str) -> dict[str, Any]:
    """Every generator metric of one set of samples, from one pass of torch-fidelity's extractor.

    IS and FID through ``torch_fidelity.calculate_metrics`` (:func:`fidelity_of_images`), which caches the
    samples' features as ``cache_name`` in ``kwargs["cache_root"]``; on those features (FID layer): KID,
    precision and recall against the whole reference split, intra-class FID and intra-class precision
    and recall (:func:`intra_class_fid`, :func:`intra_class_precision_recall`) with ``labels`` ``(N,)``.
    """
    kw = {**kwargs, "input1_cache_name": cache_name}
    out: dict[str, Any] = fidelity_of_images(images_u8, kw, ref_dir)
    feats = cached_features(kwargs, cache_name, kwargs["feature_layer_fid"])
    kid = kernel_inception_distance(feats, real.feats, seed=int(kwargs["rng_seed"]))
    out.update(kid_mean=kid["kid_mean"], kid_std=kid["kid_std"])
    too_few = intra_class_too_few(labels, real.labels, n_classes)
    if min(len(feats), len(real.feats)) > PRC_NEIGHBORHOOD:
        out.update(precision_recall(feats, real.feats, real_radii=real.radii()))
    if too_few:  # a tiny test config: the per-class metrics are left out of the row (not measured)
        log.warning("intra-class metrics not measured: %s", too_few)
        return out
    out.update(intra_class_fid(feats, labels, real.feats, real.labels, n_classes))
    intra = intra_class_precision_recall(feats, labels, real.feats, real.labels, n_classes,
                                         real_radii=real.class_radii(n_classes))
    out.update({k: intra[k] for k in ("intra_precision", "intra_recall", "intra_recall_per_class",
                                      "min_class_samples")})
    return out


def cached_features(kwargs: dict[str, Any], cache_name: str, layer: str) -> torch.Tensor:
    """The features of layer ``layer`` that torch-fidelity cached for ``cache_name`` (``(N, D)``)."""
    path = Path(kwargs["cache_root"]) / f"{cache_name}-{kwargs['feature_extractor']}-features-{layer}.pt"
    return torch.load(path, map_location="cpu", weights_only=False)


def class_accuracy_of_logits(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share in [0, 1] of samples whose extractor logits ``(N, K)`` pick their class ``labels`` ``(N,)``.

    For mnist5k the extractor is the class judge itself (:class:`ReferenceCNN`, the same weights; its
    feature pass reads the grey channel of the uint8 images exactly as :func:`class_accuracy` does), so
    the logits torch-fidelity cached for IS give :func:`class_accuracy`'s number without a second pass
    (``tests/evaluation/test_fidelity.py`` pins the equality)."""
    if logits.shape[0] != labels.shape[0]:
        raise ValueError(f"class_accuracy_of_logits: {logits.shape[0]} logits rows for {labels.shape[0]} labels")
    return int((logits.argmax(1).cpu() == labels.cpu()).sum()) / max(len(labels), 1)


def intra_class_too_few(labels: torch.Tensor, real_labels: torch.Tensor, n_classes: int) -> str | None:
    """Why the intra-class metrics cannot be measured (a class with at most :data:`PRC_NEIGHBORHOOD`
    samples or real images), else None."""
    fake_n = torch.bincount(torch.as_tensor(labels).long(), minlength=n_classes)
    real_n = torch.bincount(torch.as_tensor(real_labels).long(), minlength=n_classes)
    c = int(torch.argmin(torch.minimum(fake_n, real_n)))
    if min(int(fake_n[c]), int(real_n[c])) > PRC_NEIGHBORHOOD:
        return None
    return (f"class {c} has {int(fake_n[c])} samples and {int(real_n[c])} reference images "
            f"(need more than {PRC_NEIGHBORHOOD} of each; raise eval.fidelity.n_samples)")


def _settings(s: _Setup, fid_cfg: dict, sample_seed: int, kid_subset_size: int) -> dict[str, Any]:
    """The record's ``settings``: how the samples were drawn and measured."""
    ext = s.extractor
    return {
        "metric_label": METRIC_LABELS[ext],
        "extractor": ext,
        "feature_layers": dict(FEATURE_LAYERS[ext]),
        "n_samples": s.n_samples,
        "splits": s.splits,
        "batch_size": s.batch_size,
        "sample_seed": sample_seed,
        "label_sampling": "uniform over classes (torch.randint), z ~ N(0, I); one CPU generator seeded with "
                          "sample_seed: the same latents and labels for every checkpoint, method and training "
                          "seed (fixed samples, common to every comparison)",
        "image_conversion": "float [0,1] -> round(255 x) uint8, grayscale repeated to 3 channels",
        "g_sample_bn": s.g_sample_bn,
        "generation_batch_size": s.gen_batch,
        "g_sample_bn_detail": (
            "batch: G's batch norm uses the statistics of each generated batch (generation_batch_size = the "
            "run's train.batch_size, the last batch completed cyclically), as the authors' code samples; "
            "running statistics untouched" if s.g_sample_bn == "batch" else
            "running: G in eval mode, batch norm with the running statistics of training (each image "
            "depends on its own latent only)"),
        "is_split_shuffle_seed": sample_seed,
        "class_accuracy": ("fraction of samples that the reference CNN classifies as the class they were "
                           "generated for (the same n_samples images as IS/FID; chance = 1/n_classes)"
                           if s.judge is not None else None),
        "kid": {"subsets": KID_SUBSETS, "subset_size": kid_subset_size, "kernel": "polynomial, degree 3, "
                "gamma 1/D, coef0 1 (torch-fidelity)", "seed": sample_seed},
        "precision_recall": {"neighborhood": PRC_NEIGHBORHOOD, "implementation": "torch-fidelity prc",
                             "reference": "every image of the reference split"},
        "intra_class": {"reference": "the reference split's images of each class", "fid": "FID per class, "
                        "mean over classes (Miyato & Koyama 2018)", "per_class_samples": INTRA_CLASS_SAMPLES,
                        "recall": "precision/recall of each class's first per_class_samples samples against "
                                  "that class's real images, mean over classes"},
        "generator_weights": AVERAGE if s.averaged else TRAINED,
        "generator_weights_detail": (
            f"results: the moving average of the generator's weights (train.g_ema "
            f"{s.run.config['train'].get('g_ema')}; every checkpoint's generator); results_raw: the trained "
            "weights of the final model.pt (generator_raw), on the same samples, information only (no curve, "
            "claim or gate reads them)" if s.averaged else
            "results: the trained weights (the run keeps no average: train.g_ema unset)"),
        "snapshots": bool(fid_cfg["snapshots"]),
        "checkpoints": [str(p.relative_to(s.run.dir)) for p, _, _ in s.checkpoints],
        "reference_dir": str(s.ref_dir),
        "reference": {k: s.ref.get(k) for k in ("dataset", "resolution", "split", "n_images", "cache_name",
                                                "real_is_mean", "real_is_std", "real_is_splits", "weights_source",
                                                "test_accuracy")},
        "weights_path": s.weights_path,
        "weights_source": s.weights_source,
        "inception_weights": fid_cfg.get("inception_weights") if ext == INCEPTION_EXTRACTOR else None,
        "fid_reference": "training split statistics (reference dir), torch-fidelity cache",
        "torch_fidelity_version": prov.package_versions().get("torch-fidelity"),
    }


def _flags(s: _Setup, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``rows``: every measured row (the trained weights' too)."""
    finite = all(math.isfinite(r[k]) for r in rows for k in ("is_mean", "is_std", "fid"))
    flags = {"finite": {"ok": finite, "detail": "IS and FID finite for every checkpoint" if finite
                        else "non-finite IS or FID: check the generator's samples"}}
    if s.extractor == INCEPTION_EXTRACTOR:
        same = s.ref.get("weights_source") == s.weights_source or (
            s.weights_path is not None and s.weights_path == s.ref.get("weights_path"))
        flags["same_inception_weights"] = {"ok": bool(same), "detail": f"reference: {s.ref.get('weights_source')}; "
                                                                       f"samples: {s.weights_source}"}
    return flags


def _measure(images: torch.Tensor, labels: torch.Tensor, s: _Setup, kwargs: dict[str, Any], real: RealFeatures,
             *, cache_name: str) -> dict[str, Any]:
    """:func:`generator_metrics` and the class accuracy of one checkpoint's samples (uint8 ``(N, 3, H, W)``,
    labels ``(N,)``)."""
    metrics = generator_metrics(images, labels, kwargs, s.ref_dir, real, s.n_classes, cache_name=cache_name)
    metrics["class_accuracy"] = (None if s.judge is None else class_accuracy_of_logits(
        cached_features(kwargs, cache_name, kwargs["feature_layer_isc"]), labels))
    return metrics


def _log_row(s: _Setup, what: str, metrics: dict[str, Any], seconds: float) -> None:
    log.info("%s: IS %.4f ± %.4f, FID %.4f, intra-FID %s, intra-class recall %s [%s]%s (%.1f s)",
             what, metrics["is_mean"], metrics["is_std"], metrics["fid"],
             f"{metrics['intra_fid']:.4f}" if "intra_fid" in metrics else "n/a",
             f"{metrics['intra_recall']:.3f}" if "intra_recall" in metrics else "n/a",
             METRIC_LABELS[s.extractor],
             "" if s.judge is None else f", class accuracy {metrics['class_accuracy']:.3f}", seconds)


def evaluate_fidelity(
    run_dir: str | Path,
    ref_dir: str | Path,
    cfg: dict,
    device: str | torch.device,
    *,
    sample_seed: int,
    work_dir: str | Path,
    verbose: bool | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Generator metrics of a run over its snapshots (when ``eval.fidelity.snapshots``) and ``model.pt``.

    Per checkpoint (:func:`generator_metrics`): IS, FID, KID, precision/recall, intra-class FID and
    intra-class precision/recall, and (mnist5k) the samples' class accuracy. A run trained with
    ``train.g_ema``: every checkpoint's generator is the weight average (the record's ``results``), and
    the trained weights of ``model.pt`` (``generator_raw``) are measured on the same samples into the
    record's ``results_raw`` (one row; settings ``generator_weights`` says which of the two ``results`` holds).

    Args:
        run_dir: finished run directory with a generator.
        ref_dir: reference directory of ``robgan train-reference`` for the run's dataset.
        cfg: resolved config whose ``eval`` section is used (``eval.batch_size``, ``eval.fidelity``), and
            ``model.g_sample_bn`` (how G's batch norm normalises when it samples; default: the run's).
        sample_seed: seed of the latent vectors and class labels (and of torch-fidelity's IS split shuffle).
        work_dir: folder for torch-fidelity's temporary cache (removed afterwards).
        verbose: torch-fidelity's progress output on stderr (default: when stderr is a terminal).

    Returns:
        ``(record, csv_rows)``: the validated fidelity record (one result row per checkpoint, in iteration
        order) and the same rows with run/method/label/seed/checkpoint/metric_label/sample_seed/weights
        columns, then the ``results_raw`` row (``weights`` = ``trained``) when the run has one.
    """
    from tqdm import tqdm

    from robgan.api import load_generator
    from robgan.records import checkpoint_section, make_record

    start = time.perf_counter()
    run_dir, ref_dir, device = Path(run_dir), Path(ref_dir), torch.device(device)
    s = _setup(run_dir, ref_dir, cfg)
    real = real_features(ref_dir, s.ref, s.run.config["data"])
    verbose = sys.stderr.isatty() if verbose is None else verbose
    rows, raw_rows, csv_rows = [], [], []

    def csv_row(path: Path, row: dict[str, Any], weights: str) -> dict[str, Any]:
        return {"run": str(run_dir), "method": s.run.method, "label": s.run.label, "seed": s.run.seed,
                "checkpoint": str(path.relative_to(run_dir)), **row, "metric_label": METRIC_LABELS[s.extractor],
                "sample_seed": sample_seed, "weights": weights}

    with _cache_root(ref_dir, s.ref, Path(work_dir)) as cache_root:
        kwargs = fidelity_kwargs(s.extractor, cuda=device.type == "cuda", batch_size=s.batch_size, splits=s.splits,
                                 rng_seed=sample_seed, weights_path=s.weights_path, cache_root=cache_root,
                                 reference_cache_name=s.ref["cache_name"], verbose=verbose)
        # the final model's trained weights last, after every checkpoint of the average
        todo = [(*c, False) for c in s.checkpoints] + ([(*s.checkpoints[-1], True)] if s.averaged else [])
        bar = tqdm(todo, desc="fidelity", unit="ckpt", disable=not sys.stderr.isatty(), leave=False)
        for i, (path, iteration, train_seconds, raw) in enumerate(bar):
            t0 = time.perf_counter()
            g = load_generator(run_dir, device, checkpoint=path, g_sample_bn=s.g_sample_bn,
                               channels_last=channels_last_of(cfg), raw=raw)
            images, labels = generate_images(g, s.n_samples, n_classes=g.n_classes, z_dim=g.z_dim,
                                             seed=sample_seed, batch_size=s.gen_batch, device=device,
                                             full_batches=s.g_sample_bn == "batch")
            del g
            metrics = _measure(images, labels, s, kwargs, real, cache_name=f"robgan-samples-{i}")
            row = {"iteration": iteration, "train_seconds": train_seconds, **metrics, "extractor": s.extractor,
                   "n_samples": s.n_samples}
            (raw_rows if raw else rows).append(row)
            csv_rows.append(csv_row(path, row, TRAINED if raw or not s.averaged else AVERAGE))
            _log_row(s, f"{path.name} iter {iteration}" + (" (trained weights, not the average)" if raw else ""),
                     metrics, time.perf_counter() - t0)

    final_path, final_iter, final_seconds = s.checkpoints[-1]
    kid_size = min(KID_SUBSET_SIZE, s.n_samples, len(real.labels))
    record = make_record(
        "fidelity",
        run_dir=run_dir,
        checkpoint=checkpoint_section("snapshots" if len(s.checkpoints) > 1 else final_path.name, final_iter,
                                      final_seconds),
        settings=_settings(s, cfg["eval"]["fidelity"], sample_seed, kid_size),
        results=rows,
        flags=_flags(s, rows + raw_rows),
        elapsed_seconds=time.perf_counter() - start,
        device=prov.device_name(device),
        results_raw=raw_rows or None,
    )
    return record, csv_rows


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write the rows (columns :data:`CSV_COLUMNS`) atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: r.get(k) for k in CSV_COLUMNS})
    prov.atomic_write_text(path, buf.getvalue())
    return Path(path)
