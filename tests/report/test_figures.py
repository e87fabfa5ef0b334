"""Figures and the whole `robgan report` command on the fixture records."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from robgan import registry
from robgan.report import figures
from robgan.report.aggregate import LoadedRecord, build_frames, load_records
from robgan.report.cli import register

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path: Path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def _is_pdf(path: Path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:5] == b"%PDF-"


class TinyGenerator(nn.Module):
    """(z (N, 4), y (N,)) → (N, 1, 8, 8) in [0, 1]."""

    z_dim, n_classes = 4, 3

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(4 + 3, 64)

    def forward(self, z, y):
        h = torch.cat([z, nn.functional.one_hot(y, 3).float()], 1)
        return torch.sigmoid(self.lin(h)).view(-1, 1, 8, 8)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    """`robgan report` run once through the CLI, with a tiny finished robgan run for the sample grids."""
    from robgan.config import load_config
    from robgan.data import dataset_info
    from robgan.models import build_generator

    tmp = tmp_path_factory.mktemp("report")
    cfg = load_config(FIXTURES / "config.yaml", ["model.ngf=2", "model.z_dim=8"])
    runs = tmp / "runs"
    for label, method, seed in (("robgan", "robgan", 0), ("robgan", "robgan", 1), ("advtrain", "advtrain", 0)):
        run = runs / label / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "run": {"method": method, "label": label,
                                                                         "seed": seed, "init_from": None}}))
        state = {"iteration": 1, "train_seconds": 1.0}
        if method == "robgan":
            state["generator"] = build_generator(cfg["model"], dataset_info(cfg["data"])).state_dict()
        torch.save(state, run / "model.pt")
    out = tmp / "results"
    parser = argparse.ArgumentParser(prog="robgan")
    register(parser.add_subparsers(dest="command", required=True))  # the parser `robgan report` gets
    args = parser.parse_args(["report", "--config", str(FIXTURES / "config.yaml"), "--records",
                              str(FIXTURES / "records"), "--out", str(out), "--runs", str(runs)])
    assert args.func(args) == 0
    return out


def test_every_figure_is_written_as_png_and_pdf(report_dir):
    for name in [*registry.FIGURES, *registry.RUN_FIGURES, "samples_robgan_seed0", "samples_robgan_seed1"]:
        assert _is_png(report_dir / "figures" / f"{name}.png"), name
        assert _is_pdf(report_dir / "figures" / f"{name}.pdf"), name
    # one grid per finished generator run (every seed); advtrain trains no generator
    assert sorted(p.name for p in (report_dir / "figures").glob("samples_*.png")) == [
        "samples_robgan_seed0.png", "samples_robgan_seed1.png"]
    assert figures.sample_grid_name("robgan", 1) == "samples_robgan_seed1"


def test_report_writes_tables_and_claims(report_dir):
    for name in ("robust_accuracy", "robust_accuracy_strong", "autoattack", "generation", "ablation"):
        for ext in ("csv", "md", "tex"):
            assert (report_dir / "tables" / f"{name}.{ext}").stat().st_size > 0
    # the CLI's tables equal the golden ones
    for path in (FIXTURES / "expected").iterdir():
        assert (report_dir / "tables" / path.name).read_text() == path.read_text(), path.name
    assert "claim6c" in (report_dir / "claims.md").read_text()
    assert (report_dir / "claims.json").stat().st_size > 0


def test_figures_without_data_still_render():
    recs = [r for r in load_records(FIXTURES / "records") if r.kind == "gap"]
    frames = build_frames(recs)
    makers = [lambda: figures.fidelity_figure(frames, "is", "time"), lambda: figures.accuracy_vs_eps_figure(frames),
              lambda: figures.lipschitz_figure(frames), lambda: figures.robustness_gap_figure(frames)]
    for make in makers:
        buf = io.BytesIO()
        make().savefig(buf, format="png")
        assert buf.getvalue()[:8] == PNG_MAGIC


def test_sample_grid_is_deterministic_with_a_row_per_class():
    g = TinyGenerator().eval()
    a = figures.sample_grid(g, n_classes=3, per_class=5, seed=7)
    b = figures.sample_grid(g, n_classes=3, per_class=5, seed=7)
    c = figures.sample_grid(g, n_classes=3, per_class=5, seed=8)
    assert a.shape == (3 * 9, 5 * 9, 1)
    assert (a == b).all() and not (a == c).all()
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert figures.sample_grid(g, n_classes=3, per_class=2, max_classes=2).shape == (2 * 9, 2 * 9, 1)


def test_write_sample_grid_on_a_tiny_generator(tmp_path):
    paths = figures.write_sample_grid(TinyGenerator().eval(), tmp_path / "samples_tiny", "tiny", n_classes=3,
                                      class_names=["a", "b", "c"], per_class=4)
    assert [p.name for p in paths] == ["samples_tiny.png", "samples_tiny.pdf"]
    assert _is_png(paths[0]) and _is_pdf(paths[1])


def test_sample_grids_are_skipped_without_runs(tmp_path):
    frames = build_frames([LoadedRecord(Path("x.json"), r.data) for r in load_records(FIXTURES / "records")[:1]])
    assert figures.write_sample_grids(None, tmp_path, frames) == []


def test_method_colours_are_fixed_and_distinct():
    known = ["advtrain", "robgan", "robgan_ft", "robgan_ft_nofake", "sngan", "acgan", "acgan_newloss",
             "robgan_oldloss"]
    colours = [figures.method_color(m) for m in known]
    assert len(set(colours)) == len(known)
    assert figures.method_color("robgan") == figures.METHOD_COLORS["robgan"]
    assert figures.method_color("new_method") == figures.method_color("new_method")


def test_is_figure_draws_targets_and_the_new_metrics_with_the_collapse_floor():
    import dataclasses

    from robgan.evaluation.acceptance import MIN_INTRA_RECALL
    from robgan.report.aggregate import build_frames, load_records

    frames = build_frames(load_records(FIXTURES / "records"))
    plain = figures.fidelity_figure(frames, "is", "iter")
    assert len(plain.axes) == 1                                      # the fixture records predate the metrics
    fid = frames.fidelity.copy()
    fid["recall"], fid["intra_recall"] = 0.5, 0.4
    fig = figures.fidelity_figure(dataclasses.replace(frames, fidelity=fid), "is", "iter", [("target", 4.2)])
    is_ax, recall_ax, intra_ax = fig.axes
    assert any(list(line.get_ydata()) == [4.2, 4.2] for line in is_ax.get_lines())
    assert any(list(line.get_ydata()) == [MIN_INTRA_RECALL] * 2 for line in intra_ax.get_lines())
    assert "intra-class recall" in intra_ax.get_ylabel() and "recall" in recall_ax.get_ylabel()
    assert len(figures.fidelity_figure(dataclasses.replace(frames, fidelity=fid), "fid", "iter").axes) == 1


# ---------------------------------------------------------------------------------------------- reading


@pytest.fixture(scope="module")
def fixture_frames():
    return build_frames(load_records(FIXTURES / "records"))


def test_bands_stay_within_each_metrics_range(fixture_frames):
    """Three seeds far apart give a t-interval reaching below IS 1 and outside [0, 1] for the recalls:
    the band is cut at the metric's range, the mean line is not touched."""
    import dataclasses

    import numpy as np
    import pandas as pd

    rows = [{"label": "robgan", "seed": s, "iteration": it, "train_seconds": float(it), "extractor": "mnist_cnn",
             "is_mean": v, "recall": r, "intra_recall": r}
            for it in (100, 200) for s, (v, r) in enumerate([(1.0, 0.0), (1.2, 0.05), (6.0, 0.95)])]
    frames = dataclasses.replace(fixture_frames, fidelity=pd.DataFrame(rows))
    is_ax, recall_ax, intra_ax = figures.fidelity_figure(frames, "is", "iter").axes
    for ax, (lo, hi) in ((is_ax, (1.0, np.inf)), (recall_ax, (0.0, 1.0)), (intra_ax, (0.0, 1.0))):
        [band] = ax.collections
        ys = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
        assert ys.min() == pytest.approx(lo) and ys.max() <= hi
    assert list(is_ax.get_lines()[0].get_ydata()) == pytest.approx([8.2 / 3] * 2)  # the mean itself


