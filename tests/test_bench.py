"""``robgan bench``: the quick CPU run writes complete, finite results; the benchmark's building blocks
(synthetic context, the Rob-GAN step cut into parts, timing, FLOPs, peaks, projections) are exact."""

from __future__ import annotations

import json
import math
import platform
from pathlib import Path

import numpy as np
import pytest
import torch

from robgan import provenance as prov
from robgan.bench import measure
from robgan.bench.efficiency import paired_ratio
from robgan.bench.report import project_hours, render_projection, write_result
from robgan.bench.settings import DEFINITIONS
from robgan.bench.shapes import SHAPES, BenchContext, ContextFactory, shape_of_dataset, synthetic_info
from robgan.bench.steps import images_per_iter
from robgan.cli import main as cli_main
from robgan.config import load_config
from robgan.data import dataset_info, load_split
from robgan.training import METHODS, run_label
from robgan.training.context import Context
from robgan.training.methods import GanIteration

REPO_RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
TINY_BENCH = ["model.ngf=8", "model.ndf=8", "model.z_dim=16", "train.batch_size=16",
              "advtrain.batch_size=16", "finetune.batch_size=16",
              "advtrain.allow_smaller_budget=true"]  # n_dis > 1 below: more D updates than advtrain's
RESULT_FIELDS = {"shape", "method", "kind", "batch_size", "n_dis", "images_per_iter", "fake_images_per_iter",
                 "seconds_per_iter", "iterations_per_s", "images_per_s", "memory", "flops_per_iter",
                 "achieved_gflops_per_s", "achieved_tflops_per_s", "peak_dtype", "peak_tflops",
                 "fraction_of_peak", "losses_finite", "host_syncs_per_iter", "host_sync_ops", "model",
                 "performance", "data"}


