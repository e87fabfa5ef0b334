"""Tests for robgan.models: shapes, ranges, conditioning, heads, spectral norm, (de)serialisation."""

from __future__ import annotations

import copy
import io
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from robgan.models import (
    ClassifierView,
    ConditionalBatchNorm2d,
    PreActResNet18Discriminator,
    ResNetDiscriminator,
    ResNetGenerator,
    build_discriminator,
    build_generator,
)
from robgan.models.discriminator import DiscriminatorBlock, OptimizedDiscriminatorBlock, discriminator_plan

N_CLASSES = 5
Z_DIM = 16
W = 8  # tiny ngf / ndf
RES_CH = [(32, 1), (32, 3), (64, 1), (64, 3)]


def _gen(resolution: int = 32, channels: int = 3, seed: int = 0) -> ResNetGenerator:
    torch.manual_seed(seed)
    return ResNetGenerator(N_CLASSES, z_dim=Z_DIM, ngf=W, resolution=resolution, channels=channels)


def _disc(kind: str, resolution: int = 32, channels: int = 3, seed: int = 0, **kw) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "preact":
        return PreActResNet18Discriminator(N_CLASSES, ndf=W, resolution=resolution, channels=channels, **kw)
    return ResNetDiscriminator(N_CLASSES, ndf=W, resolution=resolution, channels=channels, **kw)


def _images(n: int, resolution: int = 32, channels: int = 3, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, resolution, resolution, generator=g)


def _labels(n: int, seed: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, N_CLASSES, (n,), generator=g)


def _z(n: int, seed: int = 3) -> torch.Tensor:
    return torch.randn(n, Z_DIM, generator=torch.Generator().manual_seed(seed))


def _roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# ----------------------------------------------------------------------------------------- generator


def test_generator_channel_plans():
    assert _gen(32).plan == ((128, 64, True), (64, 32, True), (32, 16, True), (16, 8, False))
    assert _gen(64).plan == ((128, 64, True), (64, 32, True), (32, 16, True), (16, 8, True))
    g = ResNetGenerator(N_CLASSES, z_dim=Z_DIM, ngf=W, resolution=128)
    assert [b[2] for b in g.plan] == [True] * 5 and g.plan[-1][1] == W


@pytest.mark.parametrize("resolution,channels", RES_CH)
def test_generator_shape_and_range(resolution, channels):
    g = _gen(resolution, channels)
    x = g(_z(6), _labels(6))
    assert x.shape == (6, channels, resolution, resolution)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert 0.0 <= x.min().item() and x.max().item() <= 1.0
    # Not collapsed to a constant (tanh saturation or a broken block would show here).
    assert x.std().item() > 1e-3


def test_generator_rejects_bad_arguments():
    with pytest.raises(ValueError, match="bottom_width"):
        ResNetGenerator(N_CLASSES, resolution=48)
    g = _gen()
    with pytest.raises(ValueError, match="z must have shape"):
        g(torch.randn(2, Z_DIM + 1), _labels(2))
    with pytest.raises(ValueError, match="y must have shape"):
        g(_z(2), _labels(3))


def test_generator_conditions_on_label():
    g = _gen().eval()
    z = _z(4)
    a = g(z, torch.zeros(4, dtype=torch.long))
    b = g(z, torch.ones(4, dtype=torch.long))
    # Same z, different y: at init γ=1, β=0 for every class, so perturb class 1 first.
    assert torch.equal(a, b)
    with torch.no_grad():
        g.blocks[0].b1.beta.weight[1].add_(0.5)
    b = g(z, torch.ones(4, dtype=torch.long))
    assert (a - b).abs().amax().item() > 1e-3


def test_generator_label_changes_output_after_training_step():
    # After one optimiser step the per-class embeddings differ: different y -> different images.
    g = _gen()
    opt = torch.optim.SGD(g.parameters(), lr=0.1)
    y = torch.arange(4) % N_CLASSES
    (g(_z(4), y) * torch.arange(4.0).reshape(4, 1, 1, 1)).mean().backward()
    opt.step()
    g.eval()
    z = _z(2, seed=9)
    a = g(z, torch.tensor([0, 0]))
    b = g(z, torch.tensor([1, 1]))
    assert (a - b).abs().amax().item() > 1e-4


