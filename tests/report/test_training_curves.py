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


def test_one_panel_per_kind_of_loss_and_the_accuracy(runs):
    from robgan.config import load_config

    cfg = load_config(Path(__file__).resolve().parent / "fixtures" / "config.yaml",
                      ["train.method_overrides.sngan.n_dis=5"])
    fig = tc.training_curves_figure(tc.load_train_logs(runs), "mnist5k", "t", cfg)
    shown = [ax for ax in fig.axes if ax.axison]
    # sngan: hinge; robgan: the new loss; robgan_ft: cross-entropy — never two kinds on one axis
    assert [ax.get_title() for ax in shown] == [tc.LOSS_PANELS["hinge"], tc.LOSS_PANELS["new"], tc.LOSS_PANELS["ce"],
                                                tc.ACCURACY_PANEL[0]]
    hinge, new, ce, acc = shown
    lines = {ax: [(ln.get_label(), ln.get_linestyle()) for ln in ax.get_lines()] for ax in (hinge, new, ce, acc)}
    # D loss solid (named with the D steps per G step), G loss dashed (same colour, unnamed)
    assert lines[hinge][0] == ("sngan (n_dis 5, n=1)", "-") and len(lines[hinge]) == 2
    assert lines[hinge][1][0].startswith("_") and lines[hinge][1][1] == "--"
    assert lines[new][0] == ("robgan (n_dis 1, n=2)", "-") and lines[new][1][1] == "--"
    assert lines[ce] == [("robgan_ft (n=2)", "-")]
    assert [name for name, _ in lines[acc]] == ["robgan: acc_real (n=2)", "robgan_ft: acc_adv (n=2)"]
    assert [t.get_text() for t in hinge.get_legend().get_texts()][-2:] == ["D loss", "G loss"]
    robgan_acc = acc.get_lines()[0]
    assert list(robgan_acc.get_xdata()) == [50.0, 100.0]
    assert list(robgan_acc.get_ydata()) == pytest.approx([0.4, 0.6])  # mean of seeds 0 and 1
    ft = ce.get_lines()[0]
    assert list(ft.get_xdata()) == [125.0]  # fine-tuning after robgan's last iteration (100)
    assert all(ax.get_xlabel() == tc.XLABEL for ax in shown) and "G step" in tc.XLABEL
    assert fig._suptitle.get_text() == "Training curves from the runs' logs — mnist5k, experiment t"


def test_written_as_png_and_pdf_and_without_runs_nothing(runs, tmp_path):
    out = tmp_path / "figs"
    paths = tc.write_training_curves(runs, out, "mnist5k", "t")
    assert [p.name for p in paths] == ["training_curves.png", "training_curves.pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert tc.write_training_curves(None, out, "mnist5k", "t") == []
    empty = tc.training_curves_figure(tc.load_train_logs(tmp_path / "none"), "mnist5k", "t")
    assert "no training log" in empty.axes[0].texts[0].get_text()
