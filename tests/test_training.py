"""The training loop: every method trains, resumes bit-identically, refuses foreign configs,
stops on non-finite losses and checkpoints on SIGTERM."""

from __future__ import annotations

import copy
import csv
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import robgan
from robgan import attacks
from robgan.cli import main as cli_main
from robgan.config import load_config
from robgan.models import ResNetGenerator
from robgan.provenance import torch_load
from robgan.training import METHODS, NonFiniteLossError, RunMismatchError, run_label, train_run
from robgan.training import methods as methods_mod
from robgan.training.context import Context
from robgan.training.sampling import bn_statistics

REPO = Path(__file__).resolve().parent.parent

SCRATCH_METHODS = [m for m in METHODS if m != "robgan_ft"]


def _cfg(default_config, tiny, method, seed=0, extra=(), init_from=None):
    cfg = load_config(default_config, [*tiny, *extra])
    cfg["run"] = {"method": method, "label": run_label(method, cfg), "seed": seed, "init_from": init_from}
    return cfg


def _log_rows(run: Path) -> list[dict]:
    with open(run / "train_log.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _state_equal(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        if isinstance(a[k], dict):
            if not _state_equal(a[k], b[k]):
                return False
        elif isinstance(a[k], torch.Tensor):
            if not torch.equal(a[k], b[k]):
                return False
        elif a[k] != b[k]:
            return False
    return True


@pytest.fixture(scope="module")
def robgan_run(tmp_path_factory, default_config, tiny_overrides) -> Path:
    out = tmp_path_factory.mktemp("runs") / "robgan"
    train_run(_cfg(default_config, tiny_overrides, "robgan"), out, progress=False)
    return out


@pytest.mark.parametrize("method", SCRATCH_METHODS)
def test_every_method_trains_with_finite_losses(method, tmp_path, default_config, tiny_overrides):
    out = tmp_path / method
    train_run(_cfg(default_config, tiny_overrides, method), out, progress=False)
    for name in ("config.yaml", "manifest.json", "train_log.csv", "checkpoint.pt", "model.pt"):
        assert (out / name).is_file(), name
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["iter_0000010.pt", "iter_0000020.pt"]
    rows = _log_rows(out)
    assert [int(r["iteration"]) for r in rows] == [5, 10, 15, 20]
    times = [float(r["train_seconds"]) for r in rows]
    assert all(b > a for a, b in zip(times, times[1:], strict=False)) and times[0] > 0
    for key in METHODS[method].log_keys:
        values = [float(r[key]) for r in rows]
        assert all(math.isfinite(v) for v in values), (key, values)
    if "acc_real" in METHODS[method].log_keys or "acc_adv" in METHODS[method].log_keys:
        key = "acc_real" if "acc_real" in METHODS[method].log_keys else "acc_adv"
        assert all(0.0 <= float(r[key]) <= 1.0 for r in rows)
    payload = torch_load(out / "model.pt")
    assert payload["iteration"] == 20
    assert ("generator" in payload) == METHODS[method].has_generator


def test_an_earlier_runs_log_without_checkpoint_is_replaced_not_appended(tmp_path, default_config, tiny_overrides):
    # what a clone of the repository holds: results/<exp>/runs/<label>/seed<N>/train_log.csv, no weights
    out = tmp_path / "acgan"
    out.mkdir()
    stale = "iteration,train_seconds,loss_d,loss_g,acc_real\n5,99.0,1,1,0.5\n10,198.0,1,1,0.5\n"
    (out / "train_log.csv").write_text(stale)
    train_run(_cfg(default_config, tiny_overrides, "acgan"), out, progress=False)
    rows = _log_rows(out)
    assert [int(r["iteration"]) for r in rows] == [5, 10, 15, 20]
    assert all(float(r["train_seconds"]) < 99.0 for r in rows)


def test_training_changes_weights_and_is_seeded(tmp_path, default_config, tiny_overrides):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    extra = ["advtrain.iterations=6"]
    train_run(_cfg(default_config, tiny_overrides, "advtrain", 0, extra), a, progress=False)
    train_run(_cfg(default_config, tiny_overrides, "advtrain", 0, extra), b, progress=False)
    train_run(_cfg(default_config, tiny_overrides, "advtrain", 1, extra), c, progress=False)
    wa, wb, wc = (torch_load(p / "model.pt")["discriminator"] for p in (a, b, c))
    assert _state_equal(wa, wb)
    assert not _state_equal(wa, wc)
    # the manifest records Madry's attack of the quick config: random start, 3 steps of 2.5 eps / 3
    attack = robgan.load_run(a).manifest["attack"]
    assert attack["random_start"] is True and attack["reaches_eps"] is True and attack["steps"] == 3
    assert attack["eps"] == pytest.approx(0.1, abs=1e-12)
    assert attack["reach"] == pytest.approx(0.25, abs=1e-5)


def test_finetune_both_lambdas(robgan_run, tmp_path, default_config, tiny_overrides):
    for lam, label in ((0.3, "robgan_ft"), (0.0, "robgan_ft_nofake")):
        out = tmp_path / label
        assert cli_main(["finetune", "--config", str(default_config), "--from", str(robgan_run), "--seed", "0",
                         "--out", str(out), *sum((["--set", o] for o in tiny_overrides), []),
                         "--set", f"finetune.lam={lam}"]) == 0
        run = robgan.load_run(out)
        assert run.label == label and run.method == "robgan_ft"
        rows = _log_rows(out)
        assert all(math.isfinite(float(r["loss"])) for r in rows)
        # fine-tuning starts from the robgan discriminator and changes it
        before = torch_load(robgan_run / "model.pt")["discriminator"]
        after = torch_load(out / "model.pt")["discriminator"]
        assert not _state_equal(before, after)
        assert _state_equal(torch_load(robgan_run / "model.pt")["generator"],
                            torch_load(out / "model.pt")["generator"])  # frozen generator


def test_finetune_refuses_non_robgan_source(tmp_path, default_config, tiny_overrides):
    src = tmp_path / "adv"
    train_run(_cfg(default_config, tiny_overrides, "advtrain", extra=["advtrain.iterations=2"]), src,
              progress=False)
    code = cli_main(["finetune", "--config", str(default_config), "--from", str(src), "--seed", "0",
                     "--out", str(tmp_path / "ft"), *sum((["--set", o] for o in tiny_overrides), [])])
    assert code == 2


def test_api_loaders(robgan_run, tmp_path, default_config, tiny_overrides):
    clf = robgan.load_classifier(robgan_run)
    assert not clf.training
    x = torch.rand(5, 1, 32, 32)
    logits = clf(x)
    assert logits.shape == (5, 10)
    g = robgan.load_generator(robgan_run)
    imgs = g(torch.randn(4, g.z_dim), torch.arange(4))
    assert imgs.shape == (4, 1, 32, 32) and imgs.min() >= 0 and imgs.max() <= 1
    snap = robgan.load_classifier(robgan_run, checkpoint="snapshots/iter_0000010.pt")
    assert not torch.equal(snap(x), logits)  # another training state
    sngan = tmp_path / "sngan"
    train_run(_cfg(default_config, tiny_overrides, "sngan", extra=["train.iterations=2"]), sngan, progress=False)
    with pytest.raises(robgan.RunError, match="not a classifier"):
        robgan.load_classifier(sngan)
    with pytest.raises(robgan.RunError, match="not a run directory"):
        robgan.load_run(tmp_path / "nowhere")


def test_config_mismatch_is_refused_but_eval_changes_are_not(tmp_path, default_config, tiny_overrides):
    out = tmp_path / "run"
    extra = ["advtrain.iterations=2"]
    train_run(_cfg(default_config, tiny_overrides, "advtrain", extra=extra), out, progress=False)
    with pytest.raises(RunMismatchError, match="advtrain.lr"):
        train_run(_cfg(default_config, tiny_overrides, "advtrain", extra=[*extra, "advtrain.lr=0.1"]), out,
                  progress=False)
    # evaluation settings and the seed list do not touch a finished run
    train_run(_cfg(default_config, tiny_overrides, "advtrain", extra=[*extra, "eval.pgd.eps=[0.5]",
                                                                      "seeds=[0,1,2]"]), out, progress=False)
    code = cli_main(["train", "--config", str(default_config), "--method", "advtrain", "--seed", "0",
                     "--out", str(out), *sum((["--set", o] for o in [*tiny_overrides, *extra]), []),
                     "--set", "model.ndf=4"])
    assert code == 1


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, default_config, tiny_overrides,
                                                              monkeypatch):
    spec = METHODS["advtrain"]
    calls = {"n": 0}

    def poisoned(ctx):
        out = spec.step(ctx)
        calls["n"] += 1
        if calls["n"] > 12:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setitem(methods_mod.STEPS, "advtrain", (spec.log_keys, poisoned))
    out = tmp_path / "nan"
    with pytest.raises(NonFiniteLossError, match="non-finite loss"):
        train_run(_cfg(default_config, tiny_overrides, "advtrain"), out, progress=False)
    assert not (out / "model.pt").exists()
    assert torch_load(out / "checkpoint.pt")["iteration"] == 10  # the last good one
    assert [int(r["iteration"]) for r in _log_rows(out)] == [5, 10]


