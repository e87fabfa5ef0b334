"""README.md's and docs/results.md's results blocks are generated from the committed results
(robgan/report/readme.py): they must equal what the committed files render, and a number changed in a
committed table must show up. The README's quoted times come from committed files too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

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
    (root / "docs").mkdir()
    shutil.copy(REPO / "docs" / "results.md", root / "docs" / "results.md")
    shutil.copytree(REPO / "results", root / "results")
    (root / "config").mkdir()
    shutil.copy(REPO / readme.LISTING, root / readme.LISTING)
    return root


def test_a_changed_committed_number_is_caught(copy_of_repo):
    table = copy_of_repo / "results" / "quick" / "tables" / "robust_accuracy.md"
    text = table.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and any(c.isdigit() for c in line)]
    line = rows[-1]
    digit = next(i for i, c in enumerate(line) if c.isdigit())
    changed = line[:digit] + str((int(line[digit]) + 1) % 10) + line[digit + 1:]
    table.write_text(text.replace(line, changed))
    problem = readme.check(copy_of_repo)  # the full table is in docs/results.md, not in the README
    assert problem is not None and changed.strip() in problem and problem.startswith("results.md")
    assert readme.update(copy_of_repo) is True
    assert readme.check(copy_of_repo) is None and changed in (copy_of_repo / "docs" / "results.md").read_text()


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
    block = readme.render(copy_of_repo, full=True)  # docs/results.md: one folder down
    assert block.index("### `mnist5k`") < block.index("### `quick`")
    mnist = block[block.index("### `mnist5k`"):block.index("### `quick`")]
    assert '<img src="../results/mnist5k/figures/training_curves.png" width="860"' in mnist
    assert '<img src="../results/mnist5k/figures/is_vs_iter.png" width="420"' in mnist
    assert '<img src="../results/mnist5k/figures/samples_robgan_seed0.png" width="200"' in mnist
    assert "<img" not in block[block.index("### `quick`"):]  # quick: tables only
    short = readme.render(copy_of_repo)  # the README: the key figure only, no tables but the verdicts
    assert short.count("<img") == 1 and '<img src="results/mnist5k/figures/accuracy_vs_eps.png"' in short
    assert "Robust accuracy, paper PGD protocol" not in short and "Robust accuracy, paper PGD protocol" in block


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


def test_the_experiments_shown_come_from_the_listing_not_the_code(copy_of_repo):
    """config/readme.yaml decides which experiments the block shows, in which order, and which show
    figures: swapping its entries swaps the block's sections; the package names no experiment."""
    import yaml

    listing = copy_of_repo / readme.LISTING
    doc = yaml.safe_load(listing.read_text())
    names = [e["name"] for e in doc["experiments"]]
    present = [n for n in names if (copy_of_repo / "results" / n / "claims.md").is_file()]
    assert present, "no listed experiment is committed"
    doc["experiments"] = [{"name": present[0], "description": "a description set by the test", "figures": False}]
    listing.write_text(yaml.safe_dump(doc))
    block = readme.render(copy_of_repo)
    assert f"### `{present[0]}` — a description set by the test" in block and "<img" not in block
    assert block.count("### `") == 1
    source = (REPO / "robgan" / "report" / "readme.py").read_text()
    assert not [n for n in names if f'"{n}"' in source or f"'{n}'" in source]


def test_findings_line_counts_the_verdicts():
    table = ("| claim | verdict | x |\n|---|---|---|\n| c1 | **holds** | 1 |\n| c2 | **inconclusive** | 2 |\n"
             "| c3 | **holds** | 3 |\n| c4 | **fails** | 4 |")
    assert readme._findings(table) == ("Findings, 4 claims: **holds** 2 (c1, c3); **fails** 1 (c4); "
                                       "**inconclusive** 1.")


def test_readme_times_are_the_committed_measurements():
    """The set-up, main-command and test times the README quotes are those of the committed files."""
    import json
    import re

    text = (REPO / "README.md").read_text()
    setup = json.loads((REPO / "benchmarks" / "setup_times.json").read_text())
    dag = json.loads((REPO / "results" / "quick" / "dag_run.json").read_text())
    assert setup["test_summary"] and setup["git_commit"]  # the measured run says how it ended, and where
    assert setup["test_exit_status"] == 0, "the README must not quote the time of a failed test run"
    cal = setup["calibration"]  # the machine the times were measured on, as the README names it
    kernels = cal["compute"]["cpu_capability"] + ("+bf16" if cal["compute"]["bf16_native"] else "")
    assert f"(kernels {kernels}, calibration {cal['seconds']:.2f} s;" in " ".join(text.split())
    quoted = dict(re.findall(r"The (first command|second|tests) (?:took|runs .*? It took) \*\*([\d.]+) min\*\*",
                             text, flags=re.S))
    assert quoted == {"first command": f"{setup['install_seconds'] / 60:.1f}",
                      "second": f"{dag['wall_seconds'] / 60:.1f}",
                      "tests": f"{setup['test_seconds'] / 60:.1f}"}


