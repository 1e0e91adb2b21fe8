"""The package's shape: each subpackage imports only what its docstring allows, no import cycle
between modules, no module over 400 lines. Checked from the source, function-level imports
included, so a shortcut taken inside a function shows here too."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import loadgen

PACKAGE = Path(loadgen.__file__).parent
CORE = {"errors", "schema", "cpus"}  # modules every stage may use
TOP = {"cli", "__init__", "__main__"}  # the entry points: they may use everything
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """Dotted name (below loadgen) -> file, for every module of the package."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(parts)] = path
    return found


def _imported(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `path` imports, anywhere in it."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "loadgen":
            base = node.module.removeprefix("loadgen").lstrip(".")
            for alias in node.names:
                full = f"{base}.{alias.name}".lstrip(".")
                names.add(full if full in modules else base)
        elif isinstance(node, ast.Import):
            names |= {a.name.removeprefix("loadgen.") for a in node.names
                      if a.name.startswith("loadgen.")}
    return {n for n in names if n}


def _stage(module: str) -> str:
    return module.split(".")[0]


def _allowed(stage: str) -> set[str]:
    """The stages a subpackage's docstring says it may import, besides itself and the core."""
    doc = (PACKAGE / stage / "__init__.py").read_text()
    match = re.search(r"May import: (.*?)\.\n", doc, re.S)
    assert match, f"loadgen/{stage}/__init__.py does not say what it may import"
    return set(re.findall(r"loadgen\.(\w+)", match.group(1)))


def test_every_stage_imports_only_what_it_declares() -> None:
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        stage = _stage(name)
        if stage in TOP or stage in CORE:
            continue
        allowed = _allowed(stage) | CORE | {stage}
        wrong += [f"{name} -> {target}" for target in sorted(_imported(path, modules))
                  if _stage(target) not in allowed]
    assert not wrong, "imports a stage may not make:\n" + "\n".join(wrong)


def test_the_core_imports_no_stage() -> None:
    modules = _modules()
    wrong = [f"{name} -> {target}" for name in CORE
             for target in _imported(modules[name], modules) if _stage(target) not in CORE]
    assert not wrong


def test_no_import_cycle_between_modules() -> None:
    modules = _modules()
    graph = {name: {t for t in _imported(path, modules) if t in modules and t != name}
             for name, path in modules.items()}
    # A package's __init__ is imported with any of its modules: not a cycle of the code's.
    graph = {n: {t for t in ts if not t.endswith("__init__")} for n, ts in graph.items()}
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node):], node]
        if node in done:
            return None
        for target in sorted(graph[node]):
            if cycle := visit(target, [*path, node]):
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        assert (cycle := visit(start, [])) is None, " -> ".join(cycle)


def test_the_layer_checker_sees_a_wrong_import(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from loadgen.present import summary\n")
    assert _imported(source, {"present.summary": source}) == {"present.summary"}


def test_no_module_is_over_400_lines() -> None:
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long
