"""Reference directories of IS/FID: the training split's feature statistics and ``metrics.json``.

``robgan train-reference`` (see :mod:`robgan.evaluation.fidelity_cli`) writes a reference directory
with :func:`build_reference`; every ``robgan eval fidelity`` reads it back with :func:`read_reference`:

============================  ==========================================================================
``classifier.pt``             mnist5k only: the feature CNN (:mod:`robgan.evaluation.reference_cnn`,
                              trained by :mod:`robgan.evaluation.reference_training`), written atomically
``fidelity_cache/*.pt``       torch-fidelity's cache of the training split's features and FID statistics
``metrics.json``              written last (the completion marker): what the statistics are (dataset,
                              extractor, layers, weights, real-data IS) and, for mnist5k, the CNN's
                              test accuracy, epochs, seed and training time
============================  ==========================================================================

For mnist5k, IS/FID use the CNN as the feature extractor (registered with torch-fidelity as
``"mnist-cnn"``, :mod:`robgan.evaluation.feature_extractor`), never the ImageNet Inception network:
such values are *not* comparable to Inception IS/FID and every record names the extractor
(``metric_label``).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from robgan import provenance as prov
from robgan.evaluation.feature_extractor import (
    FEATURE_LAYERS,
    INCEPTION_EXTRACTOR,
    METRIC_LABELS,
    MNIST_EXTRACTOR,
    UInt8Images,
    extractor_for,
    fidelity_kwargs,
    inception_weights,
    register_mnist_extractor,
    to_rgb_u8,
)
from robgan.evaluation.reference_cnn import CLASSIFIER_FILE, ReferenceDirError, save_classifier
from robgan.evaluation.reference_training import train_reference_classifier

log = logging.getLogger("robgan.evaluation")

METRICS_FILE = "metrics.json"
REFERENCE_FILE = METRICS_FILE  # one file describes the whole reference directory
CACHE_DIR = "fidelity_cache"


# --------------------------------------------------------------------------------------------------
# reference statistics


def reference_cache_name(dataset: str, resolution: int) -> str:
    """torch-fidelity cache name of a training split (files: ``<name>-<extractor>-features-<layer>.pt``)."""
    return f"robgan-{dataset}-{resolution}px-train"


def reference_cache_files(cache_name: str, extractor: str) -> list[str]:
    """File names torch-fidelity looks up in ``cache_root`` for ``input2_cache_name=cache_name``."""
    layers = FEATURE_LAYERS[extractor]
    names = [f"{cache_name}-{extractor}-features-{layer}.pt" for layer in sorted(set(layers.values()))]
    names.append(f"{cache_name}-{extractor}-stat-fid-{layers['fid']}.pt")
    return names


# --------------------------------------------------------------------------------------------------
# writing and reading a reference directory


def build_reference(
    cfg: dict,
    out_dir: str | Path,
    seed: int,
    device: str | torch.device = "cpu",
    verbose: bool | None = None,
    log_fn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """``robgan train-reference``: (mnist5k) train the feature CNN, then cache the training split's features.

    Writes the files listed in the module docstring; ``metrics.json`` last. Raises
    ``RuntimeError`` when the CNN's test accuracy is below ``min_test_accuracy`` (nothing written)
    and :class:`ConfigError` for a configured Inception weights file that does not exist.
    Returns the content of ``metrics.json``.
    """
    import torch_fidelity

    from robgan.data import dataset_info, load_split

    out = Path(out_dir)
    device = torch.device(device)
    fid_cfg = cfg["eval"]["fidelity"]
    info = dataset_info(cfg["data"])
    extractor = extractor_for(info.name)
    verbose = sys.stderr.isatty() if verbose is None else verbose
    start = time.perf_counter()
    classifier_metrics = None
    if extractor == MNIST_EXTRACTOR:
        rc_cfg = fid_cfg["reference_classifier"]
        model, classifier_metrics = train_reference_classifier(cfg["data"], rc_cfg, seed, device, progress=verbose)
        acc, need = classifier_metrics["test_accuracy"], float(rc_cfg["min_test_accuracy"])
        if acc < need:
            raise RuntimeError(
                f"the mnist5k reference CNN reached test accuracy {acc:.4f} < required {need:.4f} "
                f"(eval.fidelity.reference_classifier.min_test_accuracy) after {rc_cfg['epochs']} epochs; "
                f"raise eval.fidelity.reference_classifier.epochs or try another --seed. Nothing was written.")
        out.mkdir(parents=True, exist_ok=True)
        save_classifier(model, out / CLASSIFIER_FILE, {"test_accuracy": acc, "seed": seed})
        classifier_metrics["min_test_accuracy"] = need
        (log_fn or log.info)(f"reference CNN: test accuracy {acc:.4f} ({classifier_metrics['train_seconds']:.1f} s)")
        weights_path, weights_source = str((out / CLASSIFIER_FILE).resolve()), f"{CLASSIFIER_FILE} in the reference dir"
        register_mnist_extractor()
    else:
        weights_path, weights_source = inception_weights(fid_cfg)

    images, _ = load_split(cfg["data"], "train")
    cache_name = reference_cache_name(info.name, info.resolution)
    cache_root = out / CACHE_DIR
    cache_root.mkdir(parents=True, exist_ok=True)
    for name in reference_cache_files(cache_name, extractor):  # stale files would be read back silently
        (cache_root / name).unlink(missing_ok=True)
    dataset = UInt8Images(to_rgb_u8(images))
    kwargs = fidelity_kwargs(extractor, cuda=device.type == "cuda", batch_size=cfg["eval"]["batch_size"],
                             splits=fid_cfg["splits"], rng_seed=seed, weights_path=weights_path,
                             cache_root=cache_root, reference_cache_name=cache_name, verbose=verbose)
    kwargs["input1_cache_name"] = cache_name  # input1 = input2 = the training split: computed once, cached
    t0 = time.perf_counter()
    metrics = torch_fidelity.calculate_metrics(input1=dataset, input2=dataset, **kwargs)
    stats_seconds = time.perf_counter() - t0
    missing = [n for n in reference_cache_files(cache_name, extractor) if not (cache_root / n).is_file()]
    if missing:
        raise RuntimeError(f"torch-fidelity did not write the expected cache files {missing} in {cache_root}")
    reference = {
        "dataset": info.name,
        "resolution": info.resolution,
        "split": "train",
        "n_images": len(dataset),
        "extractor": extractor,
        "metric_label": METRIC_LABELS[extractor],
        "feature_layers": dict(FEATURE_LAYERS[extractor]),
        "cache_dir": CACHE_DIR,
        "cache_name": cache_name,
        "cache_files": reference_cache_files(cache_name, extractor),
        "weights_path": weights_path if extractor == INCEPTION_EXTRACTOR else CLASSIFIER_FILE,
        "weights_source": weights_source,
        "real_is_mean": float(metrics[torch_fidelity.KEY_METRIC_ISC_MEAN]),
        "real_is_std": float(metrics[torch_fidelity.KEY_METRIC_ISC_STD]),
        "real_is_splits": int(fid_cfg["splits"]),
        "seed": seed,
        # mnist5k: the feature CNN (null for the Inception extractor)
        "test_accuracy": classifier_metrics["test_accuracy"] if classifier_metrics else None,
        "epochs": classifier_metrics["epochs"] if classifier_metrics else None,
        "train_seconds": classifier_metrics["train_seconds"] if classifier_metrics else None,
        "classifier": classifier_metrics,
        "stats_seconds": stats_seconds,
        "elapsed_seconds": time.perf_counter() - start,
        "device": prov.device_name(device),
        "packages": prov.package_versions(),
        "git": prov.git_info(),
        "created": prov.utc_now(),
    }
    prov.atomic_write_json(out / REFERENCE_FILE, reference)
    return reference


def read_reference(ref_dir: str | Path, dataset: str, resolution: int) -> dict[str, Any]:
    """Read ``metrics.json`` and check it matches ``dataset``/``resolution`` and that its files exist."""
    ref_dir = Path(ref_dir)
    path = ref_dir / REFERENCE_FILE
    hint = f"make it with `robgan train-reference --config F --out {ref_dir}`"
    if not path.is_file():
        raise ReferenceDirError(f"{ref_dir} is not a finished reference directory (no {REFERENCE_FILE}); {hint}")
    ref = json.loads(path.read_text())
    if (ref.get("dataset"), ref.get("resolution")) != (dataset, resolution):
        raise ReferenceDirError(f"{ref_dir} holds reference statistics of {ref.get('dataset')} at "
                             f"{ref.get('resolution')} px, but the run is {dataset} at {resolution} px; {hint} "
                             f"with the run's config")
    if ref.get("extractor") != extractor_for(dataset):
        raise ReferenceDirError(f"{ref_dir}: extractor {ref.get('extractor')!r} is not "
                                f"{extractor_for(dataset)!r}; {hint}")
    missing = [n for n in ref["cache_files"] if not (ref_dir / ref["cache_dir"] / n).is_file()]
    if ref["extractor"] == MNIST_EXTRACTOR and not (ref_dir / CLASSIFIER_FILE).is_file():
        missing.append(CLASSIFIER_FILE)
    if missing:
        raise ReferenceDirError(f"{ref_dir} is incomplete (missing {', '.join(missing)}); {hint}")
    return ref
