"""The engine is a house of its own: it never imports Qt, and never needs torch at run time."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import clippo_desktop.engine as engine_pkg

ENGINE = Path(engine_pkg.__file__).parent
FORBIDDEN_QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6")


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name an engine file imports, at any depth (lazy imports too)."""
    tree = ast.parse(path.read_text("utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_engine_module_imports_qt_or_torch_or_the_app():
    offenders = {}
    for path in ENGINE.rglob("*.py"):
        modules = imported_modules(path)
        bad = {m.split(".")[0] for m in modules} & {*FORBIDDEN_QT, "torch"}
        bad |= {m for m in modules if m.startswith(("clippo_desktop.app", "clippo_desktop.training"))}
        if bad:
            offenders[str(path.relative_to(ENGINE))] = sorted(bad)
    assert offenders == {}


def test_importing_every_engine_module_loads_neither_qt_nor_torch():
    names = [m.name for m in pkgutil.walk_packages([str(ENGINE)], "clippo_desktop.engine.")]
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}: importlib.import_module(n)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{(*FORBIDDEN_QT, 'torch')!r})\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert len(names) >= 10
