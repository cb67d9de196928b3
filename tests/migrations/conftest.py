"""What the migration tests share: Alembic run on a connection, and an empty database of each
kind (SQLite, and PostgreSQL when one answers)."""
from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config

from tests.conftest import DB_KINDS, _fresh_postgres
from xiaobao.db import make_engine
from xiaobao.settings import REPO_ROOT


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    return cfg


def _alembic(engine, target: str, up: bool = True) -> None:
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.upgrade if up else command.downgrade)(cfg, target)


@pytest.fixture(params=DB_KINDS)
def bare_engine(request, tmp_path):
    """An empty database (no migration applied yet)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
        yield engine
        engine.dispose()
    else:
        url, drop = _fresh_postgres()
        engine = make_engine(url)
        yield engine
        engine.dispose()
        drop()
