"""Lower layers never import higher ones: the foundation nothing of the project (but the
command-line root), the knowledge base not retrieval, retrieval and handoff neither the bot
nor the gateway. Read from the source, so a new import breaks this test at once."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from xiaobao.settings import REPO_ROOT

PACKAGES = ("xiaobao", "knowledge_base", "retrieval", "handoff", "reports", "policies", "bot",
            "api")
FORBIDDEN = {
    "xiaobao": {"knowledge_base", "retrieval", "handoff", "reports", "policies", "bot", "api"},
    # 政策体检: a domain package on the foundation alone; it knows no web, no bot, no queue.
    "policies": {"knowledge_base", "retrieval", "handoff", "reports", "bot", "api"},
    "knowledge_base": {"retrieval", "handoff", "reports", "bot", "api"},
    "retrieval": {"handoff", "reports", "bot", "api"},
    "handoff": {"reports", "bot", "api"},
    "reports": {"bot", "api"},
    "bot": {"api"},
}
ROOTS = {Path("xiaobao/cli.py")}  # the command-line root gathers every package's commands


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
        if relative in ROOTS:
            continue
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
