"""Performance options change speed, not results: channels_last and torch.compile give the fp32 eager
step's results within float32 noise, bf16 autocast within a looser tolerance (on CUDA, and the same
code path under CPU bf16 autocast everywhere), and a training step issues no host-device
synchronisation on CUDA (tests/test_syncs.py checks the same on any device with a probe).

What "equal" means for one training step from the same state (stated once, used by every test):

- losses: relative difference ≤ ``LOSS_RTOL``;
- gradients (what the step left in ``.grad``: D's from its update, G's from its update): per tensor,
  ``max|g - g_ref| ≤ GRAD_RTOL · max|g_ref| + GRAD_NOISE · scale``, ``scale`` the largest gradient
  element of the same model (G or D). G's gradient reaches its first layers through D, G's batch
  norms and the tanh, and differs by up to ~1e-3 relative between any two float32 evaluation orders
  (contiguous vs channels_last, eager vs compiled), hence 5e-3. A tensor whose exact gradient is 0
  (a conv bias followed by batch norm) holds only float32 rounding, whose size follows the
  gradients flowing through the model, not the tensor's own: measured (contiguous vs channels_last,
  tiny models) up to 3e-7 of ``scale``, hence ``GRAD_NOISE`` = 1e-5;
- updated weights: ``max-abs ≤ WEIGHT_ATOL`` on at least ``WEIGHT_FRACTION`` of the elements, and
  within ``2·lr`` everywhere. Adam's first step moves every weight by ``lr · g / (|g| + 1e-8)``, i.e.
  ±lr whatever the gradient's size, so an element whose gradient is float32 noise (e.g. a conv bias
  followed by batch norm, whose exact gradient is 0) may move the other way; measured: 0.15 % of the
  elements, all of them such noise-level gradients.
"""

from __future__ import annotations

import contextlib

import pytest
import torch

from robgan import provenance as prov
from robgan.config import load_config
from robgan.training import METHODS
from robgan.training.context import Context

LOSS_RTOL = 1e-4
GRAD_RTOL, GRAD_NOISE = 5e-3, 1e-5
WEIGHT_ATOL, WEIGHT_FRACTION = 1e-6, 0.99
# bf16 autocast (CUDA): 8-bit mantissas in D's and G's convolutions.
BF16_LOSS_RTOL, BF16_GRAD_COSINE, BF16_UPDATE_SIGN_AGREEMENT = 5e-2, 0.95, 0.9

PERF_METHODS = ("sngan", "advtrain", "robgan", "robgan_ft")


def _cfg(default_config, tiny, method="robgan", extra=()):
    cfg = load_config(default_config, [*tiny, *extra])
    cfg["run"] = {"method": method, "label": method, "seed": 0, "init_from": None}
    return cfg


def _one_step(cfg, device="cpu", steps=1):
    """Run ``steps`` steps from the seeded initial state; return (losses, weights, grads, lr)."""
    torch.manual_seed(0)
    ctx = Context(cfg, METHODS[cfg["run"]["method"]], torch.device(device))
    for _ in range(steps):
        out = METHODS[cfg["run"]["method"]].step(ctx)
    losses = {k: float(v) for k, v in out.items()}
    weights = {f"{k}.{n}": p.detach().float().cpu().contiguous() for k, m in ctx.modules.items()
               for n, p in m.named_parameters()}
    grads = {f"{k}.{n}": p.grad.detach().float().cpu().contiguous() for k, m in ctx.modules.items()
             for n, p in m.named_parameters() if p.grad is not None}
    lr = max(g["lr"] for o in ctx.optimizers.values() for g in o.param_groups)
    return losses, weights, grads, lr


