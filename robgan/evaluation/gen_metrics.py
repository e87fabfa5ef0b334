"""Generator metrics as pure functions of features (torch-fidelity style: features in, dict with named
keys out); :mod:`robgan.evaluation.fidelity` measures a run's generator with them.

- :func:`inception_score` ``(probs (N,K), splits) -> {"is_mean", "is_std"}``
- :func:`feature_stats` ``(feats (N,D)) -> (mu (D,), sigma (D,D))`` (float64)
- :func:`frechet_distance` ``(mu1, sigma1, mu2, sigma2) -> {"fid"}`` (torch-fidelity's formula)
- :func:`kernel_inception_distance` ``(fake, real) -> {"kid_mean", "kid_std", "kid_subset_size"}``
- :func:`precision_recall` ``(fake, real) -> {"precision", "recall"}`` (torch-fidelity ``prc``)
- :func:`intra_class_fid` / :func:`intra_class_precision_recall`: the same per class, mean over classes
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

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
#: rows per distance block (torch-fidelity's ``prc_batch_size`` default)
_PRC_BATCH = 10000
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


def knn_radii(feats: torch.Tensor | np.ndarray, neighborhood: int = PRC_NEIGHBORHOOD) -> torch.Tensor:
    """Each point's distance to its ``neighborhood``-th nearest other point: ``(N,)`` float32 from ``(N, D)``
    features, computed exactly as torch-fidelity's ``prc`` does (``calc_cdist_part`` + ``kthvalue``).

    The real side's radii do not depend on the generator: :func:`precision_recall` and
    :func:`intra_class_precision_recall` take them precomputed, so that an evaluation of many snapshots
    computes the ``M x M`` real distances once instead of once per snapshot."""
    from torch_fidelity.metric_prc import calc_cdist_part

    f = _as_tensor(feats, torch.float32)
    return torch.cat([calc_cdist_part(b, f, _PRC_BATCH).kthvalue(neighborhood + 1).values
                      for b in f.split(_PRC_BATCH)])


def precision_recall(fake: torch.Tensor | np.ndarray, real: torch.Tensor | np.ndarray,
                     neighborhood: int = PRC_NEIGHBORHOOD, *,
                     real_radii: torch.Tensor | None = None) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): torch-fidelity's ``prc`` computation.

    ``fake`` ``(N, D)`` and ``real`` ``(M, D)`` features, ``N, M > neighborhood``. Precision: share of fake
    points inside the k-NN ball of some real point; recall: share of real points inside the k-NN ball
    of some fake point (k = ``neighborhood``). A generator that ignores its noise (identical samples)
    has balls of radius 0: recall 0. ``real_radii``: :func:`knn_radii` of ``real`` when the caller has
    them (the same numbers; computed here otherwise). The steps are torch-fidelity's
    ``calculate_precision_recall_part`` (its own ``calc_cdist_part``; the tests pin equality with
    ``prc_features_to_metric``). Returns ``{"precision", "recall"}`` in [0, 1].
    """
    from torch_fidelity.metric_prc import calc_cdist_part

    f, r = _as_tensor(fake, torch.float32), _as_tensor(real, torch.float32)
    if f.dim() != 2 or r.dim() != 2 or f.shape[1] != r.shape[1] or min(len(f), len(r)) <= neighborhood:
        raise ValueError(f"precision_recall: need (N, D) and (M, D) features with N, M > {neighborhood}, "
                         f"got {tuple(f.shape)} and {tuple(r.shape)}")
    if real_radii is None:
        real_radii = knn_radii(r, neighborhood)
    elif tuple(real_radii.shape) != (len(r),):
        raise ValueError(f"precision_recall: real_radii must be ({len(r)},), got {tuple(real_radii.shape)}")
    fake_radii = knn_radii(f, neighborhood)
    recall = torch.cat([(calc_cdist_part(b, f, _PRC_BATCH) <= fake_radii).any(dim=1).float()
                        for b in r.split(_PRC_BATCH)]).mean().item()
    precision = torch.cat([(calc_cdist_part(b, r, _PRC_BATCH) <= real_radii).any(dim=1).float()
                           for b in f.split(_PRC_BATCH)]).mean().item()
    return {"precision": float(precision), "recall": float(recall)}


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


def class_knn_radii(real: torch.Tensor | np.ndarray, real_labels: torch.Tensor, n_classes: int,
                    neighborhood: int = PRC_NEIGHBORHOOD) -> list[torch.Tensor]:
    """:func:`knn_radii` of each class's real points (a list of ``n_classes`` tensors)."""
    return [knn_radii(rc, neighborhood) for rc in _by_class(_as_tensor(real, torch.float32), real_labels, n_classes)]


def intra_class_precision_recall(fake: torch.Tensor | np.ndarray, fake_labels: torch.Tensor,
                                 real: torch.Tensor | np.ndarray, real_labels: torch.Tensor, n_classes: int, *,
                                 per_class: int = INTRA_CLASS_SAMPLES,
                                 neighborhood: int = PRC_NEIGHBORHOOD,
                                 real_radii: Sequence[torch.Tensor] | None = None) -> dict[str, Any]:
    """Within-class diversity: :func:`precision_recall` of each class's first ``per_class`` samples against
    all real images of that class, averaged over classes.

    Intra-class recall is the share of a class's real images that some sample of the class covers: a
    generator that draws one image per class (it ignores its noise) scores 0 however sharp and
    class-true that image is, which IS and class accuracy cannot see. A class with fewer than
    ``per_class`` samples uses the ones it has (``min_class_samples`` says how many the smallest had).
    ``real_radii``: :func:`class_knn_radii` of ``real`` (computed here when None).
    Returns ``{"intra_precision", "intra_recall", "intra_recall_per_class": [K], "min_class_samples"}``.
    """
    f, r = _as_tensor(fake, torch.float32), _as_tensor(real, torch.float32)
    prec, rec, counts = [], [], []
    reals = _by_class(r, real_labels, n_classes)
    radii = class_knn_radii(r, real_labels, n_classes, neighborhood) if real_radii is None else real_radii
    for fc, rc, rad in zip(_by_class(f, fake_labels, n_classes), reals, radii, strict=True):
        fc = fc[:per_class]
        counts.append(len(fc))
        out = precision_recall(fc, rc, neighborhood, real_radii=rad)
        prec.append(out["precision"])
        rec.append(out["recall"])
    return {"intra_precision": float(np.mean(prec)), "intra_recall": float(np.mean(rec)),
            "intra_recall_per_class": rec, "min_class_samples": int(min(counts))}
