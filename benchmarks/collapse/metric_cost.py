"""What the generator metrics of the field add to one fidelity checkpoint: IS/FID through torch-fidelity
(with the sample features cached) vs KID, precision/recall and the intra-class metrics on those features,
alternated ``--repeats`` times in one process (the same machine load for both).

    python benchmarks/collapse/metric_cost.py --reference REF --run RUN_DIR [--n-samples 1000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    from robgan.api import load_generator
    from robgan.data import dataset_info
    from robgan.evaluation import fidelity as fd
    from robgan.evaluation.feature_extractor import fidelity_kwargs, register_mnist_extractor
    from robgan.evaluation.reference import read_reference
    from robgan.evaluation.reference_cnn import CLASSIFIER_FILE

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path, required=True)
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--n-samples", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)
    register_mnist_extractor()
    data_cfg = {"name": "mnist5k", "resolution": 32, "augment": "none", "noise": False}
    info = dataset_info(data_cfg)
    ref = read_reference(args.reference, info.name, info.resolution)
    real = fd.real_features(args.reference, ref, data_cfg)
    g = load_generator(args.run, "cpu")
    times: dict[str, list[float]] = {"generate": [], "IS + FID": [], "KID + precision/recall + intra-class": []}
    with tempfile.TemporaryDirectory() as tmp, fd._cache_root(args.reference, ref, Path(tmp)) as cache:
        kw = fidelity_kwargs("mnist-cnn", cuda=False, batch_size=250, splits=5, rng_seed=0,
                             weights_path=str(args.reference / CLASSIFIER_FILE), cache_root=cache,
                             reference_cache_name=ref["cache_name"], verbose=False)
        for i in range(args.repeats):
            t0 = time.perf_counter()
            images, labels = fd.generate_images(g, args.n_samples, n_classes=10, z_dim=g.z_dim, seed=0, batch_size=32,
                                                full_batches=True)
            t1 = time.perf_counter()
            fd.fidelity_of_images(images, {**kw, "input1_cache_name": f"s{i}"}, args.reference)
            t2 = time.perf_counter()
            feats = torch.load(Path(cache) / f"s{i}-mnist-cnn-features-feat.pt", weights_only=False)
            fd.kernel_inception_distance(feats, real.feats)
            fd.precision_recall(feats, real.feats)
            fd.intra_class_fid(feats, labels, real.feats, real.labels, 10)
            fd.intra_class_precision_recall(feats, labels, real.feats, real.labels, 10)
            t3 = time.perf_counter()
            for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                times[k].append(v)
    for k, v in times.items():
        print(f"{k}: median {statistics.median(v):.2f} s (min {min(v):.2f}, max {max(v):.2f}) over {len(v)}")


if __name__ == "__main__":
    main()
