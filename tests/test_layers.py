"""The house plan holds: every import in netdsl/ points down the layers that pyproject.toml's
`[tool.importlinter]` contracts declare, and no module imports itself back through others.

The walk is our own (every `import` and `from … import`: at module level, inside functions and
under TYPE_CHECKING alike, and the module names of PEP 562 `_EXPORTS` tables), so the rules hold
without import-linter; `lint-imports` runs as well where it is installed.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

# not packages, but placed: the package's public face (`netdsl/__init__`, which loads the API when a
# name is used) sits with the API, `python -m netdsl` with the command line
PLACED_WITH = {"netdsl": "netdsl.api", "netdsl.__main__": "netdsl.cli"}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def where(self, root: Path) -> str:
        return f"{self.importer} → {self.imported} ({module_file(root, self.importer)}:{self.line})"


def module_file(root: Path, module: str) -> str:
    path = root.joinpath(*module.split("."))
    return str((path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).relative_to(root))


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package under root, by dotted name (a package by its `__init__`)."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _targets(node: ast.AST, package: str) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: from the importing module's package, one step up per extra dot
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parts, base] if base else parts)
        yield from (f"{base}.{alias.name}" for alias in node.names)  # a submodule, or a name of base
    elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
        if any(isinstance(target, ast.Name) and target.id == "_EXPORTS" for target in node.targets):
            yield from (v.value for v in node.value.values if isinstance(v, ast.Constant) and isinstance(v.value, str))


def imports(root: Path, package: str) -> list[Import]:
    """Every import of one module of the package by another, with its line."""
    known = modules(root, package)
    found = []
    for module, path in known.items():
        own_package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for target in _targets(node, own_package):
                while target and target not in known:  # `from a.b import name` imports a.b
                    target = target.rpartition(".")[0]
                if target and target != module:
                    found.append(Import(module, target, node.lineno))
    return found


def cycles(edges: list[Import]) -> list[list[str]]:
    """Each import cycle once, as the modules around it (Tarjan's strongly connected components,
    then one shortest way round each)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                components.append(set(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_round_trip(graph, min(component), component) for component in components]


def _round_trip(graph: dict[str, set[str]], start: str, inside: set[str]) -> list[str]:
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, set()) & inside):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no way round from {start}")


@dataclass(frozen=True)
class Plan:
    layers: list[list[str]]  # lowest first; the packages of one layer are independent of each other
    optional: set[str]
    independent: list[tuple[list[str], set[tuple[str, str]]]]  # modules, imports allowed between them

    def layer_of(self, module: str) -> tuple[int, str] | None:
        module = PLACED_WITH.get(module, module)
        for level, packages in enumerate(self.layers):
            for package in packages:
                if module == package or module.startswith(package + "."):
                    return level, package
        return None


def plan(pyproject: Path) -> Plan:
    """The layers and independence contracts of pyproject.toml's [tool.importlinter]."""
    contracts = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
    (layered,) = [c for c in contracts if c["type"] == "layers"]
    layers, optional = [], set()
    for entry in reversed(layered["layers"]):
        names = [name.strip() for name in entry.split("|")]
        optional |= {name.strip("()") for name in names if name.startswith("(")}
        layers.append([name.strip("()") for name in names])
    independent = [
        (c["modules"], {tuple(part.strip() for part in i.split("->")) for i in c.get("ignore_imports", [])})
        for c in contracts
        if c["type"] == "independence"
    ]
    return Plan(layers, optional, independent)


