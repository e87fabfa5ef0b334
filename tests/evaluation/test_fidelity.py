"""IS/FID: pure metrics (golden values, invariants), torch-fidelity plumbing, and ``robgan eval fidelity``."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from robgan.config import ConfigError, load_config
from robgan.evaluation import feature_extractor as fx
from robgan.evaluation import fidelity as fd
from robgan.evaluation import reference as rf
from robgan.evaluation import reference_cnn as cnn

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "config.yaml"

# A tiny robgan run (4 generator iterations, snapshots at 2 and 4) and a tiny reference (1 epoch CNN).
TINY_GAN = ["model.ngf=8", "model.ndf=8", "model.z_dim=16", "train.iterations=4", "train.batch_size=16",
            "train.g_ema=null", "log_every=2", "checkpoint_every=2", "snapshot_every=2", "threads=1", "device=cpu"]
TINY_REF = ["eval.fidelity.reference_classifier.epochs=1", "eval.fidelity.reference_classifier.min_test_accuracy=0",
            "eval.batch_size=500", "threads=1", "device=cpu"]
TINY_FID = ["eval.fidelity.n_samples=200", "eval.fidelity.splits=4", "eval.batch_size=64"]


# ---------------------------------------------------------------------------------------------- IS


@pytest.mark.parametrize("k,n_classes,splits", [(1, 10, 1), (2, 10, 1), (5, 10, 4), (10, 10, 5), (7, 1008, 3)])
def test_is_of_uniform_one_hot_equals_k(k, n_classes, splits):
    n = k * 6 * splits  # every split holds each of the k classes equally often
    probs = torch.nn.functional.one_hot(torch.arange(n) % k, n_classes).double()
    out = fd.inception_score(probs, splits=splits)
    assert set(out) == {"is_mean", "is_std"}
    assert out["is_mean"] == pytest.approx(k, abs=1e-6)
    assert out["is_std"] == pytest.approx(0.0, abs=1e-6)


def test_is_of_identical_distributions_is_one():
    g = torch.Generator().manual_seed(0)
    row = torch.rand(10, generator=g).double()
    probs = (row / row.sum()).expand(300, 10)
    out = fd.inception_score(probs, splits=3)
    assert out["is_mean"] == pytest.approx(1.0, abs=1e-9)
    assert out["is_std"] == pytest.approx(0.0, abs=1e-9)


def test_is_between_one_and_k_and_sensitive_to_confidence():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(400, 10, generator=g, dtype=torch.float64)
    soft = fd.inception_score_from_logits(logits, splits=4)["is_mean"]
    sharp = fd.inception_score_from_logits(logits * 10, splits=4)["is_mean"]
    assert 1.0 < soft < sharp < 10.0


@pytest.mark.parametrize("shuffle", [False, True])
def test_is_matches_torch_fidelity(shuffle):
    from torch_fidelity.metric_isc import isc_features_to_metric

    g = torch.Generator().manual_seed(2)
    logits = torch.randn(503, 12, generator=g) * 3
    ours = fd.inception_score_from_logits(logits, splits=5, shuffle=shuffle, seed=7)
    ref = isc_features_to_metric(logits, splits=5, shuffle=shuffle, rng_seed=7)
    assert ours["is_mean"] == pytest.approx(ref["inception_score_mean"], rel=1e-9)
    assert ours["is_std"] == pytest.approx(ref["inception_score_std"], rel=1e-6, abs=1e-12)


def test_is_rejects_non_probabilities():
    with pytest.raises(ValueError, match="softmax"):
        fd.inception_score(torch.randn(20, 5), splits=2)
    with pytest.raises(ValueError, match="splits"):
        fd.inception_score(torch.full((4, 2), 0.5), splits=5)


# --------------------------------------------------------------------------------------------- FID


def _features(n=600, d=16, seed=0):
    g = np.random.default_rng(seed)
    return g.normal(size=(n, d)) @ g.normal(size=(d, d)) + g.normal(size=d)


def test_feature_stats_float64_unbiased():
    f = _features()
    mu, sigma = fd.feature_stats(torch.from_numpy(f).float())
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    assert sigma.shape == (16, 16)
    np.testing.assert_allclose(mu, f.mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(sigma, np.cov(f.T, ddof=1), rtol=1e-5, atol=1e-5)


def test_fid_of_a_set_with_itself_is_zero():
    mu, sigma = fd.feature_stats(_features())
    out = fd.frechet_distance(mu, sigma, mu, sigma)
    assert set(out) == {"fid"}
    assert abs(out["fid"]) < 1e-6 * np.trace(sigma)


def test_fid_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)  # = 4.25 + 4 + 1
    out = fd.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))["fid"]
    assert out == pytest.approx(expected, rel=1e-10)
    assert out == pytest.approx(9.25, rel=1e-10)


def test_fid_grows_monotonically_with_noise():
    f = _features(n=2000, d=8)
    noise = np.random.default_rng(1).normal(size=f.shape)
    mu0, s0 = fd.feature_stats(f)
    fids = [fd.frechet_distance(mu0, s0, *fd.feature_stats(f + scale * noise))["fid"]
            for scale in (0.0, 0.1, 0.3, 1.0, 3.0, 10.0)]
    assert fids[0] == pytest.approx(0.0, abs=1e-8)
    assert all(b > a for a, b in zip(fids, fids[1:], strict=False)), fids
    assert fids[-1] > 100 * fids[1]


def test_fid_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="sigma"):
        fd.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


# ----------------------------------------------------------------------------- images, extractor


def test_to_rgb_u8_rounds_and_repeats_grayscale():
    x = torch.tensor([0.0, 0.4 / 255, 0.6 / 255, 0.5, 1.0, 1.2, -0.1]).reshape(1, 1, 1, 7)
    out = fx.to_rgb_u8(x)
    assert out.dtype == torch.uint8 and out.shape == (1, 3, 1, 7)
    assert out[0, 0, 0].tolist() == [0, 0, 1, 128, 255, 255, 0]
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 0], out[:, 2])


class _ToyGenerator(torch.nn.Module):
    """Deterministic [0,1] images from (z, y) that do not depend on the batch: (N, 1, 32, 32)."""

    def __init__(self, z_dim=8, n_classes=10):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = torch.randn(z_dim, 32 * 32, generator=g) * 0.5
        self.emb = torch.rand(n_classes, 32 * 32, generator=g)

    def forward(self, z, y):
        return torch.sigmoid(z @ self.w + self.emb[y] * 2 - 1).reshape(-1, 1, 32, 32)


def test_generate_images_seeded_uniform_labels_and_batch_independent():
    gen = _ToyGenerator()
    a, ya = fd.generate_images(gen, 300, n_classes=10, z_dim=8, seed=3, batch_size=64)
    b, yb = fd.generate_images(gen, 300, n_classes=10, z_dim=8, seed=3, batch_size=7)
    c, yc = fd.generate_images(gen, 300, n_classes=10, z_dim=8, seed=4, batch_size=64)
    assert a.dtype == torch.uint8 and a.shape == (300, 3, 32, 32)
    assert torch.equal(ya, yb) and torch.equal(a, b)
    assert not torch.equal(ya, yc) and not torch.equal(a, c)
    counts = torch.bincount(ya, minlength=10)
    assert counts.min() > 10 and counts.max() < 55  # uniform over the 10 classes (30 expected)


class _BatchMeanGenerator(torch.nn.Module):
    """Images that depend on their batch (as with batch-statistics BN): each image's value is the mean of
    its batch's z[:, 0] plus its own z[:, 0] / 10, squashed to [0,1]; ``calls`` records batch sizes."""

    def __init__(self):
        super().__init__()
        self.calls: list[int] = []

    def forward(self, z, y):
        self.calls.append(z.shape[0])
        v = torch.sigmoid(z[:, 0].mean() * 4 + z[:, 0] / 10)
        return v.reshape(-1, 1, 1, 1).expand(-1, 1, 4, 4)


