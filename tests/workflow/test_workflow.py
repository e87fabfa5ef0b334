"""The Snakemake workflow: lint, the DAG of each experiment, config resolution, the SLURM profile,
and which jobs a config edit reruns.

Every Snakemake call runs with ``--directory <tmp>`` (the Snakefile and configs by absolute path),
so nothing is written into the repository. The rerun tests execute the real DAG once with a stub
``robgan`` command first on PATH (it only writes the files each command would write), so that
Snakemake records real metadata (params, inputs, code) to compare later edits against.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from script_loader import load_script

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
SNAKEFILE = REPO / "Snakefile"
CONFIGS = {
    "quick": REPO / "config" / "config.yaml",
    "cifar10": REPO / "config" / "cifar10.yaml",
    "imagenet143": REPO / "config" / "imagenet143.yaml",
}
SLURM_PROFILE = REPO / "workflow" / "profiles" / "slurm"
DEFAULT_PROFILE = REPO / "workflow" / "profiles" / "default"

# Jobs of one seed of the experiments that train all 6 methods with finetune_lambdas [0.3, 0.0]:
# classifier labels advtrain, robgan, robgan_ft, robgan_ft_nofake, acgan, acgan_newloss,
# robgan_oldloss (7); generator labels sngan, robgan, acgan, acgan_newloss, robgan_oldloss (5);
# gap labels advtrain, robgan, robgan_ft, robgan_ft_nofake (4).
PER_SEED = {"train": 6, "finetune": 2, "eval_pgd": 7, "eval_autoattack": 7, "eval_gap": 4,
            "eval_lipschitz": 7, "eval_fidelity": 5}
# quick (config/config.yaml, and the stub trees made from it): AutoAttack on claim 6's four classifiers
QUICK_PER_SEED = {**PER_SEED, "eval_autoattack": 4}
ONCE = {"data": 1, "cost_probe": 1, "reference": 1, "report": 1, "all": 1}


def expected_jobs(n_seeds: int, per_seed: dict[str, int] = PER_SEED) -> dict[str, int]:
    return {**{k: v * n_seeds for k, v in per_seed.items()}, **ONCE}


def snakemake(workdir: Path, *args: str, env: dict | None = None, timeout: int = 120):
    """Run the venv's snakemake on the repository's Snakefile in ``workdir``; stdout+stderr."""
    cmd = [str(SNAKEMAKE), "--snakefile", str(SNAKEFILE), "--directory", str(workdir), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=workdir)
    return proc.returncode, proc.stdout + proc.stderr


# Snakemake calls an existing output "protected" when os.access(path, W_OK) is false, which it never
# is for root (CI runs as root): there the run goes through this shim, which answers os.access for a
# file without write permission bits as any other user would. The mode bits themselves are Snakemake's
# doing (protected() makes model.pt read-only after the job; test_stub_run_commands checks them).
_ACCESS_AS_USER = """
import os, sys
_access = os.access
def _as_user(path, mode, *args, **kwargs):
    if mode & os.W_OK and os.path.isfile(path) and not os.stat(path).st_mode & 0o222:  # no write bit
        return False
    return _access(path, mode, *args, **kwargs)
