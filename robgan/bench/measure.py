"""Measuring instruments of the benchmark: timing, peak memory, FLOPs and device peaks.

Every instrument is device-aware: on CUDA the timed region is bracketed by ``torch.cuda.synchronize``
(and nothing inside it synchronises), on the CPU nothing is synchronised because nothing is
asynchronous.
"""

from __future__ import annotations

import math
import re
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

# --------------------------------------------------------------------------------------------------
# Timing


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work (CUDA only; a no-op on the CPU, whose ops run synchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class Timing:
    """Seconds per call of a benchmarked callable, one value per timed repeat.

    Attributes:
        values: seconds per call of each repeat (wall time of ``iters`` calls / ``iters``).
        iters: calls per repeat.
        warmup: untimed calls made before the first repeat.
    """

    values: tuple[float, ...]
    iters: int
    warmup: int

    @property
    def median(self) -> float:
        return float(np.median(self.values))

    @property
    def q25(self) -> float:
        return float(np.percentile(self.values, 25))

    @property
    def q75(self) -> float:
        return float(np.percentile(self.values, 75))

    def as_dict(self) -> dict:
        """JSON form: median, quartiles (linear interpolation), IQR, min and every repeat's value."""
        return {"median": self.median, "q25": self.q25, "q75": self.q75, "iqr": self.q75 - self.q25,
                "min": float(min(self.values)), "values": [float(v) for v in self.values],
                "iters_per_repeat": self.iters, "repeats": len(self.values), "warmup": self.warmup}


def _calibrate(fn: Callable[[], object], device: torch.device, target_repeat_s: float, max_iters: int) -> int:
    t0 = time.perf_counter()
    fn()
    synchronize(device)
    one = max(time.perf_counter() - t0, 1e-9)
    return int(min(max_iters, max(1, math.ceil(target_repeat_s / one))))


def time_interleaved(fns: dict[str, Callable[[], object]], device: torch.device, *, warmup: int,
                     repeats: int, iters: int | None, target_repeat_s: float = 0.25,
                     max_iters: int = 200) -> dict[str, Timing]:
    """Time several callables in alternation: in repeat r each of them is timed in turn (in reverse
    order every other repeat), so that a drift of the machine's speed (another job starting) hits all
    of them alike and their ratios stay fair.

    Each callable gets ``warmup`` untimed calls, then ``repeats`` timed repeats of ``iters`` calls
    (``iters=None``: calibrated per callable by one extra untimed call, to about ``target_repeat_s`` per
    repeat, between 1 and ``max_iters``).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    if iters is not None and iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    synchronize(device)
    n = {k: iters if iters is not None else _calibrate(fn, device, target_repeat_s, max_iters)
         for k, fn in fns.items()}
    values: dict[str, list[float]] = {k: [] for k in fns}
    keys = list(fns)
    for r in range(repeats):
        # ABBA order (reversed every other round), so that a load that rises or falls across a round
        # does not always penalise the callable timed first.
        for k in keys if r % 2 == 0 else keys[::-1]:
            fn = fns[k]
            synchronize(device)
            t0 = time.perf_counter()
            for _ in range(n[k]):
                fn()
            synchronize(device)
            values[k].append((time.perf_counter() - t0) / n[k])
    return {k: Timing(tuple(values[k]), n[k], warmup) for k in fns}


def time_calls(fn: Callable[[], object], device: torch.device, *, warmup: int, repeats: int,
               iters: int | None, target_repeat_s: float = 0.25, max_iters: int = 200) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed repeats of ``iters`` calls
    (``iters=None`` calibrates, see :func:`time_interleaved`)."""
    return time_interleaved({"fn": fn}, device, warmup=warmup, repeats=repeats, iters=iters,
                            target_repeat_s=target_repeat_s, max_iters=max_iters)["fn"]


# --------------------------------------------------------------------------------------------------
# Memory

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def _status_kib(key: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _rss_bytes() -> int:
    kib = _status_kib("VmRSS")
    if kib is not None:
        return kib * 1024
    import psutil  # fallback off Linux

    return int(psutil.Process().memory_info().rss)


class MemoryMeter:
    """Peak memory of a measured region (``start()`` … ``stop()``).

    - CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (tensors allocated by
      PyTorch's caching allocator; includes models, optimiser state, the device-resident dataset and
      every activation of the region).
    - CPU on Linux: the resident-set high-water mark ``VmHWM``, reset through ``/proc/self/clear_refs``
      at ``start()``; elsewhere ``ru_maxrss`` (a process-lifetime maximum, so only a lower bound of the
      region's own peak once an earlier region peaked higher). The delta is peak − RSS at ``start()``.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.kind = ""
        self._base = 0

    def start(self) -> None:
        if self.device.type == "cuda":
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            self.kind = "cuda.max_memory_allocated"
            return
        try:
            _CLEAR_REFS.write_text("5")  # "5" resets the peak RSS (VmHWM) of this process (Linux >= 4.0)
            self.kind = "cpu.peak_rss (VmHWM reset via /proc/self/clear_refs)"
        except OSError:
            self.kind = "cpu.ru_maxrss (process-lifetime maximum: lower bound of the region's peak)"
        self._base = _rss_bytes()

    def stop(self) -> dict:
        """``{"kind", "peak_bytes", "baseline_bytes", "delta_bytes"}`` of the region."""
        if self.device.type == "cuda":
            synchronize(self.device)
            peak = int(torch.cuda.max_memory_allocated(self.device))
        else:
            hwm = _status_kib("VmHWM") if self.kind.startswith("cpu.peak_rss") else None
            if hwm is not None:
                peak = hwm * 1024
            else:
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
            peak = max(peak, _rss_bytes())
        return {"kind": self.kind, "peak_bytes": peak, "baseline_bytes": int(self._base),
                "delta_bytes": max(0, peak - int(self._base))}


# --------------------------------------------------------------------------------------------------
# FLOPs


class _GlobalOnlyTracker:
    """Stands in for FlopCounterMode's module tracker: attributes every FLOP to "Global" only.

    The tracker's module hooks make ``torch.autograd.grad`` with respect to a leaf (what PGD does)
    fail ("A leaf node was passed to _will_engine_execute_node ..."); the per-module table is not needed.
    """

    parents = ("Global",)

    def __enter__(self) -> _GlobalOnlyTracker:
        return self

    def __exit__(self, *exc) -> None:
        return None


def count_flops(fn: Callable[[], object]) -> int | None:
    """FLOPs of one call of ``fn`` (forward and backward matmuls/convolutions, as counted by
    ``torch.utils.flop_counter.FlopCounterMode``; elementwise ops are not counted). None if counting
    fails on this PyTorch version."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnlyTracker()
    try:
        with counter:
            fn()
    except (RuntimeError, AttributeError, TypeError):  # a PyTorch whose counter internals differ
        return None
    return int(counter.get_total_flops())


# --------------------------------------------------------------------------------------------------
# Device peaks

#: Dense (no 2:4 sparsity) peak TFLOP/s from NVIDIA's data sheets; tf32/bf16 are tensor-core rates.
PEAK_TFLOPS: dict[str, dict[str, float]] = {
    "H200": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4},
    "H100 SXM": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4},
    "H100 NVL": {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5},
    "H100 PCIe": {"fp32": 51.2, "tf32": 378.0, "bf16": 756.0},
    "A100": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0},
}


