"""``imagenet143``: SN-GAN's dog-and-cat subset of ILSVRC2012 (0-based classes 151-293).

Two stages:

1. :func:`build_imagenet143` (once, by the user who has ImageNet): from ``<imagenet_root>/train/<wnid>/``
   and ``<imagenet_root>/val/<wnid>/`` (torchvision ``ImageFolder`` layout for both) it keeps the
   143 classes, drops training images with a side < 256 px, resizes the short side to 256 and centre-crops
   256x256, and writes ``<out>/{train,val}/<idx:03d>_<wnid>/<stem>.<ext>`` plus ``<out>/manifest.json``.
2. :func:`load_imagenet143` (every run): decodes the built tree at ``data.resolution`` (PIL bicubic,
   which is antialiased when shrinking) into one uint8 tensor, cached as a ``.pt`` file in
   ``data.cache_dir``. The ``resized_crop_flip`` augmentation crops from this tensor (no larger cache).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from robgan.provenance import atomic_torch_save, atomic_write_json, torch_load, utc_now

#: Half-open range of 0-based ILSVRC2012 class indices (sorted wnids) kept: 151..293, 143 classes.
IMAGENET143_CLASS_RANGE = (151, 294)
#: Sizes of the subset reported for SN-GAN / Rob-GAN, compared with what the builder finds.
IMAGENET143_REFERENCE_TOTALS = {"train": 180_373, "val": 7_150}
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")
_CACHE_VERSION = 1
_FOLDER_RE = re.compile(r"^(\d{3})_(\S+)$")


def _default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _show_progress(progress: bool) -> bool:
    return bool(progress) and sys.stderr.isatty()


def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def resize_center_crop(image: Image.Image, size: int) -> Image.Image:
    """Resize so the short side is ``size`` (bicubic, antialiased), then centre-crop ``size x size``."""
    w, h = image.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    if (nw, nh) != (w, h):
        image = image.resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = round((nw - size) / 2), round((nh - size) / 2)
    return image.crop((left, top, left + size, top + size))


def _process_image(job: tuple[Path, Path, int, int, str, int, bool]) -> tuple[str, str | None]:
    """Convert one source image; returns ``("kept" | "small" | "unreadable", error or None)``."""
    src, dst, min_side, size, fmt, quality, overwrite = job
    try:
        with Image.open(src) as im:
            if min(im.size) < min_side:
                return "small", None
            if dst.exists() and not overwrite:
                return "kept", None
            out = resize_center_crop(im.convert("RGB"), size)
        buf = io.BytesIO()
        if fmt == "png":
            out.save(buf, format="PNG")
        else:
            out.save(buf, format="JPEG", quality=quality, subsampling=0)
        # Temp file + rename: an interrupted build never leaves a truncated image behind.
        tmp = dst.with_name(f".{dst.name}.tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, dst)
        return "kept", None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        return "unreadable", f"{src}: {err}"


def build_imagenet143(
    imagenet_root: str | Path,
    out: str | Path,
    *,
    min_side: int = 256,
    size: int = 256,
    progress: bool = True,
    class_range: tuple[int, int] = IMAGENET143_CLASS_RANGE,
    expected_total_classes: int = 1000,
    image_format: str = "jpeg",
    jpeg_quality: int = 95,
    workers: int | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Build the ImageNet-143 tree from an ILSVRC2012 folder tree.

    Args:
        imagenet_root: folder with ``train/<wnid>/*.JPEG`` (1,000 wnid folders) and ``val/<wnid>/*.JPEG``.
        out: output folder; gets ``train/``, ``val/`` (class folders ``<idx:03d>_<wnid>``, idx 0..142)
            and ``manifest.json``.
        min_side: training images with ``min(width, height) < min_side`` are skipped (val: all kept).
        size: output side; every written image is ``size x size`` RGB.
        progress: tqdm bar on stderr (only when stderr is a terminal).
        class_range: half-open range of 0-based indices into the sorted train wnids.
        expected_total_classes: number of wnid folders ``train/`` must hold (1,000 for ILSVRC2012);
            only tests should change it.
        image_format: ``"jpeg"`` (quality ``jpeg_quality``, 4:4:4; ~5 GB in all) or ``"png"`` (lossless, ~4x).
        workers: decoding threads (default: min(8, CPUs)).
        overwrite: re-encode images already present in ``out`` (default: keep them, so a build resumes).

    Returns:
        The manifest dict also written to ``out/manifest.json``: settings, ``classes`` (per class:
        ``index``, ``imagenet_index``, ``wnid``, ``folder``, ``train``, ``val``, ``train_skipped_small``,
        ``unreadable``) and ``totals`` (same counts summed).
    """
    from tqdm import tqdm

    root, out = Path(imagenet_root).expanduser(), Path(out).expanduser()
    train_dir, val_dir = root / "train", root / "val"
    for d in (train_dir, val_dir):
        if not d.is_dir():
            raise FileNotFoundError(
                f"ImageNet folder {d} not found: imagenet_root must hold train/<wnid>/ and val/<wnid>/ "
                "(ILSVRC2012 with the validation images sorted into class folders, "
                "as torchvision's ImageFolder expects)"
            )
    if image_format not in ("jpeg", "png"):
        raise ValueError(f"image_format: must be 'jpeg' or 'png', got {image_format!r}")
    wnids = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if len(wnids) != expected_total_classes:
        raise ValueError(
            f"{train_dir} holds {len(wnids)} class folders, expected {expected_total_classes} "
            "(ILSVRC2012 train has 1,000 wnid folders; the class indices 151-293 only mean the dog-and-cat "
            "classes in the full sorted list)"
        )
    lo, hi = class_range
    if not 0 <= lo < hi <= len(wnids):
        raise ValueError(f"class_range: {class_range} is not inside [0, {len(wnids)}]")
    selected = wnids[lo:hi]
    missing_val = [w for w in selected if not (val_dir / w).is_dir()]
    if missing_val:
        raise FileNotFoundError(
            f"{len(missing_val)} of the selected classes have no folder in {val_dir} "
            f"(e.g. {missing_val[:3]}); "
            "sort the validation images into val/<wnid>/ folders first"
        )

    jobs: list[tuple[int, str, tuple]] = []
    folders = []
    for k, wnid in enumerate(selected):
        folder = f"{k:03d}_{wnid}"
        folders.append(folder)
        for split, src_dir, keep_min in (("train", train_dir, min_side), ("val", val_dir, 0)):
            dst_dir = out / split / folder
            dst_dir.mkdir(parents=True, exist_ok=True)
            ext = ".png" if image_format == "png" else ".jpg"
            for src in _image_files(src_dir / wnid):
                job = (src, dst_dir / (src.stem + ext), keep_min, size, image_format, jpeg_quality, overwrite)
                jobs.append((k, split, job))

    counts = [{"train": 0, "val": 0, "train_skipped_small": 0, "unreadable": 0} for _ in selected]
    unreadable: list[str] = []
    workers = workers or _default_workers()
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=len(jobs), desc="imagenet143", unit="img", disable=not _show_progress(progress)) as bar,
    ):
        results = pool.map(_process_image, [j for _, _, j in jobs])
        for (k, split, _), (status, err) in zip(jobs, results, strict=True):
            if status == "kept":
                counts[k][split] += 1
            elif status == "small":
                counts[k]["train_skipped_small"] += 1
            else:
                counts[k]["unreadable"] += 1
                unreadable.append(err or "")
            bar.update(1)

    classes = [
        {"index": k, "imagenet_index": lo + k, "wnid": wnid, "folder": folders[k], **counts[k]}
        for k, wnid in enumerate(selected)
    ]
    totals = {key: sum(c[key] for c in counts) for key in counts[0]}
    manifest: dict[str, Any] = {
        "dataset": "imagenet143",
        "format_version": 1,
        "source": str(root.resolve()),
        "class_range": [lo, hi],
        "n_classes": len(selected),
        "min_side": min_side,
        "size": size,
        "image_format": image_format,
        "jpeg_quality": jpeg_quality if image_format == "jpeg" else None,
        "classes": classes,
        "totals": totals,
        "unreadable_files": unreadable[:100],
        "created": utc_now(),
    }
    empty = [c["folder"] for c in classes if c["train"] == 0]
    if empty:
        warnings.warn(
            f"{len(empty)} ImageNet-143 classes have no training images (e.g. {empty[:3]})", stacklevel=2
        )
    if tuple(class_range) == IMAGENET143_CLASS_RANGE and (min_side, expected_total_classes) == (256, 1000):
        manifest["reference_totals"] = dict(IMAGENET143_REFERENCE_TOTALS)
        if {k: totals[k] for k in IMAGENET143_REFERENCE_TOTALS} != IMAGENET143_REFERENCE_TOTALS:
            warnings.warn(
                f"ImageNet-143 totals {totals} differ from the reported {IMAGENET143_REFERENCE_TOTALS}",
                stacklevel=2,
            )
    atomic_write_json(out / "manifest.json", manifest)
    return manifest