def _positive_finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def test_quick_bench_writes_complete_finite_results(tmp_path):
    """``--quick`` is quick by construction (1 warm-up, 2 repeats of 1 call for every timing, checked
    below); its wall-clock time is not asserted: on a shared 2-core machine it is noise (27 s measured
    while other jobs ran)."""
    argv = ["bench", "--quick", "--device", "cpu", "--shapes", "embedded", "--methods", "robgan,pgd",
            "--pgd-batch", "16", "--threads", "1", "--out", str(tmp_path), "--note", "test"]
    for o in TINY_BENCH:
        argv += ["--set", o]
    assert cli_main(argv) == 0
    jsons = list(tmp_path.glob("bench-cpu-*.json"))
    mds = list(tmp_path.glob("bench-cpu-*.md"))
    latest = list(tmp_path.glob("latest-cpu-*.md"))
    assert len(jsons) == len(mds) == len(latest) == 1
    res = json.loads(jsons[0].read_text())
    assert mds[0].read_text() == latest[0].read_text()

    assert res["kind"] == "bench" and res["device"]["type"] == "cpu" and res["device"]["threads"] == 1
    assert res["device"]["torch"] == torch.__version__
    compute = res["device"]["compute"]  # the kernel set names the files: AVX2 and AVX-512-BF16 CPUs apart
    assert compute == prov.compute_fingerprint("cpu")
    kernels = compute["cpu_capability"].lower() + ("-bf16" if compute["bf16_native"] else "")
    assert jsons[0].name.startswith(f"bench-cpu-{platform.machine().replace('_', '-').lower()}-{kernels}-1t-")
    assert {"commit", "dirty"} <= set(res["git"])
    assert res["settings"]["quick"] is True
    assert (res["settings"]["warmup"], res["settings"]["repeats"], res["settings"]["iters"]) == (1, 2, 1)
    timings = [r["seconds_per_iter"] for r in res["results"]]
    timings += [t for b in res["breakdown"] for t in b["timings"].values()]
    timings += [t for e in res["pgd_efficiency"] for t in e["timings"].values()]
    assert len(timings) > 2 and all((t["warmup"], t["repeats"], t["iters_per_repeat"]) == (1, 2, 1) for t in timings)
    assert res["settings"]["performance"] == {"bf16": False, "bf16_attacks": False, "channels_last": False,
                                              "compile": False}
    cal = res["calibration"]  # the fixed workload ran first (robgan.calibration)
    assert cal["iterations"] == 10 and cal["seconds"] == min(cal["repeats_seconds"]) > 0
    assert res["comparison"] == [] and res["baseline_results"] == []  # no --baseline
    assert set(res["definitions"]) == set(DEFINITIONS)
    assert [(r["shape"], r["method"]) for r in res["results"]] == [("embedded", "robgan"), ("embedded", "pgd")]
    for r in res["results"]:
        assert RESULT_FIELDS <= set(r), RESULT_FIELDS - set(r)
        t = r["seconds_per_iter"]
        assert len(t["values"]) == 2 and all(_positive_finite(v) for v in t["values"])
        assert t["q25"] <= t["median"] <= t["q75"] and t["iqr"] >= 0
        for key in ("iterations_per_s", "images_per_s", "flops_per_iter", "achieved_gflops_per_s"):
            assert _positive_finite(r[key]), (r["method"], key, r[key])
        assert r["images_per_s"] == pytest.approx(r["images_per_iter"] * r["iterations_per_s"], rel=1e-9)
        assert r["memory"]["kind"].startswith("cpu.") and r["memory"]["peak_bytes"] > 0
        assert r["memory"]["delta_bytes"] >= 0 and r["losses_finite"] is True
        assert r["achieved_tflops_per_s"] is None and r["fraction_of_peak"] is None  # CUDA-only fields
        assert r["host_syncs_per_iter"] == 0 and r["host_sync_ops"] == "none", r["host_sync_ops"]
    robgan, pgd = res["results"]
    assert robgan["batch_size"] == 16 and robgan["images_per_iter"] == 16 and robgan["model"]["ngf"] == 8
    assert pgd["batch_size"] == 16 and pgd["attack"]["steps"] == 20  # the paper protocol

    (b,) = res["breakdown"]
    assert b["n_dis"] == 1 and set(b["seconds"]) == {"data", "pgd", "fakes_for_d", "d_update", "g_update", "step"}
    assert all(_positive_finite(v) for v in b["seconds"].values())
    tv = {k: v["values"] for k, v in b["timings"].items()}
    per_round = [s / (p + d + g) for s, p, d, g in zip(tv["step"], tv["pgd"], tv["d_update"], tv["g_update"],
                                                       strict=True)]
    assert b["ratio"] == pytest.approx(float(np.median(per_round)))
    assert b["ratio_of_medians"] == pytest.approx(b["seconds"]["step"] / (
        b["seconds"]["pgd"] + b["seconds"]["d_update"] + b["seconds"]["g_update"]))
    assert sum(b["shares"].values()) == pytest.approx(1.0)
    assert b["met"] == (b["ratio"] <= 1.15)
    assert {e["attack"] for e in res["pgd_efficiency"]} == {"cotrain", "eval_paper"}
    for e in res["pgd_efficiency"]:
        assert _positive_finite(e["efficiency"]) and e["met"] == (e["efficiency"] >= 0.9)
        ev = {k: v["values"] for k, v in e["timings"].items()}
        assert e["efficiency"] == pytest.approx(float(np.median([b_ / p_ for b_, p_ in zip(
            ev["bare"], ev["pgd"], strict=True)])))

    md = mds[0].read_text()
    for needle in ("## Throughput", "| embedded | robgan |", "| embedded | pgd |", "## Rob-GAN step cost",
                   "target ≤ 1.15", "## PGD efficiency", "## Definitions", "note: test", "- calibration: **"):
        assert needle in md