def _assert_equal_steps(ref, other):
    (l0, w0, g0, lr), (l1, w1, g1, _) = ref, other
    assert l0.keys() == l1.keys()
    for k in l0:
        assert l1[k] == pytest.approx(l0[k], rel=LOSS_RTOL, abs=1e-7), k
    assert g0.keys() == g1.keys() and g0
    scale = {}
    for k in g0:
        model = k.split(".", 1)[0]
        scale[model] = max(scale.get(model, 0.0), float(g0[k].abs().max()))
    for k in g0:
        bound = GRAD_RTOL * float(g0[k].abs().max()) + GRAD_NOISE * scale[k.split(".", 1)[0]]
        assert float((g1[k] - g0[k]).abs().max()) <= bound, k
    n_close = n_total = 0
    for k in w0:
        d = (w1[k] - w0[k]).abs()
        assert float(d.max()) <= 2 * lr * (1 + 1e-3), k
        n_close += int((d <= WEIGHT_ATOL).sum())
        n_total += d.numel()
    assert n_close / n_total >= WEIGHT_FRACTION


def _conv_weight_layouts(cfg) -> set[str]:
    """Memory layouts of the 4-d weights (convolutions) whose two layouts differ, of a fresh Context."""
    ctx = Context(cfg, METHODS[cfg["run"]["method"]], torch.device("cpu"))
    layouts = set()
    for m in ctx.modules.values():
        for p in m.parameters():
            if p.dim() == 4 and p.shape[1] > 1 and p.shape[2] * p.shape[3] > 1:
                layouts.add("channels_last" if p.is_contiguous(memory_format=torch.channels_last) else
                            "contiguous" if p.is_contiguous() else "other")
    return layouts


def test_channels_last_equals_contiguous(default_config, tiny_overrides):
    # config/config.yaml turns channels_last on: the reference turns it off explicitly
    contiguous = _cfg(default_config, tiny_overrides, extra=["performance.channels_last=false"])
    channels_last = _cfg(default_config, tiny_overrides, extra=["performance.channels_last=true"])
    assert _conv_weight_layouts(contiguous) == {"contiguous"}
    assert _conv_weight_layouts(channels_last) == {"channels_last"}
    _assert_equal_steps(_one_step(contiguous), _one_step(channels_last))


def test_reference_step_is_deterministic(default_config, tiny_overrides):
    """The comparison above is meaningful: two fp32 eager runs agree exactly."""
    a = _one_step(_cfg(default_config, tiny_overrides))
    b = _one_step(_cfg(default_config, tiny_overrides))
    assert a[0] == b[0]
    assert all(torch.equal(a[1][k], b[1][k]) for k in a[1])


def _compile_unavailable() -> str | None:
    """Why torch.compile cannot run here (None when a tiny function compiles and runs)."""
    try:
        fn = torch.compile(lambda x: torch.sin(x) * 2)
        fn(torch.ones(3))
    except Exception as exc:  # any failure means "not available here"
        return f"torch.compile unavailable on this machine: {type(exc).__name__}: {exc}"[:300]
    finally:
        torch._dynamo.reset()
    return None


@pytest.mark.slow
@pytest.mark.compile
def test_compile_equals_eager(default_config, tiny_overrides):
    """One robgan step through torch.compile'd G and D (several minutes on 2 CPU cores: compilation)."""
    reason = _compile_unavailable()
    if reason:
        pytest.skip(reason)
    ref = _one_step(_cfg(default_config, tiny_overrides))
    try:
        comp = _one_step(_cfg(default_config, tiny_overrides, extra=["performance.compile=true"]))
    finally:
        torch._dynamo.reset()
    _assert_equal_steps(ref, comp)


# --------------------------------------------------------------------------------------------------
# CUDA

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@contextlib.contextmanager
def _no_tf32():
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


