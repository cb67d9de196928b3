"""The private PostgreSQL harness: a crash (SIGKILL) and a start again keep what was committed."""
from __future__ import annotations

import sqlalchemy as sa

from tests.postgres_server import postgres_server


def _count(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM kept")).scalar_one()
    finally:
        engine.dispose()


def test_kill_start_restart_keep_committed_rows_on_the_same_port() -> None:
    with postgres_server() as pg:
        assert pg.url.endswith(f"127.0.0.1:{pg.port}/xiaobao")
        assert pg.port != 5432
        engine = sa.create_engine(pg.url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE kept (x int)"))
            conn.execute(sa.text("INSERT INTO kept VALUES (1), (2)"))
        engine.dispose()

        pg.kill()
        dead = sa.create_engine(pg.url, connect_args={"connect_timeout": 2})
        try:
            with dead.connect():
                raise AssertionError("connected to a killed server")
        except sa.exc.OperationalError:
            pass
        finally:
            dead.dispose()

        pg.start()
        assert _count(pg.url) == 2
        assert "database system was interrupted" in pg.tail(5000)  # crash recovery ran

        pg.restart()
        assert _count(pg.url) == 2
        root = pg.root
    assert not root.exists()