def test_generate_images_full_batches_puts_every_image_in_a_full_batch():
    gen = _BatchMeanGenerator()
    full, labels = fd.generate_images(gen, 10, n_classes=3, z_dim=2, seed=5, batch_size=4, full_batches=True)
    assert gen.calls == [4, 4, 4] and full.shape == (10, 3, 4, 4)
    # the same latents as without full batches, and the same images for the first two (full) chunks
    short, labels2 = fd.generate_images(gen, 10, n_classes=3, z_dim=2, seed=5, batch_size=4)
    assert gen.calls[3:] == [4, 4, 2] and torch.equal(labels, labels2)
    assert torch.equal(full[:8], short[:8]) and not torch.equal(full[8:], short[8:])
    # the last two images were generated in the batch [z8, z9, z0, z1]
    g = torch.Generator().manual_seed(5)
    torch.randint(3, (10,), generator=g)
    z = torch.randn(10, 2, generator=g)
    expected = fx.to_rgb_u8(gen(z[[8, 9, 0, 1]], None)[:2])
    assert torch.equal(full[8:], expected)


class _BrightnessJudge(torch.nn.Module):
    """A stand-in reference CNN: ``(features, logits)`` whose argmax is round(mean pixel / 20)."""

    def forward(self, x):
        level = (x.mean(dim=(1, 2, 3)) * 255 / 20).round().long().clamp(0, 9)
        return x.flatten(1), torch.nn.functional.one_hot(level, 10).float()


def test_class_accuracy_counts_samples_judged_as_their_class():
    labels = torch.arange(10).repeat(5)  # 50 images, image i has brightness 20 * labels[i]
    images = (labels * 20).to(torch.uint8)[:, None, None, None].expand(50, 3, 8, 8).contiguous()
    assert fd.class_accuracy(_BrightnessJudge(), images, labels, batch_size=7) == 1.0
    wrong = labels.clone()
    wrong[:20] = (wrong[:20] + 1) % 10  # 20 of 50 labelled with another class
    assert fd.class_accuracy(_BrightnessJudge(), images, wrong) == pytest.approx(30 / 50)
    assert fd.class_accuracy(_BrightnessJudge(), images[:, :1], labels) == 1.0  # one channel also accepted