def test_seed_interval_is_the_90_percent_t_interval_and_one_seed_has_none():
    mean, lo, hi, n = figures.seed_interval([1.0, 2.0, 3.0])
    # t_{0.95, 2} = 2.919986; s = 1; half-width 2.919986 / sqrt(3) = 1.685854
    assert (mean, n) == (2.0, 3) and hi - mean == pytest.approx(1.685854, abs=1e-5)
    assert mean - lo == pytest.approx(hi - mean)
    assert figures.seed_interval([0.7]) == (0.7, 0.7, 0.7, 1)
    assert figures.seed_interval([float("nan")])[3] == 0


def test_every_figure_title_is_one_line(fixture_frames, tmp_path):
    from robgan.report import training_curves as tc

    made = [figures.fidelity_figure(fixture_frames, m, a, [("t", 4.0)])
            for m in ("is", "fid") for a in ("iter", "time")]
    made += [figures.accuracy_vs_eps_figure(fixture_frames), figures.robustness_gap_figure(fixture_frames),
             figures.lipschitz_figure(fixture_frames),
             tc.training_curves_figure(tc.load_train_logs(tmp_path), "mnist5k", "fixture")]
    for fig in made:
        text = fig._suptitle.get_text()
        assert "\n" not in text and text.endswith("experiment fixture"), text
    with pytest.raises(ValueError, match="one line"):
        figures._suptitle(figures._new_figure(), "a\nb")


