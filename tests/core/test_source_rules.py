"""Issue 25: the core's rooms keep their rules. Read from the source, never imported:
- no module over 300 lines;
- no import cycle among the app's modules, counting imports made inside functions (an import under
  `if TYPE_CHECKING:` never runs, so it does not count);
- `cnn_core` never imports `ui`, `pages` or streamlit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("cnn_core", "ui")
MAX_LINES = 300


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = modules()


def _under_type_checking(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside `if TYPE_CHECKING:` blocks."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skipped


def imported_names(name: str, path: Path) -> set[str]:
    """Every module name an import statement in this file names, wherever the statement is."""
    tree = ast.parse(path.read_text())
    skipped = _under_type_checking(tree)
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package upwards
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def internal_edges(name: str, path: Path) -> set[str]:
    """The app's own modules this one imports (`from pkg import mod` counts as importing `mod`)."""
    edges = set()
    for target in imported_names(name, path):
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != name:
            edges.add(target)
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_rules_see_the_whole_core():
    """A guard on the reader: it finds the rooms, and it finds imports inside functions."""
    assert {"cnn_core.data.datasets", "cnn_core.training.fit", "cnn_core.jobs.registry", "ui.live_view"} <= set(MODULES)
    inside = internal_edges("cnn_core.inspection.preprocess", MODULES["cnn_core.inspection.preprocess"])
    assert "cnn_core.inspection.evaluation" in inside  # imported inside predict_many
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_300_lines(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(ROOT)} has {lines} lines"


def test_no_import_cycle_counting_imports_inside_functions():
    graph = {name: internal_edges(name, path) for name, path in MODULES.items()}
    assert cycles(graph) == []


def test_the_core_never_imports_ui_pages_or_streamlit():
    offenders = {
        name: sorted(n for n in imported_names(name, path) if n.split(".")[0] in ("ui", "pages", "streamlit", "app"))
        for name, path in MODULES.items()
        if name.startswith("cnn_core")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_room_is_a_package_with_a_docstring():
    """A newcomer reads each room's purpose in its __init__.py; the core's top level keeps only
    the shared pieces (errors, paths, progress, charts) and the recipe the exported script copies."""
    rooms = sorted(p.parent.name for p in (ROOT / "cnn_core").glob("*/__init__.py"))
    assert rooms == [
        "access",
        "cli",
        "data",
        "inspection",
        "jobs",
        "learn",
        "model",
        "runs",
        "settings",
        "sweeps",
        "takehome",
        "training",
    ]
    for room in rooms:
        assert ast.get_docstring(ast.parse((ROOT / "cnn_core" / room / "__init__.py").read_text())), room
    loose = sorted(p.stem for p in (ROOT / "cnn_core").glob("*.py"))
    assert loose == ["__init__", "__main__", "charts", "errors", "paths", "progress", "recipe"]


def test_the_package_list_names_every_package():
    """pyproject lists packages one by one (the app's own folder installs as cnn_studio_app), so a
    new room must be added there too, or a wheel would leave it out."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for package in PACKAGES for p in (ROOT / package).rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