@pytest.fixture(scope="module")
def random_cnn_weights(tmp_path_factory) -> Path:
    """An untrained :class:`ReferenceCNN` whose batch-norm statistics are calibrated on toy images (so that
    its features vary with the input), saved as classifier.pt."""
    torch.manual_seed(0)
    model = cnn.ReferenceCNN()
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.momentum = None  # cumulative average
    images, _ = fd.generate_images(_ToyGenerator(), 256, n_classes=10, z_dim=8, seed=99, batch_size=256)
    with torch.no_grad():
        model.train()(images[:, :1].float() / 255)
    path = tmp_path_factory.mktemp("cnn") / cnn.CLASSIFIER_FILE
    cnn.save_classifier(model.eval(), path)
    return path


def test_extractor_features_do_not_depend_on_batch_size(random_cnn_weights):
    from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

    fx.register_mnist_extractor()
    fe = create_feature_extractor("mnist-cnn", ["feat", "logits_unbiased"], cuda=False,
                                  feature_extractor_weights_path=str(random_cnn_weights), verbose=False)
    images, _ = fd.generate_images(_ToyGenerator(), 150, n_classes=10, z_dim=8, seed=0, batch_size=150)
    ds = fx.UInt8Images(images)
    small = get_featuresdict_from_dataset(ds, fe, batch_size=7, cuda=False, save_cpu_ram=True, verbose=False)
    large = get_featuresdict_from_dataset(ds, fe, batch_size=64, cuda=False, save_cpu_ram=True, verbose=False)
    assert small["feat"].shape == (150, 128) and small["logits_unbiased"].shape == (150, 10)
    for k in ("feat", "logits_unbiased"):
        torch.testing.assert_close(small[k], large[k], rtol=1e-5, atol=1e-5)
    assert small["feat"].std(0).mean() > 0.05  # the features are not constant


def _fake_reference(tmp: Path, weights: Path, images_u8: torch.Tensor) -> Path:
    """A reference dir for mnist5k made from ``images_u8`` with the given CNN weights (no training)."""
    import shutil

    import torch_fidelity

    ref_dir = tmp / "ref"
    (ref_dir / rf.CACHE_DIR).mkdir(parents=True)
    shutil.copyfile(weights, ref_dir / cnn.CLASSIFIER_FILE)
    name = rf.reference_cache_name("mnist5k", 32)
    fx.register_mnist_extractor()
    kwargs = fx.fidelity_kwargs("mnist-cnn", cuda=False, batch_size=50, splits=2, rng_seed=0,
                                weights_path=str(ref_dir / cnn.CLASSIFIER_FILE), cache_root=ref_dir / rf.CACHE_DIR,
                                reference_cache_name=name, verbose=False)
    kwargs["input1_cache_name"] = name
    ds = fx.UInt8Images(fx.to_rgb_u8(images_u8))
    torch_fidelity.calculate_metrics(input1=ds, input2=ds, **kwargs)
    ref = {"dataset": "mnist5k", "resolution": 32, "extractor": "mnist-cnn", "cache_dir": rf.CACHE_DIR,
           "cache_name": name, "cache_files": rf.reference_cache_files(name, "mnist-cnn")}
    (ref_dir / rf.REFERENCE_FILE).write_text(json.dumps(ref))
    return ref_dir


def test_fidelity_of_images_deterministic_and_zero_fid_on_reference(random_cnn_weights, tmp_path):
    real, _ = fd.generate_images(_ToyGenerator(), 240, n_classes=10, z_dim=8, seed=11, batch_size=240)
    ref_dir = _fake_reference(tmp_path, random_cnn_weights, real[:, :1])
    ref = rf.read_reference(ref_dir, "mnist5k", 32)
    fake, _ = fd.generate_images(_ToyGenerator(), 120, n_classes=10, z_dim=8, seed=12, batch_size=64)
    fake = 255 - fake  # another distribution than the reference's
    with fd._cache_root(ref_dir, ref, tmp_path / "work") as cache:
        kwargs = fx.fidelity_kwargs("mnist-cnn", cuda=False, batch_size=32, splits=3, rng_seed=5,
                                    weights_path=str(ref_dir / cnn.CLASSIFIER_FILE), cache_root=cache,
                                    reference_cache_name=ref["cache_name"], verbose=False)
        a = fd.fidelity_of_images(fake, kwargs, ref_dir)
        b = fd.fidelity_of_images(fake, {**kwargs, "batch_size": 50}, ref_dir)
        same = fd.fidelity_of_images(real, kwargs, ref_dir)
    assert set(a) == {"is_mean", "is_std", "fid"}
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-5, abs=1e-7)
    assert a["fid"] > 0.01
    assert abs(same["fid"]) < 1e-4 * a["fid"]  # the reference images themselves
    # the pure functions agree with torch-fidelity on the same features
    from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

    fe = create_feature_extractor("mnist-cnn", ["feat", "logits_unbiased"], cuda=False,
                                  feature_extractor_weights_path=str(ref_dir / cnn.CLASSIFIER_FILE), verbose=False)
    feats = get_featuresdict_from_dataset(fx.UInt8Images(fake), fe, 64, False, True, False)
    real_feats = get_featuresdict_from_dataset(fx.UInt8Images(real), fe, 64, False, True, False)
    ours = fd.frechet_distance(*fd.feature_stats(feats["feat"]), *fd.feature_stats(real_feats["feat"]))["fid"]
    assert ours == pytest.approx(a["fid"], rel=1e-4)
    is_ours = fd.inception_score_from_logits(feats["logits_unbiased"], splits=3, shuffle=True, seed=5)
    assert is_ours["is_mean"] == pytest.approx(a["is_mean"], rel=1e-6)
    # nothing was written into the reference directory, the temporary cache is gone
    assert sorted(p.name for p in (ref_dir / rf.CACHE_DIR).iterdir()) == sorted(ref["cache_files"])
    assert not list((tmp_path / "work").iterdir())


