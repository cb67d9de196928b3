"""Fixtures of the xiaobao package's command-line tests."""
from __future__ import annotations

import pytest

from xiaobao import db, settings


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh XIAOBAO_HOME (SQLite under it) for `xiaobao …` run in process."""
    monkeypatch.setenv("XIAOBAO_HOME", str(tmp_path))
    monkeypatch.delenv("XIAOBAO_DATABASE_URL", raising=False)
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    yield tmp_path
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
