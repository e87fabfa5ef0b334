"""The mnist5k feature CNN, its torch-fidelity extractor and ``robgan train-reference``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from robgan.config import load_config
from robgan.evaluation import feature_extractor as fx
from robgan.evaluation import reference as rf
from robgan.evaluation import reference_cnn as cnn
from robgan.evaluation import reference_training as rt

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "config.yaml"
#: Epochs that reliably give >= 98.5 % (seeds 0-3: 0.985-0.991); what eval.fidelity.reference_classifier.epochs
#: should be in the experiment configs (4 epochs gave 0.977-0.989).
RECOMMENDED_EPOCHS = 10


def _cfg(*overrides: str) -> dict:
    return load_config(CONFIG, ["threads=1", "device=cpu", *overrides])


def test_cnn_shapes_range_and_batch_independence():
    torch.manual_seed(0)
    model = cnn.ReferenceCNN().eval()
    x = torch.rand(37, 1, 32, 32)
    with torch.no_grad():
        feat, logits = model(x)
        feat_small = torch.cat([model(x[i:i + 5])[0] for i in range(0, 37, 5)])
    assert feat.shape == (37, 128) and logits.shape == (37, 10)
    assert (feat >= 0).all()  # post-ReLU features
    torch.testing.assert_close(feat, feat_small, rtol=1e-5, atol=1e-6)
    assert model.head.bias is None  # logits == torch-fidelity's "logits_unbiased"


def test_save_load_roundtrip_and_bad_files(tmp_path):
    torch.manual_seed(1)
    model = cnn.ReferenceCNN(width=8, feat_dim=32).eval()
    cnn.save_classifier(model, tmp_path / "c.pt", {"test_accuracy": 0.5})
    loaded = cnn.load_classifier(tmp_path / "c.pt")
    x = torch.rand(4, 1, 32, 32)
    with torch.no_grad():
        for a, b in zip(model(x), loaded(x), strict=True):
            assert torch.equal(a, b)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    with pytest.raises(cnn.ReferenceDirError, match="train-reference"):
        cnn.load_classifier(tmp_path / "missing.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(cnn.ReferenceDirError, match="not a reference classifier"):
        cnn.load_classifier(tmp_path / "other.pt")


def test_extractor_interface(tmp_path):
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
    from torch_fidelity.utils import create_feature_extractor

    cls = fx.register_mnist_extractor()
    assert fx.register_mnist_extractor() is cls  # idempotent
    assert FEATURE_EXTRACTORS_REGISTRY["mnist-cnn"] is cls and issubclass(cls, FeatureExtractorBase)
    assert set(cls.get_provided_features_list()) == {"feat", "logits_unbiased", "logits"}
    assert cls.get_default_feature_layer_for_metric("isc") == "logits_unbiased"
    assert cls.get_default_feature_layer_for_metric("fid") == "feat"

    torch.manual_seed(2)
    cnn.save_classifier(cnn.ReferenceCNN().eval(), tmp_path / "c.pt")
    fe = create_feature_extractor("mnist-cnn", ["logits_unbiased", "feat", "logits"], cuda=False,
                                  feature_extractor_weights_path=str(tmp_path / "c.pt"), verbose=False)
    gray = (torch.rand(6, 1, 32, 32) * 255).to(torch.uint8)
    out = fe.convert_features_tuple_to_dict(fe(gray.repeat(1, 3, 1, 1)))
    assert out["logits_unbiased"].shape == (6, 10) and out["feat"].shape == (6, 128)
    assert torch.equal(out["logits"], out["logits_unbiased"])
    with torch.no_grad():
        feat, logits = cnn.load_classifier(tmp_path / "c.pt")(gray.float() / 255)
    torch.testing.assert_close(out["feat"], feat)  # RGB input = the grayscale digit, scaled to [0,1]
    with pytest.raises(ValueError, match="uint8"):
        fe(gray.float())
    with pytest.raises(ValueError, match="feature_extractor_weights_path"):
        create_feature_extractor("mnist-cnn", ["feat"], cuda=False, verbose=False)


def test_reference_cache_names_match_torch_fidelity_layout():
    files = rf.reference_cache_files("robgan-mnist5k-32px-train", "mnist-cnn")
    assert files == ["robgan-mnist5k-32px-train-mnist-cnn-features-feat.pt",
                     "robgan-mnist5k-32px-train-mnist-cnn-features-logits_unbiased.pt",
                     "robgan-mnist5k-32px-train-mnist-cnn-stat-fid-feat.pt"]
    inc = rf.reference_cache_files("r", "inception-v3-compat")
    assert "r-inception-v3-compat-stat-fid-2048.pt" in inc and len(inc) == 3
    assert fx.extractor_for("mnist5k") == "mnist-cnn"
    assert fx.extractor_for("cifar10") == fx.extractor_for("imagenet143") == "inception-v3-compat"
    assert "MNIST-CNN" in fx.METRIC_LABELS["mnist-cnn"] and "Inception" not in fx.METRIC_LABELS["mnist-cnn"]


@pytest.fixture
def small_mnist(monkeypatch):
    """mnist5k with its first 800 training digits only (the test digits unchanged): fast training."""
    import robgan.data

    full = robgan.data.load_split

    def load_split(data_cfg, split):
        x, y = full(data_cfg, split)
        return (x[:800], y[:800]) if split == "train" else (x, y)

    monkeypatch.setattr(robgan.data, "load_split", load_split)


def test_training_is_deterministic_and_learns(small_mnist):
    cfg = _cfg("eval.fidelity.reference_classifier.epochs=2")
    rc = cfg["eval"]["fidelity"]["reference_classifier"]
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    model, metrics = rt.train_reference_classifier(cfg["data"], rc, seed=0, progress=False)
    assert torch.equal(torch.rand(3), expected)  # the caller's global RNG state is untouched
    again, metrics2 = rt.train_reference_classifier(cfg["data"], rc, seed=0, progress=False)
    assert metrics["epochs"] == 2 and metrics["seed"] == 0 and metrics["n_train"] == 800
    assert metrics["n_test"] == 1000
    assert 0.15 < metrics["test_accuracy"] <= 1.0  # above chance (0.1) after 14 steps (learning: the slow test)
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert metrics2["test_accuracy"] == metrics["test_accuracy"]


def test_below_min_accuracy_fails_clearly_and_writes_nothing(tmp_path, monkeypatch):
    cfg = _cfg("eval.fidelity.reference_classifier.min_test_accuracy=0.98")
    monkeypatch.setattr(rf, "train_reference_classifier",
                        lambda *a, **k: (cnn.ReferenceCNN().eval(), {"test_accuracy": 0.97}))
    with pytest.raises(RuntimeError, match=r"0\.9700 < required 0\.9800.*min_test_accuracy"):
        rf.build_reference(cfg, tmp_path / "ref", seed=0, verbose=False)
    assert not (tmp_path / "ref").exists()


def test_read_reference_checks(tmp_path):
    with pytest.raises(cnn.ReferenceDirError, match="train-reference"):
        rf.read_reference(tmp_path, "mnist5k", 32)
    ref = {"dataset": "mnist5k", "resolution": 32, "extractor": "mnist-cnn", "cache_dir": rf.CACHE_DIR,
           "cache_name": "n", "cache_files": rf.reference_cache_files("n", "mnist-cnn")}
    (tmp_path / rf.REFERENCE_FILE).write_text(json.dumps(ref))
    with pytest.raises(cnn.ReferenceDirError, match="incomplete"):
        rf.read_reference(tmp_path, "mnist5k", 32)
    with pytest.raises(cnn.ReferenceDirError, match="cifar10"):
        rf.read_reference(tmp_path, "cifar10", 32)


@pytest.mark.slow
def test_train_reference_cli_reaches_required_accuracy(tmp_path):
    """With RECOMMENDED_EPOCHS the CNN reaches >= 98% test accuracy on the 1,000 test digits (the default
    min_test_accuracy); it is written with its metrics and the training split's reference statistics."""
    import robgan.cli

    out = tmp_path / "reference"
    assert robgan.cli.main(["train-reference", "--config", str(CONFIG), "--out", str(out), "--seed", "0",
                            "--set", "threads=2", "--set", "device=cpu",
                            "--set", f"eval.fidelity.reference_classifier.epochs={RECOMMENDED_EPOCHS}"]) == 0
    metrics = json.loads((out / rf.METRICS_FILE).read_text())
    assert metrics["test_accuracy"] >= 0.98 == metrics["classifier"]["min_test_accuracy"]
    assert metrics["train_seconds"] > 0 and (out / cnn.CLASSIFIER_FILE).is_file()
    assert metrics["seed"] == 0 and metrics["epochs"] == RECOMMENDED_EPOCHS
    ref = rf.read_reference(out, "mnist5k", 32)
    assert ref["extractor"] == "mnist-cnn" and ref["n_images"] == 4000
    assert ref["metric_label"] == "IS/FID (MNIST-CNN features)"
    # real digits through a >= 98 %-accurate 10-class CNN: IS close to (but below) 10
    assert 8.0 < ref["real_is_mean"] < 10.0
    model = cnn.load_classifier(out / cnn.CLASSIFIER_FILE)
    from robgan.data import load_split

    x, y = load_split({"name": "mnist5k"}, "test")
    assert cnn.accuracy(model, x, y) == pytest.approx(metrics["test_accuracy"], abs=1e-9)
