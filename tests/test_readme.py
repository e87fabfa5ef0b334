"""README.md's results block is generated from the committed results (robgan/report/readme.py): it must
equal what the committed files render, and a number changed in a committed table must show up."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from robgan.report import readme

REPO = Path(__file__).resolve().parents[1]


def test_readme_block_equals_the_committed_results():
    problem = readme.check(REPO)
    assert problem is None, f"{problem}\n(run `robgan readme` and commit README.md)"


def test_committed_quick_results_exist():
    # the README quotes them and CI compares a fresh quick run with them
    for rel in ("claims.md", "claims.json", "config.yaml", "dag_run.json", "tables/generation.md",
                "tables/robust_accuracy.md"):
        assert (REPO / "results" / "quick" / rel).is_file(), rel


@pytest.fixture
def copy_of_repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "README.md", root / "README.md")
    shutil.copytree(REPO / "results", root / "results")
    return root


def test_a_changed_committed_number_is_caught(copy_of_repo):
    table = copy_of_repo / "results" / "quick" / "tables" / "robust_accuracy.md"
    text = table.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and any(c.isdigit() for c in line)]
    line = rows[-1]
    digit = next(i for i, c in enumerate(line) if c.isdigit())
    changed = line[:digit] + str((int(line[digit]) + 1) % 10) + line[digit + 1:]
    table.write_text(text.replace(line, changed))
    problem = readme.check(copy_of_repo)
    assert problem is not None and changed.strip() in problem
    assert readme.update(copy_of_repo) is True
    assert readme.check(copy_of_repo) is None and changed in (copy_of_repo / "README.md").read_text()


def test_missing_markers_are_an_error(copy_of_repo):
    (copy_of_repo / "README.md").write_text("# no block\n")
    with pytest.raises(readme.ReadmeError, match="marker"):
        readme.check(copy_of_repo)


def test_mnist5k_shows_its_figures_inline_before_quick(copy_of_repo):
    results = copy_of_repo / "results"
    if not (results / "mnist5k" / "claims.md").is_file():  # stand-in: quick's files under the mnist5k name
        shutil.rmtree(results / "mnist5k", ignore_errors=True)
        shutil.copytree(results / "quick", results / "mnist5k")
    (results / "mnist5k" / "figures" / "training_curves.png").write_bytes(b"png")
    block = readme.render(copy_of_repo)
    assert block.index("### `mnist5k`") < block.index("### `quick`")
    mnist = block[block.index("### `mnist5k`"):block.index("### `quick`")]
    assert '<img src="results/mnist5k/figures/training_curves.png" width="860"' in mnist
    assert '<img src="results/mnist5k/figures/is_vs_iter.png" width="420"' in mnist
    assert '<img src="results/mnist5k/figures/samples_robgan.png" width="200"' in mnist
    assert "<img" not in block[block.index("### `quick`"):]  # quick: tables only


def test_an_interrupted_invocation_is_named_with_the_total(copy_of_repo):
    import json

    run_file = copy_of_repo / "results" / "quick" / "dag_run.json"
    run = json.loads(run_file.read_text())
    run.update(wall_seconds=100.0, jobs=3, wall_seconds_total=700.0,
               interrupted=[{"started": "2026-01-01T00:00:00Z", "wall_seconds": 600.0, "jobs": 40}])
    run_file.write_text(json.dumps(run))
    block = readme.render(copy_of_repo)
    assert "The DAG took **11.7 min** wall-clock in all (700 s, 2 cores" in block
    assert ("an interrupted invocation of 600 s (40 jobs, started 2026-01-01T00:00:00Z); then the invocation "
            "that completed it, 100 s (3 jobs)") in block


def test_the_dag_time_is_also_given_as_a_multiple_of_the_calibration(copy_of_repo):
    import json

    run_file = copy_of_repo / "results" / "quick" / "dag_run.json"
    run = json.loads(run_file.read_text())
    assert "That is **" not in readme.render(copy_of_repo) or run.get("calibration")  # old records: no sentence
    run.update(wall_seconds=600.0, calibration={"seconds": 4.0, "cpu_seconds": 4.0}, wall_multiple=150.0)
    run_file.write_text(json.dumps(run))
    block = readme.render(copy_of_repo)
    assert "The DAG took **10.0 min** wall-clock (600 s, 2 cores" in block
    assert "That is **150x** the calibration workload timed at its start (4.00 s; docs/speed.md)." in block
