"""The library facade ``procedures/__init__.py``: every name it exports is the object its home module defines,
its type-checking imports name the same homes, and ``import procedures`` loads nothing heavy."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import procedures

FACADE = Path(procedures.__file__)


def _type_checking_imports() -> dict[str, tuple[str, str]]:
    """public name -> (module, name there), from the ``if TYPE_CHECKING:`` block read as source."""
    tree = ast.parse(FACADE.read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    return {a.asname or a.name: (node.module or "", a.name) for node in block.body
            if isinstance(node, ast.ImportFrom) for a in node.names}


IMPORTS = _type_checking_imports()


def test_the_type_checking_block_names_the_same_homes() -> None:
    assert {k: m for k, (m, _) in IMPORTS.items()} == procedures._HOMES
    assert procedures.__all__ == sorted(procedures._HOMES)


@pytest.mark.parametrize("name", sorted(IMPORTS))
def test_each_name_is_its_home_modules_object(name: str) -> None:
    """Also after every stage subpackage is imported (a subpackage must not shadow an exported name)."""
    for stage in ("config", "predict", "archive", "measure", "analysis", "fitting", "report", "run", "cli"):
        importlib.import_module(f"procedures.{stage}")
    module, there = IMPORTS[name]
    assert getattr(procedures, name) is getattr(importlib.import_module(module), there)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'run_procedur'"):
        procedures.run_procedur  # noqa: B018


def test_import_procedures_stays_light() -> None:
    probe = ("import sys, procedures.cli.main\n"
             "print(sorted(m for m in ('h5py', 'scipy', 'matplotlib', 'lmfit') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