def gpu_family(name: str) -> str | None:
    """Key of :data:`PEAK_TFLOPS` for a CUDA device name (``torch.cuda.get_device_name``), else None."""
    n = name.upper()
    if "H200" in n:
        return "H200"
    if "H100" in n:
        if "PCIE" in n:
            return "H100 PCIe"
        if "NVL" in n:
            return "H100 NVL"
        return "H100 SXM"  # "NVIDIA H100 80GB HBM3" is the SXM part
    if "A100" in n:
        return "A100"
    return None


def compute_dtype(device: torch.device, bf16: bool) -> tuple[str, str]:
    """The dtype whose peak applies, and why: bf16 autocast → ``bf16``; fp32 with cuDNN TF32 allowed
    (PyTorch's default; these models are convolution-bound) → ``tf32``; else ``fp32``."""
    if device.type != "cuda":
        return "fp32", "cpu"
    if bf16:
        return "bf16", "bf16 autocast on CUDA"
    if torch.backends.cudnn.allow_tf32:
        return "tf32", "fp32 tensors, torch.backends.cudnn.allow_tf32 = True (convolutions run on TF32 cores)"
    return "fp32", "fp32 tensors, TF32 disabled"


def peak_tflops(device_name: str, dtype: str) -> float | None:
    """Peak dense TFLOP/s of a CUDA device for ``dtype`` (``fp32``/``tf32``/``bf16``); None if unknown."""
    family = gpu_family(device_name)
    return PEAK_TFLOPS[family][dtype] if family is not None else None


def slug(text: str) -> str:
    """Lower-case file-name-safe form: runs of anything but [a-z0-9] become one '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
