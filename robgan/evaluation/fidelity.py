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
               "fid", "class_accuracy", "extractor", "n_samples", "metric_label", "sample_seed")


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
# a run


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
    """IS/FID of a run's generator over its snapshots (when ``eval.fidelity.snapshots``) and ``model.pt``.

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

    from robgan.api import load_generator, load_run
    from robgan.data import dataset_info
    from robgan.records import checkpoint_section, make_record

    start = time.perf_counter()
    run_dir, ref_dir, device = Path(run_dir), Path(ref_dir), torch.device(device)
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
    checkpoints = run_checkpoints(run_dir, with_snapshots=bool(fid_cfg["snapshots"]))
    n_samples, splits, batch_size = int(fid_cfg["n_samples"]), int(fid_cfg["splits"]), int(cfg["eval"]["batch_size"])
    # G's BN mode is the evaluating config's choice (evaluation only for a GAN run); with batch
    # statistics every image is generated in a batch of the run's training batch size, so the samples
    # do not depend on eval.batch_size (a speed knob).
    g_sample_bn = (cfg.get("model") or {}).get("g_sample_bn") or run.g_sample_bn
    gen_batch = int(run.config["train"]["batch_size"]) if g_sample_bn == "batch" else batch_size
    verbose = sys.stderr.isatty() if verbose is None else verbose

    rows, csv_rows = [], []
    with _cache_root(ref_dir, ref, Path(work_dir)) as cache_root:
        kwargs = fidelity_kwargs(extractor, cuda=device.type == "cuda", batch_size=batch_size, splits=splits,
                                 rng_seed=sample_seed, weights_path=weights_path, cache_root=cache_root,
                                 reference_cache_name=ref["cache_name"], verbose=verbose)
        bar = tqdm(checkpoints, desc="fidelity", unit="ckpt", disable=not sys.stderr.isatty(), leave=False)
        for path, iteration, train_seconds in bar:
            t0 = time.perf_counter()
            g = load_generator(run_dir, device, checkpoint=path, g_sample_bn=g_sample_bn)
            images, labels = generate_images(g, n_samples, n_classes=g.n_classes, z_dim=g.z_dim,
                                             seed=sample_seed, batch_size=gen_batch, device=device,
                                             full_batches=g_sample_bn == "batch")
            del g
            metrics = fidelity_of_images(images, kwargs, ref_dir)
            metrics["class_accuracy"] = (None if judge is None
                                         else class_accuracy(judge, images, labels, batch_size=batch_size))
            row = {"iteration": iteration, "train_seconds": train_seconds, **metrics, "extractor": extractor,
                   "n_samples": n_samples}
            rows.append(row)
            csv_rows.append({"run": str(run_dir), "method": run.method, "label": run.label, "seed": run.seed,
                             "checkpoint": str(path.relative_to(run_dir)), **row,
                             "metric_label": METRIC_LABELS[extractor], "sample_seed": sample_seed})
            log.info("%s iter %d: IS %.4f ± %.4f, FID %.4f [%s]%s (%.1f s)", path.name, iteration,
                     metrics["is_mean"], metrics["is_std"], metrics["fid"], METRIC_LABELS[extractor],
                     "" if judge is None else f", class accuracy {metrics['class_accuracy']:.3f}",
                     time.perf_counter() - t0)

    finite = all(math.isfinite(r[k]) for r in rows for k in ("is_mean", "is_std", "fid"))
    settings = {
        "metric_label": METRIC_LABELS[extractor],
        "extractor": extractor,
        "feature_layers": dict(FEATURE_LAYERS[extractor]),
        "n_samples": n_samples,
        "splits": splits,
        "batch_size": batch_size,
        "sample_seed": sample_seed,
        "label_sampling": "uniform over classes (torch.randint), z ~ N(0, I); one CPU generator seeded with "
                          "sample_seed: the same latents and labels for every checkpoint and method",
        "image_conversion": "float [0,1] -> round(255 x) uint8, grayscale repeated to 3 channels",
        "g_sample_bn": g_sample_bn,
        "generation_batch_size": gen_batch,
        "g_sample_bn_detail": (
            "batch: G's batch norm uses the statistics of each generated batch (generation_batch_size = the "
            "run's train.batch_size, the last batch completed cyclically), as the authors' code samples; "
            "running statistics untouched" if g_sample_bn == "batch" else
            "running: G in eval mode, batch norm with the running statistics of training (each image "
            "depends on its own latent only)"),
        "is_split_shuffle_seed": sample_seed,
        "class_accuracy": ("fraction of samples that the reference CNN classifies as the class they were "
                           "generated for (the same n_samples images as IS/FID; chance = 1/n_classes)"
                           if judge is not None else None),
        "snapshots": bool(fid_cfg["snapshots"]),
        "checkpoints": [str(p.relative_to(run_dir)) for p, _, _ in checkpoints],
        "reference_dir": str(ref_dir),
        "reference": {k: ref.get(k) for k in ("dataset", "resolution", "split", "n_images", "cache_name",
                                              "real_is_mean", "real_is_std", "real_is_splits", "weights_source",
                                              "test_accuracy")},
        "weights_path": weights_path,
        "weights_source": weights_source,
        "inception_weights": fid_cfg.get("inception_weights") if extractor == INCEPTION_EXTRACTOR else None,
        "fid_reference": "training split statistics (reference dir), torch-fidelity cache",
        "torch_fidelity_version": prov.package_versions().get("torch-fidelity"),
    }
    flags = {"finite": {"ok": finite, "detail": "IS and FID finite for every checkpoint" if finite
                        else "non-finite IS or FID: check the generator's samples"}}
    if extractor == INCEPTION_EXTRACTOR:
        same = ref.get("weights_source") == weights_source or (weights_path is not None
                                                               and weights_path == ref.get("weights_path"))
        flags["same_inception_weights"] = {"ok": bool(same), "detail": f"reference: {ref.get('weights_source')}; "
                                                                       f"samples: {weights_source}"}
    final_path, final_iter, final_seconds = checkpoints[-1]
    record = make_record(
        "fidelity",
        run_dir=run_dir,
        checkpoint=checkpoint_section("snapshots" if len(checkpoints) > 1 else final_path.name, final_iter,
                                      final_seconds),
        settings=settings,
        results=rows,
        flags=flags,
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
        writer.writerow({k: r[k] for k in CSV_COLUMNS})
    prov.atomic_write_text(path, buf.getvalue())
    return Path(path)