def test_baseline_puts_old_and_new_settings_side_by_side(tmp_path):
    """``--baseline bf16=false`` with ``--bf16 --channels-last``: every step is measured under both
    settings in the same run, and the comparison row holds both medians and their ratio."""
    argv = ["bench", "--quick", "--device", "cpu", "--shapes", "embedded", "--methods", "advtrain,pgd",
            "--pgd-batch", "16", "--threads", "1", "--out", str(tmp_path), "--no-breakdown",
            "--no-calibration", "--bf16", "--bf16-attacks", "--channels-last", "--baseline",
            "bf16=false,bf16_attacks=false"]
    for o in TINY_BENCH:
        argv += ["--set", o]
    assert cli_main(argv) == 0
    res = json.loads(next(tmp_path.glob("bench-cpu-*.json")).read_text())
    assert res["calibration"] is None and res["settings"]["baseline"] == {"bf16": False, "bf16_attacks": False}
    assert [r["method"] for r in res["baseline_results"]] == [r["method"] for r in res["results"]] == [
        "advtrain", "pgd"]
    assert all(r["performance"] == {"bf16": False, "bf16_attacks": False, "channels_last": True, "compile": False}
               for r in res["baseline_results"])
    new_advtrain, new_pgd = res["results"]
    assert new_advtrain["performance"] == {"bf16": True, "bf16_attacks": True, "channels_last": True,
                                           "compile": False}
    # the evaluation's PGD follows bf16_attacks, never the training switch bf16
    assert new_pgd["performance"] == {"bf16": False, "bf16_attacks": True, "channels_last": True, "compile": False}
    for c, b, n in zip(res["comparison"], res["baseline_results"], res["results"], strict=True):
        assert c["baseline_seconds"] == b["seconds_per_iter"]["median"] and c["seconds"] == n["seconds_per_iter"][
            "median"]
        assert c["speedup"] == pytest.approx(c["baseline_seconds"] / c["seconds"])
    md = next(tmp_path.glob("bench-cpu-*.md")).read_text()
    assert "## Old and new settings side by side" in md
    assert "| embedded | advtrain | `channels_last` | `bf16 channels_last` |" in md


def test_bench_context_equals_context(default_config):
    """BenchContext over the real mnist5k tensors builds the same state and takes the same step as the
    training Context (so the synthetic shapes time exactly what training runs)."""
    cfg = load_config(default_config, TINY_BENCH)
    cfg["run"] = {"method": "robgan", "label": "robgan", "seed": 3, "init_from": None}
    spec, dev = METHODS["robgan"], torch.device("cpu")
    torch.manual_seed(0)
    a = Context(cfg, spec, dev)
    images, labels = load_split(cfg["data"], "train")
    torch.manual_seed(0)
    b = BenchContext(cfg, spec, dev, images, labels, dataset_info(cfg["data"]))
    assert set(vars(a)) == set(vars(b))
    for k in ("G", "D"):
        for (na, pa), (nb, pb) in zip(a.modules[k].state_dict().items(), b.modules[k].state_dict().items(),
                                      strict=True):
            assert na == nb and torch.equal(pa, pb)
    assert a.threat == b.threat and a.stream.state_dict()["seed"] == b.stream.state_dict()["seed"]
    out_a, out_b = spec.step(a), spec.step(b)
    assert {k: float(v) for k, v in out_a.items()} == {k: float(v) for k, v in out_b.items()}


def _parts_in_order(step: GanIteration, ctx: Context) -> dict[str, torch.Tensor]:
    """What ``bench_breakdown`` times, run in the order of a training iteration."""
    n_dis = int(ctx.section["n_dis"])  # the method's own (train.method_overrides may set it)
    accs = []
    for _ in range(n_dis):
        x, y = step.data(ctx)
        x = step.attack_reals(ctx, x, y)
        fake, y_fake = step.fakes_for_d(ctx)
        loss_d, acc = step.d_update(ctx, x, y, fake, y_fake)
        accs.append(acc)
    out = {"loss_d": loss_d, "loss_g": step.g_update(ctx)}
    if accs[0] is not None:
        out["acc_real"] = sum(accs, torch.zeros(())) / n_dis
    return out


@pytest.mark.parametrize(("method", "n_dis"), [("robgan", 1), ("robgan", 2), ("sngan", 2), ("acgan", 1),
                                               ("robgan_oldloss", 1)])
def test_gan_parts_compose_to_the_training_step(default_config, method, n_dis):
    """The breakdown times the parts of the very step that trains: running them in order is the step,
    bit for bit (same losses, same weights after two iterations)."""
    cfg = load_config(default_config, [*TINY_BENCH, f"train.n_dis={n_dis}", "train.method_overrides={}"])
    cfg["run"] = {"method": method, "label": method, "seed": 0, "init_from": None}
    spec, dev = METHODS[method], torch.device("cpu")
    assert isinstance(spec.step, GanIteration)
    torch.manual_seed(0)
    a = Context(cfg, spec, dev)
    assert a.section["n_dis"] == n_dis
    torch.manual_seed(0)
    b = Context(cfg, spec, dev)
    for _ in range(2):
        out_a, out_b = spec.step(a), _parts_in_order(spec.step, b)
        assert {k: float(v) for k, v in out_a.items()} == {k: float(v) for k, v in out_b.items()}
    for k in ("G", "D"):
        for pa, pb in zip(a.modules[k].parameters(), b.modules[k].parameters(), strict=True):
            assert torch.equal(pa, pb)


