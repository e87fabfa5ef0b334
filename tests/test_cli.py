"""The ``robgan`` command is built in one place: every sub-command is present, the shared arguments are
the same everywhere, a missing sub-command module is an error, the evaluation CLI modules do not import
each other, and ``robgan --help`` / ``robgan config`` do not import torch."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

import robgan.cli
import robgan.cli_args

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {"train", "finetune", "cost-probe", "data", "config", "eval", "train-reference", "report", "compare",
            "readme", "bench"}
EVAL_KINDS = {"pgd", "autoattack", "gap", "lipschitz", "fidelity"}


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def _leaf_parsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {prefix: parser}
    out = {}
    for name, p in subs[0].choices.items():
        out.update(_leaf_parsers(p, f"{prefix} {name}".strip()))
    return out


def test_every_command_is_registered():
    top = robgan.cli.build_parser()
    commands = _subparsers(top)
    assert set(commands) == COMMANDS
    assert set(_subparsers(commands["eval"])) == EVAL_KINDS


def test_shared_arguments_are_the_same_everywhere():
    """--set, --device and --config come from one definition: same dest, action, choices, metavar."""
    leaves = _leaf_parsers(robgan.cli.build_parser())
    seen = {"--set": 0, "--device": 0, "--config": 0}
    for name, parser in leaves.items():
        for action in parser._actions:
            if "--set" in action.option_strings:
                seen["--set"] += 1
                assert (action.dest, action.metavar, type(action).__name__, action.default) == (
                    "overrides", "KEY.SUB=VALUE", "_AppendAction", []), name
            if "--device" in action.option_strings:
                seen["--device"] += 1
                assert tuple(action.choices) == robgan.cli_args.DEVICES, name
            if "--config" in action.option_strings:
                seen["--config"] += 1
                assert action.type is Path and action.dest == "config", name
    # --set: train, finetune, cost-probe, config, report, train-reference, bench and the five eval kinds;
    # --config: the same but bench, plus data prepare
    assert seen == {"--set": 12, "--device": 7, "--config": 12}


def test_a_missing_command_module_is_an_error(monkeypatch):
    monkeypatch.setattr(robgan.cli, "COMMAND_MODULES", (*robgan.cli.COMMAND_MODULES, "robgan.no_such_cli"))
    with pytest.raises(ModuleNotFoundError, match="robgan.no_such_cli"):
        robgan.cli.build_parser()


def test_a_broken_command_module_is_an_error(monkeypatch, tmp_path):
    (tmp_path / "robgan_broken_cli.py").write_text("import robgan_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(robgan.cli, "COMMAND_MODULES", (*robgan.cli.COMMAND_MODULES, "robgan_broken_cli"))
    with pytest.raises(ModuleNotFoundError, match="robgan_missing_dependency"):
        robgan.cli.build_parser()


def test_evaluation_cli_modules_do_not_import_each_other():
    out = _python(
        "import sys\n"
        "import robgan.evaluation.fidelity_cli\n"
        "assert 'robgan.evaluation.cli' not in sys.modules, 'fidelity_cli imports evaluation.cli'\n"
        "del sys.modules['robgan.evaluation.fidelity_cli']\n"
        "import robgan.evaluation.cli\n"
        "assert 'robgan.evaluation.fidelity_cli' not in sys.modules, 'evaluation.cli imports fidelity_cli'\n"
        "print('ok')\n")
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_help_and_config_do_not_import_torch():
    out = _python(
        "import contextlib, io, sys\n"
        "from robgan.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as buf:\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        "    help_text = buf.getvalue()\n"
        "    rc = main(['config', '--config', 'config/config.yaml', '--set', 'train.iterations=7'])\n"
        "assert rc == 0, rc\n"
        "assert 'compare' in help_text and 'train-reference' in help_text\n"
        "assert 'iterations: 7' in buf.getvalue()\n"
        "heavy = sorted(m for m in ('torch', 'torchvision', 'pandas', 'matplotlib') if m in sys.modules)\n"
        "print(','.join(heavy) or 'none')\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"


def test_python_dash_m_robgan_is_the_command():
    out = subprocess.run([sys.executable, "-m", "robgan", "eval", "--help"], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert all(kind in out.stdout for kind in EVAL_KINDS)


def test_train_methods_come_from_the_registry():
    from robgan.registry import METHODS

    train = _subparsers(robgan.cli.build_parser())["train"]
    (method,) = [a for a in train._actions if a.dest == "method"]
    assert list(method.choices) == [m for m, info in METHODS.items() if info.from_run is None]
    assert "robgan_ft" not in method.choices and "robgan" in method.choices


def test_an_error_is_one_line_without_a_log_prefix(tmp_path):
    """A configuration error (exit 2) and an error a command logs (exit 2 here) are each one stderr line
    ``robgan: error: ...``: no time stamp, logger name or level in front of the message."""
    bad = subprocess.run([sys.executable, "-m", "robgan", "config", "--config", "config/config.yaml", "--set",
                          "train.batchsize=32"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("robgan: error: config error at 'train.batchsize': unknown field; did you mean "
                                 "`batch_size`?") and bad.stderr.count("\n") == 1
    gone = subprocess.run([sys.executable, "-m", "robgan", "compare", str(tmp_path / "a"), str(tmp_path / "b")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert gone.returncode == 2
    assert gone.stderr == (f"robgan: error: {tmp_path / 'a'}: not a directory (give two results/<experiment> "
                           "directories)\n")
