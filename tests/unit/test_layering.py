"""The core knows no provider, view or template: it imports nothing from the wire side of the package."""
from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "sandbox" / "core"
FORBIDDEN = ("sandbox.providers", "sandbox.console", "sandbox.cashier", "sandbox.apps", "aiohttp.web",
             "aiohttp_jinja2", "jinja2")


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module a file imports (relative imports resolved from sandbox.core)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            package = {0: "", 1: "sandbox.core.", 2: "sandbox."}.get(node.level, "sandbox.")
            module = package + (node.module or "")
            names.add(module)
            names.update(f"{module}.{alias.name}".replace("..", ".") for alias in node.names)
    return names


def test_core_imports_no_provider_view_or_template():
    offenders = {}
    for path in CORE.glob("*.py"):
        bad = [name for name in imported_modules(path) if name.startswith(FORBIDDEN)]
        if bad:
            offenders[path.name] = bad
    assert offenders == {}