# --------------------------------------------------------------------------------- kwargs, weights


def test_kwargs_for_inception_use_standard_layers_and_known_options(tmp_path):
    from torch_fidelity.defaults import DEFAULTS

    kw = fx.fidelity_kwargs("inception-v3-compat", cuda=True, batch_size=250, splits=10, rng_seed=3,
                            weights_path="/w/pt_inception.pth", cache_root=tmp_path, reference_cache_name="ref",
                            verbose=False)
    assert set(kw) <= set(DEFAULTS), set(kw) - set(DEFAULTS)  # every key is a torch-fidelity option
    assert kw["feature_extractor"] == "inception-v3-compat"
    assert kw["feature_layer_isc"] == "logits_unbiased" and kw["feature_layer_fid"] == "2048"
    assert kw["feature_extractor_weights_path"] == "/w/pt_inception.pth"
    assert kw["isc"] is True and kw["fid"] is True and not kw.get("kid") and not kw.get("prc")
    assert kw["cuda"] is True and kw["batch_size"] == 250 and kw["isc_splits"] == 10 and kw["rng_seed"] == 3
    assert kw["cache_root"] == str(tmp_path) and kw["input2_cache_name"] == "ref" and kw["input1_cache_name"] is None
    assert kw["save_cpu_ram"] is True and kw["samples_shuffle"] is True
    none = fx.fidelity_kwargs("inception-v3-compat", cuda=False, batch_size=1, splits=1, rng_seed=0, weights_path=None,
                              cache_root=tmp_path, reference_cache_name="ref", verbose=True)
    assert none["feature_extractor_weights_path"] is None and none["cuda"] is False  # download on first use
    mn = fx.fidelity_kwargs("mnist-cnn", cuda=False, batch_size=1, splits=1, rng_seed=0, weights_path="c.pt",
                            cache_root=tmp_path, reference_cache_name="ref", verbose=False)
    assert (mn["feature_layer_isc"], mn["feature_layer_fid"]) == ("logits_unbiased", "feat")
    with pytest.raises(ValueError, match="weights_path"):
        fx.fidelity_kwargs("mnist-cnn", cuda=False, batch_size=1, splits=1, rng_seed=0, weights_path=None,
                           cache_root=tmp_path, reference_cache_name="ref", verbose=False)


def test_torch_fidelity_accepts_weights_path_kwarg():
    """The Inception extractor of the installed torch-fidelity takes ``feature_extractor_weights_path``."""
    import inspect

    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    assert "feature_extractor_weights_path" in inspect.signature(FeatureExtractorInceptionV3.__init__).parameters


def test_missing_inception_weights_is_a_clear_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"eval\.fidelity\.inception_weights") as exc:
        fx.inception_weights({"inception_weights": str(tmp_path / "nope.pth")})
    assert "nope.pth" in str(exc.value)
    (tmp_path / "w.pth").write_bytes(b"x")
    assert fx.inception_weights({"inception_weights": str(tmp_path / "w.pth")})[0] == str(tmp_path / "w.pth")
    assert fx.inception_weights({"inception_weights": None})[0] is None


def test_train_reference_cli_reports_missing_inception_weights(tmp_path, caplog):
    import robgan.cli

    args = ["train-reference", "--config", str(REPO / "config" / "cifar10.yaml"), "--out", str(tmp_path / "ref"),
            "--set", f"eval.fidelity.inception_weights={tmp_path / 'missing.pth'}", "--device", "cpu"]
    with caplog.at_level(logging.ERROR):
        assert robgan.cli.main(args) == 2
    assert "eval.fidelity.inception_weights" in caplog.text
    assert not (tmp_path / "ref" / rf.REFERENCE_FILE).exists()


def test_config_defaults_of_fidelity_section():
    cfg = load_config(CONFIG)
    f = cfg["eval"]["fidelity"]
    assert f["n_samples"] >= 10 and f["splits"] >= 1 and isinstance(f["snapshots"], bool)
    assert 0 <= f["reference_classifier"]["min_test_accuracy"] <= 1


# ------------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def tiny_gan_run(tmp_path_factory) -> Path:
    import robgan.cli

    out = tmp_path_factory.mktemp("runs") / "robgan" / "seed0"
    args = ["train", "--config", str(CONFIG), "--method", "robgan", "--seed", "0", "--out", str(out)]
    for item in TINY_GAN:
        args += ["--set", item]
    assert robgan.cli.main(args) == 0
    return out


