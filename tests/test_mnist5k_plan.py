"""benchmarks/mnist5k-plan/estimate.md is what estimate.py computes from the committed quick run and the
measured unit costs: the mnist5k budget quoted in the config and docs is regenerated, not typed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLAN = REPO / "benchmarks" / "mnist5k-plan"


def _plan_module(name: str):
    """``benchmarks/mnist5k-plan/<name>.py`` as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"mnist5k_{name}", PLAN / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _estimate():
    return _plan_module("estimate")


def test_committed_estimate_is_regenerated_from_its_inputs():
    assert _estimate().main(REPO / "results" / "quick") == (PLAN / "estimate.md").read_text(), (
        "results/quick changed: python benchmarks/mnist5k-plan/estimate.py > benchmarks/mnist5k-plan/estimate.md")


def test_cpu_seconds_reads_bash_time(tmp_path):
    f = tmp_path / "x.time"
    f.write_text(" real\t13m11.739s user\t9m0.522s sys\t0m17.084s \n")
    assert abs(_estimate().cpu_seconds(f) - (540.522 + 17.084)) < 1e-9


def test_the_run_is_put_beside_the_estimate(tmp_path):
    """With a run of the current config/mnist5k.yaml, the measured job-seconds per kind (Snakemake's
    benchmark files) and the wall-clock are tabled beside the estimate; a run of another config is not."""
    import json

    import yaml

    from robgan.config import load_config

    run = tmp_path / "mnist5k"
    cfg = load_config(REPO / "config" / "mnist5k.yaml")
    (run / "benchmarks" / "train").mkdir(parents=True)
    (run / "benchmarks" / "eval_pgd").mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    (run / "dag_run.json").write_text(json.dumps({"git_commit": "abcdef0123", "cores": 2, "jobs": 3,
                                                  "wall_seconds": 600.0}))
    for rel, s in (("train/robgan_seed0.tsv", 60.0), ("train/robgan_seed1.tsv", 40.0), ("train/sngan_seed0.tsv", 50.0),
                   ("eval_pgd/robgan_seed0.tsv", 30.0), ("report.tsv", 5.0)):
        (run / "benchmarks" / rel).write_text(f"s\th:m:s\n{s}\t0:00:00\n")
    md = _estimate().main(REPO / "results" / "quick", run)
    assert "## The run beside the estimate (`results/mnist5k`, commit `abcdef0`, 2 cores, 3 jobs, calibration" in md
    section = md.split("## The run beside the estimate")[1]
    rows = {line.split(" | ")[0].strip("| "): line for line in section.splitlines() if line.startswith("| ")}
    assert rows["train + finetune"].split(" | ")[2] == "150"
    assert rows["eval_pgd"].split(" | ")[2] == "30"
    assert rows["data, reference, cost_probe, report"].split(" | ")[2] == "5"
    assert rows["**total**"].split(" | ")[2] == "**185**"
    assert "measured **600 s (10.0 min)**" in section
    # a run of a shorter training: scaled to the config (training jobs by their iteration ratio, fidelity
    # jobs by their snapshot ratio, the rest as measured; the run's idle share kept)
    (run / "benchmarks" / "eval_fidelity").mkdir()
    (run / "benchmarks" / "eval_fidelity" / "robgan_seed0.tsv").write_text("s\th:m:s\n20.0\t0:00:00\n")
    (run / "benchmarks" / "train" / "advtrain_seed0.tsv").write_text("s\th:m:s\n30.0\t0:00:00\n")
    short = yaml.safe_load(yaml.safe_dump(cfg))
    short["train"]["iterations"] = cfg["train"]["iterations"] // 2
    short["advtrain"]["iterations"] = cfg["advtrain"]["iterations"] // 2
    short["advtrain"]["schedule"]["start"] = cfg["advtrain"]["schedule"]["start"] // 2
    (run / "config.yaml").write_text(yaml.safe_dump(short))
    md = _estimate().main(REPO / "results" / "quick", run)
    section = md.split("## The previous run, scaled to this config")[1]
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")
            for line in section.splitlines() if line.startswith("| ")}
    assert rows["train + finetune"][1:3] == ["180", "360"]   # (60 + 40 + 50 + 30) x 2
    assert rows["eval_fidelity"][1:3] == ["20", "40"] and rows["eval_pgd"][1:3] == ["30", "30"]
    assert rows["**total**"][1:3] == ["**235**", "**435**"]
    # the run's idle share: (600 s x 2 cores - 235 job-s) / 235 job-s
    assert "scaled, 435 / 2 x (1 + 4.106) = **1,111 s (19 min)** on that machine" in section
    cfg["seeds"] = [0]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert "(seeds differ): not comparable" in _estimate().main(REPO / "results" / "quick", run)


def _preflight():
    return _plan_module("preflight")


def test_preflight_decides_on_the_calibration_ratio_with_the_noise_margin():
    decide = _preflight().decide
    # same kind: 6,000 s on a machine calibrated at 2.0 s, this one 1.5 s -> 4,500 s, 5,175 s with 15 %
    go, predicted, why = decide(6000, 2.0, True, 1.5, True)
    assert go and abs(predicted - 4500) < 1e-9 and "within the budget" in why
    # 6,500 s predicted fits 7,200 s alone, not with the 15 % noise (7,475 s)
    go, predicted, why = decide(6500, 2.0, True, 2.0, True)
    assert not go and abs(predicted - 6500) < 1e-9 and "over the budget" in why
    # float32 on both sides compares too
    assert decide(6000, 2.0, False, 1.5, False)[0]


def test_preflight_refuses_a_machine_of_another_kind():
    decide = _preflight().decide
    go, predicted, why = decide(6000, 2.0, True, 1.0, False)  # faster float32 calibration, no native bf16
    assert not go and abs(predicted - 3000) < 1e-9 and "lower bound" in why
    go, predicted, why = decide(6000, 2.0, False, 1.0, True)
    assert not go and predicted is None and "does not compare them" in why
    go, predicted, why = decide(6000, 2.0, None, 1.0, True)
    assert not go and predicted is None and "do not say" in why


def test_preflight_on_the_committed_run(tmp_path, capsys):
    """The committed results/mnist5k (an AVX-512-BF16 run: its records hold bf16 attacks) against saved
    calibrations: a machine of its kind 20 % faster is a GO, one 30 % slower is not, nor is an AVX2 one
    as fast as its own."""
    import json

    pre = _preflight()
    from robgan.report.compare import records_bf16_native

    assert records_bf16_native(REPO / "results" / "mnist5k") is True

    def run(seconds: float, bf16: bool) -> int:
        f = tmp_path / "cal.json"
        f.write_text(json.dumps({"seconds": seconds, "compute": {"cpu_capability": "AVX512" if bf16 else "AVX2",
                                                                 "bf16_native": bf16}}))
        return pre.main(["--calibration", str(f)])

    run_cal = json.loads((REPO / "results" / "mnist5k" / "dag_run.json").read_text())["calibration"]["seconds"]
    assert run(run_cal * 0.8, True) == 0  # 6,150 s scaled x 0.8 x 1.15: within 7,200 s
    assert "GO: same kind of compute" in capsys.readouterr().out
    assert run(run_cal * 1.3, True) == 1
    assert "NO-GO: same kind" in capsys.readouterr().out
    assert run(run_cal, False) == 1
    assert "lower bound" in capsys.readouterr().out