# ------------------------------------------------------------------------ training attacks reach eps


def _spy_on_pgd_classifier(monkeypatch) -> list[tuple[torch.Tensor, torch.Tensor, attacks.ThreatModel]]:
    """Record ``(x, x_adv, threat)`` of every ``pgd_classifier`` call a step makes (the real attack runs)."""
    seen, real = [], attacks.pgd_classifier

    def spy(model, x, y, threat, **kw):
        x_adv = real(model, x, y, threat, **kw)
        seen.append((x.detach().clone(), x_adv.detach().clone(), threat))
        return x_adv

    monkeypatch.setattr(methods_mod.attacks, "pgd_classifier", spy)
    return seen


@pytest.mark.parametrize("name", ["config.yaml", "cifar10.yaml", "imagenet143.yaml"])
def test_advtrain_attack_of_each_shipped_config_reaches_eps_on_a_real_batch(name, default_config, tiny_overrides,
                                                                            monkeypatch):
    """The advtrain step, with that config's attack settings, on an mnist5k batch at tiny width: some pixel
    moves exactly eps (Madry: random start, steps x step size > eps), none moves more."""
    adv = load_config(REPO / "config" / name)["advtrain"]
    attack = [f"advtrain.{k}={adv[k]}" for k in ("eps", "attack_steps", "attack_step_size", "attack_random_start")]
    cfg = _cfg(default_config, tiny_overrides, "advtrain", extra=attack)
    ctx = Context(cfg, METHODS["advtrain"], torch.device("cpu"))
    seen = _spy_on_pgd_classifier(monkeypatch)
    METHODS["advtrain"].step(ctx)
    ((x, x_adv, threat),) = seen
    assert threat.eps == pytest.approx(adv["eps"], rel=1e-12)
    assert threat.random_start and threat.steps * threat.step_size > threat.eps
    delta = (x_adv - x).abs()
    assert delta.max().item() == pytest.approx(adv["eps"], abs=1e-6)
    assert x_adv.min().item() >= 0.0 and x_adv.max().item() <= 1.0


