"""Import a script that is not part of the package (``.ci/``, ``workflow/scripts/``, ``benchmarks/``,
test fixtures) from its path: ``from script_loader import load_script`` (``tests/`` is on ``sys.path``
because ``tests/conftest.py`` is loaded from there)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_script(path: Path) -> ModuleType:
    """The module of the Python file ``path``, named after the file."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
