"""The seeded, resumable, augmenting batch stream, and fixed evaluation subsets."""

from __future__ import annotations

import hashlib
from typing import Any

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("none", "crop_flip", "resized_crop_flip")
#: "crop_flip": zero padding (pixels) around the image before the random crop (CIFAR-10 recipe).
CROP_PADDING = 4
#: "resized_crop_flip": range of the crop's area as a fraction of the image's (ImageNet-subset recipe).
RESIZED_CROP_SCALE = (0.8, 0.9)
#: noise=True adds U(0, NOISE_WIDTH) per pixel in [0,1] units (= SN-GAN's U(0, 1/128) in [-1,1]).
NOISE_WIDTH = 1.0 / 256.0


def _derived_seed(*parts: Any) -> int:
    """A 63-bit seed from a tuple (e.g. ``(seed, "perm", epoch)``), independent across parts."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def fixed_indices(n_total: int, n: int, seed: int) -> torch.Tensor:
    """The first ``min(n, n_total)`` entries of a permutation of ``range(n_total)`` seeded by ``seed``.

    Used to pick the same evaluation images for every method. Not sorted; the subsets are nested:
    ``fixed_indices(N, k, s)`` is a prefix of ``fixed_indices(N, n, s)`` for ``k <= n``.

    Returns:
        ``torch.int64`` ``(min(n, n_total),)``, distinct values in ``[0, n_total)``, on the CPU.
    """
    if n_total < 0 or n < 0:
        raise ValueError(f"fixed_indices: n_total and n must be >= 0, got {n_total}, {n}")
    g = torch.Generator().manual_seed(_derived_seed(int(seed), "fixed_indices"))
    return torch.randperm(n_total, generator=g)[: min(n, n_total)]


class BatchStream:
    """Infinite stream of augmented mini-batches over an in-memory uint8 dataset.

    Epoch ``e`` visits the examples in a permutation seeded by ``(seed, e)`` and drops the last
    incomplete batch. The whole uint8 dataset is moved to ``device`` once (CIFAR-10: 150 MB; ImageNet-143
    at 64 px: 2.2 GB), so a batch costs one gather, a float conversion and the augmentation on the device.
    All randomness of augmentation and noise is drawn from one CPU ``torch.Generator`` seeded by
    ``seed`` (then moved to the device), so the stream is the same on every device and never touches
    the global RNG.

    Args:
        images_u8: ``torch.uint8`` ``(N, C, H, W)`` in [0, 255].
        labels: integer ``(N,)``.
        batch_size: ``B``, ``1 <= B <= N``.
        seed: seeds the permutations and the augmentation generator.
        augment: ``"none"``; ``"crop_flip"`` (random ``HxW`` crop of the image zero-padded by 4 px, then
            horizontal flip with p = 0.5); ``"resized_crop_flip"`` (random square crop covering a uniform
            fraction in [0.8, 0.9] of the area at a uniform position, bilinearly resized back to ``HxW``,
            then flip with p = 0.5).
        noise: add ``U(0, 1/256)`` to every pixel after augmentation, then clamp to [0, 1].
        device: where the data lives and batches are returned.

    Attributes:
        epoch: current epoch (0-based); position: index of the next example in the epoch's permutation.
    """

    def __init__(
        self,
        images_u8: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        seed: int,
        augment: str = "none",
        noise: bool = False,
        device: str | torch.device = "cpu",
    ) -> None:
        if augment not in AUGMENTATIONS:
            raise ValueError(
                f"data.augment: unknown augmentation {augment!r}; allowed values: {', '.join(AUGMENTATIONS)}"
            )
        if images_u8.dtype != torch.uint8 or images_u8.dim() != 4:
            raise ValueError(
                f"images_u8 must be uint8 (N, C, H, W), got {images_u8.dtype} {tuple(images_u8.shape)}"
            )
        if labels.shape != (images_u8.shape[0],):
            raise ValueError(f"labels must have shape ({images_u8.shape[0]},), got {tuple(labels.shape)}")
        n = images_u8.shape[0]
        if not 1 <= batch_size <= n:
            raise ValueError(f"batch_size must be in [1, {n}] (the dataset size), got {batch_size}")
        self.device = torch.device(device)
        self.images = images_u8.to(self.device)
        self.labels = labels.to(self.device, torch.int64)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.augment = augment
        self.noise = bool(noise)
        self.epoch = 0
        self.position = 0
        self._generator = torch.Generator().manual_seed(_derived_seed(self.seed, "augment"))
        self._perm = self._permutation(0)

    def __len__(self) -> int:
        """Batches per epoch (``N // batch_size``)."""
        return self.images.shape[0] // self.batch_size

    def _permutation(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(_derived_seed(self.seed, "perm", epoch))
        return self._to_device(torch.randperm(self.images.shape[0], generator=g))

    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        """Move a CPU-drawn tensor to ``device`` without a host-device sync: on CUDA it is copied from
        pinned memory with ``non_blocking=True`` (the caching host allocator keeps the pinned block alive
        until the copy has run); on the CPU ``.to`` returns ``t`` itself."""
        if self.device.type == "cuda":
            return t.pin_memory().to(self.device, non_blocking=True)
        return t.to(self.device)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.next()

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch: ``x`` float32 ``(B, C, H, W)`` in [0, 1], ``y`` int64 ``(B,)``, on ``device``."""
        if self.position + self.batch_size > self.images.shape[0]:  # drop_last, start a new epoch
            self.epoch += 1
            self.position = 0
            self._perm = self._permutation(self.epoch)
        idx = self._perm[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        x = self.images[idx]
        if self.augment == "crop_flip":
            x = self._crop_flip(x)
        x = x.float().div_(255.0)
        if self.augment == "resized_crop_flip":
            x = self._resized_crop_flip(x)
        if self.noise:
            u = self._to_device(torch.rand(x.shape, generator=self._generator))
            x = x.add_(u.mul_(NOISE_WIDTH)).clamp_(0.0, 1.0)
        return x, self.labels[idx]

    def _crop_flip(self, x: torch.Tensor) -> torch.Tensor:
        """Integer-exact crop of the zero-padded uint8 batch + flip, by one batched gather."""
        b, _, h, w = x.shape
        p = CROP_PADDING
        offsets = self._to_device(torch.randint(0, 2 * p + 1, (b, 2), generator=self._generator))
        flip = self._to_device(torch.rand(b, generator=self._generator) < 0.5)
        padded = F.pad(x, (p, p, p, p))
        rows = offsets[:, 0:1] + torch.arange(h, device=self.device)  # (B, H)
        cols = torch.arange(w, device=self.device).expand(b, w)
        cols = torch.where(flip[:, None], cols.flip(1), cols) + offsets[:, 1:2]  # (B, W)
        bi = torch.arange(b, device=self.device)[:, None, None]
        out = padded.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
        return out.permute(0, 3, 1, 2).contiguous()

    def _resized_crop_flip(self, x: torch.Tensor) -> torch.Tensor:
        """Random square crop (area fraction in RESIZED_CROP_SCALE) resized back to HxW, + flip."""
        b, _, h, w = x.shape
        lo, hi = RESIZED_CROP_SCALE
        area = lo + (hi - lo) * torch.rand(b, generator=self._generator, dtype=torch.float64)
        pos = torch.rand(b, 2, generator=self._generator, dtype=torch.float64)
        flip = torch.rand(b, generator=self._generator) < 0.5
        side = (area * h * w).sqrt()  # crop side in pixels (square)
        fx, fy = (side / w).clamp(max=1.0), (side / h).clamp(max=1.0)  # half-extent in normalised coords
        cx, cy = (2 * pos[:, 1] - 1) * (1 - fx), (2 * pos[:, 0] - 1) * (1 - fy)
        theta = torch.zeros(b, 2, 3, dtype=torch.float64)
        theta[:, 0, 0] = torch.where(flip, -fx, fx)
        theta[:, 0, 2] = cx
        theta[:, 1, 1] = fy
        theta[:, 1, 2] = cy
        grid = F.affine_grid(self._to_device(theta.float()), list(x.shape), align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return out.clamp_(0.0, 1.0)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue with bit-identical batches (save it in the checkpoint)."""
        return {
            "epoch": self.epoch,
            "position": self.position,
            "generator": self._generator.get_state(),
            "seed": self.seed,
            "n": int(self.images.shape[0]),
            "batch_size": self.batch_size,
            "augment": self.augment,
            "noise": self.noise,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; refuses one taken from a stream with other settings."""
        mine = self.state_dict()
        for key in ("seed", "n", "batch_size", "augment", "noise"):
            if state[key] != mine[key]:
                raise ValueError(
                    f"BatchStream state mismatch: {key} is {state[key]!r} in the state, {mine[key]!r} here"
                )
        if not 0 <= state["position"] <= mine["n"] or state["epoch"] < 0:
            raise ValueError(
                f"BatchStream state has invalid epoch/position {state['epoch']}/{state['position']}"
            )
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._generator.set_state(torch.as_tensor(state["generator"], dtype=torch.uint8).cpu())
        self._perm = self._permutation(self.epoch)