def test_advtrain_eps_warmup_scales_the_attack_then_restores_it(default_config, tiny_overrides, monkeypatch):
    """advtrain.eps_warmup 4: updates 0..3 attack with 1/4..4/4 of eps and step size (the same steps and
    random start), later updates with the configured attack; no pixel moves more than that update's eps."""
    extra = ["advtrain.eps=0.1", "advtrain.attack_steps=3", "advtrain.attack_step_size=0.083333",
             "advtrain.attack_random_start=true", "advtrain.eps_warmup=4"]
    cfg = _cfg(default_config, tiny_overrides, "advtrain", extra=extra)
    ctx = Context(cfg, METHODS["advtrain"], torch.device("cpu"))
    seen = _spy_on_pgd_classifier(monkeypatch)
    for it in range(6):
        ctx.apply_schedule(it)
        METHODS["advtrain"].step(ctx)
    fractions = [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert [t.eps for _, _, t in seen] == pytest.approx([0.1 * f for f in fractions], rel=1e-12)
    assert [t.step_size for _, _, t in seen] == pytest.approx([0.083333 * f for f in fractions], rel=1e-12)
    assert all(t.steps == 3 and t.random_start for _, _, t in seen)
    assert ctx.threat == ctx.full_threat
    for (x, x_adv, t) in seen:
        assert (x_adv - x).abs().max().item() <= t.eps + 1e-6


def test_eps_warmup_is_absent_from_resolved_configs_unless_set():
    """No default: configs without it resolve (and hash) as before the option existed."""
    assert "eps_warmup" not in load_config({"experiment": "x"})["advtrain"]
    assert load_config({"experiment": "x", "advtrain": {"eps_warmup": 300}})["advtrain"]["eps_warmup"] == 300


def test_unreachable_coattack_is_run_as_configured_and_recorded(tmp_path, default_config, tiny_overrides, caplog):
    """config/cifar10.yaml's co-training attack (5 x 1/255 < eps 0.035, no random start), kept on purpose:
    the manifest and the log say that it cannot reach eps."""
    c10 = load_config(REPO / "config" / "cifar10.yaml")["train"]
    extra = ["train.iterations=2", *(f"train.{k}={c10[k]}" for k in ("eps", "attack_steps", "attack_step_size",
                                                                       "attack_random_start",
                                                                       "attack_allow_unreachable"))]
    out = tmp_path / "robgan"
    with caplog.at_level(logging.WARNING, logger="robgan.train"):
        train_run(_cfg(default_config, tiny_overrides, "robgan", extra=extra), out, progress=False)
    attack = robgan.load_run(out).manifest["attack"]
    assert attack["reaches_eps"] is False and attack["random_start"] is False and attack["steps"] == 5
    assert attack["reach"] == pytest.approx(5 * 0.003922, rel=1e-9) and attack["eps"] == pytest.approx(0.035)
    assert "cannot reach eps" in caplog.text and "train.attack_allow_unreachable" in caplog.text
    assert robgan.load_run(out).config["train"]["attack_allow_unreachable"] is True


# ------------------------------------------------------------------------ generator sampling mode


def _tiny_generator() -> ResNetGenerator:
    """A tiny generator whose running statistics have left their initial values."""
    torch.manual_seed(0)
    g = ResNetGenerator(n_classes=3, z_dim=8, ngf=4, resolution=32, channels=1).train()
    with torch.no_grad():
        for _ in range(3):
            g(torch.randn(16, 8) * 2 + 0.5, torch.randint(0, 3, (16,)))
    return g.eval()


def _bn_buffers(g) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in g.state_dict().items() if "running" in k or "num_batches" in k}