def test_per_class_gamma_beta_change_touches_only_that_class():
    g = _gen().eval()  # running statistics: each example's output depends on itself only
    z = _z(6)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    before = g(z, y)
    with torch.no_grad():
        g.blocks[1].b2.gamma.weight[2].mul_(1.7)
        g.blocks[2].b1.beta.weight[2].add_(0.3)
    after = g(z, y)
    changed = (after - before).flatten(1).abs().amax(dim=1)
    assert torch.equal(changed[y != 2], torch.zeros(4))
    assert (changed[y == 2] > 1e-4).all()


def test_conditional_batchnorm_formula():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(3, 4)
    assert torch.equal(cbn.gamma.weight, torch.ones(4, 3))
    assert torch.equal(cbn.beta.weight, torch.zeros(4, 3))
    with torch.no_grad():
        cbn.gamma.weight.copy_(torch.randn(4, 3))
        cbn.beta.weight.copy_(torch.randn(4, 3))
    x = torch.randn(8, 3, 5, 5) * 3 + 1
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    out = cbn(x, y)
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    normed = (x - mean) / torch.sqrt(var + cbn.bn.eps)
    expected = cbn.gamma.weight[y][:, :, None, None] * normed + cbn.beta.weight[y][:, :, None, None]
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)
    assert not cbn.bn.affine
    assert cbn.bn.eps == 2e-5  # both references' conditional BN (layers/cat_cond_bn.py; Chainer's default)


