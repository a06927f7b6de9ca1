"""The core knows no provider, view or template: it imports nothing from the wire side of the package. Providers
translate wire formats only: they know the core, not the console."""
from __future__ import annotations

import ast
from pathlib import Path

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"
CORE = SANDBOX / "core"
FORBIDDEN = ("sandbox.providers", "sandbox.console", "sandbox.cashier", "sandbox.apps", "aiohttp.web",
             "aiohttp_jinja2", "jinja2")


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module a file imports (relative imports resolved from the file's package)."""
    parts = path.relative_to(SANDBOX.parent).with_suffix("").parts[:-1]  # ("sandbox", "core"), say
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(parts[:len(parts) - node.level + 1]) if node.level else ""
            module = f"{base}.{node.module}" if base and node.module else (node.module or base)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_core_imports_no_provider_view_or_template():
    offenders = {}
    for path in CORE.glob("*.py"):
        bad = [name for name in imported_modules(path) if name.startswith(FORBIDDEN)]
        if bad:
            offenders[path.name] = bad
    assert offenders == {}


def test_providers_import_no_console_or_cashier_views():
    offenders = {}
    for path in (SANDBOX / "providers").rglob("*.py"):
        bad = [name for name in imported_modules(path) if name.startswith(("sandbox.console", "sandbox.cashier.pages"))]
        if bad:
            offenders[str(path.relative_to(SANDBOX))] = bad
    assert offenders == {}