os.access = _as_user
from snakemake.cli import main
sys.argv[0] = "snakemake"
sys.exit(main())
"""


def snakemake_as_user(workdir: Path, *args: str, env: dict | None = None, timeout: int = 120):
    """:func:`snakemake`, with file write permissions as a non-root user sees them (see above)."""
    if os.geteuid() != 0:
        return snakemake(workdir, *args, env=env, timeout=timeout)
    cmd = [sys.executable, "-c", _ACCESS_AS_USER, "--snakefile", str(SNAKEFILE), "--directory", str(workdir), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=workdir)
    return proc.returncode, proc.stdout + proc.stderr


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a (dry-)run, rule -> count ({} when nothing is to be done)."""
    lines = output.splitlines()
    if "Job stats:" not in lines:
        return {}
    counts = {}
    for line in lines[lines.index("Job stats:") + 3:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def job_priorities(output: str) -> dict[tuple[str, str | None], int]:
    """(rule, label) -> the priority a (dry-)run printed for that job (0 when it printed none)."""
    out = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        m = re.match(r"(?:local)?rule (\w+):", block)
        if m:
            label = re.search(r"wildcards: .*?label=([\w]+)", block)
            prio = re.search(r"priority: (\d+)", block)
            out[(m.group(1), label.group(1) if label else None)] = int(prio.group(1)) if prio else 0
    return out


def dry_run(workdir: Path, *args: str, env: dict | None = None) -> dict[str, int]:
    rc, out = snakemake(workdir, "-n", *args, env=env)
    assert rc == 0, out
    return job_counts(out)


def edited_config(tmp: Path, name: str, edit) -> Path:
    """A copy of the default config with ``edit(cfg)`` applied."""
    cfg = yaml.safe_load(CONFIGS["quick"].read_text())
    edit(cfg)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


# ------------------------------------------------------------------------------------------------
# Lint, DAG shape, config resolution, profiles (each Snakemake start costs seconds: few calls)
# ------------------------------------------------------------------------------------------------
def test_lint_clean(tmp_path):
    rc, out = snakemake(tmp_path, "--lint")
    assert rc == 0, out
    assert "Lints for" not in out, out
    assert "Congratulations, your workflow is in a good condition!" in out


def test_default_profile_dry_run_of_the_default_config(tmp_path):
    # no --configfile: config/config.yaml (quick, 1 seed); --config still applies on top of it
    # (scalars only: Snakemake reads nested --config values as strings, so edit a copy of the
    # config file for lists)
    rc, out = snakemake(tmp_path, "--profile", str(DEFAULT_PROFILE), "-n", "--config", "experiment=smoke")
    assert rc == 0, out
    assert job_counts(out) == expected_jobs(1, QUICK_PER_SEED)
    # the rules take their priorities from robgan.pipeline.job_priority (longest jobs first)
    prio = job_priorities(out)
    assert prio[("train", "robgan")] > prio[("reference", None)] > prio[("train", "sngan")]
    assert prio[("finetune", "robgan_ft")] > prio[("train", "robgan")]
    assert prio[("train", "acgan")] > prio[("eval_fidelity", "acgan")] > prio[("eval_autoattack", "robgan")]
    assert prio[("eval_autoattack", "robgan")] > prio[("eval_pgd", "robgan")] > prio[("eval_gap", "robgan")]
    assert prio[("eval_lipschitz", "acgan")] > prio[("report", None)] == 0
    assert not (tmp_path / "results").exists()  # a dry run writes nothing under results/
    resolved = resolved_by_a_run(tmp_path / "run", "smoke", "--profile", str(DEFAULT_PROFILE),
                                 "--config", "experiment=smoke")
    assert resolved["experiment"] == "smoke"
    assert resolved["eval"]["autoattack"]["apgd_iterations"] == 20  # from config.yaml
    assert resolved["eval"]["index_seed"] == 0  # schema default filled
    assert resolved["train"]["loss_weights"]["d_fake"] == 1.0  # nested schema default filled
    assert not (tmp_path / "run" / "work" / "results" / "quick").exists()


def resolved_by_a_run(root: Path, experiment: str, *args: str) -> dict:
    """The resolved config Snakemake writes when it runs jobs: one stub data job (``*args`` select the
    experiment), after which ``results/<experiment>/config.yaml`` is read back."""
    root.mkdir()
    work, env = stub_setup(root, fake_data=False)
    env["ROBGAN_STUB_FAKE_DATA"] = "1"
    rc, out = snakemake(work, "--cores", "1", f"results/{experiment}/data/summary.json", *args, env=env)
    assert rc == 0, out
    return yaml.safe_load((work / "results" / experiment / "config.yaml").read_text())


def test_slurm_profile_dry_run_of_cifar10(tmp_path):
    # The plugin needs no sbatch/sinfo for a dry-run (CI machines have none).
    rc, out = snakemake(tmp_path, "--profile", str(SLURM_PROFILE), "--configfile", str(CONFIGS["cifar10"]),
                        "-n")
    assert rc == 0, out
    assert job_counts(out) == expected_jobs(3)
    train = out[out.index("rule train:"):]
    train = train[:train.index("Shell command:")]
    resources = dict(kv.split("=", 1) for kv in re.search(r"resources: (.*)", train).group(1).split(", "))
    assert resources["gpu"] == "1" and resources["cpus_per_gpu"] == "8"
    assert resources["runtime"] == "1440" and resources["mem_mb"] == "32000"
    assert "slurm_partition" in resources and "slurm_account" in resources
    # --configfile replaces the default experiment file, it is not merged with it: quick sets
    # eval.autoattack.apgd_iterations to 20, cifar10 leaves it to the schema default (100)
    assert not (tmp_path / "results").exists()  # a dry run writes nothing under results/
    resolved = resolved_by_a_run(tmp_path / "run", "cifar10", "--configfile", str(CONFIGS["cifar10"]))
    assert resolved["eval"]["autoattack"]["apgd_iterations"] == 100
    assert resolved["model"]["z_dim"] == 128
    assert not (tmp_path / "run" / "work" / "results" / "quick").exists()


def test_dry_run_of_imagenet143(tmp_path):
    assert dry_run(tmp_path, "--configfile", str(CONFIGS["imagenet143"])) == expected_jobs(3)


def test_dry_run_of_a_subset_of_methods(tmp_path):
    cfg = edited_config(tmp_path, "small", lambda c: c.update(methods=["sngan", "advtrain", "robgan"],
                                                              finetune_lambdas=[0.0]))
    # sngan: generator only; advtrain: classifier only; robgan: both, + robgan_ft_nofake
    assert dry_run(tmp_path, "--configfile", str(cfg)) == {
        "data": 1, "cost_probe": 1, "train": 3, "finetune": 1, "reference": 1, "eval_pgd": 3,
        "eval_autoattack": 3, "eval_gap": 3, "eval_lipschitz": 3, "eval_fidelity": 2, "report": 1, "all": 1}


def test_two_positive_lambdas_are_refused(tmp_path):
    cfg = edited_config(tmp_path, "bad", lambda c: c.update(finetune_lambdas=[0.3, 0.5]))
    rc, out = snakemake(tmp_path, "-n", "--configfile", str(cfg))
    assert rc != 0 and "finetune_lambdas" in out


@pytest.mark.parametrize("how", ["--config", "--configfile"])
def test_a_config_error_is_one_message_naming_the_field(tmp_path, how):
    # robgan.config's one-line message (field and fix), not Snakemake's dump of the schema
    if how == "--config":
        args, field = ("--config", "seeds=x"), "'seeds'"
    else:
        bad = edited_config(tmp_path, "bad", lambda c: c["train"].update(batch_size=0))
        args, field = ("--configfile", str(bad)), "'train.batch_size'"
    rc, out = snakemake(tmp_path, "-n", *args)
    assert rc != 0
    errors = [line for line in out.splitlines() if line.startswith("config error at ")]
    assert len(errors) == 1 and field in errors[0] and "--set " in errors[0], out
    assert len(out.splitlines()) <= 6 and "Failed validating" not in out, out


# ------------------------------------------------------------------------------------------------
# Rerun triggers, against a results tree made by a real run of the DAG with a stub robgan
# ------------------------------------------------------------------------------------------------
STUB = r'''#!{python}
"""Stub of the robgan CLI: writes the files each sub-command would write, and logs its argv."""
import json, os, sys
from pathlib import Path

GENERATORS = {{"sngan", "robgan", "acgan", "acgan_newloss", "robgan_oldloss"}}
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4"
                    "5c0000000049454e44ae426082")
argv = sys.argv[1:]
if argv[:1] == ["data"] and not os.environ.get("ROBGAN_STUB_FAKE_DATA"):  # real (the embedded digits)
    os.execv(sys.executable, [sys.executable, "-m", "robgan", *argv])
with open(os.environ["ROBGAN_STUB_CALLS"], "a") as fh:
    fh.write(json.dumps(argv) + "\n")
opt = lambda name: Path(argv[argv.index(name) + 1])
if not opt("--config").is_file():
    sys.exit("stub: --config file missing")
cmd = argv[0]
if cmd == "data":
    opt("--out").parent.mkdir(parents=True, exist_ok=True)
    opt("--out").write_text("{{}}")
elif cmd in ("train", "finetune"):
    out = opt("--out")
    out.mkdir(parents=True, exist_ok=True)
    if os.environ.get("ROBGAN_STUB_PREEMPT") and not (out / "checkpoint.pt").exists():
        (out / "checkpoint.pt").write_text("stub")  # what robgan does on SIGTERM
        sys.exit(143)
    (out / "checkpoint.pt").write_text("stub")
    (out / "model.pt").write_text("stub")
elif cmd == "cost-probe":
    opt("--out").parent.mkdir(parents=True, exist_ok=True)
    opt("--out").write_text("{{}}")
elif cmd == "train-reference":
    opt("--out").mkdir(parents=True, exist_ok=True)
    (opt("--out") / "metrics.json").write_text("{{}}")
elif cmd == "eval":
    opt("--out").parent.mkdir(parents=True, exist_ok=True)
    opt("--out").write_text("{{}}")
    if argv[1] == "fidelity":
        opt("--out").with_suffix(".json").write_text("{{}}")
elif cmd == "report" and os.environ.get("ROBGAN_STUB_REPORT_FROM"):  # the committed report's files
    import shutil
    src = Path(os.environ["ROBGAN_STUB_REPORT_FROM"])
    for sub in ("tables", "figures"):
        shutil.copytree(src / sub, opt("--out") / sub, dirs_exist_ok=True)
    figs = opt("--out") / "figures"
    for run in opt("--runs").glob("*/seed*"):  # a committed report from before per-seed sample grids
        old, new = f"samples_{{run.parent.name}}", f"samples_{{run.parent.name}}_{{run.name}}"
        for ext in ("png", "pdf"):
            if (figs / f"{{old}}.{{ext}}").is_file() and not (figs / f"{{new}}.{{ext}}").is_file():
                shutil.copy(figs / f"{{old}}.{{ext}}", figs / f"{{new}}.{{ext}}")
    for name in ("claims.md", "claims.json"):
        shutil.copy(src / name, opt("--out") / name)
elif cmd == "report":
    out = opt("--out")
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for t in ("robust_accuracy", "robust_accuracy_strong", "autoattack", "generation", "ablation"):
        (out / "tables" / f"{{t}}.csv").write_text("a,b\n1,2\n")
        for ext in ("md", "tex"):
            (out / "tables" / f"{{t}}.{{ext}}").write_text("stub")
    gens = [p for p in opt("--runs").iterdir() if p.name in GENERATORS]
    figs = ["is_vs_time", "is_vs_iter", "fid_vs_time", "fid_vs_iter", "accuracy_vs_eps",
            "robustness_gap", "lipschitz", "training_curves"]
    figs += [f"samples_{{g.name}}_{{s.name}}" for g in gens for s in g.glob("seed*")]
    for f in figs:
        (out / "figures" / f"{{f}}.png").write_bytes(PNG)
        (out / "figures" / f"{{f}}.pdf").write_text("stub")
    (out / "claims.md").write_text("# Claims\n")
    (out / "claims.json").write_text("[]")
else:
    sys.exit(f"stub: unknown command {{argv}}")
'''


def stub_setup(root: Path, fake_data: bool = True) -> tuple[Path, dict]:
    """A work directory (whose data step is faked as done with ``fake_data``) and an environment
    with the stub robgan first on PATH, then the project's environment (its python runs the data
    step for real)."""
    bin_dir = root / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "robgan"
    stub.write_text(STUB.format(python=sys.executable))
    stub.chmod(0o755)
    work = root / "work"
    work.mkdir()
    if fake_data:  # the data step runs the real `robgan data` (not the stub): pretend it ran
        (work / "results" / "quick" / "data").mkdir(parents=True)
        (work / "results" / "quick" / "data" / "summary.json").write_text("{}")
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {**os.environ, "PATH": path,
           "ROBGAN_STUB_CALLS": str(root / "calls.jsonl")}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return work, env


def test_preempted_training_keeps_its_checkpoint_and_is_resumed(tmp_path):
    # The stub's first attempt of a training writes checkpoint.pt and exits 143 (what robgan does on
    # SIGTERM); it finishes only when it finds that checkpoint. So the run succeeding with one retry
    # shows that Snakemake kept the failed job's checkpoint and the retry ran the same command.
    work, env = stub_setup(tmp_path)
    env["ROBGAN_STUB_PREEMPT"] = "1"
    run = work / "results" / "quick" / "runs" / "sngan" / "seed0"
    rc, out = snakemake(work, "--cores", "1", "--retries", "1", f"{run.relative_to(work)}/model.pt", env=env)
    assert rc == 0, out
    assert (run / "model.pt").is_file() and (run / "checkpoint.pt").is_file()
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert calls[0] == calls[1] and len(calls) == 2


@pytest.fixture(scope="module")
def stub_tree(tmp_path_factory):
    """A finished `quick` results tree, made by running the DAG with the stub robgan (and the real
    data step: it loads the embedded digits)."""
    root = tmp_path_factory.mktemp("stub_tree")
    work, env = stub_setup(root, fake_data=False)
    env["ROBGAN_STUB_REPORT_FROM"] = str(REPO / "results" / "quick")  # real tables, figures, claims
    rc, out = snakemake(work, "--cores", "2", env=env, timeout=300)
    assert rc == 0, out
    calls = [json.loads(line) for line in (root / "calls.jsonl").read_text().splitlines()]
    return work, env, calls, root


def test_stub_run_commands(stub_tree):
    work, _, calls, _ = stub_tree
    assert all(c[c.index("--config") + 1] == "results/quick/config.yaml" for c in calls)
    finetunes = [c for c in calls if c[0] == "finetune"]
    assert sorted(c[c.index("--set") + 1] for c in finetunes) == ["finetune.lam=0.0", "finetune.lam=0.3"]
    assert {c[c.index("--from") + 1] for c in finetunes} == {"results/quick/runs/robgan/seed0"}
    assert {c[c.index("--out") + 1] for c in finetunes} == {"results/quick/runs/robgan_ft/seed0",
                                                            "results/quick/runs/robgan_ft_nofake/seed0"}
    (report,) = [c for c in calls if c[0] == "report"]
    assert report[report.index("--claims") + 1] == str(REPO / "config" / "paper_claims.yaml")
    assert report[report.index("--runs") + 1] == "results/quick/runs"
    assert report[report.index("--cost-probe") + 1] == "results/quick/cost_probe.json"
    # the cost probe times the steps on the training jobs' threads (it reserves every core: it runs alone)
    (probe,) = [c for c in calls if c[0] == "cost-probe"]
    assert probe[probe.index("--threads") + 1] == "1"
    assert probe[probe.index("--out") + 1] == "results/quick/cost_probe.json"
    assert calls[0][0] == "cost-probe"   # the first job (highest priority, no input)
    fid = [c for c in calls if c[:2] == ["eval", "fidelity"]]
    assert len(fid) == 5 and all(c[c.index("--reference") + 1] == "results/quick/reference" for c in fid)
    summary = json.loads((work / "results" / "quick" / "data" / "summary.json").read_text())
    assert summary["dataset"] == "mnist5k" and summary["splits"]["train"]["n"] + summary["splits"]["test"]["n"] == 5000
    # protected: a finished model cannot be overwritten by accident
    model = work / "results" / "quick" / "runs" / "robgan" / "seed0" / "model.pt"
    assert not os.access(model, os.W_OK) or os.geteuid() == 0
    assert not model.stat().st_mode & 0o222
    assert (work / "results" / "quick" / "logs" / "train" / "robgan_seed0.log").is_file()


def test_data_rule_runs_the_data_command(stub_tree):
    work, _, _, _ = stub_tree
    log = (work / "results" / "quick" / "logs" / "data.log").read_text()
    assert "mnist5k train: 4000 images" in log and "mnist5k test: 1000 images" in log, log


def _job_times():
    return load_script(REPO / "workflow" / "scripts" / "job_times.py")


def test_every_job_writes_a_benchmark_file(stub_tree):
    """Each job's wall-clock and memory land in results/<exp>/benchmarks/ (job_times.py sums them)."""
    work, _, calls, _ = stub_tree
    jobs = _job_times().read_jobs(work / "results" / "quick")
    # every stub robgan call is one job, plus the data rule (the real data command, not logged)
    assert len(jobs) == len(calls) + 1
    rules = {j["rule"] for j in jobs}
    assert {"data", "cost_probe", "reference", "train", "finetune", "eval_pgd", "eval_autoattack", "eval_gap",
            "eval_lipschitz", "eval_fidelity", "report"} == rules
    assert all(j["seconds"] >= 0 for j in jobs)


def test_job_times_sums_per_rule(tmp_path):
    jt = _job_times()
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    bench = tmp_path / "benchmarks"
    for rel, s, rss in [("train/a_seed0.tsv", 10.0, 100), ("train/b_seed0.tsv", 30.0, 300),
                        ("eval_pgd/a_seed0.tsv", 20.0, 50), ("report.tsv", 40.0, "NA")]:
        path = bench / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + f"{s}\t0:00:{int(s)}\t{rss}\t1\t1\t1\t0\t0\t0\t1\n")
    rows = {r["rule"]: r for r in jt.summarise(jt.read_jobs(tmp_path))}
    assert rows["train"]["jobs"] == 2 and rows["train"]["seconds"] == 40.0 and rows["train"]["max_seconds"] == 30.0
    assert rows["train"]["max_rss_mib"] == 300 and rows["train"]["share"] == pytest.approx(0.4)
    assert rows["report"]["jobs"] == 1 and math.isnan(rows["report"]["max_rss_mib"])
    table = jt.markdown(jt.read_jobs(tmp_path), with_jobs=True)
    assert "| train | 2 | 40.0 | 40.0 % | 30.0 | 300 |" in table and "| **all** | 4 | 100.0 | 100 % | | |" in table
    assert jt.main([str(tmp_path / "missing")]) == 2


