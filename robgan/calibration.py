"""A fixed calibration workload: how fast *this* machine is, so that timings compare across machines.

Wall-clock seconds of the same DAG move 1.7x between two machines of one kind (issue 25). The
calibration runs one fixed piece of the suite's own work — ``ITERATIONS`` GAN training iterations at
the quick experiment's shapes (generator ngf 8 → 32x32x1 images, discriminator ndf 16 with an AC head,
batch 32, Adam), float32, contiguous memory, eager, **one thread**, seed 0 — and reports its seconds.
Nothing of it comes from a config file, so a config change never changes the workload; the models are
the package's (:mod:`robgan.models`), so it measures the kind of work the suite does.

``robgan calibrate`` runs it; the Snakefile's ``onstart`` (through :mod:`robgan.dag_run`) and ``robgan
bench`` record it; :func:`multiple` turns a time into a multiple of the calibration (``dag_run.json``:
``wall_seconds / calibration.seconds``). The reported time is the **minimum** over ``REPEATS``
repeats: on a shared machine other processes only ever add time, so the minimum is the least noisy
estimate of what the machine can do.
"""

from __future__ import annotations

import json
import platform
import time

__all__ = ["ITERATIONS", "REPEATS", "WORKLOAD", "host_description", "multiple", "run_calibration"]

ITERATIONS = 10
REPEATS = 3
#: What the calibration runs, stored with every result (a result of another workload does not compare).
WORKLOAD = (f"{ITERATIONS} GAN iterations (1 D update on 32 real + 32 fake images, 1 G update), "
            "quick shapes: ResNet G z_dim 64 ngf 8 -> 1x32x32, ResNet AC D ndf 16 (10 classes), "
            "Adam(2e-3, (0, 0.9)), fp32, contiguous, eager, 1 thread, seed 0; minimum of "
            f"{REPEATS} repeats")
_VERSION = 1


def _iterations(n: int, native: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds of ``n`` training iterations on freshly built models (built outside the
    timing). ``native``: channels-last memory and, where bf16 is native, bf16 autocast (the suite's
    default ``performance`` on this machine) instead of contiguous float32."""
    import torch
    import torch.nn.functional as F

    from robgan.models import build_discriminator, build_generator
    from robgan.provenance import autocast, bf16_supported

    class _Info:
        n_classes, channels, resolution = 10, 1, 32

    torch.manual_seed(0)
    model = {"z_dim": 64, "ngf": 8, "ndf": 16, "d_arch": "resnet", "d_pool": "mean"}
    g = build_generator(model, _Info())
    d = build_discriminator(model, _Info(), "acgan")
    layout = torch.channels_last if native else torch.contiguous_format
    g, d = g.to(memory_format=layout), d.to(memory_format=layout)
    cast = autocast(torch.device("cpu"), native and bf16_supported(torch.device("cpu")))
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-3, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.0, 0.9))
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 32, 1, 32, 32, generator=gen)
    y = torch.randint(0, 10, (n, 32), generator=gen)
    t0, c0 = time.perf_counter(), time.thread_time()
    for i in range(n):
        z = torch.randn(32, 64, generator=gen)
        real = x[i].contiguous(memory_format=layout)
        with torch.no_grad(), cast:
            fake = g(z, y[i])
        with cast:
            s_real, c_real = d(real)
            s_fake, _ = d(fake)
        loss_d = (F.softplus(-s_real.float()).mean() + F.softplus(s_fake.float()).mean()
                  + F.cross_entropy(c_real.float(), y[i]))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        with cast:
            s_fake, c_fake = d(g(z, y[i]))
        loss_g = F.softplus(-s_fake.float()).mean() + F.cross_entropy(c_fake.float(), y[i])
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    return time.perf_counter() - t0, time.thread_time() - c0


def host_description() -> str:
    """``"<machine>, <N> CPUs, <processor>"``: the host a timing was taken on (calibration, cost probe)."""
    import os

    return f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or 'cpu'}"


def run_calibration(iterations: int = ITERATIONS, repeats: int = REPEATS) -> dict:
    """Run the workload on one thread (the caller's thread count is restored) and return
    ``{"seconds", "repeats_seconds", "cpu_seconds", "iterations", "workload", "version", "torch", "host",
    "compute"}`` (``compute``: :func:`robgan.provenance.compute_fingerprint`, the machine's kernel set: the
    calibration compares machines of one kind; the DAG trains in bf16 only where ``bf16_native``).

    ``seconds`` is the minimum wall time over ``repeats``, ``cpu_seconds`` the minimum CPU time of the
    thread (equal on a quiet machine; on a busy one the wall time grows and the CPU time much less, so
    their ratio shows how busy the machine was); one untimed iteration warms up first."""
    import torch

    from robgan.provenance import bf16_supported, compute_fingerprint

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _iterations(1)
        times = [_iterations(iterations) for _ in range(repeats)]
        _iterations(1, native=True)
        native = [_iterations(iterations, native=True) for _ in range(repeats)]
    finally:
        torch.set_num_threads(threads)
    bf16 = bf16_supported(torch.device("cpu"))
    return {"seconds": round(min(t for t, _ in times), 3),
            "repeats_seconds": [round(t, 3) for t, _ in times],
            "cpu_seconds": round(min(c for _, c in times), 3),
            "iterations": int(iterations), "workload": WORKLOAD if iterations == ITERATIONS else
            WORKLOAD.replace(f"{ITERATIONS} GAN", f"{iterations} GAN"),
            "version": _VERSION, "torch": torch.__version__,
            "host": host_description(), "compute": compute_fingerprint("cpu"),
            # the same workload in the suite's default precision and layout on this machine
            "native": {"seconds": round(min(t for t, _ in native), 3),
                       "repeats_seconds": [round(t, 3) for t, _ in native],
                       "cpu_seconds": round(min(c for _, c in native), 3),
                       "settings": f"channels-last, {'bf16 autocast' if bf16 else 'float32 (bf16 not native)'}"}}


def multiple(seconds: float, calibration: dict | None) -> float | None:
    """``seconds`` as a multiple of the calibration's time (None without a usable calibration).

    Two machines' multiples of the same work compare where their seconds do not."""
    if not calibration or not calibration.get("seconds"):
        return None
    return round(float(seconds) / float(calibration["seconds"]), 1)


def main(argv: list[str] | None = None) -> int:
    """``python -m robgan.calibration``: print the calibration as JSON (what ``dag_run`` calls)."""
    print(json.dumps(run_calibration()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
