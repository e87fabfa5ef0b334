"""pyproject.toml, environment.yml, the README and CI agree: the same requirements, the same test command."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent

tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_environment_yml_pins_what_pyproject_requires():
    project = _pyproject()["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert [p for p in pip if p != "-e ."] == wanted
    assert "-e ." in pip


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    tests = [b.strip() for b in re.findall(r"```bash\n(.+?)\n```", readme, re.S) if "pytest" in b]
    assert len(tests) == 1, "README: expected one ```bash block holding the test command"
    command = tests[0]
    assert command == "python -m pytest -n auto"
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(rf"^{re.escape(command)}( -q)?$", ci, re.M), f"{command!r} is not a line of .ci/run"
