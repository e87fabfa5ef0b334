"""Find the operations that would make the host wait for the GPU, on any device (the CPU included).

On CUDA, ``torch.cuda.set_sync_debug_mode("error")`` is the full check (``tests/test_performance.py``
uses it where a GPU exists). This probe is the check that runs everywhere: it watches every tensor
operation of a piece of code and records those that synchronise the host with the device when the
tensors live on a GPU:

- reading a value on the host: ``.item()``, ``bool(t)`` (``if t:``), ``float(t)``, ``int(t)``
  (``aten._local_scalar_dense``), ``torch.equal``, ``torch.allclose``, ``.tolist()``;
- results whose size depends on the data: ``nonzero``, ``masked_select``, boolean-mask indexing,
  ``unique``, ``bincount``, ``repeat_interleave`` with tensor repeats;
- explicit copies to the host: ``.cpu()``, ``.numpy()``.

Not counted: ``torch.optim``'s reads of its step counter (``_get_value``), a tensor that PyTorch keeps
on the host for non-capturable optimisers precisely so that reading it never waits for the GPU; and,
when the probe is given a CUDA device, any operation on tensors that are all on the CPU.

What it cannot see on the CPU: a ``.to("cpu")`` of a tensor that would be on the GPU (on the CPU it is
a no-op, indistinguishable from the stream's host-to-device copies), and blocking host-to-device copies
(the CUDA test covers both). Code run through ``torch.compile`` is not probed.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

#: aten operators that synchronise with the device (by their overload packet's name).
SYNC_ATEN_OPS = frozenset({
    "_local_scalar_dense", "equal", "allclose", "nonzero", "masked_select", "_unique2", "unique_dim",
    "unique_consecutive", "bincount",
})
#: Tensor methods / torch functions that copy to the host (invisible at the dispatch level on the CPU).
SYNC_FUNCTIONS = frozenset({"tolist", "cpu", "numpy"})

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_THIS_FILE = os.path.abspath(__file__)


@dataclass(frozen=True)
class SyncEvent:
    """One synchronising operation: ``op`` (aten operator or Tensor method) and ``where`` (the innermost
    ``robgan`` source line that called it, ``file:line``; ``"?"`` if none)."""

    op: str
    where: str


@dataclass
class SyncRecord:
    """What :func:`probe_host_syncs` saw. ``events`` in call order; ``tag`` is the caller's label at
    the time of each event (see :meth:`HostSyncProbe.tag`)."""

    events: list[SyncEvent] = field(default_factory=list)
    tags: list[object] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.events)

    def summary(self, limit: int = 5) -> str:
        """``"op at file:line"`` for the first ``limit`` events (for assertion messages and logs)."""
        lines = [f"{e.op} at {e.where}" for e in self.events[:limit]]
        if len(self.events) > limit:
            lines.append(f"... {len(self.events) - limit} more")
        return "; ".join(lines) or "none"


def _caller() -> str:
    for frame in reversed(traceback.extract_stack()):
        path = os.path.abspath(frame.filename)
        if path.startswith(_PACKAGE_DIR) and path != _THIS_FILE:
            return f"{os.path.relpath(path, os.path.dirname(_PACKAGE_DIR))}:{frame.lineno}"
    return "?"


def _optimizer_step_read() -> bool:
    """True when the running ``.item()`` is ``torch.optim``'s read of its host-side step counter."""
    for frame in traceback.extract_stack():
        if frame.name == "_get_value" and frame.filename.replace(os.sep, "/").endswith("torch/optim/optimizer.py"):
            return True
    return False


def _on_host_only(args) -> bool:
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    return bool(tensors) and all(t.device.type == "cpu" for t in tensors)


def _is_bool_mask_index(func, args) -> bool:
    if func.overloadpacket is not torch.ops.aten.index or len(args) < 2:
        return False
    return any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8) for i in args[1] or ())


def _is_data_dependent_repeat(func, args, kwargs) -> bool:
    if func.overloadpacket is not torch.ops.aten.repeat_interleave:
        return False
    repeats = args[1] if len(args) > 1 else kwargs.get("repeats")
    if len(args) == 1 and isinstance(args[0], torch.Tensor) and "repeats" not in kwargs:
        repeats = args[0]  # repeat_interleave(repeats) overload
    return isinstance(repeats, torch.Tensor) and kwargs.get("output_size") is None


class _Dispatch(TorchDispatchMode):
    def __init__(self, probe: HostSyncProbe) -> None:
        super().__init__()
        self.probe = probe

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        if (name in SYNC_ATEN_OPS or _is_bool_mask_index(func, args)
                or _is_data_dependent_repeat(func, args, kwargs)):
            skip = ((self.probe.device.type != "cpu" and _on_host_only(args))
                    or (name == "_local_scalar_dense" and _optimizer_step_read()))
            if not skip:
                self.probe.record(f"aten.{name}")
        return func(*args, **kwargs)


class _Functions(TorchFunctionMode):
    def __init__(self, probe: HostSyncProbe) -> None:
        super().__init__()
        self.probe = probe

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in SYNC_FUNCTIONS and not (
                self.probe.device.type != "cpu" and _on_host_only(args)):
            self.probe.record(f"Tensor.{func.__name__}")
        return func(*args, **(kwargs or {}))


class HostSyncProbe:
    """Context manager that records every synchronising operation run inside it (see the module doc).

    Args:
        device: the device the probed code computes on. On the CPU every watched operation counts (a
            proxy: the same code on a GPU would wait there); on CUDA only those touching a GPU tensor.

    ``probe.tag = x`` labels the events that follow (e.g. the training iteration they belong to).
    """

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.found = SyncRecord()
        self.tag: object = None

    def record(self, op: str) -> None:
        self.found.events.append(SyncEvent(op, _caller()))
        self.found.tags.append(self.tag)

    @contextlib.contextmanager
    def __call__(self) -> Iterator[SyncRecord]:
        with _Functions(self), _Dispatch(self):
            yield self.found


def probe_host_syncs(fn: Callable[[], object], device: str | torch.device = "cpu") -> SyncRecord:
    """Run ``fn()`` and return the synchronising operations it issued (see :class:`HostSyncProbe`)."""
    probe = HostSyncProbe(device)
    with probe() as rec:
        fn()
    return rec