def test_bn_statistics_batch_mode_normalises_per_batch_and_leaves_running_stats():
    g = _tiny_generator()
    before = _bn_buffers(g)
    z, y = torch.randn(12, 8, generator=torch.Generator().manual_seed(1)), torch.arange(12) % 3
    with torch.no_grad():
        with bn_statistics(g, "batch"):
            batch = g(z, y)
            first4 = g(z[:4], y[:4])
        with bn_statistics(g, "running"):
            running = g(z, y)
            running4 = g(z[:4], y[:4])
        authors = copy.deepcopy(g).train()(z, y)  # train-mode BN, as the authors sample
        plain_eval = g(z, y)
    assert _state_equal(_bn_buffers(g), before)  # neither mode moved running_mean/var or num_batches_tracked
    assert len(before) >= 6 and not g.training and not any(m.training for m in g.modules())
    assert all(m.track_running_stats for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert torch.allclose(batch, authors, atol=1e-6, rtol=0)
    assert torch.allclose(running, plain_eval, atol=1e-6, rtol=0)
    assert (batch - running).abs().max().item() > 1e-3  # the two modes give different samples
    assert (first4 - batch[:4]).abs().max().item() > 1e-4  # batch mode: an image depends on its batch
    assert torch.allclose(running4, running[:4], atol=1e-6, rtol=0)  # running mode: it does not


def test_bn_statistics_restores_modes_on_error_and_refuses_unknown_modes():
    g = _tiny_generator().train()
    with pytest.raises(RuntimeError, match="boom"):
        with bn_statistics(g, "running"):
            assert not any(m.training for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d))
            raise RuntimeError("boom")
    assert all(m.training for m in g.modules())
    with pytest.raises(ValueError, match="model.g_sample_bn"):
        with bn_statistics(g, "eval"):
            pass


