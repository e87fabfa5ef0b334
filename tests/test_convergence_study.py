"""benchmarks/convergence/summarize.py: the settling rule and the summary it writes from a study's files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from script_loader import load_script

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def summarize():
    return load_script(REPO / "benchmarks" / "convergence" / "summarize.py")


def test_settling_iteration_is_the_first_snapshot_after_the_last_excursion(summarize):
    x = pd.Series([100, 200, 300, 400, 500])
    # final 10: within 5 % means [9.5, 10.5]; 300 is inside but 400 leaves again
    y = pd.Series([2.0, 6.0, 9.6, 11.0, 10.0])
    assert summarize.settling_iteration(x, y, 0.05, True) == 500
    y = pd.Series([2.0, 6.0, 9.6, 10.4, 10.0])
    assert summarize.settling_iteration(x, y, 0.05, True) == 300
    # absolute tolerance around a given final value (a noisy log's mean of its last rows)
    acc = pd.Series([0.1, 0.5, 0.885, 0.91, 0.89])
    assert summarize.settling_iteration(x, acc, 0.02, False, final=0.90) == 300
    # the last value (0.89) outside the band [0.895, 0.905]: not settled (it used to read "settles at 500")
    assert summarize.settling_iteration(x, acc, 0.005, False, final=0.90) is None
    # an oscillating curve: the band widens to two late standard deviations
    assert summarize.settling_iteration(x, acc, 0.005, False, final=0.90, spread=0.008) == 300
    level, sd = summarize.late_level(pd.Series([1.0, 2.0, 3.0, 5.0, 7.0, 9.0]))
    assert level == pytest.approx(5.2) and sd == pytest.approx(2.863564, rel=1e-6)


def _fid_rows(method: str, values: list[tuple[int, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"method": method, "label": method, "seed": 0, "iteration": i, "train_seconds": i / 10,
                          "is_mean": is_, "is_std": 0.1, "fid": fid, "class_accuracy": acc}
                         for i, is_, fid, acc in values])


def test_summary_tables_figure_and_prefix_check(summarize, tmp_path):
    study, committed = tmp_path / "study", tmp_path / "committed"
    (study / "fidelity").mkdir(parents=True)
    (study / "train_logs").mkdir()
    committed.mkdir()
    its = [(100, 2.0, 90.0, 0.2), (200, 5.0, 40.0, 0.7), (300, 8.0, 20.0, 0.95), (400, 8.2, 19.0, 0.96),
           (500, 8.1, 19.5, 0.96), (600, 8.3, 19.0, 0.97), (700, 8.0, 26.0, 0.95), (800, 8.2, 19.2, 0.96)]
    _fid_rows("acgan", its).to_csv(study / "fidelity" / "acgan.csv", index=False)
    ref = _fid_rows("acgan", its[:2])
    ref.loc[1, "is_mean"] = 5.5  # the committed run differs at 200 by 0.5
    ref.to_csv(committed / "acgan_seed0.csv", index=False)
    pd.DataFrame({"iteration": [100, 200, 300, 400, 500, 600], "train_seconds": [1, 2, 3, 4, 5, 6],
                  "loss": [2.0, 1.5, 1.0, 0.9, 0.9, 0.9], "acc_adv": [0.2, 0.5, 0.8, 0.81, 0.8, 0.82]}
                 ).to_csv(study / "train_logs" / "advtrain.csv", index=False)
    rc = summarize.main([str(study), "--config", str(REPO / "benchmarks" / "convergence" / "mnist5k" / "config.yaml"),
                         "--iters", "800",
                         "--adv-iters", "600", "--committed", str(committed)])
    assert rc == 0
    text = (study / "summary.md").read_text()
    # columns: the experiment's 600 and the study's end; late level: mean ± std of the last 5 points
    assert "| method | metric | @600 | @800 | late level (last 5) | settles at |" in text
    # IS late level 8.16 ± 0.114: band max(5 % = 0.408, 2 sd) -> from 300 on
    assert "| acgan | is_mean | 8.300 | 8.200 | 8.160 ± 0.114 | 300 |" in text
    # FID late level 20.54 ± 3.06: band 2 sd = 6.12 -> 300 (20) is inside, 200 (40) is not
    assert "| acgan | fid | 19.000 | 19.200 | 20.540 ± 3.059 | 300 |" in text
    assert "| acgan | class_accuracy | 0.970 | 0.960 | 0.960 ± 0.007 | 300 |" in text
    # the train log: advtrain's own end (its 900 is past the log); level 0.746 ± 0.138 -> band 0.276:
    # 200 (0.5) is inside, 100 (0.2) is not
    assert "| advtrain | acc_adv | nan (@900) | 0.746 ± 0.138 | 200 |" in text
    assert "| acgan | 100, 200 | is_mean 0.5, fid 0, class_accuracy 0 |" in text
    assert (study / "convergence.png").stat().st_size > 10_000
    assert len(pd.read_csv(study / "fidelity.csv")) == 8


def test_committed_summary_is_what_summarize_writes_from_the_committed_records(summarize, tmp_path, monkeypatch):
    committed = REPO / "benchmarks" / "convergence" / "mnist5k"
    study = tmp_path / "mnist5k"
    shutil.copytree(committed, study)
    (study / "summary.md").unlink()
    monkeypatch.chdir(REPO)  # the summary names the paths as given
    rc = summarize.main([str(study), "--config", "benchmarks/convergence/mnist5k/config.yaml", "--iters", "1500",
                         "--adv-iters", "2250", "--committed", "benchmarks/convergence/mnist5k/prefix_records"])
    assert rc == 0

    def body(path: Path) -> list[str]:  # the first line after the title names the commit and the path
        lines = path.read_text().splitlines()
        return [line for line in lines[3:] if not line.startswith("## The first")]

    assert body(study / "summary.md") == body(committed / "summary.md")
    # the study extends the committed runs: its first 600 iterations are theirs, number for number
    same = "| 100, 200, 300, 400, 500, 600 | is_mean 0, fid 0, class_accuracy 0 |"
    assert (committed / "summary.md").read_text().count(same) == 5
    assert pd.read_csv(study / "fidelity.csv").equals(pd.read_csv(committed / "fidelity.csv"))


# ------------------------------------------------- experiment.py: have an experiment's own runs levelled off?
@pytest.fixture(scope="module")
def experiment():
    return load_script(REPO / "benchmarks" / "convergence" / "experiment.py")


def test_last_third_change_is_a_fitted_line_not_two_noisy_points(experiment):
    x = pd.Series(range(100, 1300, 100))  # 100..1200: the last third is 800..1200 (5 points)
    assert experiment.last_third_change(x, 0.001 * x) == (pytest.approx(0.4), 800)
    # noise around a flat level: +-0.05 alternating; the end-point difference would say -0.1
    noisy = pd.Series([0.9 + (0.05 if i % 2 else -0.05) for i in range(12)])
    change, first = experiment.last_third_change(x, noisy)
    assert first == 800 and abs(change) < 0.03
    # too few points in the last third: the last two are fitted
    two = experiment.last_third_change(pd.Series([100, 200]), pd.Series([1.0, 2.0]))
    assert two == (pytest.approx(0.01 * 200 / 3), 100)


def test_experiment_table_reads_flat_rising_and_falling(experiment, tmp_path):
    exp = tmp_path / "results" / "toy"
    (exp / "records" / "fidelity").mkdir(parents=True)
    its = list(range(100, 1300, 100))
    flat = [(i, 9.0, 10.0 + (0.3 if i % 200 else -0.3), 0.98) for i in its]
    _fid_rows("acgan", flat).to_csv(exp / "records" / "fidelity" / "acgan_seed0.csv", index=False)
    rising = [(i, 1.0 + i / 200, 100.0 - i / 20, 0.5) for i in its]
    _fid_rows("robgan", rising).to_csv(exp / "records" / "fidelity" / "robgan_seed1.csv", index=False)
    log = exp / "runs" / "advtrain" / "seed2"
    log.mkdir(parents=True)
    pd.DataFrame({"iteration": range(50, 1550, 50), "train_seconds": range(30), "loss": [1.0] * 30,
                  "acc_adv": [0.5 + 0.0002 * i for i in range(50, 1550, 50)]}
                 ).to_csv(log / "train_log.csv", index=False)
    out = tmp_path / "experiment.md"
    assert experiment.main([str(exp), "--out", str(out)]) == 0
    text = out.read_text()
    assert "generators 2 of 6, discriminators / classifiers 1 of 1." in text
    assert "| acgan | 0 | is_mean | 1200 | 9.000 | 9.000 ± 0.000 | +0.000 from 800 (±0.450) | flat |" in text
    # IS 1 + i/200: +2 over the last 400 iterations; FID 100 - i/20: -20; both beyond the tolerance
    assert "| robgan | 1 | is_mean | 1200 | 7.000 | 6.000 ± 0.791 | +2.000 from 800 (±0.300) | **rising** |" in text
    assert "| robgan | 1 | fid | 1200 | 40.000 | 50.000 ± 7.906 | -20.000 from 800 (±5.000) | **falling** |" in text
    assert "| robgan | 1 | class_accuracy | 1200 | 0.500 | 0.500 ± 0.000 | +0.000 from 800 (±0.020) | flat |" in text
    # advtrain: 0.0002 per iteration, last third 1000..1500 -> +0.1
    assert "| advtrain | 2 | acc_adv | 1500 | 0.800 | 0.780 ± 0.016 | +0.100 from 1000 (±0.020) | **rising** |" in text
    with pytest.raises(SystemExit, match="run the experiment's pipeline first"):
        experiment.main([str(tmp_path / "empty"), "--out", str(out)])


@pytest.mark.parametrize(("experiment_dir", "table"), [
    ("results/mnist5k", "docs/mnist5k/levelled_off.md"),
])
def test_committed_experiment_table_is_what_experiment_writes_from_the_committed_results(
        experiment, tmp_path, monkeypatch, experiment_dir, table):
    monkeypatch.chdir(REPO)  # the table names the experiment directory as given
    out = tmp_path / "experiment.md"
    assert experiment.main([experiment_dir, "--out", str(out)]) == 0
    # the line after the title names the commit
    assert out.read_text().splitlines()[3:] == (REPO / table).read_text().splitlines()[3:]
