"""The layout rules of docs/architecture.md, checked on the source itself.

- every module imports on its own, in a fresh state (a circle that only bites in one import order shows);
- the import graph, counting every import (top level, inside functions, under ``TYPE_CHECKING``): no circle
  between modules, the stages of ``procedures`` import only their own stage or an earlier one, nothing
  inside ``procedures`` imports its facade ``procedures/__init__.py``, ``models`` imports nothing of ours,
  ``instruments`` imports neither ``procedures`` nor ``models`` (so the simulated board, the stand-in for
  physics, cannot borrow the models it is used to test);
- size: no file in ``src/`` over 500 lines, no function over 60, unless the file carries one line
  ``# layout: <function name or "file"> -- <reason>`` for it.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
OURS = ("instruments", "models", "procedures")
STAGES = ("config", "predict", "archive", "measure", "analysis", "fitting", "report", "run", "lot", "live", "cli")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60
EXCEPTION = re.compile(r"#\s*layout:\s*(?P<what>[\w.]+)\s*--\s*\S")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py")) if p.parts[-2] != "__pycache__"}


def _imports(name: str, path: Path) -> set[str]:
    """Every module of ours that ``name`` imports, wherever the import statement stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # ``from pkg import sub`` imports the submodule when there is one, else a name of pkg
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target.split(".")[0] in OURS and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "procedures" or len(parts) < 2:
        return None
    return STAGES.index(parts[1])


def test_every_procedures_module_belongs_to_a_stage() -> None:
    strays = [m for m in MODULES if m.startswith("procedures.") and m.split(".")[1] not in STAGES]
    assert not strays, f"modules outside the stages {STAGES}: {strays}"


def test_no_import_circles() -> None:
    # Tarjan's strongly connected components: any component of more than one module is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(GRAPH)))
    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_stages_import_only_earlier_stages() -> None:
    wrong = []
    for module, deps in GRAPH.items():
        mine = _stage(module)
        for dep in deps:
            if module.startswith("procedures.") and dep == "procedures":
                wrong.append(f"{module} imports the facade procedures/__init__.py")
            theirs = _stage(dep)
            if mine is not None and theirs is not None and theirs > mine:
                wrong.append(f"{module} ({STAGES[mine]}) imports {dep} ({STAGES[theirs]}, a later stage)")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("package", "forbidden"), [
    ("models", ("instruments", "procedures")),
    ("instruments", ("procedures", "models")),
])
def test_layers_import_nothing_above_them(package: str, forbidden: tuple[str, ...]) -> None:
    wrong = [f"{m} imports {d}" for m, deps in GRAPH.items() if m.split(".")[0] == package
             for d in deps if d.split(".")[0] in forbidden]
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    """The graph counts imports inside functions and under TYPE_CHECKING (a circle hidden there is one)."""
    fake = tmp_path / "x.py"
    fake.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from models import devices\n"
                    "def f():\n    from procedures.cli import main\n    from . import procedure\n", encoding="utf-8")
    assert _imports("procedures.config.x", fake) == {"models.devices", "procedures.cli.main",
                                                      "procedures.config.procedure"}


def _import_each_script(names: list[str]) -> str:
    return (
        "import importlib, sys, traceback\n"
        "ours = ('instruments', 'models', 'procedures')\n"
        "failed = []\n"
        f"for name in {names!r}:\n"
        "    for m in [m for m in sys.modules if m.split('.')[0] in ours]:\n"
        "        del sys.modules[m]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )


def test_every_module_imports_on_its_own() -> None:
    """Each module imported first into a state holding none of ours, as ``python -c 'import m'`` would (the
    modules shared between two interpreters that run side by side, one per core)."""
    names = sorted(MODULES)
    runs = [subprocess.Popen([sys.executable, "-c", _import_each_script(names[k::2])], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=SRC.parent) for k in range(2)]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, out + err


def _exceptions(text: str) -> set[str]:
    return {m["what"] for m in EXCEPTION.finditer(text)}


def test_no_file_over_the_line_limit() -> None:
    long = []
    for _name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        if n > MAX_FILE_LINES and "file" not in _exceptions(text):
            long.append(f"{path.relative_to(SRC)}: {n} lines")
    assert not long, f"files over {MAX_FILE_LINES} lines:\n" + "\n".join(long)


def test_no_function_over_the_line_limit() -> None:
    long = []
    for _name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        allowed = _exceptions(text)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES and node.name not in allowed:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {n} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)
