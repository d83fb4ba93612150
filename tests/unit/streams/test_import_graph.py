"""The project's import graph: no circles, and the layers DESIGN.md draws (imports point down).

Read from the source, not by importing it: every `import` and `from ... import` counts, at module level,
inside functions and under TYPE_CHECKING alike, since a function-local import only hides a circle
until the day someone moves it to the top.

It sits among the streams tests, not in tests/unit itself: pytest would put that folder on sys.path,
where tests/unit/web and the like shadow the project's packages of the same names.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("streams", "agents", "tables", "web", "db")
APP = "streams.app"
CLI = "streams.cli"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(name: str, path: Path, tree: ast.AST) -> set[str]:
    """Every dotted name the module imports, relative imports resolved; `from a import b` gives `a.b`,
    which is module b or names something in module a (project_module decides which)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def project_module(name: str, modules: set[str]) -> str | None:
    """The deepest project module a dotted name lies in (`web.ratelimit.RateLimiter` -> `web.ratelimit`)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


@lru_cache(maxsize=1)
def import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports."""
    sources = {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}
    modules = set(sources)
    graph: dict[str, set[str]] = {}
    for name, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = {project_module(imported, modules) for imported in imported_names(name, path, tree)}
        graph[name] = {target for target in targets if target is not None and target != name}
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the groups of modules that all reach one another."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    groups.append(sorted(group))
    return groups


def cycle_through(start: str, group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """One shortest circle from `start` back to itself inside a strongly connected group (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is in no circle")


def reachable(start: str, graph: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_the_source_tree_is_read_whole():
    graph = import_graph()
    assert {APP, "streams.topics", "web.gateway", "web.middleware", "db.engine"} <= set(graph)
    assert "streams.settings" in graph["streams.config"]


def test_no_modules_import_each_other_in_a_circle():
    graph = import_graph()
    circles: list[str] = []
    for group in strongly_connected(graph):
        if len(group) > 1:
            found = {frozenset(c): c for c in (cycle_through(member, set(group), graph) for member in group)}
            circles.extend(" -> ".join(circle) for circle in found.values())
    assert not circles, "modules import each other in a circle:\n  " + "\n  ".join(circles)


def test_the_app_module_imports_nothing_that_imports_it_back():
    graph = import_graph()
    imported = reachable(APP, graph)
    circle = " -> ".join(cycle_through(APP, imported | {APP}, graph)) if APP in imported else ""
    assert not circle, f"streams.app imports a module that imports it back: {circle}"


def test_the_app_module_imports_only_the_layers_below_it():
    """streams/rules and streams/events <- db <- streams/app <- tables <- agents, web <- streams/cli."""
    above = ("agents", "tables", "web", CLI)
    imported = reachable(APP, import_graph())
    wrong = sorted(m for m in imported if any(m == layer or m.startswith(layer + ".") for layer in above))
    assert not wrong, f"streams.app imports (directly or through another module) what is built on it: {wrong}"


def test_nothing_below_the_command_line_imports_it():
    graph = import_graph()
    in_cli = {m for m in graph if m == CLI or m.startswith(CLI + ".")}
    wrong = sorted(f"{m} imports {sorted(graph[m] & in_cli)}" for m in set(graph) - in_cli if graph[m] & in_cli)
    assert not wrong, f"only the command line may import streams.cli: {wrong}"