def test_nothing_to_do_when_up_to_date(stub_tree):
    work, env, _, _ = stub_tree
    resolved = work / "results" / "quick" / "config.yaml"
    stamp = resolved.stat().st_mtime_ns - 10**9
    os.utime(resolved, ns=(stamp, stamp))
    assert dry_run(work, env=env) == {}
    assert resolved.stat().st_mtime_ns == stamp  # same content: the resolved config is not rewritten


def test_new_eps_reruns_only_pgd_and_report(stub_tree, tmp_path):
    work, env, _, _ = stub_tree

    def edit(c):
        c["eval"]["pgd"]["eps"].append(0.25)
        # speed/memory knobs are in no signature: they rerun nothing
        c.update(device="cpu", threads=1)
        c["eval"]["batch_size"] = 100

    cfg = edited_config(tmp_path, "eps", edit)
    before = (work / "results" / "quick" / "config.yaml").read_text()
    assert dry_run(work, "--configfile", str(cfg), env=env) == {"eval_pgd": 7, "report": 1, "all": 1}
    # a dry run does not rewrite the resolved config (the run that executes the jobs does)
    assert (work / "results" / "quick" / "config.yaml").read_text() == before
    assert 0.25 not in yaml.safe_load(before)["eval"]["pgd"]["eps"]


