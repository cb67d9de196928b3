"""The project's shape, read from the source so that a new import breaks it at once: lower
layers never import higher ones (the foundation nothing of the project, a domain package no
web and no bot, only the command-line root everything), no two modules import each other,
even through others, and no module grows past 400 lines."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from xiaobao.settings import REPO_ROOT

# Each package and the packages it may import (besides itself), lowest first. A domain package
# knows no web, no bot; only the command-line root (cli/) may import everything.
MAY_IMPORT = {
    "xiaobao": set(),  # the foundation: settings, database, accounts, who-may-do-what, time
    "policies": {"xiaobao"},  # 政策体检: fields, conditions, the evaluator, the planner, the store
    "enterprises": {"xiaobao", "policies"},  # 一企一档: the register's facts and their sources
    "ratings": {"xiaobao"},  # 好差评, the 差评 cases and their working-day deadlines
    "knowledge_base": {"xiaobao"},
    "retrieval": {"xiaobao", "knowledge_base"},
    "handoff": {"xiaobao"},
    "notifications": {"xiaobao"},  # 政策推送: told who to notify of what; sends once, refusable
    # 免申即享 and 政策推送: the batch over the register, work lists, what is pushed to whom
    "entitlements": {"xiaobao", "policies", "enterprises", "notifications"},
    "retention": {"xiaobao", "ratings", "handoff", "enterprises"},
    "reports": {"xiaobao", "ratings", "handoff", "knowledge_base", "retrieval", "entitlements"},
    "bot": {"xiaobao", "policies", "enterprises", "ratings", "knowledge_base", "retrieval",
            "handoff"},
    "api": {"xiaobao", "policies", "enterprises", "notifications", "entitlements", "ratings",
            "knowledge_base", "retrieval", "handoff", "retention", "reports", "bot"},
}
PACKAGES = (*MAY_IMPORT, "cli")
FORBIDDEN = {package: set(PACKAGES) - allowed - {package}
             for package, allowed in MAY_IMPORT.items()}
MAX_LINES = 400  # a module longer than this does several jobs


def imported_packages(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out & set(PACKAGES)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_lower_layer_imports_a_higher_one(package):
    offenders = []
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        relative = path.relative_to(REPO_ROOT)
        for name in sorted(imported_packages(path) & FORBIDDEN[package]):
            offenders.append(f"{relative} imports {name}")
    assert offenders == []


def test_routes_do_not_touch_other_packages_tables():
    """Routes call package functions; tables belong to their package's own modules."""
    offenders = []
    for path in sorted((REPO_ROOT / "api" / "routes").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for table_module in ("handoff.store", "knowledge_base.models", "OutboxRow"):
            if table_module in text:
                offenders.append(f"{path.name} uses {table_module}")
        if "from api.routes" in text:
            offenders.append(f"{path.name} imports another route module")
    assert offenders == []


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph() -> dict[str, set[str]]:
    """Every product module and the product modules it imports (at any depth of the file:
    a deferred import inside a function still ties the two)."""
    paths = {_module_name(p): p for package in PACKAGES
             for p in (REPO_ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                if node.level:  # relative: from the module's package, up level - 1
                    package = name.split(".")
                    if path.name != "__init__.py":
                        package = package[:-1]
                    base = ".".join([*package[: len(package) - node.level + 1], node.module])
                # ``from package import module`` imports that module, not the package's
                # __init__ (the usual way for a package's modules to reach each other)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base
                           for a in node.names]
            else:
                continue
            found |= {t for t in targets if t in paths and t != name}
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycles():
    assert cycles(module_graph()) == []


def test_cycle_finder_finds_one():
    """The finder itself: a three-module ring is reported, a chain is not."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_module_over_400_lines():
    long = [f"{p.relative_to(REPO_ROOT)}: {n}" for package in PACKAGES
            for p in sorted((REPO_ROOT / package).rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert long == []


ROLE_NAMES = {"leader", "admin", "supervisor", "editor"}  # "helper" is also a speaker's name
ROLE_NAME_ALLOWED = {
    Path("xiaobao/policy.py"),  # the one owner of who may do what
    Path("api/routes/pages.py"),  # "editor" there is the workbench page's template
}


def test_role_names_live_in_the_policy_only():
    """Pages read ``can`` from /api/auth/me and code asks xiaobao.policy: no role name is
    spelled anywhere else (the migrations, which record history, are not product code)."""
    offenders = []
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            relative = path.relative_to(REPO_ROOT)
            if relative in ROLE_NAME_ALLOWED:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in ROLE_NAMES:
                    offenders.append(f"{relative}:{node.lineno} {node.value!r}")
    for path in sorted((REPO_ROOT / "api" / "static").glob("*.js")):
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(REPO_ROOT)} {name!r}" for name in ROLE_NAMES
                      if f'"{name}"' in text or f"'{name}'" in text]
    assert offenders == []


def test_redis_clients_are_made_in_one_place():
    """xiaobao/redis_clients.py is the only maker of Redis clients in product code."""
    offenders = []
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            relative = path.relative_to(REPO_ROOT)
            text = path.read_text(encoding="utf-8")
            makes_one = "Redis(" in text or "Redis.from_url(" in text
            if makes_one and relative != Path("xiaobao/redis_clients.py"):
                offenders.append(str(relative))
    assert offenders == []