def _assert_bf16_close(cfg, ref, bf):
    """bf16 vs fp32 from the same state: losses within 5 % relative; each model's whole gradient at
    cosine ≥ 0.95 to the fp32 one; ≥ 90 % of weight elements moved in the same direction by Adam (whose
    first step is ±lr per element)."""
    (l0, w0, g0, _), (l1, w1, g1, _) = ref, bf
    for k in l0:
        assert l1[k] == pytest.approx(l0[k], rel=BF16_LOSS_RTOL, abs=1e-3), k
    for model in ("G", "D"):
        keys = sorted(k for k in g0 if k.startswith(model + "."))
        if keys:
            assert _cosine(torch.cat([g0[k].flatten() for k in keys]),
                           torch.cat([g1[k].flatten() for k in keys])) >= BF16_GRAD_COSINE, model
    torch.manual_seed(0)
    init = Context(cfg, METHODS[cfg["run"]["method"]], torch.device("cpu"))
    w_init = {f"{k}.{n}": p.detach().float() for k, m in init.modules.items() for n, p in m.named_parameters()}
    agree = total = 0
    for k in w0:
        s0, s1 = torch.sign(w0[k] - w_init[k]), torch.sign(w1[k] - w_init[k])
        agree += int((s0 == s1).sum())
        total += s0.numel()
    assert agree / total >= BF16_UPDATE_SIGN_AGREEMENT


@pytest.mark.parametrize("method", PERF_METHODS)
def test_bf16_code_path_close_to_fp32_on_cpu(default_config, tiny_overrides, method, monkeypatch):
    """The bf16 path of every step (autocast around every D/G pass and attack, float32 objectives,
    float32 adversarial images) checked on the CPU with CPU bf16 autocast, at the CUDA test's
    tolerances: through ``performance.bf16`` where the CPU has bf16 (AVX-512-BF16/AMX), else by
    swapping ``Context.autocast`` for CPU autocast (emulated bf16: the same numerics, slower)."""
    import robgan.training.methods as methods_mod

    cfg = _cfg(default_config, tiny_overrides, method)
    assert cfg["performance"]["bf16"] is False  # the reference is float32 (tests' TINY overrides)
    ref = _one_step(cfg)
    if prov.bf16_supported(torch.device("cpu")):
        cfg = _cfg(default_config, tiny_overrides, method, extra=["performance.bf16=true"])
    else:
        monkeypatch.setattr(Context, "autocast", lambda self: torch.autocast("cpu", dtype=torch.bfloat16))
    dtypes = []

    def spy(real):
        def wrapped(*args, **kwargs):
            out = real(*args, **kwargs)
            dtypes.append(out.dtype)
            return out
        return wrapped

    for name in ("pgd_classifier", "pgd_discriminator_real"):
        monkeypatch.setattr(methods_mod.attacks, name, spy(getattr(methods_mod.attacks, name)))
    bf = _one_step(cfg)
    _assert_bf16_close(cfg, ref, bf)
    assert (len(dtypes) > 0) == (method != "sngan")  # the attacks ran (sngan has none)
    assert all(d == torch.float32 for d in dtypes), dtypes


def test_bf16_is_off_where_the_cpu_lacks_it(default_config, tiny_overrides, monkeypatch):
    """``performance.bf16`` on a CPU without bf16 kernels trains in float32 and the manifest's
    ``performance`` record says so; where it is supported, autocast is on and recorded."""
    import robgan.training.context as context_mod

    cfg = _cfg(default_config, tiny_overrides, "robgan", extra=["performance.bf16=true"])
    monkeypatch.setattr(context_mod, "bf16_supported", lambda device: False)
    ctx = Context(cfg, METHODS["robgan"], torch.device("cpu"))
    assert ctx.bf16 is False and ctx.performance_record() == {
        "bf16_requested": True, "bf16": False, "channels_last": True, "compile": False}
    with ctx.autocast():
        assert not torch.is_autocast_enabled("cpu")
    monkeypatch.setattr(context_mod, "bf16_supported", lambda device: True)
    ctx = Context(cfg, METHODS["robgan"], torch.device("cpu"))
    assert ctx.performance_record()["bf16"] is True
    with ctx.autocast():
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


@pytest.mark.gpu
@needs_cuda
def test_bf16_autocast_close_to_fp32(default_config, tiny_overrides):
    """bf16 autocast vs strict fp32 (TF32 off) on CUDA, one robgan step (tolerances: _assert_bf16_close)."""
    cfg = _cfg(default_config, tiny_overrides)
    with _no_tf32():
        ref = _one_step(cfg, device="cuda")
    bf = _one_step(_cfg(default_config, tiny_overrides, extra=["performance.bf16=true"]), device="cuda")
    _assert_bf16_close(cfg, ref, bf)