def test_new_seed_adds_only_that_seeds_jobs(stub_tree, tmp_path):
    work, env, _, _ = stub_tree
    cfg = edited_config(tmp_path, "seeds", lambda c: c.update(seeds=[0, 1]))
    rc, out = snakemake(work, "-n", "--configfile", str(cfg), env=env)
    assert rc == 0, out
    assert job_counts(out) == {**QUICK_PER_SEED, "report": 1, "all": 1}
    planned = re.findall(r"wildcards: label=\w+, seed=(\d+)", out)
    assert planned and set(planned) == {"1"}


def test_training_edit_reruns_the_methods_that_use_it(stub_tree, tmp_path):
    work, env, _, _ = stub_tree
    # 500 x 1 + 100 fine-tuning D updates: still within advtrain's 600 (validation refuses more)
    cfg = edited_config(tmp_path, "iters", lambda c: c["train"].update(iterations=500))
    rc, out = snakemake(work, "-n", "--configfile", str(cfg), env=env)
    assert rc == 0, out
    # the GAN methods retrain (their params changed); the fine-tunings follow their robgan run;
    # advtrain and its evaluations are untouched (one classifier label fewer than a full rerun); the
    # cost probe measures the changed trainings again
    retrained = re.findall(r"rule train:\n(?:    .*\n)*?    wildcards: label=(\w+), seed=0", out)
    assert sorted(retrained) == ["acgan", "acgan_newloss", "robgan", "robgan_oldloss", "sngan"]
    assert job_counts(out) == {"cost_probe": 1, "train": 5, "finetune": 2, "eval_pgd": 6, "eval_autoattack": 3,
                               "eval_gap": 3, "eval_lipschitz": 6, "eval_fidelity": 5, "report": 1, "all": 1}
    # a finished training is protected: Snakemake refuses to replace model.pt (in a copy of the tree)
    copy = tmp_path / "copy"
    shutil.copytree(work, copy)
    rc, out = snakemake_as_user(copy, "--cores", "1", "--configfile", str(cfg), env=env)
    assert rc != 0 and "protected" in out.lower(), out
    assert (copy / "results" / "quick" / "runs" / "sngan" / "seed0" / "model.pt").read_text() == "stub"


