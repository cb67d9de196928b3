"""An entry's ``policy_ids`` (the 政策体检 items it is about) like ``tags``: a list, or
``|``-separated in a cell, kept through every import and export format and in its versions."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from knowledge_base import io
from knowledge_base.schema import EntryData

BASE = {"id": "kb-1", "question": "问", "answer": "答"}


def test_policy_ids_are_a_clean_list():
    assert EntryData.model_validate({**BASE, "policy_ids": " a | b |a"}).policy_ids == ["a", "b"]
    assert EntryData.model_validate({**BASE, "policy_ids": None}).policy_ids == []
    assert EntryData.model_validate(BASE).policy_ids == []
    with pytest.raises(ValidationError):
        EntryData.model_validate({**BASE, "policy_ids": 3})


@pytest.mark.parametrize("suffix", [".yaml", ".jsonl", ".xlsx", ".csv"])
def test_policy_ids_survive_export_and_import(tmp_path: Path, suffix: str):
    entries = [EntryData.model_validate({**BASE, "policy_ids": ["tax-small-profit-cit", "b"]}),
               EntryData.model_validate({**BASE, "id": "kb-2"})]
    path = tmp_path / f"out{suffix}"
    io.export_entries(entries, path)
    back = io.parse_entries(path)
    assert [e.policy_ids for e in back] == [["tax-small-profit-cit", "b"], []]
