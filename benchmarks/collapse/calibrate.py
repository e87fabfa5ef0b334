"""Calibrate and apply the within-class collapse floor (robgan/evaluation/acceptance.py, MIN_INTRA_RECALL).

The measure is intra-class recall (:func:`robgan.evaluation.fidelity.intra_class_precision_recall`: per
class, the share of the class's training images that one of its first 50 samples covers, k = 3, mean
over classes) on the mnist5k CNN features of a reference directory. This script measures

- the upper reference: held-out real digits (mnist5k's test split, 50 per class drawn at random, five
  draws) in place of samples;
- the lower reference: each given generator with its noise ignored (z = 0 for every sample: every
  sample of a class in a batch is the same image);
- each given generator as its fidelity evaluation samples it (n_samples of its config, sample seed 0).

Usage (a reference dir from `robgan train-reference`, finished run directories):

    python benchmarks/collapse/calibrate.py --reference REF --run NAME=RUN_DIR [--run ...] \
        --out benchmarks/collapse/summary.json

It writes the numbers (summary.json) and summary.md (rendered from them by :func:`render`);
``--recheck`` re-applies the package's floor to the committed numbers without measuring again.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

DRAWS = 5
CONFIGS = {"quick": "config/config.yaml", "mnist5k": "config/mnist5k.yaml"}


def _features(images_u8: torch.Tensor, weights: str, batch_size: int = 250) -> torch.Tensor:
    from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

    from robgan.evaluation.feature_extractor import UInt8Images, register_mnist_extractor, to_rgb_u8

    register_mnist_extractor()
    fe = create_feature_extractor("mnist-cnn", ["feat"], cuda=False, feature_extractor_weights_path=weights,
                                  verbose=False)
    return get_featuresdict_from_dataset(UInt8Images(to_rgb_u8(images_u8)), fe, batch_size, False, True,
                                         False)["feat"]


def _metrics(feats, labels, real, n_classes) -> dict:
    from robgan.evaluation import fidelity as fd

    intra = fd.intra_class_precision_recall(feats, labels, real.feats, real.labels, n_classes)
    pr = fd.precision_recall(feats, real.feats)
    return {"intra_recall": intra["intra_recall"], "intra_precision": intra["intra_precision"],
            "intra_recall_min_class": min(intra["intra_recall_per_class"]), "recall": pr["recall"],
            "precision": pr["precision"], "intra_fid": fd.intra_class_fid(feats, labels, real.feats, real.labels,
                                                                           n_classes)["intra_fid"]}


def calibrate(ref_dir: Path, runs: dict[str, Path]) -> dict:
    from robgan.api import load_generator, load_run
    from robgan.data import dataset_info, load_split
    from robgan.evaluation import acceptance
    from robgan.evaluation import fidelity as fd
    from robgan.evaluation.reference import read_reference
    from robgan.evaluation.reference_cnn import CLASSIFIER_FILE, load_classifier

    start = time.perf_counter()
    data_cfg = {"name": "mnist5k", "resolution": 32, "augment": "none", "noise": False}
    info = dataset_info(data_cfg)
    ref = read_reference(ref_dir, info.name, info.resolution)
    real = fd.real_features(ref_dir, ref, data_cfg)
    weights = str(ref_dir / CLASSIFIER_FILE)
    judge = load_classifier(weights)
    test_images, test_labels = load_split(data_cfg, "test")
    test_feats = _features(test_images, weights)
    held_out = []
    for draw in range(DRAWS):
        g = torch.Generator().manual_seed(draw)
        idx = torch.cat([torch.nonzero(test_labels == c).flatten()[torch.randperm(int((test_labels == c).sum()),
                                                                                     generator=g)]
                         for c in range(info.n_classes)])
        held_out.append(_metrics(test_feats[idx], test_labels[idx], real, info.n_classes))
    out = {"reference": "robgan train-reference --config config/mnist5k.yaml --seed 0",
           "per_class_samples": fd.INTRA_CLASS_SAMPLES, "neighborhood": fd.PRC_NEIGHBORHOOD,
           "floor": acceptance.MIN_INTRA_RECALL, "held_out_draws": held_out, "generators": {}}
    for name, run_dir in runs.items():
        run = load_run(run_dir)
        n, batch = int(run.config["eval"]["fidelity"]["n_samples"]), int(run.config["train"]["batch_size"])
        gen = load_generator(run_dir, "cpu")
        exp = run.config["experiment"]
        row = {"trained_with": f"robgan train --config {CONFIGS.get(exp, exp)} --method {run.method} --seed "
                               f"{run.seed} (outside results/; no weights committed)",
               "experiment": exp, "method": run.method, "seed": run.seed,
               "iterations": int(run.config["train"]["iterations"]), "n_samples": n}
        no_noise = lambda z, y, g0=gen: g0(torch.zeros_like(z), y)  # noqa: E731 (a generator that ignores z)
        for mode, g in (("as trained", gen), ("noise ignored (z = 0)", no_noise)):
            images, labels = fd.generate_images(g, n, n_classes=info.n_classes, z_dim=gen.z_dim, seed=0,
                                                batch_size=batch, full_batches=gen.g_sample_bn == "batch")
            m = _metrics(_features(images, weights), labels, real, info.n_classes)
            m["class_accuracy"] = fd.class_accuracy(judge, images, labels)
            m["collapse_check"] = acceptance.collapse_check({**m, "iteration": row["iterations"]})[0]
            row[mode] = m
        out["generators"][name] = row
    out["seconds"] = time.perf_counter() - start
    return out


def recheck(s: dict) -> dict:
    """``s`` with the package's current floor and each generator's check status under it (the measured
    numbers unchanged): ``--recheck`` applies a changed floor without re-measuring."""
    from robgan.evaluation import acceptance

    s = {**s, "floor": acceptance.MIN_INTRA_RECALL}
    for g in s["generators"].values():
        for mode in ("as trained", "noise ignored (z = 0)"):
            g[mode]["collapse_check"] = acceptance.collapse_check({**g[mode], "iteration": g["iterations"]})[0]
    return s


def render(s: dict) -> str:
    """summary.md from summary.json."""
    rec = [d["intra_recall"] for d in s["held_out_draws"]]
    lines = ["# Within-class collapse floor: calibration on mnist5k", "",
             "Generated by `benchmarks/collapse/calibrate.py` (numbers: `summary.json`); what it means: "
             "docs/generator_metrics.md.", "",
             f"Measure: intra-class recall, first {s['per_class_samples']} samples of each class against the "
             f"class's training images (k = {s['neighborhood']}), mean over classes; MNIST-CNN features.", "",
             f"- upper reference, held-out real test digits ({len(rec)} draws of {s['per_class_samples']} per "
             f"class): intra-class recall {min(rec):.3f}–{max(rec):.3f} (mean {np.mean(rec):.3f})",
             f"- floor (`MIN_INTRA_RECALL`): {s['floor']:g}", "",
             "| generator | experiment | iterations | samples | intra-class recall | lowest class | recall | "
             "precision | intra-class FID | class accuracy | check |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, g in s["generators"].items():
        for mode in ("as trained", "noise ignored (z = 0)"):
            m = g[mode]
            lines.append(f"| {name} ({mode}) | {g['experiment']} | {g['iterations']} | {g['n_samples']} | "
                         f"{m['intra_recall']:.3f} | {m['intra_recall_min_class']:.3f} | {m['recall']:.3f} | "
                         f"{m['precision']:.3f} | {m['intra_fid']:.2f} | {m['class_accuracy']:.3f} | "
                         f"{m['collapse_check']} |")
    lines += [""] + [f"- {name}: {g['trained_with']}" for name, g in s["generators"].items()]
    lines += [f"- reference: {s['reference']}", "", f"Measured in {s['seconds']:.0f} s on a shared 2-core CPU."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path)
    p.add_argument("--run", action="append", default=[], metavar="NAME=RUN_DIR")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "summary.json")
    p.add_argument("--recheck", action="store_true", help="re-apply the package's floor to --out's numbers")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.recheck:
        s = recheck(json.loads(args.out.read_text()))
    else:
        if args.reference is None:
            p.error("--reference is required (unless --recheck)")
        s = calibrate(args.reference, {k: Path(v) for k, v in (r.split("=", 1) for r in args.run)})
    args.out.write_text(json.dumps(s, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(render(s))
    print(render(s))


if __name__ == "__main__":
    main()