def test_gan_iteration_without_attack_leaves_reals_alone(default_config):
    cfg = load_config(default_config, list(TINY_BENCH))
    cfg["run"] = {"method": "robgan", "label": "robgan", "seed": 0, "init_from": None}
    ctx = Context(cfg, METHODS["robgan"], torch.device("cpu"))
    x, y = METHODS["robgan"].step.data(ctx)
    assert METHODS["acgan"].step.attack_reals(ctx, x, y) is x
    assert not torch.equal(METHODS["robgan"].step.attack_reals(ctx, x, y), x)


@pytest.mark.parametrize("shape", ["cifar10", "imagenet143"])
def test_synthetic_shapes_build_paper_models(shape):
    factory = ContextFactory(torch.device("cpu"), performance=None, overrides=[])
    cfg = factory.config(SHAPES[shape], "robgan")
    info = synthetic_info(SHAPES[shape], cfg)
    assert (info.channels, info.resolution, info.n_classes) == (
        {"cifar10": (3, 32, 10), "imagenet143": (3, 64, 143)}[shape])
    assert cfg["model"]["ngf"] == cfg["model"]["ndf"] == 64
    assert cfg["performance"] == load_config(SHAPES[shape].config_path)["performance"]  # None keeps it
    real, fake = images_per_iter("robgan", cfg)
    assert real == cfg["train"]["n_dis"] * cfg["train"]["batch_size"] and fake == 0
    assert images_per_iter("robgan_ft", cfg) == (cfg["finetune"]["batch_size"], cfg["finetune"]["batch_size"])


def test_shapes_come_from_the_dataset_registry():
    """One shape per registry dataset, named, configured and described from its entry and its module's
    ``info()``; a dataset added to the registry is benchmarked with nothing else edited."""
    from robgan import registry

    assert {sh.dataset: sh.name for sh in SHAPES.values()} == {
        "mnist5k": "embedded", "cifar10": "cifar10", "imagenet143": "imagenet143"}
    assert [sh.synthetic for sh in SHAPES.values()] == [False, True, True]
    assert shape_of_dataset("cifar10") == SHAPES["cifar10"]
    assert SHAPES["cifar10"].description == ("cifar10 32x32x3, 10 classes, ngf 64, ndf 64, config/cifar10.yaml "
                                             "(synthetic data)")
    assert SHAPES["embedded"].description.startswith("mnist5k 32x32x1, 10 classes, ngf 8, ndf 16,")
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        shape_of_dataset("nope")
    spec = registry.DatasetSpec("tiny", "robgan.data.mnist5k", resolutions=(32,), extractor="mnist-cnn",
                                bench=registry.BenchShape("tiny-shape", "config/cifar10.yaml", synthetic=True))
    from robgan.bench import shapes

    assert shapes._shape(spec) == shapes.Shape("tiny-shape", "tiny", "config/cifar10.yaml", True)


def test_synthetic_info_refuses_a_config_of_another_dataset():
    cfg = load_config(SHAPES["cifar10"].config_path, ["data.name=mnist5k"])
    with pytest.raises(ValueError, match="stands for dataset 'cifar10'.*data.name 'mnist5k'"):
        synthetic_info(SHAPES["cifar10"], cfg)


def test_timing_statistics_and_call_counts():
    t = measure.Timing((5.0, 1.0, 3.0, 2.0, 4.0), iters=1, warmup=0)
    assert (t.median, t.q25, t.q75) == (3.0, 2.0, 4.0)
    assert t.as_dict()["iqr"] == 2.0
    calls = []
    timing = measure.time_calls(lambda: calls.append(1), torch.device("cpu"), warmup=2, repeats=3, iters=4)
    assert len(calls) == 2 + 3 * 4 and len(timing.values) == 3 and timing.iters == 4
    calls.clear()
    timing = measure.time_calls(lambda: calls.append(1), torch.device("cpu"), warmup=0, repeats=2, iters=None,
                                target_repeat_s=0.0, max_iters=7)
    assert timing.iters == 1 and len(calls) == 1 + 2  # calibration call + 2 repeats of 1


