"""Generator quality: Inception score and FID, as pure metric functions and through torch-fidelity.

Pure functions (torch-fidelity style: features/probabilities in, dict with named keys out):

- :func:`inception_score` ``(probs (N,K), splits) -> {"is_mean", "is_std"}``
- :func:`feature_stats` ``(feats (N,D)) -> (mu (D,), sigma (D,D))`` (float64)
- :func:`frechet_distance` ``(mu1, sigma1, mu2, sigma2) -> {"fid"}`` (torch-fidelity's formula)

:func:`evaluate_fidelity` measures a run's generator (final ``model.pt`` and, when
``eval.fidelity.snapshots``, every snapshot) with ``torch_fidelity.calculate_metrics``: seeded latent
vectors and uniformly drawn class labels (the same for every checkpoint and method), ``n_samples``
images as uint8 RGB, IS on the extractor's logits and FID against the training-split statistics
cached by ``robgan train-reference`` (:mod:`robgan.evaluation.reference`). The extractor is
torch-fidelity's Inception-v3 for RGB datasets and the small MNIST CNN for mnist5k; the two scales are
not comparable and each record names its ``metric_label``.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robgan import provenance as prov
from robgan.evaluation.context import run_checkpoints
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
from robgan.evaluation.reference import CACHE_DIR, read_reference
from robgan.evaluation.reference_cnn import CLASSIFIER_FILE, ReferenceDirError, accuracy, load_classifier

log = logging.getLogger("robgan.evaluation")

CSV_COLUMNS = ("run", "method", "label", "seed", "checkpoint", "iteration", "train_seconds", "is_mean", "is_std",
               "fid", "kid_mean", "kid_std", "precision", "recall", "intra_fid", "intra_precision", "intra_recall",
               "class_accuracy", "extractor", "n_samples", "metric_label", "sample_seed")


# --------------------------------------------------------------------------------------------------
# pure metrics


def inception_score(probs: torch.Tensor | np.ndarray, splits: int = 10, *, shuffle: bool = False,
                    seed: int = 2020) -> dict[str, float]:
    """Inception score of predicted class distributions (Salimans et al. 2016, torch-fidelity's formula).

    ``IS = exp(E_x KL(p(y|x) || p(y)))`` on each of ``splits`` contiguous chunks (chunk ``i`` holds rows
    ``i*N//splits`` to ``(i+1)*N//splits``), ``p(y)`` the chunk's mean; returns the mean and (population)
    standard deviation over chunks. Computed in float64 with ``0 log 0 = 0``.

    Args:
        probs: ``(N, K)`` rows of probabilities (non-negative, each summing to 1).
        splits: number of chunks, ``1 <= splits <= N``.
        shuffle: permute rows first with ``numpy.random.RandomState(seed)`` (as torch-fidelity does).

    Returns:
        ``{"is_mean": float in [1, K], "is_std": float >= 0}``.
    """
    p = torch.as_tensor(probs).detach().to("cpu", torch.float64)
    if p.dim() != 2 or p.shape[0] < 1:
        raise ValueError(f"inception_score: probs must be (N, K), got {tuple(p.shape)}")
    n = p.shape[0]
    if not 1 <= splits <= n:
        raise ValueError(f"inception_score: splits must be in [1, {n}], got {splits}")
    if bool((p < 0).any()) or not torch.allclose(p.sum(1), torch.ones(n, dtype=torch.float64), atol=1e-4):
        raise ValueError("inception_score: rows of probs must be non-negative and sum to 1 (pass softmax(logits))")
    if shuffle:
        p = p[torch.from_numpy(np.random.RandomState(seed).permutation(n))]
    scores = []
    for i in range(splits):
        chunk = p[i * n // splits:(i + 1) * n // splits]
        marginal = chunk.mean(dim=0, keepdim=True)
        kl = (torch.xlogy(chunk, chunk) - torch.xlogy(chunk, marginal)).sum(dim=1)
        scores.append(math.exp(kl.mean().item()))
    return {"is_mean": float(np.mean(scores)), "is_std": float(np.std(scores))}


def inception_score_from_logits(logits: torch.Tensor, splits: int = 10, *, shuffle: bool = False,
                                seed: int = 2020) -> dict[str, float]:
    """:func:`inception_score` of ``softmax(logits)`` (``logits`` ``(N, K)``, computed in float64)."""
    return inception_score(torch.as_tensor(logits).double().softmax(dim=1), splits, shuffle=shuffle, seed=seed)


def feature_stats(feats: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` of features ``(N, D)``, ``N >= 2``, in float64."""
    f = np.asarray(feats.detach().cpu().numpy() if torch.is_tensor(feats) else feats, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"feature_stats: feats must be (N >= 2, D), got {f.shape}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> dict[str, float]:
    """Fréchet distance between Gaussians ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    ``||mu1 - mu2||² + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^½)``, via torch-fidelity's own
    :func:`torch_fidelity.metric_fid.fid_statistics_to_metric` (trace of the square root from the
    eigenvalues of ``sigma1 sigma2``) on float64 inputs. Returns ``{"fid": float}``.
    """
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    stats = [{"mu": np.asarray(m, dtype=np.float64).reshape(-1), "sigma": np.atleast_2d(np.asarray(s, np.float64))}
             for m, s in ((mu1, sigma1), (mu2, sigma2))]
    if stats[0]["mu"].shape != stats[1]["mu"].shape or stats[0]["sigma"].shape != stats[1]["sigma"].shape \
            or stats[0]["sigma"].shape != (stats[0]["mu"].size,) * 2:
        raise ValueError("frechet_distance: mu must be (D,) and sigma (D, D), the same D for both")
    return {"fid": float(fid_statistics_to_metric(*stats, verbose=False)[KEY_METRIC_FID])}


#: torch-fidelity's default neighbourhood of precision and recall (Kynkäänniemi et al. 2019: k = 3).
PRC_NEIGHBORHOOD = 3
#: KID: 10 subsets (torch-fidelity's default is 100: 30 s per checkpoint of 1,000 samples on one CPU
#: thread, against 3 s at 10; with a subset as large as the sample set only the reference points vary
#: between subsets) of torch-fidelity's default size capped by the inputs' sizes.
KID_SUBSETS, KID_SUBSET_SIZE = 10, 1000
#: Intra-class recall uses the first this many samples of each class: precision/recall depend on how
#: many points there are, so the collapse floor (:mod:`robgan.evaluation.acceptance`) is calibrated at
#: the same count, on held-out real digits (mnist5k's test split holds 100 per class).
INTRA_CLASS_SAMPLES = 50


def _as_tensor(x: torch.Tensor | np.ndarray, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).detach().to("cpu", dtype)


def precision_recall(fake: torch.Tensor | np.ndarray, real: torch.Tensor | np.ndarray,
                     neighborhood: int = PRC_NEIGHBORHOOD) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) through torch-fidelity's ``prc``.

    ``fake`` ``(N, D)`` and ``real`` ``(M, D)`` features, ``N, M > neighborhood``. Precision: share of fake
    points inside the k-NN ball of some real point; recall: share of real points inside the k-NN ball
    of some fake point (k = ``neighborhood``). A generator that ignores its noise (identical samples)
    has balls of radius 0: recall 0. Returns ``{"precision", "recall"}`` in [0, 1].
    """
    from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric

    f, r = _as_tensor(fake, torch.float32), _as_tensor(real, torch.float32)
    if f.dim() != 2 or r.dim() != 2 or f.shape[1] != r.shape[1] or min(len(f), len(r)) <= neighborhood:
        raise ValueError(f"precision_recall: need (N, D) and (M, D) features with N, M > {neighborhood}, "
                         f"got {tuple(f.shape)} and {tuple(r.shape)}")
    out = prc_features_to_metric(f, r, prc_neighborhood=neighborhood, prc_batch_size=10000, save_cpu_ram=True,
                                 verbose=False)
    return {"precision": float(out[KEY_METRIC_PRECISION]), "recall": float(out[KEY_METRIC_RECALL])}


def kernel_inception_distance(fake: torch.Tensor | np.ndarray, real: torch.Tensor | np.ndarray, *,
                              subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
                              seed: int = 2020) -> dict[str, float]:
    """KID (Bińkowski et al. 2018) through torch-fidelity: unbiased MMD² with the cubic polynomial kernel,
    mean and std over ``subsets`` random subsets of ``min(subset_size, N, M)`` points each (seeded).
    Returns ``{"kid_mean", "kid_std", "kid_subset_size"}``."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    f, r = _as_tensor(fake), _as_tensor(real)
    size = min(int(subset_size), len(f), len(r))
    if size < 2:
        raise ValueError("kernel_inception_distance: need at least 2 points on each side")
    out = kid_features_to_metric(f, r, kid_subsets=int(subsets), kid_subset_size=size, kid_kernel="poly",
                                 kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1,
                                 rng_seed=int(seed), verbose=False)
    return {"kid_mean": float(out[KEY_METRIC_KID_MEAN]), "kid_std": float(out[KEY_METRIC_KID_STD]),
            "kid_subset_size": size}


def _by_class(feats: torch.Tensor, labels: torch.Tensor, n_classes: int) -> list[torch.Tensor]:
    lab = torch.as_tensor(labels).cpu().long()
    if lab.shape != (feats.shape[0],):
        raise ValueError(f"labels must be ({feats.shape[0]},), got {tuple(lab.shape)}")
    return [feats[lab == c] for c in range(n_classes)]


def intra_class_fid(fake: torch.Tensor | np.ndarray, fake_labels: torch.Tensor, real: torch.Tensor | np.ndarray,
                    real_labels: torch.Tensor, n_classes: int) -> dict[str, Any]:
    """Intra-class FID (Miyato & Koyama 2018, the SN-GAN projection paper's metric for conditional
    generators): FID of each class's samples against that class's real images, averaged over classes.

    ``fake`` ``(N, D)`` with ``fake_labels`` ``(N,)``, ``real`` ``(M, D)`` with ``real_labels`` ``(M,)``; every
    class needs ≥ 2 points on each side. Returns ``{"intra_fid": mean, "intra_fid_per_class": [K floats]}``.
    """
    f, r = _as_tensor(fake), _as_tensor(real)
    per_class = []
    for c, (fc, rc) in enumerate(zip(_by_class(f, fake_labels, n_classes), _by_class(r, real_labels, n_classes),
                                     strict=True)):
        if len(fc) < 2 or len(rc) < 2:
            raise ValueError(f"intra_class_fid: class {c} has {len(fc)} samples and {len(rc)} real images (need 2+)")
        per_class.append(frechet_distance(*feature_stats(fc), *feature_stats(rc))["fid"])
    return {"intra_fid": float(np.mean(per_class)), "intra_fid_per_class": per_class}


def intra_class_precision_recall(fake: torch.Tensor | np.ndarray, fake_labels: torch.Tensor,
                                 real: torch.Tensor | np.ndarray, real_labels: torch.Tensor, n_classes: int, *,
                                 per_class: int = INTRA_CLASS_SAMPLES,
                                 neighborhood: int = PRC_NEIGHBORHOOD) -> dict[str, Any]:
    """Within-class diversity: :func:`precision_recall` of each class's first ``per_class`` samples against
    all real images of that class, averaged over classes.

    Intra-class recall is the share of a class's real images that some sample of the class covers: a
    generator that draws one image per class (it ignores its noise) scores 0 however sharp and
    class-true that image is, which IS and class accuracy cannot see. A class with fewer than
    ``per_class`` samples uses the ones it has (``min_class_samples`` says how many the smallest had).
    Returns ``{"intra_precision", "intra_recall", "intra_recall_per_class": [K], "min_class_samples"}``.
    """
    f, r = _as_tensor(fake, torch.float32), _as_tensor(real, torch.float32)
    prec, rec, counts = [], [], []
    for fc, rc in zip(_by_class(f, fake_labels, n_classes), _by_class(r, real_labels, n_classes), strict=True):
        fc = fc[:per_class]
        counts.append(len(fc))
        out = precision_recall(fc, rc, neighborhood)
        prec.append(out["precision"])
        rec.append(out["recall"])
    return {"intra_precision": float(np.mean(prec)), "intra_recall": float(np.mean(rec)),
            "intra_recall_per_class": rec, "min_class_samples": int(min(counts))}


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


@dataclass
class RealFeatures:
    """The reference split's features on the FID layer ``(M, D)`` and its labels ``(M,)``, aligned."""

    feats: torch.Tensor
    labels: torch.Tensor


def _setup(run_dir: Path, ref_dir: Path, cfg: dict) -> _Setup:
    """Read the run and its reference directory; pick the extractor's weights, the class judge (mnist5k's
    CNN) and how G samples (``model.g_sample_bn`` of the evaluating config, else the run's)."""
    from robgan.api import load_run
    from robgan.data import dataset_info

    run = load_run(run_dir)
    info = dataset_info(run.config["data"])
    ref = read_reference(ref_dir, info.name, info.resolution)
    fid_cfg = cfg["eval"]["fidelity"]
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
    return _Setup(run, ref_dir, ref, extractor, weights_path, weights_source, judge,
                  run_checkpoints(run_dir, with_snapshots=bool(fid_cfg["snapshots"])), int(fid_cfg["n_samples"]),
                  int(fid_cfg["splits"]), batch_size, g_sample_bn, gen_batch, int(info.n_classes))


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
    layer = kwargs["feature_layer_fid"]
    feats = torch.load(Path(kwargs["cache_root"]) / f"{cache_name}-{kwargs['feature_extractor']}-features-{layer}.pt",
                       map_location="cpu", weights_only=False)
    kid = kernel_inception_distance(feats, real.feats, seed=int(kwargs["rng_seed"]))
    out.update(kid_mean=kid["kid_mean"], kid_std=kid["kid_std"])
    too_few = intra_class_too_few(labels, real.labels, n_classes)
    if min(len(feats), len(real.feats)) > PRC_NEIGHBORHOOD:
        out.update(precision_recall(feats, real.feats))
    if too_few:  # a tiny test config: the per-class metrics are left out of the row (not measured)
        log.warning("intra-class metrics not measured: %s", too_few)
        return out
    out.update(intra_class_fid(feats, labels, real.feats, real.labels, n_classes))
    intra = intra_class_precision_recall(feats, labels, real.feats, real.labels, n_classes)
    out.update({k: intra[k] for k in ("intra_precision", "intra_recall", "intra_recall_per_class",
                                      "min_class_samples")})
    return out


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
    finite = all(math.isfinite(r[k]) for r in rows for k in ("is_mean", "is_std", "fid"))
    flags = {"finite": {"ok": finite, "detail": "IS and FID finite for every checkpoint" if finite
                        else "non-finite IS or FID: check the generator's samples"}}
    if s.extractor == INCEPTION_EXTRACTOR:
        same = s.ref.get("weights_source") == s.weights_source or (
            s.weights_path is not None and s.weights_path == s.ref.get("weights_path"))
        flags["same_inception_weights"] = {"ok": bool(same), "detail": f"reference: {s.ref.get('weights_source')}; "
                                                                       f"samples: {s.weights_source}"}
    return flags


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
    intra-class precision/recall, and (mnist5k) the samples' class accuracy.

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
        order) and the same rows with run/method/label/seed/checkpoint/metric_label/sample_seed columns.
    """
    from tqdm import tqdm

    from robgan.api import load_generator
    from robgan.records import checkpoint_section, make_record

    start = time.perf_counter()
    run_dir, ref_dir, device = Path(run_dir), Path(ref_dir), torch.device(device)
    s = _setup(run_dir, ref_dir, cfg)
    real = real_features(ref_dir, s.ref, s.run.config["data"])
    verbose = sys.stderr.isatty() if verbose is None else verbose
    rows, csv_rows = [], []
    with _cache_root(ref_dir, s.ref, Path(work_dir)) as cache_root:
        kwargs = fidelity_kwargs(s.extractor, cuda=device.type == "cuda", batch_size=s.batch_size, splits=s.splits,
                                 rng_seed=sample_seed, weights_path=s.weights_path, cache_root=cache_root,
                                 reference_cache_name=s.ref["cache_name"], verbose=verbose)
        bar = tqdm(s.checkpoints, desc="fidelity", unit="ckpt", disable=not sys.stderr.isatty(), leave=False)
        for i, (path, iteration, train_seconds) in enumerate(bar):
            t0 = time.perf_counter()
            g = load_generator(run_dir, device, checkpoint=path, g_sample_bn=s.g_sample_bn)
            images, labels = generate_images(g, s.n_samples, n_classes=g.n_classes, z_dim=g.z_dim,
                                             seed=sample_seed, batch_size=s.gen_batch, device=device,
                                             full_batches=s.g_sample_bn == "batch")
            del g
            metrics = generator_metrics(images, labels, kwargs, ref_dir, real, s.n_classes,
                                        cache_name=f"robgan-samples-{i}")
            metrics["class_accuracy"] = (None if s.judge is None
                                         else class_accuracy(s.judge, images, labels, batch_size=s.batch_size))
            row = {"iteration": iteration, "train_seconds": train_seconds, **metrics, "extractor": s.extractor,
                   "n_samples": s.n_samples}
            rows.append(row)
            csv_rows.append({"run": str(run_dir), "method": s.run.method, "label": s.run.label, "seed": s.run.seed,
                             "checkpoint": str(path.relative_to(run_dir)), **row,
                             "metric_label": METRIC_LABELS[s.extractor], "sample_seed": sample_seed})
            log.info("%s iter %d: IS %.4f ± %.4f, FID %.4f, intra-FID %s, intra-class recall %s [%s]%s (%.1f s)",
                     path.name, iteration, metrics["is_mean"], metrics["is_std"], metrics["fid"],
                     f"{metrics['intra_fid']:.4f}" if "intra_fid" in metrics else "n/a",
                     f"{metrics['intra_recall']:.3f}" if "intra_recall" in metrics else "n/a",
                     METRIC_LABELS[s.extractor],
                     "" if s.judge is None else f", class accuracy {metrics['class_accuracy']:.3f}",
                     time.perf_counter() - t0)

    final_path, final_iter, final_seconds = s.checkpoints[-1]
    kid_size = min(KID_SUBSET_SIZE, s.n_samples, len(real.labels))
    record = make_record(
        "fidelity",
        run_dir=run_dir,
        checkpoint=checkpoint_section("snapshots" if len(s.checkpoints) > 1 else final_path.name, final_iter,
                                      final_seconds),
        settings=_settings(s, cfg["eval"]["fidelity"], sample_seed, kid_size),
        results=rows,
        flags=_flags(s, rows),
        elapsed_seconds=time.perf_counter() - start,
        device=prov.device_name(device),
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
