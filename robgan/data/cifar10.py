"""``cifar10``: CIFAR-10 through torchvision's download, decoded straight from the python pickles.

Why not ``torchvision.datasets.CIFAR10(...).data``: its constructor md5-checks every batch file and
refuses anything else, so the loading code could only be tested on the real 160 MB download. Here
torchvision is used for what it does well (download + archive md5 check, when ``data.download`` is
true) and :func:`read_cifar10_folder` decodes the extracted ``cifar-10-batches-py`` folder with the same
format and the same file order as torchvision. The per-file md5s are still compared with torchvision's
list; a mismatch (a modified or synthetic folder) is reported with a ``UserWarning``, not an error, so
the same code path serves the real data and the test suite's tiny fake folder.

``data.root`` may instead name an ``.npz`` file with ``x_train``, ``y_train``, ``x_test``, ``y_test``
(images uint8 ``(N, 32, 32, 3)`` NHWC, labels 0-9): a local subset such as the 10,000 + 2,000 image
JPEG re-encoded CIFAR-10 subset used for benchmarks and GPU checks (:func:`read_cifar10_npz`).
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import torch

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST_FILES = ("test_batch",)
_META_FILE = "batches.meta"


def _official_md5() -> dict[str, str]:
    from torchvision.datasets import CIFAR10

    md5 = {name: digest for name, digest in CIFAR10.train_list + CIFAR10.test_list}
    md5[CIFAR10.meta["filename"]] = CIFAR10.meta["md5"]
    return md5


def _missing_message(folder: Path) -> str:
    return (
        f"CIFAR-10 not found: looked for the folder {folder} "
        "(with data_batch_1..5, test_batch, batches.meta). "
        f"Fix: set `data.download: true` in the config (or pass `--set data.download=true`) to download it "
        f"with torchvision into {folder.parent}, or place the python-version archive "
        f"(cifar-10-python.tar.gz) extracted there, so that {folder} exists."
    )


def read_cifar10_folder(
    folder: str | Path, split: str, *, check_md5: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode an extracted ``cifar-10-batches-py`` folder (python pickle format).

    Each batch file is a pickle of ``{"data": uint8 (n, 3072) rows = R(1024) G(1024) B(1024) in
    row-major 32x32 order, "labels": list of n ints}``; train = data_batch_1..5 concatenated in order.

    Returns:
        images ``torch.uint8`` ``(N, 3, 32, 32)``, labels ``torch.int64`` ``(N,)`` in [0, 9].
    """
    folder = Path(folder)
    files = _TRAIN_FILES if split == "train" else _TEST_FILES
    needed = (*files, _META_FILE)
    missing = [f for f in needed if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(_missing_message(folder) + f" Missing files: {', '.join(missing)}.")
    if check_md5:
        from torchvision.datasets.utils import check_integrity

        official = _official_md5()
        bad = [f for f in needed if not check_integrity(str(folder / f), official[f])]
        if bad:
            warnings.warn(
                f"CIFAR-10 files in {folder} differ from the official release "
                f"(md5 mismatch: {', '.join(bad)}); "
                "loading them anyway. Re-download with data.download: true if this is not intended.",
                UserWarning,
                stacklevel=3,
            )
    data, labels = [], []
    for name in files:
        with open(folder / name, "rb") as fh:
            entry = pickle.load(fh, encoding="latin1")
        data.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
    images = torch.from_numpy(np.concatenate(data))
    targets = torch.as_tensor(labels, dtype=torch.int64)
    if len(targets) != len(images) or (len(targets) and (targets.min() < 0 or targets.max() > 9)):
        raise ValueError(
            f"CIFAR-10 folder {folder} is malformed: {len(images)} images, {len(targets)} labels"
        )
    return images, targets


_NPZ_KEYS = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}


def read_cifar10_npz(path: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One split of a CIFAR-10-format ``.npz`` file (``x_<split>`` uint8 ``(N, 32, 32, 3)``, ``y_<split>``
    integer labels in [0, 9]), as images ``torch.uint8`` ``(N, 3, 32, 32)`` and labels ``torch.int64``.

    Raises ``ValueError`` naming the file, the offending key and the expected format."""
    path = Path(path)
    xk, yk = _NPZ_KEYS[split]
    fmt = "x_train, y_train, x_test, y_test with images uint8 (N, 32, 32, 3) and labels in 0..9"
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in (xk, yk) if k not in data.files]
        if missing:
            raise ValueError(f"data.root: {path} has no {', '.join(missing)} (keys: {', '.join(data.files)}); "
                             f"a CIFAR-10 .npz needs {fmt}")
        x, y = data[xk], data[yk]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (32, 32, 3):
        raise ValueError(f"data.root: {path}[{xk!r}] is {x.dtype} {x.shape}; a CIFAR-10 .npz needs {fmt}")
    if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer) or (y.size and (y.min() < 0 or y.max() > 9)):
        raise ValueError(f"data.root: {path}[{yk!r}] is {y.dtype} {y.shape} for {x.shape[0]} images; "
                         f"a CIFAR-10 .npz needs {fmt}")
    images = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    return images, torch.from_numpy(y.astype(np.int64))


def load_cifar10(root: str | Path, split: str, *, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 ``split`` ("train": 50,000, "test": 10,000) from ``<root>/cifar-10-batches-py``, or from
    ``root`` itself when it is an ``.npz`` file (:func:`read_cifar10_npz`).

    With ``download`` true a missing/corrupt folder is (re)fetched by torchvision first; without it a
    missing folder raises ``FileNotFoundError`` naming the folder and the two ways to fix it.

    Returns:
        images ``torch.uint8`` ``(N, 3, 32, 32)`` in [0, 255], labels ``torch.int64`` ``(N,)`` in [0, 9].
    """
    root = Path(root).expanduser()
    if root.suffix == ".npz":
        if download:
            raise ValueError(f"data.download: true downloads the torchvision folder, but data.root is the .npz "
                             f"file {root}; set data.download: false")
        if not root.is_file():
            raise FileNotFoundError(f"data.root: the .npz file {root} does not exist; point data.root at a "
                                    f"CIFAR-10 .npz file or at the parent of {CIFAR10_FOLDER}")
        return read_cifar10_npz(root, split)
    folder = root / CIFAR10_FOLDER
    if download:
        from torchvision.datasets import CIFAR10

        try:  # downloads + md5-checks the archive only when the folder is missing or corrupt
            CIFAR10(str(root), train=split == "train", download=True)
        except Exception as err:  # no internet, disk full, corrupt archive ...
            raise RuntimeError(
                f"Could not download CIFAR-10 into {root} ({type(err).__name__}: {err}). "
                f"Place the python-version archive extracted as {folder} instead."
            ) from err
    elif not folder.is_dir():
        raise FileNotFoundError(_missing_message(folder))
    return read_cifar10_folder(folder, split)


# --------------------------------------------------------------------------------------------------
# The dataset's entry points (robgan.registry.DATASETS["cifar10"]; robgan.data dispatches to them)


def info(data_cfg: dict):
    """:class:`robgan.data.DatasetInfo`: the 10 CIFAR-10 classes, 3 channels, 32 px."""
    from robgan.data import DatasetInfo

    return DatasetInfo("cifar10", 10, 3, 32, CIFAR10_CLASSES)


def load(data_cfg: dict, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`load_cifar10` from ``data.root`` (downloaded first when ``data.download``)."""
    return load_cifar10(data_cfg["root"], split, download=bool(data_cfg["download"]))