def test_paired_ratio_resists_a_slow_round():
    """A slowdown hitting one side of one round moves the ratio of medians, not the paired ratio."""
    pgd = measure.Timing((1.0, 10.0, 1.0), 1, 0)   # round 2: another job stole the CPU from PGD only
    bare = measure.Timing((0.95, 0.95, 10.0), 1, 0)  # round 3: ... and from the bare loop only
    assert paired_ratio(bare, [pgd]) == pytest.approx(0.95)
    assert paired_ratio(measure.Timing((3.0,), 1, 0), [measure.Timing((1.0,), 1, 0)] * 2) == 1.5


def test_interleaved_timing_alternates_callables():
    calls = []
    t = measure.time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                                 torch.device("cpu"), warmup=1, repeats=2, iters=2)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] + ["b", "b", "a", "a"]  # warm-up, then ABBA
    assert set(t) == {"a", "b"} and all(len(v.values) == 2 for v in t.values())


def test_flop_count_of_input_gradient_passes():
    """2·B·in·out for the forward matmul and as much for the input gradient; no weight gradient."""
    lin = torch.nn.Linear(8, 4)
    x = torch.randn(2, 8)

    def input_grad():
        xa = x.clone().requires_grad_(True)
        torch.autograd.grad(lin(xa).sum(), xa)

    assert measure.count_flops(input_grad) == 2 * (2 * 2 * 8 * 4)


_MEMORY_PROBE = """
import json, torch
from robgan import provenance as prov
from robgan.bench import measure
meter = measure.MemoryMeter(torch.device("cpu"))
meter.start()
x = torch.ones(16 * 1024 * 1024)  # 64 MiB, touched
print(json.dumps(meter.stop()))
"""


def test_cpu_memory_meter_sees_a_large_allocation():
    # A fresh interpreter: inside the test session, earlier tests leave freed memory that the
    # allocation may reuse without raising the resident set.
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE], capture_output=True, text=True, check=True)
    mem = json.loads(out.stdout.strip().splitlines()[-1])
    assert 48 * 1024 * 1024 <= mem["delta_bytes"] <= 512 * 1024 * 1024
    assert mem["peak_bytes"] >= mem["delta_bytes"]


@pytest.mark.parametrize(("name", "family", "bf16"), [
    ("NVIDIA H100 80GB HBM3", "H100 SXM", 989.4), ("NVIDIA H100 PCIe", "H100 PCIe", 756.0),
    ("NVIDIA H100 NVL", "H100 NVL", 835.5), ("NVIDIA H200", "H200", 989.4),
    ("NVIDIA A100-SXM4-80GB", "A100", 312.0), ("NVIDIA A100-PCIE-40GB", "A100", 312.0),
    ("Tesla T4", None, None)])
def test_peak_table(name, family, bf16):
    assert measure.gpu_family(name) == family
    assert measure.peak_tflops(name, "bf16") == bf16
    if family is not None:
        peaks = measure.PEAK_TFLOPS[family]
        assert peaks["fp32"] < peaks["tf32"] < peaks["bf16"]


def _fake_bench(default_perf: dict) -> dict:
    def rec(method, seconds, batch, model):
        return {"shape": "cifar10", "method": method, "kind": "train_step", "batch_size": batch,
                "seconds_per_iter": {"median": seconds}, "model": model, "performance": default_perf}

    model = {"ngf": 64, "ndf": 64, "z_dim": 128, "d_arch": "preact_resnet18"}
    return {"device": {"description": "cuda:NVIDIA H100 80GB HBM3", "slug": "cuda-nvidia-h100"},
            "created": "2026-11-27T00:00:00Z", "settings": {"quick": False},
            "results": [rec("sngan", 0.05, 64, model), rec("robgan", 0.2, 64, model),
                        rec("advtrain", 0.1, 64, model), rec("robgan_ft", 0.4, 128, model)]}


