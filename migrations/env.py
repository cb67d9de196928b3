"""Alembic environment: runs on the connection handed over by ``xiaobao.db.upgrade``."""
from alembic import context

from xiaobao.db import Base, get_engine

# Import every module that declares tables so autogenerate sees them.
import knowledge_base.models  # noqa: F401,E402
import xiaobao.accounts  # noqa: F401,E402
import ratings.cases  # noqa: F401,E402
import xiaobao.conversations  # noqa: F401,E402
import xiaobao.events  # noqa: F401,E402
import xiaobao.sessions  # noqa: F401,E402
import handoff.outbox  # noqa: F401,E402
import handoff.store  # noqa: F401,E402
import policies.models  # noqa: F401,E402
import enterprises.models  # noqa: F401,E402
import notifications.models  # noqa: F401,E402
import xiaobao.enterprise_sessions  # noqa: F401,E402
import entitlements.models  # noqa: F401,E402
import xiaobao.tokens  # noqa: F401,E402

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        with get_engine().connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata,
                              render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
