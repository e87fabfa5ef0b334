"""Provenance: seeding, git state, package versions, device, manifests and atomic writes."""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import os
import platform
import random
import subprocess
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
_PACKAGES = ("torch", "torchvision", "torch-fidelity", "pyautoattack", "numpy", "snakemake", "robgan-repro")


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds legacy global users (e.g. torch-fidelity)
    torch.manual_seed(seed)


def git_info(root: Path = REPO_ROOT) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the checkout holding the package.

    ``dirty`` ignores ``results/``: a pipeline run rewrites the committed outputs it is recording, so
    counting them would mark every record of a run on a clean clone as dirty."""
    def _git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config 'device: cuda' but no CUDA device is visible; use 'device: auto' or 'cpu'")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    cpu = platform.processor() or platform.machine()
    return f"cpu:{cpu} ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively: a CUDA GPU with bf16, or a CPU whose oneDNN has bf16
    kernels (AVX-512-BF16 or AMX; ``lscpu`` flags ``avx512_bf16`` / ``amx_bf16``). Elsewhere bf16
    autocast would emulate bf16 slower than float32, so ``performance.bf16`` leaves it off."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


#: CPU flags (``/proc/cpuinfo``) that choose oneDNN's and ATen's kernels, hence the last bits of a result.
KERNEL_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")


def _cpu_flags() -> list[str] | None:
    """The :data:`KERNEL_FLAGS` this CPU has (Linux's ``/proc/cpuinfo``); None where it cannot be read."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            return [f for f in KERNEL_FLAGS if f in have]
    return None


def compute_fingerprint(device: torch.device | str = "cpu") -> dict[str, Any]:
    """What decides a run's last bits on ``device``: torch's version and, on a CPU, the kernel set
    ATen dispatches to (``cpu_capability``: ``AVX2``, ``AVX512``...), the kernel-choosing CPU flags
    and whether bf16 is native (:func:`bf16_supported`, which switches ``performance.bf16`` on); on a
    GPU its name and compute capability.

    Two runs of the same code, config and seeds with equal fingerprints reproduce each other's numbers
    bit for bit (FID to ~1e-8, docs/compare.md); with different fingerprints they differ within
    the noise of training (float rounding differs, training amplifies it), which is what
    ``robgan compare`` reports (exit 3) instead of a regression."""
    device = torch.device(device)
    fp: dict[str, Any] = {"device_type": device.type, "torch": torch.__version__}
    if device.type == "cuda":
        fp["gpu"] = torch.cuda.get_device_name(device)
        fp["gpu_capability"] = ".".join(map(str, torch.cuda.get_device_capability(device)))
    else:
        fp["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        fp["cpu_flags"] = _cpu_flags()
    fp["bf16_native"] = bf16_supported(device)
    return fp


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on ``device`` when ``enabled`` (the caller checked :func:`bf16_supported`), else a
    no-op context."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def configure_threads(requested: int = 0) -> int:
    """Set torch's intra-op threads: ``requested`` if > 0, else OMP_NUM_THREADS (Snakemake sets it
    to the rule's ``threads``), else torch's default. Returns the number in use."""
    n = requested or int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    if n > 0:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def build_manifest(*, cfg_hash: str, seed: int, device: torch.device, extra: Mapping | None = None) -> dict:
    return {
        "git": git_info(),
        "packages": package_versions(),
        "device": device_name(device),
        "compute": compute_fingerprint(device),
        "config_hash": cfg_hash,
        "seed": seed,
        "host": platform.node(),
        **(dict(extra) if extra else {}),
    }


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _atomic_replace(path: Path, writer) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are shared files
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    _atomic_replace(Path(path), lambda fh: fh.write(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, obj: Any, *, allow_nan: bool = False) -> None:
    """Write ``obj`` as pretty JSON through a temp file + rename. Strict JSON by default: a NaN or
    infinity raises ``ValueError`` (and nothing is written) instead of becoming a ``NaN`` token that
    JSON readers other than Python's reject."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=allow_nan) + "\n")


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` through a temp file + rename, so a crash never leaves a truncated file."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def torch_load(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """Load a file written by this package (tensors, dicts, lists, numbers only)."""
    return torch.load(path, map_location=map_location, weights_only=True)
