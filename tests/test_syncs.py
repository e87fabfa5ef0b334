"""No host-device synchronisation in the inner loops, checked on any device with robgan.bench.syncs.

The CUDA tests in test_performance.py (set_sync_debug_mode("error")) are the full check where a GPU
exists; these run everywhere: the probe sees each operation that would make the host wait for a GPU,
and a training iteration (data included, every method, every augmentation) issues none, while the
training loop reads its metrics only at log / snapshot / checkpoint iterations.
"""

from __future__ import annotations

import pytest
import torch

from robgan.bench.syncs import HostSyncProbe, probe_host_syncs
from robgan.config import load_config
from robgan.data import DatasetInfo
from robgan.training import METHODS
from robgan.training.context import Context
from robgan.training.loop import train_run

X = torch.linspace(-1.0, 1.0, 6)

SYNCING = {
    "item": (lambda: X.sum().item(), ["aten._local_scalar_dense"]),
    "if tensor": (lambda: bool(X.sum() > 0), ["aten._local_scalar_dense"]),
    "float": (lambda: float(X.max()), ["aten._local_scalar_dense"]),
    "mask index": (lambda: X[X > 0], ["aten.index"]),
    "masked_select": (lambda: X.masked_select(X > 0), ["aten.masked_select"]),
    "nonzero": (lambda: X.nonzero(), ["aten.nonzero"]),
    "unique": (lambda: torch.unique(X), ["aten._unique2"]),
    "equal": (lambda: torch.equal(X, X), ["aten.equal"]),
    "repeat tensor": (lambda: X.repeat_interleave(torch.ones(6, dtype=torch.long)), ["aten.repeat_interleave"]),
    "tolist": (lambda: X.tolist(), ["Tensor.tolist"]),
    "cpu": (lambda: X.cpu(), ["Tensor.cpu"]),
    "numpy": (lambda: X.numpy(), ["Tensor.numpy"]),
}

NOT_SYNCING = {
    "arithmetic": lambda: (X * 2 + 1).exp().sum(),
    "reductions": lambda: (X.max(), X.argmax(), X.mean(), (X > 0).float().mean()),
    "integer index": lambda: X[torch.tensor([0, 2])],
    "where": lambda: torch.where(X > 0, X, -X),
    "repeat int": lambda: X.repeat_interleave(2),
    "host draws": lambda: torch.rand(3, generator=torch.Generator().manual_seed(0)),
}


@pytest.mark.parametrize("name", SYNCING)
def test_probe_sees_each_syncing_operation(name):
    fn, expected = SYNCING[name]
    assert [e.op for e in probe_host_syncs(fn).events] == expected


@pytest.mark.parametrize("name", NOT_SYNCING)
def test_probe_ignores_asynchronous_operations(name):
    rec = probe_host_syncs(NOT_SYNCING[name])
    assert len(rec) == 0, rec.summary()