def violations(root: Path, package: str, house: Plan) -> list[str]:
    """What breaks the plan: cycles, imports up the layers or across independent packages, and
    packages the plan does not place."""
    edges = imports(root, package)
    found = [f"import cycle: {' → '.join(cycle)}" for cycle in cycles(edges)]
    for module in modules(root, package):
        if house.layer_of(module) is None:
            found.append(f"{module} is in no layer of [tool.importlinter]: place its package in the plan")
    for edge in edges:
        here, there = house.layer_of(edge.importer), house.layer_of(edge.imported)
        if here is None or there is None or here[1] == there[1]:
            continue
        if there[0] > here[0]:
            found.append(f"upward import, {here[1]} below {there[1]}: {edge.where(root)}")
        elif there[0] == here[0]:
            found.append(f"import between independent {here[1]} and {there[1]}: {edge.where(root)}")
    for group, allowed in house.independent:
        for edge in edges:
            a = next((m for m in group if edge.importer == m or edge.importer.startswith(m + ".")), None)
            b = next((m for m in group if edge.imported == m or edge.imported.startswith(m + ".")), None)
            if a and b and a != b and (edge.importer, edge.imported) not in allowed:
                found.append(f"import between independent {a} and {b}: {edge.where(root)}")
    return found


PYPROJECT = ROOT / "pyproject.toml"


def test_netdsl_keeps_the_house_plan() -> None:
    assert violations(ROOT, "netdsl", plan(PYPROJECT)) == []


def test_the_walk_sees_every_kind_of_import() -> None:
    found = imports(ROOT, "netdsl")
    pairs = {(i.importer, i.imported) for i in found}
    assert ("netdsl", "netdsl.api") in pairs  # an `_EXPORTS` string of a PEP 562 `__init__`
    assert ("netdsl", "netdsl.core.version") in pairs  # under TYPE_CHECKING as well
    assert ("netdsl.cli.app", "netdsl.cli.common") in pairs  # module level
    assert ("netdsl.cli.build", "netdsl.api") in pairs  # inside a function
    assert len(found) > 200


def test_every_package_is_placed() -> None:
    house = plan(PYPROJECT)
    placed = {package for layer in house.layers for package in layer}
    top = (ROOT / "netdsl").iterdir()  # packages, and modules beside them (the API)
    packages = {f"netdsl.{p.stem}" for p in top if (p / "__init__.py").is_file() or p.suffix == ".py"}
    packages -= {"netdsl.__init__", "netdsl.__main__"}
    assert packages - placed == set()
    assert placed - packages <= house.optional  # a required layer that no longer exists is stale


def _fake(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_an_upward_import_and_a_cycle_are_named(tmp_path: Path) -> None:
    root = _fake(
        tmp_path,
        {
            "netdsl/__init__.py": "",
            "netdsl/core/__init__.py": "",
            "netdsl/core/files.py": "def f():\n    from netdsl.checker import ops\n",
            "netdsl/checker/__init__.py": "",
            "netdsl/checker/ops.py": "from . import calls\n",
            "netdsl/checker/calls.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .ops import x\n",
            "netdsl/backends/__init__.py": "",
            "netdsl/backends/onnx.py": "import netdsl.backends.torch\n",
            "netdsl/backends/torch.py": "",
            "netdsl/report/__init__.py": "_EXPORTS = {'x': 'netdsl.backends.torch'}\n",
            "netdsl/stray/__init__.py": "",
        },
    )
    house = Plan(
        [["netdsl.core"], ["netdsl.checker"], ["netdsl.report", "netdsl.backends"], ["netdsl.api"]],
        set(),
        [(["netdsl.backends.onnx", "netdsl.backends.torch"], set())],
    )
    assert violations(root, "netdsl", house) == [
        "import cycle: netdsl.checker.calls → netdsl.checker.ops → netdsl.checker.calls",
        "netdsl.stray is in no layer of [tool.importlinter]: place its package in the plan",
        "upward import, netdsl.core below netdsl.checker: netdsl.core.files → netdsl.checker.ops "
        + f"({Path('netdsl/core/files.py')}:2)",
        "import between independent netdsl.report and netdsl.backends: netdsl.report → netdsl.backends.torch "
        + f"({Path('netdsl/report/__init__.py')}:1)",
        "import between independent netdsl.backends.onnx and netdsl.backends.torch: "
        + f"netdsl.backends.onnx → netdsl.backends.torch ({Path('netdsl/backends/onnx.py')}:1)",
    ]


@pytest.mark.skipif(importlib.util.find_spec("importlinter") is None, reason="import-linter is not installed")
def test_import_linter_keeps_the_contracts() -> None:
    command = shutil.which("lint-imports") or shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command is not None
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([command, "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