@pytest.fixture(scope="module")
def tiny_reference(tmp_path_factory) -> Path:
    import robgan.cli

    out = tmp_path_factory.mktemp("reference")
    args = ["train-reference", "--config", str(CONFIG), "--out", str(out), "--seed", "0"]
    for item in TINY_REF:
        args += ["--set", item]
    assert robgan.cli.main(args) == 0
    return out


def _eval(run: Path, ref: Path, out: Path, extra=()) -> int:
    import robgan.cli

    args = ["eval", "fidelity", "--run", str(run), "--reference", str(ref), "--out", str(out), "--device", "cpu"]
    for item in [*TINY_FID, *extra]:
        args += ["--set", item]
    return robgan.cli.main(args)


@pytest.mark.slow
def test_eval_fidelity_end_to_end(tiny_gan_run, tiny_reference, tmp_path):
    from robgan.api import snapshots
    from robgan.records import read_record

    out = tmp_path / "fid" / "robgan_seed0.csv"
    assert _eval(tiny_gan_run, tiny_reference, out) == 0
    record = read_record(out.with_suffix(".json"))  # validates against the schema
    iters = sorted({int(p.stem.split("_")[1]) for p in snapshots(tiny_gan_run)} | {4})
    assert iters == [2, 4]
    assert [r["iteration"] for r in record["results"]] == iters  # one row per snapshot + final (deduplicated)
    assert record["kind"] == "fidelity" and record["checkpoint"]["file"] == "snapshots"
    assert record["checkpoint"]["iteration"] == 4
    for r in record["results"]:
        assert r["extractor"] == "mnist-cnn" and r["n_samples"] == 200
        assert 1.0 <= r["is_mean"] <= 10.0 and r["is_std"] >= 0 and r["fid"] > 0
        assert 0.0 <= r["class_accuracy"] <= 1.0
        for key in ("precision", "recall", "intra_precision", "intra_recall"):
            assert 0.0 <= r[key] <= 1.0
        assert r["intra_fid"] > 0 and r["kid_std"] >= 0 and len(r["intra_fid_per_class"]) == 10
        assert r["intra_recall"] == pytest.approx(np.mean(r["intra_recall_per_class"]))
        assert 4 <= r["min_class_samples"] <= 50
    s = record["settings"]
    assert s["intra_class"]["per_class_samples"] == fd.INTRA_CLASS_SAMPLES
    assert s["kid"]["subset_size"] == 200 and s["precision_recall"]["neighborhood"] == 3
    assert "reference CNN" in s["class_accuracy"]
    assert s["metric_label"] == "IS/FID (MNIST-CNN features)" and "Inception" not in s["metric_label"]
    assert s["extractor"] == "mnist-cnn" and s["feature_layers"] == {"isc": "logits_unbiased", "fid": "feat"}
    assert s["n_samples"] == 200 and s["splits"] == 4 and s["sample_seed"] == 0
    assert s["g_sample_bn"] == "batch" and s["generation_batch_size"] == 16  # the run's train.batch_size
    assert "statistics of each generated batch" in s["g_sample_bn_detail"]
    assert s["reference_dir"] == str(tiny_reference)
    assert record["flags"]["finite"]["ok"]
    train_seconds = [r["train_seconds"] for r in record["results"]]
    assert train_seconds == sorted(train_seconds) and train_seconds[0] > 0
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["iteration"]) for r in rows] == iters
    assert [r["checkpoint"] for r in rows] == ["snapshots/iter_0000002.pt", "model.pt"]
    for row, rec in zip(rows, record["results"], strict=True):
        assert row["method"] == "robgan" and row["label"] == "robgan" and row["seed"] == "0"
        assert row["extractor"] == "mnist-cnn" and row["metric_label"] == "IS/FID (MNIST-CNN features)"
        assert float(row["fid"]) == pytest.approx(rec["fid"], rel=1e-12)
        assert float(row["is_mean"]) == pytest.approx(rec["is_mean"], rel=1e-12)
        assert float(row["class_accuracy"]) == pytest.approx(rec["class_accuracy"], rel=1e-12)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".fidelity_cache")]

    # the class accuracy read from the extractor's cached logits equals a separate pass of the judge CNN
    from robgan.api import load_generator
    from robgan.evaluation.reference_cnn import load_classifier

    judge = load_classifier(tiny_reference / "classifier.pt")
    g = load_generator(tiny_gan_run, "cpu", g_sample_bn="batch")
    images, labels = fd.generate_images(g, 200, n_classes=10, z_dim=g.z_dim, seed=0, batch_size=16,
                                        full_batches=True)
    assert record["results"][-1]["class_accuracy"] == fd.class_accuracy(judge, images, labels)

    # deterministic given the seed; only the final model without snapshots; another seed differs
    out2 = tmp_path / "again.csv"
    assert _eval(tiny_gan_run, tiny_reference, out2, ["eval.fidelity.snapshots=false"]) == 0
    final = read_record(out2.with_suffix(".json"))["results"]
    assert len(final) == 1 and final[0] == record["results"][-1]
    out3 = tmp_path / "seed.csv"
    import robgan.cli

    args = ["eval", "fidelity", "--run", str(tiny_gan_run), "--reference", str(tiny_reference), "--out", str(out3),
            "--device", "cpu", "--sample-seed", "1"]
    for item in [*TINY_FID, "eval.fidelity.snapshots=false"]:
        args += ["--set", item]
    assert robgan.cli.main(args) == 0
    assert read_record(out3.with_suffix(".json"))["results"][0]["fid"] != final[0]["fid"]

    # batch statistics: eval.batch_size stays a speed knob; running statistics give other samples
    out4 = tmp_path / "batch50.csv"
    assert _eval(tiny_gan_run, tiny_reference, out4, ["eval.fidelity.snapshots=false", "eval.batch_size=50"]) == 0
    other = read_record(out4.with_suffix(".json"))["results"][0]
    assert other["class_accuracy"] == final[0]["class_accuracy"]  # the same images (features: float noise)
    for key in ("is_mean", "fid"):
        assert other[key] == pytest.approx(final[0][key], rel=1e-6)
    out5 = tmp_path / "running.csv"
    assert _eval(tiny_gan_run, tiny_reference, out5,
                 ["eval.fidelity.snapshots=false", "model.g_sample_bn=running"]) == 0
    running = read_record(out5.with_suffix(".json"))
    assert running["settings"]["g_sample_bn"] == "running" and running["settings"]["generation_batch_size"] == 64
    assert running["results"][0]["fid"] != final[0]["fid"]