def test_probe_ignores_the_optimizers_host_step_counter_only():
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([w], lr=0.1)

    def step(read_loss: bool):
        loss = (w ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()  # Adam reads its (host) step counter with .item()
        return loss.item() if read_loss else loss

    assert len(probe_host_syncs(lambda: step(False))) == 0
    assert [e.op for e in probe_host_syncs(lambda: step(True)).events] == ["aten._local_scalar_dense"]


def test_probe_tags_events_in_order_and_says_when_no_robgan_line_called():
    from robgan.data.stream import fixed_indices  # a robgan function that runs tensor code

    probe = HostSyncProbe()
    with probe() as rec:
        probe.tag = "a"
        fixed_indices(10, 3, 0).tolist()
        probe.tag = "b"
        fixed_indices(10, 3, 0).sum().item()
    assert [e.op for e in rec.events] == ["Tensor.tolist", "aten._local_scalar_dense"]
    assert rec.tags == ["a", "b"]
    # The calls were made from this test file, not from robgan: no robgan line to name.
    assert all(e.where == "?" for e in rec.events)
    assert "Tensor.tolist at ?" in rec.summary()


def test_probe_on_cuda_ignores_host_only_tensors():
    """Given a CUDA device, the probe counts only operations touching a GPU tensor."""
    probe = HostSyncProbe("cuda")
    with probe() as rec:
        X.sum().item()
        X.cpu()
    assert len(rec) == 0


# --------------------------------------------------------------------------------------------------
# Training


def _cfg(default_config, tiny, method, extra=()):
    cfg = load_config(default_config, [*tiny, "train.n_dis=2", *extra])
    cfg["run"] = {"method": method, "label": method, "seed": 0, "init_from": None}
    return cfg


def _synthetic(n=64, channels=3):
    g = torch.Generator().manual_seed(0)
    info = DatasetInfo("synthetic", 10, channels, 32, tuple(str(i) for i in range(10)))
    return (torch.randint(0, 256, (n, channels, 32, 32), generator=g, dtype=torch.uint8),
            torch.arange(n) % 10), info


@pytest.mark.parametrize("method", list(METHODS))
def test_training_iteration_issues_no_sync_on_embedded_data(default_config, tiny_overrides, method):
    """apply_schedule + one step, real mnist5k batches through the stream, as the loop runs it."""
    cfg = _cfg(default_config, tiny_overrides, method)
    ctx = Context(cfg, METHODS[method], torch.device("cpu"))
    METHODS[method].step(ctx)  # Adam's state allocated, as after the first iteration

    def iteration():
        ctx.apply_schedule(1)
        METHODS[method].step(ctx)

    rec = probe_host_syncs(iteration)
    assert len(rec) == 0, rec.summary()


@pytest.mark.parametrize("augment", ["crop_flip", "resized_crop_flip"])
@pytest.mark.parametrize("method", ["robgan", "advtrain", "robgan_ft"])
def test_training_iteration_issues_no_sync_with_augmentation(default_config, tiny_overrides, method, augment):
    """The CIFAR-10 / ImageNet-143 stream (crop, flip, noise) on 3-channel images, channels_last."""
    cfg = _cfg(default_config, tiny_overrides, method,
               [f"data.augment={augment}", "data.noise=true", "performance.channels_last=true"])
    data, info = _synthetic()
    ctx = Context(cfg, METHODS[method], torch.device("cpu"), train_data=data, info=info)
    METHODS[method].step(ctx)
    rec = probe_host_syncs(lambda: METHODS[method].step(ctx))
    assert len(rec) == 0, rec.summary()


def test_probe_catches_a_scalar_read_in_the_step(default_config, tiny_overrides, monkeypatch):
    """The test above can fail: a loss that reads a value on the host is found, at its robgan line."""
    import robgan.training.methods as methods_mod

    real = methods_mod.losses.newloss_g

    def reads_on_host(s, c, y, w):
        loss = real(s, c, y, w)
        if loss > 1e6:  # a data-dependent Python branch: bool(tensor)
            raise AssertionError
        return loss

    monkeypatch.setattr(methods_mod.losses, "newloss_g", reads_on_host)
    ctx = Context(_cfg(default_config, tiny_overrides, "robgan"), METHODS["robgan"], torch.device("cpu"))
    rec = probe_host_syncs(lambda: METHODS["robgan"].step(ctx))
    assert [e.op for e in rec.events] == ["aten._local_scalar_dense"]
    assert rec.events[0].where.startswith("robgan/training/methods.py:")


def test_training_loop_reads_values_only_at_log_snapshot_and_checkpoint_iterations(
        default_config, tiny_overrides, tmp_path, monkeypatch):
    """A whole ``train_run`` (20 iterations; log every 5, snapshot and checkpoint every 10): every sync
    belongs to an iteration that ends at a log, snapshot or checkpoint, or to set-up."""
    cfg = _cfg(default_config, tiny_overrides, "robgan")
    probe = HostSyncProbe()
    real_apply = Context.apply_schedule

    def tagged_apply(self, iteration):
        probe.tag = iteration
        return real_apply(self, iteration)

    monkeypatch.setattr(Context, "apply_schedule", tagged_apply)
    with probe() as rec:
        train_run(cfg, tmp_path / "run", progress=False)
    total = int(cfg["train"]["iterations"])
    every = {int(cfg[k]) for k in ("log_every", "snapshot_every", "checkpoint_every")}
    allowed = {done for done in range(1, total + 1) if done == total or any(done % k == 0 for k in every)}
    in_loop = [(tag + 1, e) for tag, e in zip(rec.tags, rec.events, strict=True) if tag is not None]
    assert in_loop, "the loop's metric reads were not seen: the probe is not watching"
    stray = [f"{e.op} at {e.where} (iteration {done})" for done, e in in_loop if done not in allowed]
    assert not stray, stray
    assert {done for done, _ in in_loop} <= allowed and len({done for done, _ in in_loop}) >= total // 5


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_probe_agrees_with_cuda_sync_debug_mode():
    """On a GPU, what the probe counts is what CUDA's own sync detector rejects, and vice versa."""
    x = torch.linspace(-1.0, 1.0, 6, device="cuda")
    cases = [(lambda: x.sum().item(), 1), (lambda: x[x > 0], 1), (lambda: x.cpu(), 1),
             (lambda: (x * 2).max(), 0), (lambda: torch.where(x > 0, x, -x), 0)]
    for fn, n in cases:
        assert len(probe_host_syncs(fn, "cuda")) == n
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            if n:
                with pytest.raises(RuntimeError):
                    fn()
            else:
                fn()
        finally:
            torch.cuda.set_sync_debug_mode(0)