def test_accuracy_vs_eps_separates_the_main_comparison_from_the_ablations(fixture_frames):
    fig = figures.accuracy_vs_eps_figure(fixture_frames)
    main, ablations = fig.axes  # two panels (the authors' 2ε axes are children of each)
    legend = {ax: [t.get_text() for t in ax.get_legend().get_texts()] for ax in (main, ablations)}
    assert legend[main] == ["advtrain (3 seeds)", "robgan_ft (3 seeds)"]
    assert legend[ablations][0] == "robgan (3 seeds)" and "advtrain (3 seeds)" not in legend[ablations]
    assert len(legend[ablations]) == 6  # every classifier but Madry's, robgan_ft as the reference
    assert main.get_ylim() != ablations.get_ylim()  # the main pair is zoomed in
    # per method: paper PGD (solid), worst case (dashed), AutoAttack (star)
    styles = [t.get_text() for t in fig.legends[0].get_texts()]
    assert styles == ["PGD, paper protocol", "worst case over every attack", "AutoAttack"]


def test_fid_is_on_a_log_axis_and_the_is_targets_are_in_the_legend(fixture_frames):
    fid = figures.fidelity_figure(fixture_frames, "fid", "iter")
    assert fid.axes[0].get_yscale() == "log"
    is_fig = figures.fidelity_figure(fixture_frames, "is", "iter", [("target A", 4.2), ("target B", 4.25)])
    ax = is_fig.axes[0]
    assert ax.get_yscale() == "linear"
    names = [t.get_text() for t in ax.get_legend().get_texts()]
    assert names[-2:] == ["target A", "target B"]
    targets = [ln for ln in ax.get_lines() if ln.get_label().startswith("target")]
    assert [list(ln.get_ydata()) for ln in targets] == [[4.2, 4.2], [4.25, 4.25]]
    assert targets[0].get_linestyle() != targets[1].get_linestyle()  # told apart without a label in the plot