def _config_only_run(tmp_path: Path, method: str) -> Path:
    """A run directory holding only its config.yaml (enough for the checks made before any model loads)."""
    from robgan.config import dump_config

    cfg = load_config(CONFIG)
    cfg["run"] = {"method": method, "label": method, "seed": 0, "init_from": None}
    run = tmp_path / "runs" / method
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(dump_config(cfg))
    return run


def test_eval_fidelity_refuses_bad_inputs(tmp_path, caplog):
    run = _config_only_run(tmp_path, "robgan")
    # a reference directory that does not exist: clear error, exit 1, nothing written
    out = tmp_path / "x.csv"
    with caplog.at_level(logging.ERROR):
        assert _eval(run, tmp_path / "no_ref", out) == 1
    assert "train-reference" in caplog.text
    assert not out.exists() and not out.with_suffix(".json").exists()
    # --out must be a .csv file
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert _eval(run, tmp_path / "no_ref", tmp_path / "x.json") == 2
    assert ".csv" in caplog.text
    # a run without a generator
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert _eval(_config_only_run(tmp_path, "advtrain"), tmp_path / "no_ref", out) == 2
    assert "no generator" in caplog.text



# ----------------------------------------------------------------- RGB path (Inception) on the CPU


@pytest.fixture(scope="module")
def random_inception_weights(tmp_path_factory) -> Path:
    """A state dict of torch-fidelity's Inception-v3 with *random* weights (the real ones need internet):
    exercises the RGB code path (weights-path kwarg, layers, caches), not the values."""
    import torch_fidelity.feature_extractor_inceptionv3 as inc

    mp = pytest.MonkeyPatch()
    mp.setattr(inc, "load_state_dict_from_url", lambda *a, **k: None)
    mp.setattr(inc.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None)
    try:
        torch.manual_seed(0)
        model = inc.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        mp.undo()
    path = tmp_path_factory.mktemp("inception") / "pt_inception-random.pth"
    torch.save(model.state_dict(), path)
    return path


def _fake_cifar_run(tmp: Path) -> Path:
    """A finished cifar10 'robgan' run directory holding an untrained tiny generator."""
    from robgan.config import dump_config
    from robgan.data import dataset_info
    from robgan.models import build_generator

    cfg = load_config(REPO / "config" / "cifar10.yaml", ["model.ngf=4", "model.z_dim=8"])
    cfg["run"] = {"method": "robgan", "label": "robgan", "seed": 0, "init_from": None}
    run = tmp / "runs" / "robgan" / "seed0"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(dump_config(cfg))
    torch.manual_seed(0)
    g = build_generator(cfg["model"], dataset_info(cfg["data"]))
    torch.save({"iteration": 3, "train_seconds": 1.5, "generator": g.state_dict()}, run / "model.pt")
    return run