def test_generator_batch_independent_in_eval():
    g = _gen().eval()
    z, y = _z(5), _labels(5)
    full = g(z, y)
    for i in range(5):
        torch.testing.assert_close(g(z[i : i + 1], y[i : i + 1]), full[i : i + 1], rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------- discriminators


def test_discriminator_channel_plans():
    # 32 px (dis_models/resnet_32.py): every block 2·ndf wide; down, down, keep, keep.
    assert _disc("resnet", 32).plan == ((3, 16, True), (16, 16, True), (16, 16, False), (16, 16, False))
    assert _disc("resnet", 32).num_features == 16
    # 64 px (dis_models/resnet_64.py): ndf·(1, 2, 4, 8, 16), every block downsamples.
    assert _disc("resnet", 64, 1).plan == ((1, 8, True), (8, 16, True), (16, 32, True), (32, 64, True), (64, 128, True))
    assert _disc("resnet", 64).num_features == 128
    assert _disc("preact", 32).plan == (8, 16, 32, 64)


def test_discriminator_plans_at_paper_width():
    assert discriminator_plan(64, 32) == ((3, 128, True), (128, 128, True), (128, 128, False), (128, 128, False))
    assert discriminator_plan(64, 64) == (
        (3, 64, True), (64, 128, True), (128, 256, True), (256, 512, True), (512, 1024, True)
    )


def _block_output_shapes(model: nn.Module, blocks, *inputs) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    hooks = [b.register_forward_hook(lambda _m, _a, out: shapes.append(tuple(out.shape))) for b in blocks]
    with torch.no_grad():
        model(*inputs)
    for h in hooks:
        h.remove()
    return shapes


# Output (C, H, W) of every block at ndf = W = 8: the reference topologies at tiny width.
RESNET_D_BLOCK_SHAPES = {
    32: [(16, 16, 16), (16, 8, 8), (16, 8, 8), (16, 8, 8)],
    64: [(8, 32, 32), (16, 16, 16), (32, 8, 8), (64, 4, 4), (128, 2, 2)],
}


@pytest.mark.parametrize("kw", [{}, {"spectral_norm": True, "head": "projection", "conv_bias": True}])
@pytest.mark.parametrize("resolution,channels", RES_CH)
def test_resnet_discriminator_block_output_shapes(resolution, channels, kw):
    d = _disc("resnet", resolution, channels, **kw).eval()
    shapes = _block_output_shapes(d, d.blocks, _images(2, resolution, channels), _labels(2))
    assert shapes == [(2, *s) for s in RESNET_D_BLOCK_SHAPES[resolution]]


@pytest.mark.parametrize("resolution,channels", RES_CH)
def test_preact_discriminator_block_output_shapes(resolution, channels):
    d = _disc("preact", resolution, channels).eval()
    shapes = _block_output_shapes(d, d.blocks, _images(2, resolution, channels))
    r = resolution
    expected = [(8, r, r)] * 2 + [(16, r // 2, r // 2)] * 2 + [(32, r // 4, r // 4)] * 2 + [(64, r // 8, r // 8)] * 2
    assert shapes == [(2, *s) for s in expected]


@pytest.mark.parametrize("resolution,channels", RES_CH)
def test_generator_block_output_shapes(resolution, channels):
    g = _gen(resolution, channels).eval()
    shapes = _block_output_shapes(g, g.blocks, _z(2), _labels(2))
    last = (8, 32, 32) if resolution == 32 else (8, 64, 64)  # 32 px: the 4th block keeps 32×32
    assert shapes == [(2, 64, 8, 8), (2, 32, 16, 16), (2, 16, 32, 32), (2, *last)]


def test_discriminator_block_hidden_width_is_input_width():
    """dis_models/resblocks.py Block: conv3×3 in→in, ReLU, conv3×3 in→out; bias-free by default."""
    block = DiscriminatorBlock(4, 8, downsample=True, spectral_norm=False)
    assert tuple(block.c1.weight.shape) == (4, 4, 3, 3)
    assert tuple(block.c2.weight.shape) == (8, 4, 3, 3)
    assert tuple(block.c_sc.weight.shape) == (8, 4, 1, 1)
    assert all(c.bias is None for c in (block.c1, block.c2, block.c_sc))
    first = OptimizedDiscriminatorBlock(3, 8, spectral_norm=False)
    shapes = [tuple(c.weight.shape) for c in (first.c1, first.c2, first.c_sc)]
    assert shapes == [(8, 3, 3, 3), (8, 8, 3, 3), (8, 3, 1, 1)]
    assert all(c.bias is None for c in (first.c1, first.c2, first.c_sc))
    with_bias = DiscriminatorBlock(4, 8, downsample=True, spectral_norm=False, bias=True)
    assert [c.bias.numel() for c in (with_bias.c1, with_bias.c2, with_bias.c_sc)] == [4, 8, 8]


@pytest.mark.parametrize("kind", ["resnet", "preact"])
@pytest.mark.parametrize("resolution,channels", RES_CH)
def test_ac_discriminator_shapes(kind, resolution, channels):
    d = _disc(kind, resolution, channels)
    x = _images(3, resolution, channels)
    s, c = d(x)
    assert s.shape == (3,) and c.shape == (3, N_CLASSES)
    assert torch.isfinite(s).all() and torch.isfinite(c).all()
    # y is accepted and ignored by the AC head.
    s2, c2 = d(x, _labels(3))
    assert torch.equal(s, s2) and torch.equal(c, c2)
    with pytest.raises(ValueError, match="expected images of shape"):
        d(_images(3, resolution // 2, channels))


@pytest.mark.parametrize("resolution,channels", RES_CH)
def test_projection_discriminator_shapes(resolution, channels):
    d = _disc("resnet", resolution, channels, spectral_norm=True, head="projection")
    s = d(_images(3, resolution, channels), _labels(3))
    assert s.shape == (3,) and torch.isfinite(s).all()


@pytest.mark.parametrize("kind", ["resnet", "preact"])
def test_discriminator_maps_unit_range_to_pm1(kind):
    d = _disc(kind)
    first = d.blocks[0] if kind == "resnet" else d.conv_in
    seen = {}
    first.register_forward_pre_hook(lambda _m, args: seen.setdefault("x", args[0].detach().clone()))
    x = _images(2)
    d(x)
    torch.testing.assert_close(seen["x"], x * 2 - 1, rtol=0, atol=0)
    assert seen["x"].min().item() >= -1.0 and seen["x"].max().item() <= 1.0


def test_resnet_discriminator_uses_global_sum_pooling():
    d = _disc("resnet").eval()
    x = _images(2)
    h = torch.relu(d.blocks(x * 2 - 1))
    assert h.shape[-2:] == (8, 8)  # 32 -> 16 -> 8, then two blocks at 8×8
    torch.testing.assert_close(d.features(x), h.sum(dim=(2, 3)), rtol=1e-6, atol=1e-6)


def test_projection_head_matches_hand_computation():
    d = _disc("resnet", spectral_norm=True, head="projection")
    d.train()
    for _ in range(2):  # move the power-iteration state away from its initial value
        d(_images(2), _labels(2))
    d.eval()
    x = _images(4)
    y = torch.tensor([0, 1, 2, 3])
    s = d(x, y)
    h = d.features(x)
    lin = d.heads.adv
    by_hand = (h @ lin.weight.T + lin.bias)[:, 0] + (d.heads.embed.weight[y] * h).sum(dim=1)
    torch.testing.assert_close(s, by_hand, rtol=1e-5, atol=1e-5)
    s_other = d(x, (y + 1) % N_CLASSES)
    assert (s - s_other).abs().amin().item() > 1e-6
    # Changing y changes only the projection term.
    y_other = (y + 1) % N_CLASSES
    by_hand_other = (h @ lin.weight.T + lin.bias)[:, 0] + (d.heads.embed.weight[y_other] * h).sum(1)
    torch.testing.assert_close(s_other, by_hand_other, rtol=1e-5, atol=1e-5)


def test_projection_head_requires_labels():
    d = _disc("resnet", head="projection")
    with pytest.raises(ValueError, match="needs the labels"):
        d(_images(2))


def test_invalid_heads_and_resolutions():
    with pytest.raises(ValueError, match="head"):
        _disc("resnet", head="softmax")
    with pytest.raises(ValueError, match="only head='ac'"):
        _disc("preact", head="projection")
    for resolution in (16, 48, 128):
        with pytest.raises(ValueError, match="resolution 32 or 64"):
            _disc("resnet", resolution=resolution)


def _sn_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]


@pytest.mark.parametrize("head", ["ac", "projection"])
def test_spectral_norm_wraps_everything_and_normalises(head):
    d = _disc("resnet", 64, 3, spectral_norm=True, head=head)
    mods = _sn_modules(d)
    assert len(mods) == 3 * 5 + 2  # 5 blocks x (2 convs + 1x1 shortcut) + 2 head layers
    assert all(parametrize.is_parametrized(m, "weight") for m in mods)
    x, y = _images(2, 64), _labels(2)
    u0 = [m.parametrizations.weight[0]._u.clone() for m in mods]
    # Eval mode uses the stored power-iteration vectors as they are (attacks in eval change nothing)...
    d.eval()
    d(x, y)
    assert all(torch.equal(m.parametrizations.weight[0]._u, u) for m, u in zip(mods, u0, strict=True))
    # ...while every training-mode forward advances them by one power iteration.
    d.train()
    d(x, y)
    # (The 1-unit real/fake linear is a 1-row matrix: its u is ±1 forever.)
    assert all(
        not torch.equal(m.parametrizations.weight[0]._u, u)
        for m, u in zip(mods, u0, strict=True)
        if m is not d.heads.adv
    )
    # Power iteration converges slowly when the top two singular values are close, so give it more
    # iterations (each training-mode access of `.weight` is one) than a handful of forwards would.
    with torch.no_grad():
        for m in mods:
            for _ in range(100):
                m.weight  # noqa: B018
    d.eval()
    with torch.no_grad():
        for m in mods:
            w = m.weight
            sigma = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2).item()
            assert abs(sigma - 1.0) < 0.05, (m, sigma)
            # Without the normalisation the same weight is far from unit spectral norm.
            w0 = m.parametrizations.weight.original
            assert abs(torch.linalg.matrix_norm(w0.reshape(w0.shape[0], -1), ord=2).item() - 1.0) > 0.1


def test_no_spectral_norm_by_default():
    for d in (_disc("resnet"), _disc("preact")):
        assert not any(parametrize.is_parametrized(m) for m in d.modules())
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())


@pytest.mark.parametrize("kind", ["resnet", "preact"])
def test_classifier_view_equals_class_head(kind):
    d = _disc(kind).eval()
    view = ClassifierView(d)
    assert view.n_classes == N_CLASSES
    x = _images(3)
    assert torch.equal(view(x), d(x)[1])
    # The view shares, not copies, the discriminator's parameters.
    assert {id(p) for p in view.parameters()} == {id(p) for p in d.parameters()}


@pytest.mark.parametrize("kind", ["resnet", "preact"])
def test_classifier_view_channels_last_equals_contiguous(kind):
    """The channels-last view (used by the evaluations) gives the same logits and input gradients as the
    plain one, within float32 summation-order noise."""
    import copy

    d = _disc(kind).eval()
    view = ClassifierView(d)
    cl = ClassifierView(copy.deepcopy(d).to(memory_format=torch.channels_last), channels_last=True)
    seen = []
    cl.discriminator.register_forward_pre_hook(
        lambda _m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    x = _images(4).requires_grad_(True)
    x2 = x.detach().clone().requires_grad_(True)
    a, b = view(x), cl(x2)
    torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    (ga,) = torch.autograd.grad(a.logsumexp(1).sum(), x)
    (gb,) = torch.autograd.grad(b.logsumexp(1).sum(), x2)
    torch.testing.assert_close(gb, ga, rtol=1e-4, atol=1e-6)
    assert gb.shape == x.shape
    assert seen == [True]  # D received the channels-last layout (a contiguous 4-image batch would not be)


def test_classifier_view_rejects_projection_head():
    with pytest.raises(ValueError, match="head='ac'"):
        ClassifierView(_disc("resnet", head="projection"))


@pytest.mark.parametrize(
    "kind,kw",
    [("resnet", {}), ("resnet", {"spectral_norm": True, "head": "projection"}), ("preact", {})],
)
def test_discriminator_batch_independent_in_eval(kind, kw):
    d = _disc(kind, **kw).eval()
    x, y = _images(5), _labels(5)
    full = d(x, y)
    full = full if isinstance(full, tuple) else (full,)
    for i in range(5):
        one = d(x[i : i + 1], y[i : i + 1])
        one = one if isinstance(one, tuple) else (one,)
        for a, b in zip(one, full, strict=True):
            torch.testing.assert_close(a, b[i : i + 1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["resnet", "preact"])
def test_discriminator_input_gradient(kind):
    # PGD needs d(loss)/dx; it must be non-zero and finite.
    d = _disc(kind).eval()
    x = _images(2).requires_grad_(True)
    s, c = d(x)
    (s.sum() + c.logsumexp(1).sum()).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum().item() > 0


# ------------------------------------------------------------------------------- state and formats


@pytest.mark.parametrize(
    "name,build",
    [
        ("generator", lambda seed: _gen(seed=seed)),
        ("resnet_ac", lambda seed: _disc("resnet", seed=seed)),
        ("resnet_sn_proj", lambda seed: _disc("resnet", seed=seed, spectral_norm=True, head="projection")),
        ("preact", lambda seed: _disc("preact", seed=seed)),
    ],
)
def test_state_dict_roundtrip_weights_only(name, build):
    m = build(0)
    # A training-mode pass moves BN running stats / SN power-iteration vectors off their initial values.
    m.train()
    if name == "generator":
        m(_z(4), _labels(4))
        inputs = (_z(3, seed=5), _labels(3, seed=6))
    else:
        m(_images(4), _labels(4))
        inputs = (_images(3, seed=5), _labels(3, seed=6))
    m.eval()
    ref = m(*inputs)
    other = build(123)
    other.load_state_dict(_roundtrip(m.state_dict()))
    other.eval()
    out = other(*inputs)
    ref, out = (ref, out) if isinstance(ref, tuple) else ((ref,), (out,))
    for a, b in zip(ref, out, strict=True):
        assert torch.equal(a, b)
    clone = copy.deepcopy(m)
    out = clone(*inputs)
    out = out if isinstance(out, tuple) else (out,)
    for a, b in zip(ref, out, strict=True):
        assert torch.equal(a, b)


def test_construction_is_deterministic_under_seed():
    a, b = _disc("resnet", seed=7).state_dict(), _disc("resnet", seed=7).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = _disc("resnet", seed=8).state_dict()
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("kind", ["resnet", "preact"])
def test_channels_last_inputs(kind):
    d = _disc(kind).eval()
    x = _images(3)
    ref_s, ref_c = d(x)
    s, c = d(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(s, ref_s, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(c, ref_c, rtol=1e-4, atol=1e-4)
    d = d.to(memory_format=torch.channels_last)
    s, c = d(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(s, ref_s, rtol=1e-4, atol=1e-4)


def test_generator_channels_last():
    g = _gen().eval()
    z, y = _z(3), _labels(3)
    ref = g(z, y)
    g = g.to(memory_format=torch.channels_last)
    torch.testing.assert_close(g(z, y), ref, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------------ factory

INFO = SimpleNamespace(n_classes=N_CLASSES, channels=1, resolution=32)
MODEL_CFG = {"z_dim": Z_DIM, "ngf": W, "ndf": W, "d_arch": "resnet"}


def test_build_generator():
    g = build_generator(MODEL_CFG, INFO)
    assert isinstance(g, ResNetGenerator)
    assert (g.z_dim, g.ngf, g.resolution, g.channels, g.n_classes) == (Z_DIM, W, 32, 1, N_CLASSES)
    assert g(_z(2), _labels(2)).shape == (2, 1, 32, 32)


@pytest.mark.parametrize(
    "method", ["advtrain", "robgan", "robgan_ft", "acgan", "acgan_newloss", "robgan_oldloss"]
)
@pytest.mark.parametrize("arch", ["resnet", "preact_resnet18"])
def test_build_discriminator_ac_methods(method, arch):
    d = build_discriminator({**MODEL_CFG, "d_arch": arch}, INFO, method)
    cls = ResNetDiscriminator if arch == "resnet" else PreActResNet18Discriminator
    assert type(d) is cls
    assert d.head == "ac" and d.n_classes == N_CLASSES and d.channels == 1 and d.ndf == W
    assert not any(parametrize.is_parametrized(m) for m in d.modules())


@pytest.mark.parametrize("arch", ["resnet", "preact_resnet18"])
def test_build_discriminator_sngan(arch):
    d = build_discriminator({**MODEL_CFG, "d_arch": arch}, INFO, "sngan")
    assert type(d) is ResNetDiscriminator
    assert d.head == "projection" and d.spectral_norm
    assert all(parametrize.is_parametrized(m, "weight") for m in _sn_modules(d))


def _convs(d: nn.Module) -> list[nn.Conv2d]:
    return [m for m in d.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("resolution", [32, 64])
def test_build_discriminator_bias_conventions(resolution):
    """Rob-GAN's PyTorch code: bias-free convolutions, nn.Linear heads with bias. sngan_projection
    (Chainer): every link has a bias unless nobias=True, and snresnet_32.py's l5 is nobias."""
    info = SimpleNamespace(n_classes=N_CLASSES, channels=3, resolution=resolution)
    for arch in ("resnet", "preact_resnet18"):
        d = build_discriminator({**MODEL_CFG, "d_arch": arch}, info, "robgan")
        assert _convs(d) and all(c.bias is None for c in _convs(d))
        assert d.heads.adv.bias is not None and d.heads.cls.bias is not None
    sn = build_discriminator(MODEL_CFG, info, "sngan")
    assert _convs(sn) and all(c.bias is not None for c in _convs(sn))
    assert (sn.heads.adv.bias is not None) == (resolution == 64)


def test_build_discriminator_errors():
    with pytest.raises(ValueError, match=r"model\.d_arch.*preact_resnet18"):
        build_discriminator({**MODEL_CFG, "d_arch": "vgg"}, INFO, "robgan")
    with pytest.raises(ValueError, match="sngan"):
        build_discriminator(MODEL_CFG, INFO, "wgan")
    with pytest.raises(ValueError, match=r"model\.ndf"):
        build_discriminator({"d_arch": "resnet"}, INFO, "robgan")


def test_discriminator_block_without_downsampling_has_identity_shortcut():
    torch.manual_seed(0)
    block = DiscriminatorBlock(4, 4, downsample=False, spectral_norm=False)
    assert block.c_sc is None
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        block.c2.weight.zero_()
    torch.testing.assert_close(block(x), x, rtol=0, atol=0)  # zero residual branch -> identity


# ------------------------------------------------------------------------------------ paper widths
# Parameter counts (sum of numel over .parameters()) of the reference models at the papers' widths.
# Rob-GAN numbers: the authors' PyTorch modules (github.com/xuanqing94/RobGAN, HEAD), instantiated as
# written and counted with the same sum. sngan_projection numbers (github.com/pfnet-research/
# sngan_projection, HEAD; Chainer) are counted by hand below: Chainer's Convolution2D / Linear have a
# bias unless nobias=True, L.BatchNormalization has γ and β, EmbedID / SNEmbedID have no bias.

# xuanqing94/RobGAN dis_models/resnet_32.py ResNetAC(ch=64, n_classes=10).
ROBGAN_D32 = 1_053_835
# xuanqing94/RobGAN dis_models/resnet_64.py ResNetAC(ch=64, n_classes=143).
ROBGAN_D64 = 10_283_024
# xuanqing94/RobGAN dis_models/preact_resnet.py PreActResNet18() (3 channels, 10 classes).
ROBGAN_PREACT18 = 11_164_875
# xuanqing94/RobGAN gen_models/resnet_32.py ResNetGenerator(ch=64, dim_z=128, n_classes=10).
ROBGAN_G32 = 12_272_515
# xuanqing94/RobGAN gen_models/resnet_64.py ResNetGenerator(ch=64, dim_z=128, n_classes=143).
ROBGAN_G64 = 13_038_595

# pfnet-research/sngan_projection dis_models/snresnet_32.py SNResNetProjectionDiscriminator(ch=128,
# n_classes=10) (configs/sn_cifar10_conditional.yml), by hand:
#   block1 OptimizedBlock(3, 128): c1 3·128·9+128 = 3,584; c2 128·128·9+128 = 147,584;
#          c_sc 3·128+128 = 512                                                           151,680
#   block2 Block(128, 128, downsample): c1 147,584 + c2 147,584 + c_sc 128·128+128 = 16,512  311,680
#   block3, block4 Block(128, 128) (no shortcut conv): 2 · (147,584 + 147,584)              590,336
#   l5 SNLinear(128, 1, nobias=True) 128; l_y SNEmbedID(10, 128) 1,280                        1,408
#   total                                                                                 1,055,104
SNGAN_D32 = 1_055_104
# pfnet-research/sngan_projection dis_models/snresnet_64.py SNResNetProjectionDiscriminator(ch=64,
# n_classes=143) (configs/sn_projection_dog_and_cat_64.yml), by hand (Block hidden width = input width):
#   block1 OptimizedBlock(3, 64): c1 3·64·9+64 = 1,792; c2 64·64·9+64 = 36,928; c_sc 3·64+64 = 256   38,976
#   block2 Block(64, 128):    c1 64·64·9+64 = 36,928;  c2 64·128·9+128 = 73,856;  c_sc 64·128+128 = 8,320   119,104
#   block3 Block(128, 256):   c1 147,584;  c2 128·256·9+256 = 295,168;  c_sc 128·256+256 = 33,024            475,776
#   block4 Block(256, 512):   c1 590,080;  c2 256·512·9+512 = 1,180,160; c_sc 256·512+512 = 131,584        1,901,824
#   block5 Block(512, 1024):  c1 2,359,808; c2 512·1024·9+1024 = 4,719,616; c_sc 512·1024+1024 = 525,312  7,604,736
#   l6 SNLinear(1024, 1) 1,025; l_y SNEmbedID(143, 1024) 146,432                                          147,457
#   total                                                                                             10,287,873
SNGAN_D64 = 10_287_873
# pfnet-research/sngan_projection gen_models/resnet_64.py ResNetGenerator(ch=64, dim_z=128, n_classes=143)
# (configs/sn_projection_dog_and_cat_64.yml), by hand: the layers of Rob-GAN's port, hence its count.
#   l1 Linear(128, 16·1024) 128·16384+16384 = 2,113,536
#   Block(i, o, upsample): b1 CBN(i) 2·143·i, c1 i·o·9+o, b2 CBN(o) 2·143·o, c2 o·o·9+o, c_sc i·o+o
#     (1024, 512) 8,043,008; (512, 256) 2,120,960; (256, 128) 585,344; (128, 64) 173,888
#   b6 BatchNormalization(64) 128; l6 Convolution2D(64, 3, 3) 64·3·9+3 = 1,731;  total 13,038,595
SNGAN_G64 = 13_038_595


def _conv_count(i: int, o: int, k: int, bias: bool = True) -> int:
    return i * o * k * k + (o if bias else 0)


def test_hand_counted_references_add_up():
    """The sngan_projection totals equal the sums of the per-layer terms written beside them."""
    assert SNGAN_D32 == (3584 + 147_584 + 512) + (2 * 147_584 + 16_512) + 2 * 2 * 147_584 + 128 + 10 * 128
    assert SNGAN_D64 == (
        _conv_count(3, 64, 3) + _conv_count(64, 64, 3) + _conv_count(3, 64, 1)
        + sum(_conv_count(c, c, 3) + _conv_count(c, 2 * c, 3) + _conv_count(c, 2 * c, 1) for c in (64, 128, 256, 512))
        + 1024 + 1 + 143 * 1024
    )
    assert SNGAN_G64 == 128 * 16384 + 16384 + sum(
        2 * 143 * i + _conv_count(i, o, 3) + 2 * 143 * o + _conv_count(o, o, 3) + _conv_count(i, o, 1)
        for i, o in ((1024, 512), (512, 256), (256, 128), (128, 64))
    ) + 128 + _conv_count(64, 3, 3)


PAPER_MODEL = {"z_dim": 128, "ngf": 64, "ndf": 64}


def _count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _info(n_classes: int, resolution: int) -> SimpleNamespace:
    return SimpleNamespace(n_classes=n_classes, channels=3, resolution=resolution)


@pytest.mark.parametrize(
    "d_arch,method,n_classes,resolution,expected",
    [
        ("resnet", "robgan", 10, 32, ROBGAN_D32),
        ("resnet", "advtrain", 10, 32, ROBGAN_D32),
        ("resnet", "robgan", 143, 64, ROBGAN_D64),
        ("resnet", "acgan", 143, 64, ROBGAN_D64),
        ("preact_resnet18", "robgan", 10, 32, ROBGAN_PREACT18),
        ("preact_resnet18", "advtrain", 10, 32, ROBGAN_PREACT18),
        ("resnet", "sngan", 10, 32, SNGAN_D32),
        ("preact_resnet18", "sngan", 10, 32, SNGAN_D32),  # SN-GAN ignores d_arch
        ("resnet", "sngan", 143, 64, SNGAN_D64),
    ],
)
def test_discriminator_parameter_count_equals_reference(d_arch, method, n_classes, resolution, expected):
    """At ndf = 64 every discriminator has exactly its reference's parameters (counts above)."""
    d = build_discriminator({**PAPER_MODEL, "d_arch": d_arch}, _info(n_classes, resolution), method)
    assert _count(d) == expected


@pytest.mark.parametrize(
    "n_classes,resolution,expected",
    [(10, 32, ROBGAN_G32), (143, 64, ROBGAN_G64), (143, 64, SNGAN_G64)],
)
def test_generator_parameter_count_equals_reference(n_classes, resolution, expected):
    g = build_generator({**PAPER_MODEL, "d_arch": "resnet"}, _info(n_classes, resolution))
    assert _count(g) == expected


@pytest.mark.parametrize(
    "config,methods_counts",
    [
        ("cifar10.yaml", {"sngan": SNGAN_D32, "robgan": ROBGAN_PREACT18, "advtrain": ROBGAN_PREACT18}),
        ("imagenet143.yaml", {"sngan": SNGAN_D64, "robgan": ROBGAN_D64, "advtrain": ROBGAN_D64}),
    ],
)
def test_paper_configs_build_the_reference_models(config, methods_counts):
    """The shipped paper configs' ``model.ndf`` (= the authors' ``ch``) yields the reference widths:
    ndf = 64 is SN-GAN's CIFAR ``ch = 128`` at 32 px and ``ch = 64`` at 64 px."""
    from pathlib import Path

    from robgan.config import load_config
    from robgan.data import dataset_info

    cfg = load_config(Path(__file__).resolve().parents[2] / "config" / config)
    info = dataset_info(cfg["data"])
    for method, expected in methods_counts.items():
        assert _count(build_discriminator(cfg["model"], info, method)) == expected, method
    g_expected = ROBGAN_G32 if info.resolution == 32 else ROBGAN_G64
    assert _count(build_generator(cfg["model"], info)) == g_expected


def test_mean_pooling_is_the_sum_over_the_map_size_and_only_for_ac_discriminators():
    from robgan.models.discriminator import ResNetDiscriminator
    from robgan.models.factory import build_discriminator

    torch.manual_seed(0)
    d_sum = ResNetDiscriminator(10, ndf=4, resolution=32, channels=1)
    d_mean = ResNetDiscriminator(10, ndf=4, resolution=32, channels=1, pool="mean")
    d_mean.load_state_dict(d_sum.state_dict())
    x = torch.rand(3, 1, 32, 32)
    torch.testing.assert_close(d_mean.features(x) * 64, d_sum.features(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="model.d_pool"):
        ResNetDiscriminator(10, ndf=4, resolution=32, channels=1, pool="max")

    class Info:
        n_classes, channels, resolution = 10, 1, 32

    cfg = {"ndf": 4, "d_arch": "resnet", "d_pool": "mean"}
    assert build_discriminator(cfg, Info, "robgan").pool == "mean"
    assert build_discriminator(cfg, Info, "advtrain").pool == "mean"
    assert build_discriminator(cfg, Info, "sngan").pool == "sum"      # spectral norm: the reference's sum
    assert build_discriminator({"ndf": 4, "d_arch": "resnet"}, Info, "robgan").pool == "sum"
