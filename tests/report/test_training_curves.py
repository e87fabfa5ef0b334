"""The training-curves figure drawn from the runs' train_log.csv files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from robgan.report import training_curves as tc


def _log(path: Path, header: str, rows: list[tuple]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    lines = [header] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    (path / "train_log.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture
def runs(tmp_path) -> Path:
    gan = "iteration,train_seconds,loss_d,loss_g,acc_real"
    for seed, acc in ((0, 0.5), (1, 0.7)):
        _log(tmp_path / "robgan" / f"seed{seed}", gan, [(50, 1.0, 2.0, 1.0, acc - 0.2), (100, 2.0, 1.5, 0.9, acc)])
        _log(tmp_path / "robgan_ft" / f"seed{seed}", "iteration,train_seconds,loss,acc_adv",
             [(25, 0.5, 0.4, acc + 0.1)])
    _log(tmp_path / "sngan" / "seed0", "iteration,train_seconds,loss_d,loss_g", [(50, 1.0, 1.9, 0.3)])
    (tmp_path / "sngan" / "seedx").mkdir()  # not a seed directory: ignored
    (tmp_path / "advtrain" / "seed0").mkdir(parents=True)  # unfinished run without a log: ignored
    return tmp_path


def test_logs_are_read_with_fine_tuning_after_its_co_training_run(runs):
    logs = tc.load_train_logs(runs)
    assert sorted(set(logs["label"])) == ["robgan", "robgan_ft", "sngan"]
    assert len(logs) == 2 * 2 + 2 + 1
    ft = logs[logs["label"] == "robgan_ft"].sort_values("seed")
    assert list(ft["iteration"]) == [25, 25] and list(ft["x"]) == [125.0, 125.0]  # robgan's last: 100
    assert list(logs[logs["label"] == "robgan"]["x"]) == [50.0, 100.0, 50.0, 100.0]
    sn = logs[logs["label"] == "sngan"].iloc[0]
    assert sn["loss_d"] == pytest.approx(1.9) and math.isnan(sn["acc_real"])  # SN-GAN logs no accuracy


def test_a_log_appended_to_an_earlier_runs_is_refused(runs):
    gan = "iteration,train_seconds,loss_d,loss_g,acc_real"
    _log(runs / "robgan" / "seed0", gan, [(50, 1.0, 2.0, 1.0, 0.3), (100, 2.0, 1.5, 0.9, 0.5),
                                         (50, 0.6, 2.0, 1.0, 0.3), (100, 1.2, 1.5, 0.9, 0.5)])
    with pytest.raises(ValueError, match=r"robgan/seed0/train_log.csv: iterations are not strictly increasing"):
        tc.load_train_logs(runs)


def test_each_panel_draws_mean_over_seeds_of_the_runs_that_log_it(runs):
    fig = tc.training_curves_figure(tc.load_train_logs(runs), "mnist5k", "t")
    d_loss, g_loss, acc = fig.axes[:3]
    labels = {ax: [ln.get_label() for ln in ax.get_lines()] for ax in (d_loss, g_loss, acc)}
    assert labels[d_loss] == ["robgan: loss_d (n=2)", "robgan_ft: loss (n=2)", "sngan: loss_d (n=1)"]
    assert labels[g_loss] == ["robgan: loss_g (n=2)", "sngan: loss_g (n=1)"]
    assert labels[acc] == ["robgan: acc_real (n=2)", "robgan_ft: acc_adv (n=2)"]
    robgan_acc = acc.get_lines()[0]
    assert list(robgan_acc.get_xdata()) == [50.0, 100.0]
    assert list(robgan_acc.get_ydata()) == pytest.approx([0.4, 0.6])  # mean of seeds 0 and 1
    assert "experiment t" in fig._suptitle.get_text()


def test_written_as_png_and_pdf_and_without_runs_nothing(runs, tmp_path):
    out = tmp_path / "figs"
    paths = tc.write_training_curves(runs, out, "mnist5k", "t")
    assert [p.name for p in paths] == ["training_curves.png", "training_curves.pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert tc.write_training_curves(None, out, "mnist5k", "t") == []
    empty = tc.training_curves_figure(tc.load_train_logs(tmp_path / "none"), "mnist5k", "t")
    assert "no training log" in empty.axes[0].texts[0].get_text()