@pytest.mark.parametrize("mode", ["batch", "running"])
def test_finetune_fakes_use_the_configured_bn_statistics(mode, robgan_run, default_config, tiny_overrides,
                                                         monkeypatch):
    cfg = _cfg(default_config, tiny_overrides, "robgan_ft", extra=[f"model.g_sample_bn={mode}"],
               init_from=str(robgan_run))
    ctx = Context(cfg, METHODS["robgan_ft"], torch.device("cpu"), robgan_run)
    g = ctx.modules["G"]
    before, latent = copy.deepcopy(g.state_dict()), ctx.latent_gen.get_state()
    seen = _spy_on_pgd_classifier(monkeypatch)
    METHODS["robgan_ft"].step(ctx)
    assert len(seen) == 2  # attacked reals, then attacked fakes (lambda > 0)
    fake = seen[1][0]
    ctx.latent_gen.set_state(latent)
    z, y = ctx.sample_latent(fake.shape[0])
    with torch.no_grad():
        authors = copy.deepcopy(g).train()(z, y)
        running = copy.deepcopy(g).eval()(z, y)
    expected, other = (authors, running) if mode == "batch" else (running, authors)
    assert torch.allclose(fake, expected, atol=1e-5, rtol=0)
    assert (fake - other).abs().max().item() > 1e-3
    assert _state_equal(g.state_dict(), before) and not g.training  # frozen, running stats untouched


def test_load_generator_samples_with_the_runs_bn_mode(robgan_run):
    g = robgan.load_generator(robgan_run)
    assert g.g_sample_bn == "batch" == robgan.load_run(robgan_run).config["model"]["g_sample_bn"]
    r = robgan.load_generator(robgan_run, g_sample_bn="running")
    z, y = torch.randn(16, g.z_dim, generator=torch.Generator().manual_seed(0)), torch.arange(16) % g.n_classes
    with torch.no_grad():
        xb, xr = g(z, y), r(z, y)
        xb_again = g(z, y)
    assert (xb - xr).abs().max().item() > 1e-3
    assert torch.equal(xb, xb_again)  # batch statistics of the same batch: deterministic
    assert _state_equal(g.g.state_dict(), torch_load(robgan_run / "model.pt")["generator"])
    assert not g.training
    with pytest.raises(ValueError, match="g_sample_bn"):
        robgan.load_generator(robgan_run, g_sample_bn="eval")


def _cli(out: Path, default_config, overrides) -> list[str]:
    return [sys.executable, "-m", "robgan.cli", "train", "--config", str(default_config), "--method", "robgan",
            "--seed", "0", "--out", str(out), *sum((["--set", o] for o in overrides), [])]


def _wait_for_checkpoint(proc, ckpt: Path, at_least: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"training ended before it could be killed: {proc.returncode}")
        if ckpt.exists():
            try:
                if torch_load(ckpt)["iteration"] >= at_least:
                    return
            except Exception:  # being replaced right now
                pass
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(tmp_path, default_config, tiny_overrides):
    overrides = [*tiny_overrides, "train.iterations=60", "checkpoint_every=10", "snapshot_every=20"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ref = tmp_path / "uninterrupted"
    subprocess.run(_cli(ref, default_config, overrides), check=True, env=env, capture_output=True)
    run = tmp_path / "killed"
    proc = subprocess.Popen(_cli(run, default_config, overrides), env=env, stderr=subprocess.DEVNULL)
    _wait_for_checkpoint(proc, run / "checkpoint.pt", 20)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "model.pt").exists()
    subprocess.run(_cli(run, default_config, overrides), check=True, env=env, capture_output=True)
    a, b = torch_load(ref / "model.pt"), torch_load(run / "model.pt")
    assert _state_equal(a["generator"], b["generator"])
    assert _state_equal(a["discriminator"], b["discriminator"])
    # the log has each iteration once, in order
    assert [int(r["iteration"]) for r in _log_rows(run)] == list(range(5, 65, 5))
    manifest = robgan.load_run(run).manifest
    assert len(manifest["resumes"]) == 1 and manifest["end_time"]


@pytest.mark.slow
def test_sigterm_writes_checkpoint_and_exits_nonzero(tmp_path, default_config, tiny_overrides):
    overrides = [*tiny_overrides, "train.iterations=400", "checkpoint_every=10"]
    run = tmp_path / "term"
    proc = subprocess.Popen(_cli(run, default_config, overrides), env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stderr=subprocess.PIPE, text=True)
    _wait_for_checkpoint(proc, run / "checkpoint.pt", 10)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "rerun the same command to resume" in err
    state = torch_load(run / "checkpoint.pt")
    assert 10 <= state["iteration"] < 400
    assert not (run / "model.pt").exists()


