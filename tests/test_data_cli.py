"""robgan.data.cli: ``robgan data prepare`` (the workflow's data rule) and its parser."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

import robgan.data
from robgan.config import load_config
from robgan.data import cli

REPO = Path(__file__).resolve().parent.parent


def test_register_adds_the_data_commands():
    parser = argparse.ArgumentParser(prog="robgan")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", "prepare", "--config", "c.yaml", "--out", "s.json"])
    assert (args.command, args.data_command, args.config, args.out) == ("data", "prepare", Path("c.yaml"),
                                                                        Path("s.json"))
    assert args.func is cli._cmd_prepare
    args = parser.parse_args(["data", "build-imagenet143", "--imagenet-root", "/i", "--out", "/o"])
    assert args.func is cli._cmd_build_imagenet143 and args.imagenet_root == Path("/i")
    with pytest.raises(SystemExit):
        parser.parse_args(["data", "prepare", "--out", "s.json"])  # --config is required


def test_prepare_writes_the_split_summary(tmp_path, monkeypatch):
    sizes = {"train": 6, "test": 3}

    def fake_split(data_cfg, split):
        n = sizes[split]
        return torch.zeros(n, 1, 32, 32, dtype=torch.uint8), torch.arange(n) % 2

    monkeypatch.setattr(robgan.data, "load_split", fake_split)
    out = tmp_path / "data" / "summary.json"
    summary = cli.prepare(load_config(REPO / "config" / "config.yaml"), out)
    assert json.loads(out.read_text()) == summary
    assert {k: summary[k] for k in ("dataset", "n_classes", "channels", "resolution")} == {
        "dataset": "mnist5k", "n_classes": 10, "channels": 1, "resolution": 32}
    assert summary["splits"]["train"] == {"n": 6, "shape": [6, 1, 32, 32], "class_counts": [3, 3] + [0] * 8}
    assert summary["splits"]["test"]["class_counts"] == [2, 1] + [0] * 8


def test_main_reports_a_config_error_with_status_2(tmp_path, caplog):
    import robgan.cli

    assert robgan.cli.main(["data", "prepare", "--config", str(tmp_path / "missing.yaml"),
                            "--out", str(tmp_path / "s.json")]) == 2
    assert "missing.yaml' does not exist" in caplog.text
    assert not (tmp_path / "s.json").exists()