def test_readme_time_without_native_bf16_is_the_logged_runs():
    """The README's quick time on a CPU without native bf16 is the range of the logged runs of that kind."""
    import json

    text = " ".join((REPO / "README.md").read_text().split())
    runs = [json.loads(p.read_text()) for p in (REPO / "benchmarks" / "dag_runs" / "runs").glob("*.json")]
    walls = [r["wall_seconds"] / 60 for r in runs
             if r["experiment"] == "quick" and (r.get("compute") or {}).get("bf16_native") is False]
    assert walls, "no logged quick run without native bf16"
    assert f"quick took **{min(walls):.1f}–{max(walls):.1f} min** there" in text


def test_readme_caveat_on_convergence_is_the_committed_count():
    import re

    text = (REPO / "README.md").read_text()
    analysis = (REPO / "docs" / "mnist5k" / "robust_over_training.md").read_text()
    moving, total = re.search(r"under attack (\d+) of (\d+)", analysis).groups()
    assert f"for {moving} of {total} runs" in text


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


def _block(root: Path) -> list[str]:
    return readme.render(root).splitlines()


def test_findings_in_plain_words_open_the_readme_block():
    lines = _block(REPO)
    top = lines[1:lines.index("")]                          # the findings, up to the first blank line
    assert 3 <= len(top) <= readme.MAX_FINDINGS
    assert top[0].startswith("**Findings in plain words** (generated from `results/mnist5k/claims.json`, the "
                              "multi-seed embedded experiment")
    assert top[1].startswith("- Toy regime: tiny networks, a 5,000-image dataset") and "not MNIST results" in top[1]
    # what the lines rest on is read from the committed config and dag_run.json (not typed)
    exp = REPO / "results" / "mnist5k"
    cfg = yaml.safe_load((exp / "config.yaml").read_text())
    run = json.loads((exp / "dag_run.json").read_text())
    assert top[2] == (f"- Rests on `results/mnist5k` (`mnist5k` at 32 px, seeds {cfg['seeds']}, G ngf "
                      f"{cfg['model']['ngf']} / D ndf {cfg['model']['ndf']}, {cfg['train']['iterations']:,} GAN "
                      f"iterations, {cfg['advtrain']['iterations']:,} adversarial-training updates, "
                      f"{cfg['finetune']['iterations']:,} fine-tuning updates; accuracy on "
                      f"{cfg['eval']['pgd']['n_examples']:,} test images, AutoAttack on "
                      f"200 (advtrain, robgan_ft), 100 (robgan, robgan_ft_nofake); one DAG run of "
                      f"{run['wall_seconds'] / 60:.0f} min on {run['cores']} CPU cores).")
    # one line per verdict of claims.json, each claim in exactly one line
    claims = json.loads((exp / "claims.json").read_text())["claims"]
    for c in claims:
        assert sum(f"{c['id']} " in line or f"{c['id']}," in line or f"{c['id']}:" in line
                   for line in top[3:]) == 1, c["id"]
    if any(c["verdict"] == "not evaluated in this experiment" and c["id"] == "claim4c" for c in claims):
        assert "- **Not evaluated in this experiment**: claim4c: needs imagenet143." in top
    # the README never calls mnist5k conclusive: wherever the block names it, it is what it is
    block = "\n".join(lines)
    assert " conclusive" not in block.replace("inconclusive", "")
    assert block.count("the multi-seed embedded experiment") >= 2


def test_findings_follow_claims_json_and_stay_within_ten_lines(copy_of_repo):
    path = copy_of_repo / "results" / "mnist5k" / "claims.json"
    doc = json.loads(path.read_text())
    by_id = {c["id"]: c for c in doc["claims"]}
    by_id["claim5a"]["verdict"] = "holds"
    top = _block(copy_of_repo)[1:]
    top = top[:top.index("")]
    # claim5a's effect and p as the committed block words them (read, not typed: they follow the results)
    import re

    delta_p = re.search(r"claim5a \(Without an attacker, the new loss ends at a higher IS than the old AC-GAN "
                        r"loss: (Δ [^,]+, p = [0-9.e-]+)", "\n".join(top)).group(1)
    holds = ("- **Holds**: claim5a (Without an attacker, the new loss ends at a higher IS than the old AC-GAN loss: "
             f"{delta_p}).")
    assert holds not in top                  # not yet written
    path.write_text(json.dumps(doc))
    top = _block(copy_of_repo)[1:]
    top = top[:top.index("")]
    assert holds in top
    assert not any("Cannot be decided" in line and "claim5a" in line for line in top)
    # every verdict at once: still at most ten lines, the last ones merged
    words = ["holds", "fails", "negligible", "inconclusive", "tie within snapshot resolution (5 s)", "indicative",
             "regime not reached", "not judged", "not comparable in this experiment",
             "not evaluated in this experiment"]
    for c, word in zip(doc["claims"], words, strict=False):
        c["verdict"] = word
    path.write_text(json.dumps(doc))
    top = _block(copy_of_repo)[1:]
    top = top[:top.index("")]
    assert len(top) == readme.MAX_FINDINGS
    assert all(f"claim{i}" in "\n".join(top) for i in ("1", "2a", "2b", "3", "4a", "4b", "4c", "5a", "5b", "5c"))