def test_html_report(stub_tree):
    work, env, _, _ = stub_tree
    rc, out = snakemake(work, "--report", "report.html", env=env)
    assert rc == 0, out
    assert "Missing metadata" not in out, out  # every file was made by a job of this tree
    html = (work / "report.html").read_text()
    for name in ("accuracy_vs_eps.png", "samples_robgan_seed0.png", "robust_accuracy.csv", "claims.md"):
        assert name in html


# Injected into a copy of the report: drives the report's own app (its global `app`, `results` and
# `categories`) the way a click would, and writes what rendered into <pre id="robgan-check">.
_REPORT_CHECK_JS = """<script>
window.addEventListener("load", async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const out = {figures: {}, categories: {}, claims_rows: null, errors: []};
  for (let i = 0; i < 200 && !app; i++) await sleep(50);
  try {
    for (const [path, entry] of Object.entries(results)) {
      if (!/\\.(png|jpe?g|svg)$/.test(path)) continue;
      app.setView({content: "img", contentPath: entry.data_uri, resultPath: path});
      let img = null;
      for (let i = 0; i < 100 && !(img && img.complete); i++) {
        await sleep(20);
        img = [...document.querySelectorAll("#app img")].find((el) => el.getAttribute("src") === entry.data_uri);
      }
      out.figures[path] = img ? {width: img.naturalWidth, height: img.naturalHeight} : null;
    }
    for (const cat of Object.keys(categories)) {
      app.showCategory(cat);
      await sleep(100);
      out.categories[cat] = document.querySelector("#app").innerText;
    }
    const claims = Object.keys(results).find((p) => p.endsWith("/claims.md"));
    const text = await (await fetch(results[claims].data_uri)).text();
    const summary = text.split("## Summary")[1].split("\\n## ")[0];
    out.claims_rows = summary.split("\\n").filter((l) => l.startsWith("| claim")).map((l) => l.split("|")[1].trim());
  } catch (e) {
    out.errors.push(String(e));
  }
  const pre = document.createElement("pre");
  pre.id = "robgan-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_html_report_renders_in_chromium(stub_tree, tmp_path):
    """`snakemake --report` opened in headless Chromium: every figure decodes to a real image in the
    report's own viewer, every category lists its files, and the embedded claims.md holds the
    committed summary table (the stub tree's report job copied the committed quick report)."""
    import html as html_lib

    work, env, _, _ = stub_tree
    rc, out = snakemake(work, "--report", "report.html", env=env)
    assert rc == 0, out
    page = (work / "report.html").read_text()
    end = page.rfind("</body>")
    checked = tmp_path / "report_check.html"
    checked.write_text(page[:end] + _REPORT_CHECK_JS + page[end:])
    proc = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=60000",
                           "--dump-dom", checked.as_uri()], capture_output=True, text=True, timeout=180)
    found = re.search(r'<pre id="robgan-check">(.*?)</pre>', proc.stdout, flags=re.S)
    assert found, proc.stderr[-2000:]
    result = json.loads(html_lib.unescape(found.group(1)))
    assert result["errors"] == []
    committed = REPO / "results" / "quick"
    # the committed figures, and one sample grid per generator and seed (the stub copies a committed
    # report from before per-seed grids to those names)
    pngs = {f"results/quick/figures/{p.name}" for p in (work / "results" / "quick" / "figures").glob("*.png")
            if not p.name.startswith("samples_") or "_seed" in p.name}
    assert set(result["figures"]) == pngs and len(pngs) >= 13
    for path, size in result["figures"].items():
        assert size is not None and size["width"] >= 300 and size["height"] >= 300, (path, size)
    assert set(result["categories"]) == {"Claims", "Figures", "Tables"}
    assert "claims.md" in result["categories"]["Claims"]
    for table in ("robust_accuracy", "autoattack", "generation", "ablation"):
        assert table in result["categories"]["Tables"]
    summary = (committed / "claims.md").read_text().split("## Summary")[1].split("\n## ")[0]
    want = [line.split("|")[1].strip() for line in summary.splitlines() if line.startswith("| claim")]
    assert result["claims_rows"] == want and len(want) == 1 + 13  # the header row and 13 claims


def test_committed_results_do_not_make_snakemake_skip_work(tmp_path):
    """A clone holds the committed outputs of results/quick (records, tables, figures, claims, benchmark
    files, the runs' train logs) but no weights: `snakemake --cores all` must still run the whole DAG, not skip or
    refuse anything (the committed files are overwritten)."""
    committed = REPO / "results" / "quick"
    assert (committed / "records").is_dir(), "results/quick is committed (tests/test_readme.py needs it too)"
    shutil.copytree(committed, tmp_path / "results" / "quick")
    runs = tmp_path / "results" / "quick" / "runs"   # only the runs' train logs are committed
    assert {f.name for f in runs.rglob("*") if f.is_file()} == {"train_log.csv"}
    assert dry_run(tmp_path) == expected_jobs(1, QUICK_PER_SEED)