class _Prefetched:
    """Stands in for ``ctx.stream``: hands out batches drawn beforehand (already on the device)."""

    def __init__(self, batches):
        self.batches = list(batches)

    def next(self):
        return self.batches.pop(0)


@contextlib.contextmanager
def _sync_debug_error():
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(0)


def _cuda_ctx(default_config, tiny_overrides, method):
    ctx = Context(_cfg(default_config, tiny_overrides, method), METHODS[method], torch.device("cuda"))
    METHODS[method].step(ctx)  # warm-up: lazy CUDA/cuDNN initialisation, Adam state allocation
    torch.cuda.synchronize()
    return ctx


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("method", PERF_METHODS)
def test_training_step_compute_never_syncs(default_config, tiny_overrides, method):
    """Attack, forward/backward passes and optimiser steps of one iteration run without a single
    host-device synchronisation (set_sync_debug_mode("error") raises on any), data drawn beforehand."""
    ctx = _cuda_ctx(default_config, tiny_overrides, method)
    n = int(ctx.cfg["train"]["n_dis"]) if METHODS[method].section == "train" else 1
    ctx.stream = _Prefetched([ctx.stream.next() for _ in range(n)])
    with _sync_debug_error():
        out = METHODS[method].step(ctx)
    assert all(torch.isfinite(v).all() for v in out.values())


@pytest.mark.gpu
@needs_cuda
def test_training_step_with_data_never_syncs(default_config, tiny_overrides):
    """The whole iteration, data stream included (noise on, as in every config): the stream's CPU-drawn
    noise / crops / flips reach the device by pinned, non-blocking copies."""
    ctx = _cuda_ctx(default_config, tiny_overrides, "robgan")
    with _sync_debug_error():
        METHODS["robgan"].step(ctx)


@pytest.mark.parametrize("method", ["advtrain", "robgan", "robgan_ft"])
def test_training_attacks_run_under_autocast_on_channels_last_inputs(default_config, tiny_overrides, method,
                                                                     monkeypatch):
    """Every PGD call of a training step happens inside ``ctx.autocast()`` (so bf16 covers the attack's
    passes on CUDA) and gets its images in channels_last when that option is on. Three-channel synthetic
    images: with one channel every contiguous batch also counts as channels_last."""
    import robgan.training.methods as methods_mod
    from robgan.data import DatasetInfo

    cfg = _cfg(default_config, tiny_overrides, method, ["performance.channels_last=true"])
    info = DatasetInfo("synthetic", 10, 3, 32, tuple(str(i) for i in range(10)))
    g = torch.Generator().manual_seed(0)
    data = (torch.randint(0, 256, (64, 3, 32, 32), generator=g, dtype=torch.uint8), torch.arange(64) % 10)
    ctx = Context(cfg, METHODS[method], torch.device("cpu"), train_data=data, info=info)
    inside = {"depth": 0}

    @contextlib.contextmanager
    def recording_autocast():
        inside["depth"] += 1
        try:
            yield
        finally:
            inside["depth"] -= 1

    monkeypatch.setattr(ctx, "autocast", recording_autocast)
    calls = []

    def spy(real):
        def wrapped(model, x, *args, **kwargs):
            calls.append((inside["depth"] > 0, x.is_contiguous(memory_format=torch.channels_last)))
            return real(model, x, *args, **kwargs)
        return wrapped

    for name in ("pgd_classifier", "pgd_discriminator_real"):
        monkeypatch.setattr(methods_mod.attacks, name, spy(getattr(methods_mod.attacks, name)))
    METHODS[method].step(ctx)
    expected = 2 if method == "robgan_ft" and float(cfg["finetune"]["lam"]) > 0 else 1
    assert len(calls) == expected * (int(cfg["train"]["n_dis"]) if method == "robgan" else 1)
    assert all(under for under, _ in calls), "an attack ran outside ctx.autocast()"
    assert all(cl for _, cl in calls), "an attack got contiguous (not channels_last) images"