def test_projection_of_the_cifar10_config():
    cfg = load_config(SHAPES["cifar10"].config_path)
    proj = project_hours(_fake_bench(cfg["performance"]), cfg)
    rows = {r["label"]: r for r in proj["rows"]}
    assert set(rows) == {*cfg["methods"], "robgan_ft", "robgan_ft_nofake"}
    assert rows["robgan"]["hours_per_seed"] == pytest.approx(78125 * 0.2 / 3600)
    assert rows["robgan"]["hours_total"] == pytest.approx(3 * 78125 * 0.2 / 3600)
    assert rows["advtrain"]["hours_per_seed"] == pytest.approx(125001 * 0.1 / 3600)
    assert rows["robgan_ft"]["hours_per_seed"] == pytest.approx(23438 * 0.4 / 3600)
    assert rows["acgan"]["measured_as"] == "sngan" and "proxy" in rows["acgan"]["notes"][0]
    assert rows["robgan_oldloss"]["measured_as"] == "robgan"
    assert rows["robgan_ft_nofake"]["measured_as"] == "robgan_ft" and rows["robgan_ft_nofake"]["notes"]
    assert rows["robgan"]["notes"] == []
    assert proj["hours_total"] == pytest.approx(sum(r["hours_total"] for r in proj["rows"]))
    assert proj["missing"] == []
    md = render_projection(proj)
    assert "| robgan | 78125 |" in md and "**total**" in md


def test_projection_flags_mismatched_settings():
    cfg = load_config(SHAPES["cifar10"].config_path, ["train.batch_size=32"])
    proj = project_hours(_fake_bench({"bf16": False, "channels_last": False, "compile": False}), cfg)
    notes = {r["label"]: " ".join(r["notes"]) for r in proj["rows"]}
    assert "bench batch 64 != config 32" in notes["robgan"]
    assert "bench performance.bf16=False, config True" in notes["robgan"]
    assert "bench performance.compile" not in notes["robgan"]  # equal keys are not flagged
    assert run_label("robgan_ft", cfg) == "robgan_ft"


def test_projection_marks_untimed_runs():
    cfg = load_config(SHAPES["cifar10"].config_path)
    bench = _fake_bench(cfg["performance"])
    bench["results"] = [r for r in bench["results"] if r["method"] == "robgan"]
    proj = project_hours(bench, cfg)
    assert set(proj["missing"]) == {"sngan", "advtrain", "acgan", "acgan_newloss", "robgan_ft", "robgan_ft_nofake"}
    assert proj["hours_total"] == pytest.approx(2 * 3 * 78125 * 0.2 / 3600)  # robgan + robgan_oldloss
    assert "total of the 2 timed runs" in render_projection(proj)


def test_projection_cli(tmp_path, capsys):
    cfg = load_config(SHAPES["cifar10"].config_path)
    bench_file = tmp_path / "bench-x.json"
    bench_file.write_text(json.dumps(_fake_bench(cfg["performance"])))
    assert cli_main(["bench", "--project", str(SHAPES["cifar10"].config_path), "--out", str(tmp_path)]) == 0
    assert "| robgan | 78125 |" in capsys.readouterr().out
    saved = json.loads((tmp_path / "projection-cifar10-cuda-nvidia-h100.json").read_text())
    assert saved["bench_file"] == str(bench_file) and saved["hours_total"] > 0


def test_write_result_never_overwrites_a_result_of_the_same_minute(tmp_path):
    """Two benches created in the same minute (an fp32 and a bf16 quick check) keep both files."""
    res = json.loads(next((REPO_RESULTS).glob("bench-cpu-*.json")).read_text())
    first = write_result(res, tmp_path)
    res2 = {**res, "settings": {**res["settings"], "note": "second"}}
    second = write_result(res2, tmp_path)
    third = write_result(res2, tmp_path)
    assert first["json"].name.endswith(".json") and second["json"].name == first["json"].stem + "-2.json"
    assert third["json"].name == first["json"].stem + "-3.json"
    assert json.loads(first["json"].read_text())["settings"]["note"] == res["settings"]["note"]
    assert json.loads(second["json"].read_text())["settings"]["note"] == "second"
    assert second["latest"] == first["latest"] and "second" in first["latest"].read_text()
    assert len(list(tmp_path.glob("bench-*.json"))) == len(list(tmp_path.glob("bench-*.md"))) == 3