@pytest.mark.slow
def test_rgb_path_with_local_inception_weights(random_inception_weights, tmp_path, monkeypatch):
    import robgan.cli
    import robgan.data
    from robgan.records import read_record

    g = torch.Generator().manual_seed(0)
    train = (torch.rand(12, 3, 32, 32, generator=g) * 255).to(torch.uint8)  # stands in for CIFAR-10 (offline)
    monkeypatch.setattr(robgan.data, "load_split", lambda data_cfg, split: (train.clone(), torch.zeros(12).long()))
    cifar = str(REPO / "config" / "cifar10.yaml")
    sets = []
    for item in ["device=cpu", "threads=2", f"eval.fidelity.inception_weights={random_inception_weights}",
                 "eval.fidelity.n_samples=10", "eval.fidelity.splits=2", "eval.batch_size=10"]:
        sets += ["--set", item]
    ref_dir = tmp_path / "reference"
    assert robgan.cli.main(["train-reference", "--config", cifar, "--out", str(ref_dir), *sets]) == 0
    ref = rf.read_reference(ref_dir, "cifar10", 32)
    assert ref["extractor"] == "inception-v3-compat" and ref["feature_layers"] == {"isc": "logits_unbiased",
                                                                                    "fid": "2048"}
    assert ref["weights_path"] == str(random_inception_weights.resolve()) and ref["classifier"] is None
    assert ref["test_accuracy"] is None and (ref_dir / rf.METRICS_FILE).is_file()
    assert not (ref_dir / cnn.CLASSIFIER_FILE).exists()

    out = tmp_path / "fid" / "robgan_seed0.csv"
    run = _fake_cifar_run(tmp_path)
    assert robgan.cli.main(["eval", "fidelity", "--run", str(run), "--reference", str(ref_dir), "--out", str(out),
                            "--config", cifar, *sets]) == 0
    record = read_record(out.with_suffix(".json"))
    (row,) = record["results"]
    assert row["extractor"] == "inception-v3-compat" and row["n_samples"] == 10 and row["iteration"] == 3
    assert all(np.isfinite([row["is_mean"], row["is_std"], row["fid"]]))
    s = record["settings"]
    assert s["metric_label"] == "IS/FID (Inception-v3, torch-fidelity)"
    assert s["feature_layers"] == {"isc": "logits_unbiased", "fid": "2048"}
    assert s["inception_weights"] == str(random_inception_weights)
    assert s["weights_path"] == str(random_inception_weights.resolve())
    assert record["flags"]["same_inception_weights"]["ok"]
    with open(out) as fh:
        (csv_row,) = list(csv.DictReader(fh))
    assert csv_row["metric_label"] == "IS/FID (Inception-v3, torch-fidelity)"


def test_register_adds_fidelity_and_train_reference_and_parses():
    import argparse

    import robgan.cli
    import robgan.cli_args
    from robgan.evaluation import fidelity_cli

    sub = argparse.ArgumentParser().add_subparsers(dest="command")
    fidelity_cli.register(sub)
    assert set(sub.choices) == {"eval", "train-reference"}
    assert set(robgan.cli_args.get_eval_subparsers(sub).choices) == {"fidelity"}
    args = robgan.cli.build_parser().parse_args(["eval", "fidelity", "--run", "r", "--reference", "ref", "--out",
                                                 "f.csv", "--sample-seed", "3"])
    assert (args.eval_command, str(args.reference), args.sample_seed, args.config) == ("fidelity", "ref", 3, None)
    args = robgan.cli.build_parser().parse_args(["train-reference", "--config", "c.yaml", "--out", "d"])
    assert args.seed == 0 and args.overrides == []


# ------------------------------------------------------------------------ a doctored collapsed generator


def _doctored_run(run_dir, tmp_path):
    """A copy of a finished robgan run whose generator ignores its noise: the weights from z are zero, so
    every sample of a class is the same image (its batch norm sees identical inputs)."""
    import shutil

    out = tmp_path / "collapsed" / "robgan" / "seed0"
    shutil.copytree(run_dir, out, ignore=shutil.ignore_patterns("snapshots"))
    (out / "model.pt").chmod(0o644)
    state = torch.load(out / "model.pt", map_location="cpu", weights_only=False)
    state["generator"]["l1.weight"].zero_()
    torch.save(state, out / "model.pt")
    return out


@pytest.mark.slow
def test_a_generator_that_ignores_its_noise_fails_the_collapse_gate(tiny_gan_run, tiny_reference, tmp_path):
    from robgan.evaluation import acceptance
    from robgan.records import read_record

    doctored = _doctored_run(tiny_gan_run, tmp_path)
    out = tmp_path / "fid" / "robgan_seed0.csv"
    assert _eval(doctored, tiny_reference, out, ["eval.fidelity.snapshots=false"]) == 0
    row = read_record(out.with_suffix(".json"))["results"][-1]
    assert row["intra_recall"] == 0.0 and row["recall"] == 0.0
    assert acceptance.collapse_check(row)[0] == acceptance.FAILED
    assert row["intra_fid"] > 0 and row["class_accuracy"] is not None
    # the doctoring is what the check sees: within a batch, each class's samples are one image (batch
    # statistics make them depend on the batch's labels), the original's vary
    from robgan.api import load_generator

    for run, alike in ((doctored, True), (tiny_gan_run, False)):
        images, labels = fd.generate_images(load_generator(run, "cpu", g_sample_bn="batch"), 64, n_classes=10,
                                            z_dim=16, seed=0, batch_size=64)
        c = int(labels[0])
        same = images[labels == c].float().std(dim=0).max().item() == 0.0
        assert same == alike and int((labels == c).sum()) > 1


# ------------------------------------------------------- a weight-averaged generator and its trained weights


