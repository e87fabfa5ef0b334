"""The package's layers, read from the source with ``ast`` (every import, at module level or inside a
function, counts): no hidden import cycles.

- No command module imports :mod:`robgan.cli`: the shared arguments live in :mod:`robgan.cli_args`, and
  ``robgan.cli`` only assembles the command from ``COMMAND_MODULES``.
- Evaluation imports nothing from report: the record format between them lives below both
  (:mod:`robgan.records`).
- The torch-free modules below everything (registry, config, cli_args) import no layer above them.
  (``robgan.records`` reads a run directory through ``robgan.api.load_run`` in ``run_section``; the
  cycle check below holds it to no cycle.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import robgan.cli

PACKAGE = Path(robgan.cli.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``import a.b``, ``from a.b import c`` → ``a.b`` and ``a.b.c``;
    relative imports resolved; ``importlib.import_module("a.b")`` with a literal name too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[:len(package) - node.level + 1], *([base] if base else [])])
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.add(node.args[0].value)
    return out


MODULES = {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _importers(target: str, within: str = "robgan") -> list[str]:
    """The modules under ``within`` that import ``target`` or anything below it."""
    return sorted(m for m, imps in MODULES.items() if (m == within or m.startswith(within + "."))
                  and any(i == target or i.startswith(target + ".") for i in imps))


def test_the_import_parser_sees_what_it_must():
    """The checks below are only as good as this parser: it finds module-level, function-level,
    relative and ``import_module`` imports (checked on modules known to have each)."""
    assert "robgan.cli_args" in MODULES["robgan.evaluation.cli"]
    assert "robgan.cli_args.add_device_arg" in MODULES["robgan.bench"]  # inside register()
    assert "robgan.records" in MODULES["robgan.evaluation.commands"]
    assert "robgan.registry" in MODULES["robgan.config"]
    assert set(robgan.cli.COMMAND_MODULES) <= set(MODULES)


def test_no_command_module_imports_robgan_cli():
    assert robgan.cli.__name__ not in robgan.cli.COMMAND_MODULES
    assert _importers("robgan.cli") == ["robgan.__main__"]
    for name in robgan.cli.COMMAND_MODULES:
        assert not any(i == "robgan.cli" or i.startswith("robgan.cli.") for i in MODULES[name]), name


def test_evaluation_imports_nothing_from_report():
    assert _importers("robgan.report", within="robgan.evaluation") == []


@pytest.mark.parametrize("low", ["robgan.registry", "robgan.config", "robgan.cli_args"])
def test_the_lowest_modules_import_no_layer_above(low):
    above = ("robgan.cli", "robgan.train_cli", "robgan.training", "robgan.evaluation", "robgan.report",
             "robgan.bench", "robgan.data", "robgan.models", "robgan.api", "robgan.pipeline")
    bad = sorted(i for i in MODULES[low] for a in above if i == a or i.startswith(a + "."))
    assert bad == [], f"{low} imports {bad}"


def test_no_import_cycle_between_robgan_modules():
    """The graph of robgan's own modules (a ``from pkg import name`` counts as importing ``pkg``, or
    ``pkg.name`` where that is a module) has no cycle, apart from a package and its own sub-modules
    (a package's ``__init__`` re-exporting what its modules define, lazily or not)."""
    graph: dict[str, set[str]] = {}
    for m, imps in MODULES.items():
        deps = set()
        for i in imps:
            while i and i not in MODULES:
                i = i.rpartition(".")[0]
            if i and i != m and not (i.startswith(m + ".") or m.startswith(i + ".")):
                deps.add(i)
        graph[m] = deps
    graph["robgan.cli"] |= set(robgan.cli.COMMAND_MODULES)  # imported by name in build_parser's loop
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep):], dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


# ---------------------------------------------------------------------------------------------- datasets
def _string_literals(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module that are not docstrings, with their line numbers."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def _dataset_owners(path: Path) -> bool:
    """The registry and the dataset modules (``robgan/data/``): where a dataset's name belongs."""
    rel = path.relative_to(PACKAGE)
    return rel == Path("registry.py") or rel.parts[0] == "data"


def test_no_dataset_is_named_outside_its_registry_entry_and_module():
    """What differs between datasets (info, loader, IS/FID extractor, the shape ``robgan bench`` times)
    is in robgan.registry.DATASETS and the dataset's own module: no ``if name == "mnist5k"``,
    ``{"cifar10": ...}`` or ``in ("mnist5k", ...)`` anywhere else in the package (evaluation, training,
    report, models, bench, ...: a string constant that *is* a dataset name). Prose that mentions one
    (docstrings, comments, help and error messages) is documentation, not dispatch."""
    from robgan.registry import DATASETS

    hits = [f"{p.relative_to(PACKAGE.parent)}:{line}: {value!r}"
            for p in sorted(PACKAGE.rglob("*.py")) if not _dataset_owners(p)
            for line, value in _string_literals(p) if value in DATASETS]
    assert hits == []


def test_the_dataset_check_covers_bench_and_evaluation():
    """The package-wide walk above reaches the layers that used to dispatch on a dataset's name."""
    walked = {p.relative_to(PACKAGE).parts[0] for p in PACKAGE.rglob("*.py") if not _dataset_owners(p)}
    assert {"bench", "evaluation", "training", "report", "models"} <= walked


def test_the_literal_finder_sees_dataset_names_where_they_belong():
    """The check above is not vacuous: the registry and the dataset modules do name their datasets."""
    assert any(v == "mnist5k" for _, v in _string_literals(PACKAGE / "registry.py"))
    assert any(v == "cifar10" for _, v in _string_literals(PACKAGE / "data" / "cifar10.py"))
