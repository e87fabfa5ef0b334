"""benchmarks/mnist5k-plan/estimate.md is what estimate.py computes from the committed quick run and the
measured unit costs: the mnist5k budget quoted in the config and docs is regenerated, not typed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLAN = REPO / "benchmarks" / "mnist5k-plan"


def _estimate():
    spec = importlib.util.spec_from_file_location("mnist5k_estimate", PLAN / "estimate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