@pytest.fixture(scope="module")
def tiny_ema_run(tmp_path_factory) -> Path:
    """``tiny_gan_run``'s training with ``train.g_ema`` 0.9: the same trained weights (``generator_raw``,
    tests/test_training.py pins that the average leaves training unchanged), their average as generator."""
    import robgan.cli

    out = tmp_path_factory.mktemp("runs") / "robgan" / "seed0"
    args = ["train", "--config", str(CONFIG), "--method", "robgan", "--seed", "0", "--out", str(out)]
    for item in [*TINY_GAN, "train.g_ema=0.9"]:
        args += ["--set", item]
    assert robgan.cli.main(args) == 0
    return out


def _without_time(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "train_seconds"}  # each run's own wall-clock


@pytest.mark.slow
def test_trained_weights_of_an_average_are_measured_beside_it_and_kept_out_of_results(
        tiny_ema_run, tiny_gan_run, tiny_reference, tmp_path):
    from robgan.api import RunError, load_generator
    from robgan.evaluation.reference_cnn import load_classifier
    from robgan.records import read_record
    from robgan.report.aggregate import LoadedRecord, build_frames, fidelity_point
    from robgan.report.generation_table import TRAINED_POINT, generation_table

    out = tmp_path / "ema" / "robgan_seed0.csv"
    assert _eval(tiny_ema_run, tiny_reference, out) == 0
    record = read_record(out.with_suffix(".json"))
    # results: the average at every checkpoint, as before; results_raw: the final model's trained weights
    assert [r["iteration"] for r in record["results"]] == [2, 4]
    assert [r["iteration"] for r in record["results_raw"]] == [4]
    raw, avg = record["results_raw"][0], record["results"][-1]
    assert raw["train_seconds"] == avg["train_seconds"] and raw["n_samples"] == avg["n_samples"] == 200
    assert set(raw) == set(avg) and raw["fid"] != avg["fid"] and raw["is_mean"] != avg["is_mean"]
    assert len(raw["intra_recall_per_class"]) == 10 and 0.0 <= raw["intra_recall"] <= 1.0
    assert record["settings"]["generator_weights"] == "average"
    assert "train.g_ema 0.9" in record["settings"]["generator_weights_detail"]

    # the trained weights' row equals a separate evaluation of the same weights: the run trained without
    # the average (its generator is generator_raw here), measured on the same samples
    plain_out = tmp_path / "plain" / "robgan_seed0.csv"
    assert _eval(tiny_gan_run, tiny_reference, plain_out, ["eval.fidelity.snapshots=false"]) == 0
    plain = read_record(plain_out.with_suffix(".json"))
    assert "results_raw" not in plain and plain["settings"]["generator_weights"] == "trained"
    assert _without_time(plain["results"][0]) == _without_time(raw)
    # ... and its class accuracy equals a pass of the judge CNN over load_generator(raw=True)'s samples
    g = load_generator(tiny_ema_run, "cpu", g_sample_bn="batch", raw=True)
    images, labels = fd.generate_images(g, 200, n_classes=10, z_dim=g.z_dim, seed=0, batch_size=16,
                                        full_batches=True)
    assert raw["class_accuracy"] == fd.class_accuracy(load_classifier(tiny_reference / "classifier.pt"), images,
                                                      labels)
    with pytest.raises(RunError, match="generator_raw"):
        load_generator(tiny_gan_run, raw=True)

    # CSV: the average's rows, then the trained weights' row, told apart by the weights column
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["checkpoint"], r["weights"]) for r in rows] == [
        ("snapshots/iter_0000002.pt", "average"), ("model.pt", "average"), ("model.pt", "trained")]
    assert float(rows[-1]["fid"]) == pytest.approx(raw["fid"], rel=1e-12)
    with open(plain_out) as fh:
        assert [r["weights"] for r in csv.DictReader(fh)] == ["trained"]

    # the report: curves and "final" read the average only; the table shows the trained weights beside it
    frames = build_frames([LoadedRecord(out.with_suffix(".json"), record)])
    assert frames.fidelity["iteration"].tolist() == [2, 4] and frames.fidelity_raw["iteration"].tolist() == [4]
    final = fidelity_point(frames.fidelity, "robgan", "mnist-cnn", "final")
    assert final["fid"].tolist() == [avg["fid"]]
    t = generation_table(frames)
    points = [r[2] for r in t.rows]
    assert points == ["final", TRAINED_POINT, "best over training", "equal iterations", "equal wall-clock"]
    assert t.rows[0][5] == f"{avg['fid']:.1f} (n=1)" and t.rows[1][5] == f"{raw['fid']:.1f} (n=1)"
    assert t.rows[1][4] == f"{raw['is_mean']:.2f} (split std {raw['is_std']:.2f}; n=1)"
    assert t.rows[1][-1] == f"{raw['intra_recall']:.2f} (n=1)"
    tidy = t.tidy[(t.tidy["point"] == TRAINED_POINT)].set_index("metric")
    assert tidy.loc["FID", "mean"] == pytest.approx(raw["fid"]) and tidy.loc["IS", "n"] == 1
    assert tidy.loc["class_accuracy", "mean"] == pytest.approx(raw["class_accuracy"])
