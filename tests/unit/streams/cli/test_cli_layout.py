"""The command line sits on top: nothing below it imports it, and the date parsers its MCP tools use load on their own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
BELOW_THE_CLI = ("streams", "agents", "tables", "web", "db")


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules a source file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_no_module_outside_the_command_line_imports_it():
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path)
                                            if name == "streams.cli" or name.startswith("streams.cli."))
        for folder in BELOW_THE_CLI
        for path in (ROOT / folder).rglob("*.py")
        if "cli" not in path.relative_to(ROOT).parts
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_natural_date_and_quick_add_parsers_load_without_the_mcp_sdk_or_the_faust_app():
    # A None entry in sys.modules makes that import fail, as if the package were not installed.
    script = ("import sys; sys.modules.update(mcp=None, faust=None, aiohttp=None); "
              "from streams.rules.natural_dates import resolve; from streams.rules.quick_add import parse_quick_add; "
              "print(resolve.__name__, parse_quick_add.__name__)")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "resolve parse_quick_add"