def test_method_override_n_dis_sets_that_methods_d_updates(tmp_path, default_config, tiny_overrides, monkeypatch):
    calls: list[int] = []
    orig = methods_mod.GanIteration.d_update

    def counting(self, ctx, *args):
        calls.append(1)
        return orig(self, ctx, *args)

    monkeypatch.setattr(methods_mod.GanIteration, "d_update", counting)
    extra = ["train.iterations=2", "train.n_dis=1", "train.method_overrides={sngan: {n_dis: 3}}"]
    train_run(_cfg(default_config, tiny_overrides, "sngan", extra=extra), tmp_path / "sngan", progress=False)
    assert len(calls) == 2 * 3  # 2 generator iterations x its own 3 D updates
    calls.clear()
    train_run(_cfg(default_config, tiny_overrides, "acgan", extra=extra), tmp_path / "acgan", progress=False)
    assert len(calls) == 2 * 1  # the other GAN methods keep train.n_dis


def test_g_ema_averages_the_generator_with_the_ramped_decay(default_config, tiny_overrides):
    """train.g_ema 0.9: after update t the average moves 1 - min(0.9, (1+t)/(10+t)) of the way to G's
    weights (t = 1: 9/11, t = 2: 3/4); G's batch-norm statistics are copied."""
    cfg = _cfg(default_config, tiny_overrides, "robgan", extra=["train.g_ema=0.9"])
    ctx = Context(cfg, METHODS["robgan"], torch.device("cpu"))
    avg = [p.detach().clone() for p in ctx.modules["G"].parameters()]
    for it, weight in ((0, 9 / 11), (1, 3 / 4)):
        ctx.apply_schedule(it)
        METHODS["robgan"].step(ctx)
        avg = [a + weight * (p.detach() - a) for a, p in zip(avg, ctx.modules["G"].parameters(), strict=True)]
        for a, e in zip(ctx.g_ema.parameters(), avg, strict=True):
            torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-6)
    assert not torch.equal(next(ctx.g_ema.parameters()), next(ctx.modules["G"].parameters()))
    for b_avg, b in zip(ctx.g_ema.buffers(), ctx.modules["G"].buffers(), strict=True):
        assert torch.equal(b_avg, b)
    # the checkpoint carries the average: a fresh context resumes with it
    other = Context(cfg, METHODS["robgan"], torch.device("cpu"))
    other.load_state_dict(copy.deepcopy(ctx.state_dict()))
    assert _state_equal(other.g_ema.state_dict(), ctx.g_ema.state_dict())


def test_g_ema_changes_the_saved_generator_not_the_training(tmp_path, default_config, tiny_overrides):
    """With train.g_ema the run trains exactly as without (generator_raw and D equal the plain run's);
    model.pt's generator is the average; methods without a trained generator ignore the option."""
    plain, ema = tmp_path / "plain", tmp_path / "ema"
    train_run(_cfg(default_config, tiny_overrides, "acgan", extra=["train.g_ema=null"]), plain, progress=False)
    train_run(_cfg(default_config, tiny_overrides, "acgan", extra=["train.g_ema=0.99"]), ema, progress=False)
    a, b = torch_load(plain / "model.pt"), torch_load(ema / "model.pt")
    assert "generator_raw" not in a
    assert _state_equal(a["generator"], b["generator_raw"])
    assert _state_equal(a["discriminator"], b["discriminator"])
    assert not _state_equal(b["generator"], b["generator_raw"])
    snaps = sorted((ema / "snapshots").glob("iter_*.pt"))
    assert snaps and all("generator_raw" in torch_load(s) for s in snaps)
    ctx = Context(_cfg(default_config, tiny_overrides, "advtrain", extra=["train.g_ema=0.99"]),
                  METHODS["advtrain"], torch.device("cpu"))
    assert ctx.g_ema is None


def test_g_ema_is_absent_from_resolved_configs_unless_set(default_config):
    assert "g_ema" not in load_config({"experiment": "x"})["train"]
    assert load_config(default_config)["train"]["g_ema"] == 0.999  # quick averages
    assert load_config(default_config, ["train.g_ema=0.99"])["train"]["g_ema"] == 0.99
    with pytest.raises(Exception, match="g_ema"):
        load_config(default_config, ["train.g_ema=1.0"])
