"""The README stays short and true: at most 200 lines, and every file or folder its one-owner
table names exists (a rule that moves must take its line in the table with it)."""
from __future__ import annotations

import re

from xiaobao.settings import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_short():
    assert len(README.splitlines()) <= 200


def test_every_owner_in_the_table_exists():
    table = README.split("## One owner for each rule", 1)[1].split("\n## ", 1)[0]
    owners = [path for row in table.splitlines() if row.startswith("|")
              for path in re.findall(r"`([a-z_]+/[\w./]*)`", row.split("|")[2])]
    assert len(owners) >= 15
    missing = [p for p in owners if not (REPO_ROOT / p).exists()]
    assert missing == []


def test_every_linked_document_exists():
    links = re.findall(r"\]\(((?:docs|handoff|bot)/[^)#]+)", README)
    assert links
    assert [p for p in links if not (REPO_ROOT / p).exists()] == []