def test_gap_figure_shows_each_methods_gap_with_its_interval(fixture_frames):
    fig = figures.robustness_gap_figure(fixture_frames)
    acc_ax, gap_ax = fig.axes
    gap = fixture_frames.gap
    for i, label in enumerate(["advtrain", "robgan", "robgan_ft"]):
        sel = gap[gap["label"] == label].pivot(index="seed", columns="split", values="accuracy_adv")
        mean, lo, hi, n = figures.seed_interval(100 * (sel["train"] - sel["test"]))
        point = gap_ax.containers[i]
        assert point.lines[0].get_xdata()[0] == i and point.lines[0].get_ydata()[0] == pytest.approx(mean)
        assert n == 3 and lo < mean < hi
    assert not gap_ax.patches and not acc_ax.patches  # points with whiskers, no bars from zero
    assert any(list(ln.get_ydata()) == [0.0, 0.0] for ln in gap_ax.get_lines())


def test_lipschitz_draws_fine_tuning_after_its_co_training_run(fixture_frames):
    lip = fixture_frames.lipschitz
    x = figures.lipschitz_offsets(lip)
    last = lip[lip["label"] == "robgan"].groupby("seed")["iteration"].max()
    ft = lip["label"] == "robgan_ft"
    assert (x[ft] == lip.loc[ft, "iteration"] + lip.loc[ft, "seed"].map(last)).all()
    assert (x[~ft] == lip.loc[~ft, "iteration"]).all()


def test_panels_below_is_have_short_labels_that_do_not_overlap(fixture_frames):
    import dataclasses

    fid = fixture_frames.fidelity.copy()
    fid["recall"], fid["intra_recall"] = 0.5, 0.4
    fig = figures.fidelity_figure(dataclasses.replace(fixture_frames, fidelity=fid), "is", "iter")
    assert len(fig.axes) == 3
    fig.canvas.draw()
    boxes = [ax.yaxis.label.get_window_extent() for ax in fig.axes]
    for a, b in zip(boxes, boxes[1:], strict=False):  # stacked panels: each y label ends above the next one
        assert a.y0 > b.y1
    assert [ax.get_xlabel() for ax in fig.axes] == ["", "", "generator iterations (G steps)"]


def test_accuracy_whiskers_stay_within_0_and_100():
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots()
    stats = [figures.seed_interval([0.0, 0.0, 30.0]), figures.seed_interval([70.0, 100.0, 100.0])]
    assert stats[0][1] < 0 and stats[1][2] > 100  # the t-intervals reach past the range
    container = figures._errorbar(ax, [0.1, 0.2], stats, "k", figures.ACCURACY_RANGE, fmt="o")
    [bars] = container.lines[2]
    ys = np.concatenate([seg[:, 1] for seg in bars.get_segments()])
    assert ys.min() == 0.0 and ys.max() == 100.0
    assert list(container.lines[0].get_ydata()) == pytest.approx([10.0, 90.0])  # the means themselves
    plt.close(fig)


def test_band_is_cut_at_its_bounds_and_the_mean_is_not():
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots()
    figures._band(ax, [1, 2], [0.1, 0.9], [-0.3, 0.5], [0.5, 1.3], "k", "x", bounds=(0.0, 1.0))
    figures._band(ax, [1, 2], [0.1, 0.9], [-0.3, 0.5], [0.5, 1.3], "k", "y", bounds=(0.0, None))
    cut01, cut0 = (np.concatenate([p.vertices[:, 1] for p in band.get_paths()]) for band in ax.collections)
    assert (cut01.min(), cut01.max()) == (0.0, 1.0)
    assert (cut0.min(), cut0.max()) == (0.0, 1.3)
    assert list(ax.get_lines()[0].get_ydata()) == [0.1, 0.9]
    plt.close(fig)