def _read_manifest(root: Path) -> dict | None:
    path = root / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _class_folders(split_dir: Path) -> list[Path]:
    return sorted(p for p in split_dir.iterdir() if p.is_dir() and _FOLDER_RE.match(p.name))


def imagenet143_class_names(root: str | Path) -> tuple[str, ...]:
    """Class names of a built tree (its ``<idx:03d>_<wnid>`` folders), else ``"151"`` ... ``"293"``."""
    root = Path(root).expanduser()
    manifest = _read_manifest(root)
    if manifest is not None:
        return tuple(c["folder"] for c in manifest["classes"])
    if (root / "train").is_dir():
        names = tuple(p.name for p in _class_folders(root / "train"))
        if names:
            return names
    return tuple(str(i) for i in range(*IMAGENET143_CLASS_RANGE))


def _decode(path: Path, resolution: int) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if im.size != (resolution, resolution):
            im = im.resize((resolution, resolution), Image.Resampling.BICUBIC)
        return np.asarray(im, dtype=np.uint8)


def load_imagenet143(
    root: str | Path, split: str, *, resolution: int, cache_dir: str | Path | None, workers: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Read a tree built by :func:`build_imagenet143` at ``resolution`` px, through a ``.pt`` cache.

    ``split`` "train" reads ``<root>/train``, "test" reads ``<root>/val``. Images are ordered by class
    folder, then file name; the label is the folder's ``idx`` prefix. The cache file
    ``<cache_dir>/imagenet143_<split>_<res>px_<key>.pt`` is keyed by the resolved root, split,
    resolution and the list of (file, size) pairs, and written atomically; ``cache_dir`` None disables it.

    Returns:
        images ``torch.uint8`` ``(N, 3, resolution, resolution)``, labels ``torch.int64`` ``(N,)``
        in [0, 143).
    """
    root = Path(root).expanduser().resolve()
    sub = "train" if split == "train" else "val"
    split_dir = root / sub
    if not split_dir.is_dir():
        raise FileNotFoundError(
            f"ImageNet-143 folder {split_dir} not found (data.root = {root}). Build it once from ILSVRC2012 "
            "with robgan.data.build_imagenet143(imagenet_root, out) and set data.root to `out`."
        )
    manifest = _read_manifest(root)
    n_classes = manifest["n_classes"] if manifest else IMAGENET143_CLASS_RANGE[1] - IMAGENET143_CLASS_RANGE[0]
    folders = _class_folders(split_dir)
    indices = [int(_FOLDER_RE.match(p.name).group(1)) for p in folders]
    if indices != list(range(n_classes)):
        raise ValueError(
            f"{split_dir} must hold class folders 000_* .. {n_classes - 1:03d}_*; found {len(folders)}"
        )
    files: list[Path] = []
    labels: list[int] = []
    for k, folder in enumerate(folders):
        fs = _image_files(folder)
        files += fs
        labels += [k] * len(fs)
    if manifest is not None and len(files) != manifest["totals"][sub]:
        raise ValueError(
            f"{split_dir} holds {len(files)} images but its manifest.json says {manifest['totals'][sub]}; "
            "rebuild the tree (build_imagenet143) into an empty folder"
        )

    listing = "\n".join(f"{p.relative_to(root)}:{p.stat().st_size}" for p in files)
    key_src = json.dumps(
        {
            "v": _CACHE_VERSION,
            "root": str(root),
            "split": sub,
            "resolution": resolution,
            "files": hashlib.sha256(listing.encode()).hexdigest(),
        },
        sort_keys=True,
    )
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    cache = Path(cache_dir).expanduser() / f"imagenet143_{sub}_{resolution}px_{key}.pt" if cache_dir else None
    if cache is not None and cache.is_file():
        blob = torch_load(cache)
        return blob["images"], blob["labels"]

    array = np.empty((len(files), resolution, resolution, 3), dtype=np.uint8)
    workers = workers or _default_workers()
    with ThreadPoolExecutor(max_workers=workers) as pool:  # PIL releases the GIL while decoding
        for i, img in enumerate(pool.map(lambda p: _decode(p, resolution), files)):
            array[i] = img
    images = torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()
    targets = torch.as_tensor(labels, dtype=torch.int64)
    if cache is not None:
        atomic_torch_save({"images": images, "labels": targets, "key": key_src}, cache)
    return images, targets


# --------------------------------------------------------------------------------------------------
# The dataset's entry points (robgan.registry.DATASETS["imagenet143"]; robgan.data dispatches to them)


def info(data_cfg: dict):
    """:class:`robgan.data.DatasetInfo`: the classes of :func:`imagenet143_class_names` (143 unless a
    built tree says otherwise), 3 channels, ``data.resolution`` px."""
    from robgan.data import DatasetInfo

    names = imagenet143_class_names(data_cfg["root"])
    return DatasetInfo("imagenet143", len(names), 3, data_cfg["resolution"], names)


def load(data_cfg: dict, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`load_imagenet143` of the tree at ``data.root``, at ``data.resolution``, cached in ``data.cache_dir``."""
    return load_imagenet143(data_cfg["root"], split, resolution=data_cfg["resolution"],
                            cache_dir=data_cfg["cache_dir"])
