"""The recipes of README.md and docs/usage.md that need no training work on what a user has: the
committed records (regenerating tables, figures and claims) and the run directories the main command
leaves (the Python API example). Each test runs the command or code block as the page prints it."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROBGAN = [sys.executable, "-m", "robgan"]


def code_blocks(page: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", page.read_text(), flags=re.S)


def report_recipe(page: Path) -> list[str]:
    """The `robgan report ...` command of a page's bash blocks, as argv (line continuations joined)."""
    for block in code_blocks(page, "bash"):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            if line.strip().startswith("robgan report"):
                return shlex.split(line)
    raise AssertionError(f"{page.name} has no `robgan report` recipe")


def test_readme_and_usage_give_the_same_report_recipe():
    assert report_recipe(REPO / "README.md") == report_recipe(REPO / "docs" / "usage.md")


def test_no_page_promises_a_snakemake_report_rerun_on_a_fresh_clone():
    # `--forcerun report` plans the whole DAG on a clone (no weights are committed): not a recipe
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for block in code_blocks(page, "bash"):
            assert "--forcerun report" not in block, page


@pytest.mark.slow
def test_report_recipe_regenerates_the_committed_files_from_the_committed_records(tmp_path):
    """On a copy of what a fresh clone has (results/quick as committed, config/), the README's command
    rewrites every table and claim file identically and redraws every figure but the sample grids."""
    shutil.copytree(REPO / "results" / "quick", tmp_path / "results" / "quick")
    shutil.copytree(REPO / "config", tmp_path / "config")
    figures = tmp_path / "results" / "quick" / "figures"
    for png in figures.glob("*.png"):
        if not png.name.startswith("samples_"):
            png.unlink()  # must be redrawn
    argv = report_recipe(REPO / "README.md")
    proc = subprocess.run(ROBGAN + argv[1:], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    committed = REPO / "results" / "quick"
    files = [p.relative_to(committed) for p in committed.glob("tables/*") if p.is_file()]
    files += [Path("claims.md"), Path("claims.json")]
    assert len(files) >= 14  # 4 tables (quick runs no strong PGD protocol) x csv/md/tex + 2 claim files
    for rel in files:
        assert (tmp_path / "results" / "quick" / rel).read_bytes() == (committed / rel).read_bytes(), rel
    redrawn = {p.name for p in figures.glob("*.png") if not p.name.startswith("samples_")}
    assert redrawn == {p.name for p in (committed / "figures").glob("*.png") if not p.name.startswith("samples_")}


@pytest.mark.slow
def test_api_example_runs_on_the_run_directories_of_the_main_command(tmp_path):
    """docs/usage.md's Python example, run where `snakemake --cores all` leaves results/quick/runs/
    (here two tiny trainings of the same config: the example reads nothing that depends on length)."""
    (example,) = [b for b in code_blocks(REPO / "docs" / "usage.md", "python") if "load_generator" in b]
    runs = tmp_path / "results" / "quick" / "runs"
    tiny = ["--set", "train.iterations=2", "--set", "snapshot_every=1", "--set", "checkpoint_every=1"]
    cfg = str(REPO / "config" / "config.yaml")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    robgan_run = str(runs / "robgan" / "seed0")
    for argv in (["train", "--config", cfg, "--method", "robgan", "--seed", "0", "--out", robgan_run, *tiny],
                 ["finetune", "--config", cfg, "--from", robgan_run, "--seed", "0",
                  "--out", str(runs / "robgan_ft" / "seed0"), *tiny, "--set", "finetune.iterations=1"]):
        proc = subprocess.run(ROBGAN + argv, capture_output=True, text=True, timeout=600, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    script = tmp_path / "example.py"
    script.write_text(example + "\nassert x.shape == (10, 1, 32, 32) and 0 <= x.min() and x.max() <= 1\n"
                      "assert first.name == 'iter_0000001.pt' and run.method == 'robgan'\n"
                      "print('EXAMPLE OK', list(clf(x).shape))\n")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "EXAMPLE OK [10, 10]" in proc.stdout


# Pages written on other branches of the same change; drop an entry once its page is merged.
_PAGES_OF_OTHER_BRANCHES = {"docs/slurm.md"}


def test_every_relative_link_of_the_readme_and_docs_exists():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "benchmarks").glob("*.md")),
             REPO / "benchmarks" / "attempts" / "README.md"]
    missing = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            rel = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)
            if not path.exists() and rel not in _PAGES_OF_OTHER_BRANCHES:
                missing.append(f"{page.relative_to(REPO)} -> {target}")
    assert not missing, missing
